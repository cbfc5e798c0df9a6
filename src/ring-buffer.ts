/**
 * A fixed-size ring of byte records in shared memory: many producers (the main thread and worker threads),
 * one consumer. Producers never block, never allocate (strings are encoded straight into the ring) and never
 * do I/O, so a producer may push from anywhere, including code that runs while the process is shutting
 * down. The consumer drains records in the order they were reserved.
 *
 * Protocol, in shared memory only (no locks):
 * 1. reserve — a producer claims `padding + slot` bytes by compare-and-swap on the shared `head` cursor.
 * 2. write   — it copies the payload into its slot (plain stores; nobody else reads the slot yet).
 * 3. commit  — it publishes the slot's header word (`payload length + 1`) with Atomics.store.
 * 4. consume — the consumer reads the header word at `tail` with Atomics.load: 0 means "reserved, not yet
 *    committed" and stops the drain there; otherwise it hands out the payload, zeroes the slot (so that a
 *    future header landing anywhere in it reads 0 until committed) and advances `tail` with Atomics.store.
 * A record that does not fit before the end of the ring is preceded by a padding slot that fills the end;
 * the padding's header word is -1 and is committed by the same producer right after its reservation.
 */
import { TimberlockError, TimberlockOptionError } from './errors.js';

// ---------------------------------------------------------------------------------------------------------
// Layout of the SharedArrayBuffer: CONTROL_BYTES of control words, then `capacity` bytes of record slots.
// `head` and `tail` sit on their own 64-byte cache lines: producers hammer `head`, the consumer owns `tail`.
// ---------------------------------------------------------------------------------------------------------

const MAGIC = 0x544c5242; // 'TLRB'
const LAYOUT_VERSION = 1;

const MAGIC_WORD = 0;
const VERSION_WORD = 1;
const CAPACITY_WORD = 2;
/** 1 while a drain runs: turns a second, concurrent consumer into an error instead of corruption. */
const CONSUMER_WORD = 3;
const DROPPED_LOW_WORD = 4;
const DROPPED_HIGH_WORD = 5;
/** @internal Index (in 32-bit words) of the reservation cursor. Exported for tests only. */
export const HEAD_WORD = 16;
/** @internal Index (in 32-bit words) of the consumption cursor. Exported for tests only. */
export const TAIL_WORD = 32;
const CONTROL_BYTES = 192;

/** Size of the header word in front of every record slot. */
const RECORD_HEADER_BYTES = 4;
/** Header word of a slot that is free or reserved but not committed yet. */
const UNCOMMITTED = 0;
/** Header word of a padding slot: skip to the start of the ring. */
const PADDING = -1;

const MIN_CAPACITY = 64;
const MAX_CAPACITY = 2 ** 30;
/**
 * A failed compare-and-swap on `head` means another producer just reserved, so the system as a whole made
 * progress. After this many failures in one push the record is refused (counted as dropped) rather than
 * spinning on.
 */
const MAX_RESERVE_ATTEMPTS = 256;
/** Returned by {@link RingProtocol.reserve} when the record was not given a slot. */
export const NO_ROOM = -1;

/** Bytes a record of `payloadBytes` occupies in the ring: header plus payload, rounded up to 4. */
function slotBytes(payloadBytes: number): number {
  return (RECORD_HEADER_BYTES + payloadBytes + 3) & ~3;
}

/**
 * @internal The shared-memory protocol under {@link SignalBuffer}, one method per step. Exported from this
 * module for tests (which need to reserve without committing); the package index does not export it.
 *
 * Cursors (`head`, `tail`) count bytes modulo `cursorSpan`, the largest multiple of the capacity that fits
 * in 32 bits, so `cursor % capacity` is the byte offset in the ring and `head - tail` (mod span) is the
 * number of bytes in use, which tells a full ring from an empty one. A producer preempted between reading
 * `head` and its compare-and-swap while exactly `cursorSpan` (~4 GiB) bytes pass through the ring would
 * succeed wrongly (ABA); that window is accepted.
 */
export class RingProtocol {
  readonly capacity: number;
  readonly cursorSpan: number;
  private readonly control: Uint32Array;
  /** The slot region as 32-bit words: header words are read and written here, atomically. */
  private readonly headers: Int32Array;
  /** The slot region as bytes: payloads are copied in and read out here. */
  private readonly bytes: Uint8Array;
  /** The same bytes as a Buffer, only to UTF-8-encode strings in place without allocating. */
  private readonly text: Buffer;

  /** Views `sab` without checking it; {@link SignalBuffer.attach} validates first. */
  constructor(sab: SharedArrayBuffer) {
    this.control = new Uint32Array(sab, 0, CONTROL_BYTES / 4);
    this.capacity = sab.byteLength - CONTROL_BYTES;
    this.cursorSpan = this.capacity * Math.floor(2 ** 32 / this.capacity);
    this.headers = new Int32Array(sab, CONTROL_BYTES, this.capacity / 4);
    this.bytes = new Uint8Array(sab, CONTROL_BYTES, this.capacity);
    this.text = Buffer.from(sab, CONTROL_BYTES, this.capacity);
  }

  /** Writes the layout's identification words into a fresh (all-zero) buffer. */
  format(): void {
    Atomics.store(this.control, VERSION_WORD, LAYOUT_VERSION);
    Atomics.store(this.control, CAPACITY_WORD, this.capacity);
    Atomics.store(this.control, MAGIC_WORD, MAGIC);
  }

  /** Whether the control words describe a ring of this layout version and this size. */
  isFormatted(): boolean {
    return (
      Atomics.load(this.control, MAGIC_WORD) === MAGIC &&
      Atomics.load(this.control, VERSION_WORD) === LAYOUT_VERSION &&
      Atomics.load(this.control, CAPACITY_WORD) === this.capacity
    );
  }

  /** Bytes in use: committed and reserved slots, including headers and padding. */
  usedBytes(): number {
    return this.distance(Atomics.load(this.control, TAIL_WORD), Atomics.load(this.control, HEAD_WORD));
  }

  /**
   * Step 1 (producer): claims a slot for `payloadBytes` bytes and returns the offset of its header word,
   * or {@link NO_ROOM} when the free space is too small (or after MAX_RESERVE_ATTEMPTS lost races). When
   * the slot does not fit before the end of the ring, the end becomes a committed padding slot and the
   * record goes to offset 0. The returned slot must be written and committed; until it is, the consumer
   * stops there.
   */
  reserve(payloadBytes: number): number {
    const slot = slotBytes(payloadBytes);
    for (let attempt = 0; attempt < MAX_RESERVE_ATTEMPTS; attempt++) {
      // tail first: it can only move towards head, so this pair never shows more than `capacity` in use.
      const tail = Atomics.load(this.control, TAIL_WORD);
      const head = Atomics.load(this.control, HEAD_WORD);
      const used = this.distance(tail, head);
      const offset = head % this.capacity;
      const roomBeforeEnd = this.capacity - offset;
      const padding = slot <= roomBeforeEnd ? 0 : roomBeforeEnd;
      if (used + padding + slot > this.capacity) return NO_ROOM;
      const next = this.advance(head, padding + slot);
      if (Atomics.compareExchange(this.control, HEAD_WORD, head, next) !== head) continue;
      if (padding === 0) return offset;
      Atomics.store(this.headers, offset >> 2, PADDING);
      return 0;
    }
    return NO_ROOM;
  }

  /** Step 2 (producer): copies the payload into the slot reserved at `offset`. Cannot throw. */
  write(offset: number, record: string | Uint8Array, payloadBytes: number): void {
    const start = offset + RECORD_HEADER_BYTES;
    if (typeof record === 'string') this.text.write(record, start, payloadBytes, 'utf8');
    else this.bytes.set(record, start);
  }

  /** Step 3 (producer): publishes the slot at `offset`; the consumer may read it from now on. */
  commit(offset: number, payloadBytes: number): void {
    Atomics.store(this.headers, offset >> 2, payloadBytes + 1);
  }

  /** Adds one to the shared count of refused records. */
  countDropped(): void {
    const low = Atomics.add(this.control, DROPPED_LOW_WORD, 1);
    if (low === 0xffffffff) Atomics.add(this.control, DROPPED_HIGH_WORD, 1);
  }

  /** The shared count of refused records (may read 2^32 too low for an instant when the low word wraps). */
  droppedCount(): number {
    for (;;) {
      const high = Atomics.load(this.control, DROPPED_HIGH_WORD);
      const low = Atomics.load(this.control, DROPPED_LOW_WORD);
      if (Atomics.load(this.control, DROPPED_HIGH_WORD) === high) return high * 2 ** 32 + low;
    }
  }

  /**
   * Step 4 (consumer): hands each committed record, in reservation order, to `visit` as a view of shared
   * memory, then frees its slot. Stops at the first uncommitted slot or at the `head` read on entry.
   * Returns the number of records visited. If `visit` throws, that record stays in the ring.
   */
  consume(visit: (payload: Uint8Array) => void): number {
    if (Atomics.compareExchange(this.control, CONSUMER_WORD, 0, 1) !== 0) {
      throw new TimberlockError(
        'ERR_TIMBERLOCK_RING_CONSUMER',
        'SignalBuffer: a drain is already running on this buffer (from this or another thread); ' +
          'a SignalBuffer has exactly one consumer at a time.',
      );
    }
    try {
      return this.consumeCommitted(visit);
    } finally {
      Atomics.store(this.control, CONSUMER_WORD, 0);
    }
  }

  private consumeCommitted(visit: (payload: Uint8Array) => void): number {
    const head = Atomics.load(this.control, HEAD_WORD);
    let tail = Atomics.load(this.control, TAIL_WORD);
    let visited = 0;
    while (tail !== head) {
      const offset = tail % this.capacity;
      const header = Atomics.load(this.headers, offset >> 2);
      if (header === UNCOMMITTED) break;
      let slot: number;
      if (header === PADDING) {
        slot = this.capacity - offset;
      } else {
        const payloadBytes = header - 1;
        const start = offset + RECORD_HEADER_BYTES;
        visit(this.bytes.subarray(start, start + payloadBytes));
        visited++;
        slot = slotBytes(payloadBytes);
      }
      // Zero before publishing the new tail: producers only reuse bytes behind `tail`, and must find 0 there.
      this.bytes.fill(0, offset, offset + slot);
      tail = this.advance(tail, slot);
      Atomics.store(this.control, TAIL_WORD, tail);
    }
    return visited;
  }

  private distance(from: number, to: number): number {
    const d = to - from;
    return d < 0 ? d + this.cursorSpan : d;
  }

  private advance(cursor: number, bytes: number): number {
    const next = cursor + bytes;
    return next >= this.cursorSpan ? next - this.cursorSpan : next;
  }
}

/**
 * A lock-free queue of log records in a SharedArrayBuffer, for code that must not block or do I/O: signal
 * and shutdown paths, and worker threads that hand their lines to the main thread. Any number of
 * producers — the main thread and worker threads, each holding the same `sharedBuffer` through
 * {@link SignalBuffer.attach} — may {@link push} concurrently; exactly ONE thread at a time may
 * {@link drain} (a second concurrent drain throws instead of corrupting the ring).
 *
 * Nothing here touches the disk. `push` never blocks, never waits for another producer and allocates
 * nothing: a string is UTF-8-encoded straight into shared memory. When the ring has no room, `push` returns
 * false and the record is counted in {@link dropped}; the ring never overwrites records that were not
 * drained. `drain` returns records in the order their producers reserved space; a record whose producer
 * has reserved but not yet finished writing stops the drain there, and it and everything after it come
 * with a later drain.
 *
 * Sizes: the ring holds `capacity` bytes; each record takes 4 header bytes plus its payload, rounded up to
 * a multiple of 4, and a record that does not fit before the end of the ring wastes the end as padding.
 * A single record may be at most {@link maxRecordBytes} = capacity / 2 - 4 bytes, which guarantees that it
 * fits whenever the ring is empty, wherever the cursors stand.
 *
 * What can go wrong: a producer thread killed in the middle of `push` (worker.terminate() between the
 * reservation and the commit) leaves a slot that is never committed, and every drain stops there from
 * then on. Stop a producer's pushes before terminating its thread. A consumer thread killed in the middle
 * of a drain leaves the ring marked as being drained, and every later drain, by any thread, throws
 * ERR_TIMBERLOCK_RING_CONSUMER (or, killed between freeing a slot and moving past it, stops there); the
 * records then stay in the ring. Let the consuming thread finish its drain before terminating it.
 */
export class SignalBuffer {
  /** The shared memory of the ring: post it to a worker thread and {@link SignalBuffer.attach} it there. */
  readonly sharedBuffer: SharedArrayBuffer;
  /** Bytes available to record slots (headers, payloads and padding). */
  readonly capacity: number;
  /** Largest payload, in bytes, that {@link push} accepts: capacity / 2 - 4. */
  readonly maxRecordBytes: number;
  readonly #ring: RingProtocol;

  private constructor(sharedBuffer: SharedArrayBuffer, ring: RingProtocol) {
    // Private in the types; JavaScript can still call it.
    if (!(ring instanceof RingProtocol)) {
      throw new TypeError('new SignalBuffer() is not how a SignalBuffer is made: use SignalBuffer.create(capacityBytes) or SignalBuffer.attach(sharedBuffer)');
    }
    this.sharedBuffer = sharedBuffer;
    this.#ring = ring;
    this.capacity = ring.capacity;
    this.maxRecordBytes = ring.capacity / 2 - RECORD_HEADER_BYTES;
  }

  /**
   * Allocates an empty ring of `capacityBytes` bytes of record space (plus a 192-byte control block) in a
   * new SharedArrayBuffer. Throws TimberlockOptionError (code 'ERR_TIMBERLOCK_OPTION') unless
   * `capacityBytes` is an integer from 64 to 2^30 that is a multiple of 8; sizes are never rounded.
   */
  static create(capacityBytes: number): SignalBuffer {
    if (
      typeof capacityBytes !== 'number' ||
      !Number.isInteger(capacityBytes) ||
      capacityBytes < MIN_CAPACITY ||
      capacityBytes > MAX_CAPACITY ||
      capacityBytes % 8 !== 0
    ) {
      throw new TimberlockOptionError(
        'capacityBytes',
        capacityBytes,
        `an integer number of bytes from ${MIN_CAPACITY} to ${MAX_CAPACITY} that is a multiple of 8`,
      );
    }
    const sab = new SharedArrayBuffer(CONTROL_BYTES + capacityBytes);
    const ring = new RingProtocol(sab);
    ring.format();
    return new SignalBuffer(sab, ring);
  }

  /**
   * Opens the ring held in `sharedBuffer` (the {@link sharedBuffer} of a SignalBuffer created in any
   * thread), typically in a worker thread. Records pushed here are drained wherever the consumer is.
   * Throws TimberlockOptionError (code 'ERR_TIMBERLOCK_OPTION') when `sharedBuffer` is not a
   * SharedArrayBuffer made by {@link SignalBuffer.create}.
   */
  static attach(sharedBuffer: SharedArrayBuffer): SignalBuffer {
    const expected = 'the sharedBuffer of a SignalBuffer made by SignalBuffer.create()';
    if (!(sharedBuffer instanceof SharedArrayBuffer)) {
      throw new TimberlockOptionError('sharedBuffer', sharedBuffer, expected);
    }
    const capacity = sharedBuffer.byteLength - CONTROL_BYTES;
    if (capacity < MIN_CAPACITY || capacity % 8 !== 0 || capacity > MAX_CAPACITY) {
      throw new TimberlockOptionError('sharedBuffer', sharedBuffer, `${expected} (its size does not match)`);
    }
    const ring = new RingProtocol(sharedBuffer);
    if (!ring.isFormatted()) {
      throw new TimberlockOptionError('sharedBuffer', sharedBuffer, `${expected} (its control block does not match)`);
    }
    return new SignalBuffer(sharedBuffer, ring);
  }

  /**
   * Appends one record: a string (stored as UTF-8; lone surrogates become U+FFFD) or bytes (copied).
   * Returns true when the record is in the ring, false when there was no room (the record is dropped and
   * counted in {@link dropped}). Never blocks, never waits for other producers, no I/O.
   *
   * Throws a RangeError (code 'ERR_TIMBERLOCK_RECORD_TOO_LARGE') when the record has more than
   * {@link maxRecordBytes} bytes: that is a programming error, not a full buffer, so it is not counted as
   * dropped — check the size first or create a larger buffer. Throws a TypeError (code
   * 'ERR_INVALID_ARG_TYPE') when `record` is neither a string nor a Uint8Array.
   */
  push(record: string | Uint8Array): boolean {
    const ring = this.#ring;
    const payloadBytes = payloadByteLength(record);
    if (payloadBytes > this.maxRecordBytes) throw recordTooLarge(payloadBytes, this);
    const offset = ring.reserve(payloadBytes);
    if (offset === NO_ROOM) {
      ring.countDropped();
      return false;
    }
    ring.write(offset, record, payloadBytes);
    ring.commit(offset, payloadBytes);
    return true;
  }

  /**
   * Consumer: removes the committed records from the ring and returns copies of them, oldest first.
   * Returns an empty array when nothing is committed at the front of the ring. Throws TimberlockError
   * (code 'ERR_TIMBERLOCK_RING_CONSUMER') if another drain of the same ring is running.
   */
  drain(): Uint8Array[] {
    const records: Uint8Array[] = [];
    this.#ring.consume((payload) => records.push(new Uint8Array(payload)));
    return records;
  }

  /**
   * Consumer, without copies: calls `sink` with each committed record, oldest first, as a view of the
   * shared memory that is valid only during the call (write it synchronously or copy it). Returns the
   * number of records handed out. If `sink` throws, that record stays in the ring for the next drain and
   * the error propagates. Same concurrency rule as {@link drain}.
   */
  drainTo(sink: (record: Uint8Array) => void): number {
    return this.#ring.consume(sink);
  }

  /**
   * Number of {@link push} calls, by all producers since creation, that returned false: the ring was full,
   * or (only under extreme contention) the producer lost 256 reservation races in a row.
   */
  get dropped(): number {
    return this.#ring.droppedCount();
  }

  /** Bytes of the ring in use by records not drained yet, committed or still being written, including headers and padding. */
  get pending(): number {
    return this.#ring.usedBytes();
  }
}

function payloadByteLength(record: string | Uint8Array): number {
  if (typeof record === 'string') return Buffer.byteLength(record, 'utf8');
  if (record instanceof Uint8Array) return record.byteLength;
  throw Object.assign(
    new TypeError(`SignalBuffer.push: record must be a string or a Uint8Array, got ${typeof record}.`),
    { code: 'ERR_INVALID_ARG_TYPE' },
  );
}

function recordTooLarge(payloadBytes: number, buffer: SignalBuffer): RangeError {
  return Object.assign(
    new RangeError(
      `SignalBuffer.push: record of ${payloadBytes} bytes exceeds maxRecordBytes (${buffer.maxRecordBytes}) ` +
        `of a buffer with capacity ${buffer.capacity} bytes. Check signalBuffer.maxRecordBytes before ` +
        `pushing, or create a larger buffer.`,
    ),
    { code: 'ERR_TIMBERLOCK_RECORD_TOO_LARGE' },
  );
}
