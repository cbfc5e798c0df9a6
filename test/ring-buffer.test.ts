import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { HEAD_WORD, NO_ROOM, RingProtocol, SignalBuffer, TAIL_WORD } from '../src/ring-buffer.js';
import { TimberlockOptionError } from '../src/errors.js';
import { prng } from './helpers/prng.js';

const utf8 = new TextEncoder();
const text = new TextDecoder('utf-8', { fatal: true });

function texts(records: Uint8Array[]): string[] {
  return records.map((r) => text.decode(r));
}

/** Bytes a record takes in the ring: 4-byte header plus payload, rounded up to 4. */
function slot(payloadBytes: number): number {
  return (4 + payloadBytes + 3) & ~3;
}


function bytesOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

describe('SignalBuffer.create', () => {
  it.each([
    ['a fraction', 64.5],
    ['below 64', 56],
    ['not a multiple of 8', 100],
    ['above 2^30', 2 ** 30 + 8],
    ['NaN', Number.NaN],
    ['a string', '1024' as unknown as number],
  ])('rejects a capacity that is %s, naming the option and what is allowed', (_label, capacity) => {
    let caught: unknown;
    try {
      SignalBuffer.create(capacity);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TimberlockOptionError);
    expect((caught as TimberlockOptionError).code).toBe('ERR_TIMBERLOCK_OPTION');
    expect((caught as Error).message).toMatch(/capacityBytes/);
    expect((caught as Error).message).toMatch(/multiple of 8/);
  });

  it('allocates the capacity plus a control block and starts empty', () => {
    const ring = SignalBuffer.create(64);
    expect(ring.capacity).toBe(64);
    expect(ring.maxRecordBytes).toBe(28);
    expect(ring.sharedBuffer).toBeInstanceOf(SharedArrayBuffer);
    expect(ring.sharedBuffer.byteLength).toBeGreaterThan(64);
    expect(ring.pending).toBe(0);
    expect(ring.dropped).toBe(0);
    expect(ring.drain()).toEqual([]);
  });
});

describe('new SignalBuffer()', () => {
  it('says how a SignalBuffer is made (the constructor is private in the types, not in JavaScript)', () => {
    const Constructor = SignalBuffer as unknown as new (size: number) => SignalBuffer;
    expect(() => new Constructor(1024)).toThrow(/use SignalBuffer\.create\(capacityBytes\) or SignalBuffer\.attach\(sharedBuffer\)/);
  });
});

describe('SignalBuffer.attach', () => {
  it('opens the same ring: records pushed through one instance are drained through the other', () => {
    const owner = SignalBuffer.create(1024);
    const attached = SignalBuffer.attach(owner.sharedBuffer);
    expect(attached.capacity).toBe(1024);
    attached.push('from the worker side');
    owner.push('from the owner');
    expect(texts(owner.drain())).toEqual(['from the worker side', 'from the owner']);
    expect(attached.pending).toBe(0);
  });

  it('rejects what is not the shared buffer of a SignalBuffer', () => {
    expect(() => SignalBuffer.attach(new ArrayBuffer(256) as unknown as SharedArrayBuffer)).toThrow(
      TimberlockOptionError,
    );
    expect(() => SignalBuffer.attach(new SharedArrayBuffer(1024))).toThrow(/control block does not match/);
    expect(() => SignalBuffer.attach(new SharedArrayBuffer(100))).toThrow(/size does not match/);
  });
});

describe('SignalBuffer.push and drain', () => {
  it('drains records in the order they were pushed', () => {
    const ring = SignalBuffer.create(4096);
    const sent = Array.from({ length: 100 }, (_, i) => `line ${i}`);
    for (const line of sent) expect(ring.push(line)).toBe(true);
    expect(texts(ring.drain())).toEqual(sent);
    expect(ring.drain()).toEqual([]);
    expect(ring.pending).toBe(0);
  });

  it('keeps UTF-8 content intact, and stores a lone surrogate as U+FFFD', () => {
    const ring = SignalBuffer.create(1024);
    const lines = ['plain ascii', 'é à ü ß', '€ 中文 日本語', '😀 🚀 𝄞', 'mixed: a é € 😀 end'];
    for (const line of lines) ring.push(line);
    ring.push('bad \uD800 half');
    const drained = ring.drain();
    expect(texts(drained)).toEqual([...lines, 'bad \uFFFD half']);
    expect(drained.map((r) => r.byteLength)).toEqual([...lines, 'bad \uFFFD half'].map((l) => utf8.encode(l).length));
  });

  it('copies bytes from a Uint8Array, honouring its offset into a larger buffer', () => {
    const ring = SignalBuffer.create(256);
    const backing = bytesOf(64, 3);
    ring.push(backing.subarray(10, 30));
    ring.push(Buffer.from('a Buffer too'));
    const [first, second] = ring.drain();
    expect(first).toEqual(backing.slice(10, 30));
    expect(text.decode(second)).toBe('a Buffer too');
  });

  it('accepts an empty string and a zero-length Uint8Array as 4-byte records', () => {
    const ring = SignalBuffer.create(64);
    expect(ring.push('')).toBe(true);
    expect(ring.push(new Uint8Array(0))).toBe(true);
    expect(ring.pending).toBe(8);
    const drained = ring.drain();
    expect(drained).toHaveLength(2);
    expect(drained.map((r) => r.byteLength)).toEqual([0, 0]);
  });

  it('returns copies that stay valid after the ring reuses the space', () => {
    const ring = SignalBuffer.create(64);
    ring.push('first record');
    const [kept] = ring.drain();
    for (let i = 0; i < 20; i++) {
      ring.push('overwriting the slot');
      ring.drain();
    }
    expect(text.decode(kept)).toBe('first record');
  });

  it('accepts records that fill the capacity exactly, then refuses the next one', () => {
    const ring = SignalBuffer.create(64);
    expect(ring.push(bytesOf(28, 1))).toBe(true); // slot 32
    expect(ring.push(bytesOf(28, 2))).toBe(true); // slot 32: 64 of 64 bytes used
    expect(ring.pending).toBe(64);
    expect(ring.push('')).toBe(false);
    expect(ring.dropped).toBe(1);
    expect(ring.drain()).toEqual([bytesOf(28, 1), bytesOf(28, 2)]);

    for (let i = 0; i < 16; i++) expect(ring.push('')).toBe(true); // 16 slots of 4 bytes
    expect(ring.pending).toBe(64);
    expect(ring.push('')).toBe(false);
    expect(ring.dropped).toBe(2);
    expect(ring.drain()).toHaveLength(16);
    expect(ring.pending).toBe(0);
  });

  it('counts only refused pushes as dropped, and never overwrites records that were not drained', () => {
    const ring = SignalBuffer.create(256);
    let accepted = 0;
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      if (ring.push(`record ${i}`)) accepted++;
      else refused++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(ring.dropped).toBe(refused);
    const drained = texts(ring.drain());
    expect(drained).toEqual(Array.from({ length: accepted }, (_, i) => `record ${i}`));
    expect(ring.push('after the drain')).toBe(true);
    expect(ring.dropped).toBe(refused);
  });

  it('rejects a record larger than maxRecordBytes with a RangeError naming its size and the capacity', () => {
    const ring = SignalBuffer.create(64);
    ring.push('kept');
    let caught: unknown;
    try {
      ring.push(bytesOf(29, 0));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RangeError);
    expect((caught as { code?: string }).code).toBe('ERR_TIMBERLOCK_RECORD_TOO_LARGE');
    expect((caught as Error).message).toMatch(/29 bytes/);
    expect((caught as Error).message).toMatch(/maxRecordBytes \(28\)/);
    expect((caught as Error).message).toMatch(/capacity 64 bytes/);
    // UTF-8 length counts, not string length: 15 × 'é' is 30 bytes.
    expect(() => ring.push('é'.repeat(15))).toThrow(/30 bytes/);
    expect(() => ring.push(bytesOf(1000, 0))).toThrow(RangeError);
    expect(ring.dropped).toBe(0);
    expect(texts(ring.drain())).toEqual(['kept']);
  });

  it('rejects a record that is neither a string nor a Uint8Array', () => {
    const ring = SignalBuffer.create(64);
    expect(() => ring.push(42 as unknown as string)).toThrow(TypeError);
  });

  it('fits a record of maxRecordBytes into an empty ring wherever the cursors stand', () => {
    const ring = SignalBuffer.create(64);
    for (let shift = 0; shift < 64; shift += 4) {
      for (let i = 0; i < shift / 4; i++) ring.push('');
      ring.drain();
      const biggest = bytesOf(ring.maxRecordBytes, shift);
      expect(ring.push(biggest)).toBe(true);
      expect(ring.drain()).toEqual([biggest]);
    }
    expect(ring.dropped).toBe(0);
  });

  it('wraps around the ring many times with records of varied sizes, losing and reordering nothing', () => {
    const ring = SignalBuffer.create(256);
    const next = prng(0x5eed);
    const random = (): number => next() / 4294967296;
    let waiting: Uint8Array[] = [];
    const violations: string[] = [];
    let refused = 0;
    let bytesThrough = 0;
    for (let step = 0; step < 40_000 && violations.length < 5; step++) {
      if (random() < 0.2) {
        const drained = ring.drain();
        if (drained.length !== waiting.length || drained.some((r, i) => Buffer.compare(r, waiting[i]!) !== 0)) {
          violations.push(`step ${step}: drained ${drained.length} records, expected ${waiting.length}`);
        }
        waiting = [];
        continue;
      }
      const length = Math.floor(random() * (ring.maxRecordBytes + 1));
      const record = bytesOf(length, step);
      const pendingBefore = ring.pending;
      if (ring.push(record)) {
        waiting.push(record);
        bytesThrough += slot(length);
        if (ring.pending < pendingBefore + slot(length)) violations.push(`step ${step}: pending did not grow`);
      } else {
        refused++;
        // An empty ring takes any record of up to maxRecordBytes, wherever the cursors stand.
        if (pendingBefore === 0) violations.push(`step ${step}: empty ring refused ${length} bytes`);
      }
      if (ring.pending > ring.capacity) violations.push(`step ${step}: pending ${ring.pending} > capacity`);
    }
    expect(violations).toEqual([]);
    expect(ring.drain()).toEqual(waiting);
    expect(ring.pending).toBe(0);
    expect(refused).toBeGreaterThan(0);
    expect(ring.dropped).toBe(refused);
    expect(bytesThrough).toBeGreaterThan(1000 * ring.capacity);
  });

  it('keeps working when the 32-bit cursors wrap', () => {
    const ring = SignalBuffer.create(256);
    const control = new Uint32Array(ring.sharedBuffer, 0, 64);
    const nearEnd = 2 ** 32 - 40; // cursorSpan is 2^32 for a power-of-two capacity
    Atomics.store(control, HEAD_WORD, nearEnd);
    Atomics.store(control, TAIL_WORD, nearEnd);
    expect(ring.pending).toBe(0);
    for (let round = 0; round < 50; round++) {
      const sent = Array.from({ length: 5 }, (_, i) => `round ${round} record ${i}`);
      for (const line of sent) expect(ring.push(line)).toBe(true);
      expect(ring.pending).toBeLessThanOrEqual(ring.capacity);
      expect(texts(ring.drain())).toEqual(sent);
      expect(ring.pending).toBe(0);
    }
    expect(Atomics.load(control, HEAD_WORD)).toBeLessThan(nearEnd);
  });
});

describe('SignalBuffer drain with records still being written', () => {
  it('stops at a reserved, uncommitted record and delivers the rest on a later drain', () => {
    const ring = SignalBuffer.create(1024);
    const slowProducer = new RingProtocol(ring.sharedBuffer);
    ring.push('before');
    const offset = slowProducer.reserve(5);
    expect(offset).not.toBe(NO_ROOM);
    ring.push('after');
    expect(texts(ring.drain())).toEqual(['before']);
    expect(texts(ring.drain())).toEqual([]);
    expect(ring.pending).toBe(slot(5) + slot(5));

    slowProducer.write(offset, 'slow!', 5);
    slowProducer.commit(offset, 5);
    expect(texts(ring.drain())).toEqual(['slow!', 'after']);
    expect(ring.pending).toBe(0);
  });

  it('skips the padding at the end of the ring even while the record after it is uncommitted', () => {
    const ring = SignalBuffer.create(64);
    ring.push(bytesOf(20, 0)); // slot 24: head at 24
    ring.push(bytesOf(20, 1)); // slot 24: head at 48
    ring.drain();
    const slowProducer = new RingProtocol(ring.sharedBuffer);
    const offset = slowProducer.reserve(12); // slot 16 fits exactly before the end: no padding
    expect(offset).toBe(48);
    slowProducer.write(offset, bytesOf(12, 2), 12);
    slowProducer.commit(offset, 12);
    ring.drain();
    // head and tail are at 0 (64 % 64); move them to 56 and make a record wrap.
    for (let i = 0; i < 14; i++) ring.push('');
    ring.drain();
    const wrapped = slowProducer.reserve(8); // slot 12 > 8 bytes left: padding 56..64, record at 0
    expect(wrapped).toBe(0);
    ring.push('next');
    expect(ring.drain()).toEqual([]);
    expect(ring.pending).toBe(12 + slot(4)); // the drain consumed the padding, then stopped at offset 0
    slowProducer.write(wrapped, bytesOf(8, 3), 8);
    slowProducer.commit(wrapped, 8);
    const drained = ring.drain();
    expect(drained[0]).toEqual(bytesOf(8, 3));
    expect(texts(drained.slice(1))).toEqual(['next']);
    expect(ring.pending).toBe(0);
  });

  it('refuses a second drain while one is running, and leaves the record to the next drain', () => {
    const ring = SignalBuffer.create(256);
    ring.push('one');
    ring.push('two');
    let inner: unknown;
    expect(() =>
      ring.drainTo(() => {
        try {
          ring.drain();
        } catch (err) {
          inner = err;
          throw err;
        }
      }),
    ).toThrow(/already running/);
    expect((inner as { code?: string }).code).toBe('ERR_TIMBERLOCK_RING_CONSUMER');
    expect(texts(ring.drain())).toEqual(['one', 'two']);
  });

  it('hands drainTo views of each record, oldest first, without copying', () => {
    const ring = SignalBuffer.create(256);
    ring.push('alpha');
    ring.push('beta');
    const seen: string[] = [];
    const count = ring.drainTo((record) => {
      seen.push(Buffer.from(record.buffer, record.byteOffset, record.byteLength).toString('utf8'));
    });
    expect(count).toBe(2);
    expect(seen).toEqual(['alpha', 'beta']);
    expect(ring.pending).toBe(0);
  });
});

// Must match recordFor() in test/fixtures/ring-producer.mjs.
const CODE_POINTS = Array.from('abcdefghij-é€😀-'.repeat(7));
const FILLERS = Array.from({ length: 97 }, (_, n) => CODE_POINTS.slice(0, n).join(''));
function recordFor(producer: number, seq: number): string {
  return `${producer}:${seq}:${FILLERS[(seq * 31 + producer * 7) % 97]}`;
}

describe('SignalBuffer across worker threads', () => {
  let workers: Worker[] = [];

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.terminate()));
    workers = [];
  });

  it('delivers every record of 4 producer threads exactly once, intact and in per-producer order', async () => {
    const PRODUCERS = 4;
    const PER_PRODUCER = 100_000;
    const total = PRODUCERS * PER_PRODUCER;
    const ring = SignalBuffer.create(256 * 1024);
    const refusedBy: number[] = new Array<number>(PRODUCERS).fill(-1);
    const started = performance.now();

    const reports = Promise.all(
      Array.from({ length: PRODUCERS }, (_, producer) => {
        const worker = new Worker(new URL('./fixtures/ring-producer.mjs', import.meta.url), {
          workerData: { sharedBuffer: ring.sharedBuffer, producer, count: PER_PRODUCER },
        });
        workers.push(worker);
        return new Promise<void>((resolve, reject) => {
          worker.once('message', (report: { producer: number; refused: number }) => {
            refusedBy[report.producer] = report.refused;
            resolve();
          });
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new Error(`producer ${producer} exited (${code}) before reporting`)));
        });
      }),
    );
    let failure: unknown;
    reports.catch((err: unknown) => {
      failure = err;
    });

    const nextSeq = new Array<number>(PRODUCERS).fill(0);
    const problems: string[] = [];
    let received = 0;
    const deadline = Date.now() + 50_000;
    while (received < total && problems.length < 10) {
      if (failure !== undefined) throw failure;
      if (Date.now() > deadline) throw new Error(`timed out after ${received} of ${total} records`);
      for (const record of ring.drain()) {
        received++;
        const line = text.decode(record);
        const first = line.indexOf(':');
        const second = line.indexOf(':', first + 1);
        const producer = Number(line.slice(0, first));
        const seq = Number(line.slice(first + 1, second));
        if (!(producer >= 0 && producer < PRODUCERS) || seq !== nextSeq[producer] || line !== recordFor(producer, seq)) {
          problems.push(`record ${received}: ${JSON.stringify(line)}, expected seq ${String(nextSeq[producer])}`);
          continue;
        }
        nextSeq[producer] = seq + 1;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const elapsedMs = performance.now() - started;
    expect(problems).toEqual([]);
    await reports;

    expect(nextSeq).toEqual(new Array<number>(PRODUCERS).fill(PER_PRODUCER));
    expect(ring.drain()).toEqual([]);
    expect(ring.pending).toBe(0);
    expect(ring.dropped).toBe(refusedBy.reduce((a, b) => a + b, 0));
    console.info(
      `SignalBuffer: ${total} records from ${PRODUCERS} threads in ${elapsedMs.toFixed(0)} ms ` +
        `(${Math.round(total / (elapsedMs / 1000))} records/s, ${ring.dropped} refused pushes retried)`,
    );
  }, 60_000);
});
