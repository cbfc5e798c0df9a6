/**
 * Signal context: while a signal is being handled through the library ({@link handleSignals}), a
 * RotatingFile's write() only appends the line to a pre-allocated {@link SignalBuffer} — no rotation
 * check, no lock, no I/O. When the context ends, the buffered lines are handed to their files in the
 * order they were written.
 *
 * This module also keeps the registry of the process's open files (a small numeric id per file, so that
 * a buffered record names the file it belongs to) and of the rotations they have under way, and arms
 * the flush that runs before a default death by signal (see default-signal-flush.ts) while at least one
 * file is open.
 *
 * State here is per thread: signals reach only the main thread, so only the main thread ever enters
 * the signal context.
 */
import { isMainThread } from 'node:worker_threads';
import { TimberlockOptionError } from './errors.js';
import { armDefaultSignalFlush, disarmDefaultSignalFlush } from './default-signal-flush.js';
import { SignalBuffer } from './ring-buffer.js';
import type { WarningEvent } from './types.js';

/** What the signal context needs from a file: a RotatingFile, seen from here. */
export interface SignalTarget {
  /** A line the signal buffer kept for this file, handed back (with its write() callback, if it had one). */
  write(chunk: string | Uint8Array): boolean;
  /** The process is ending: write everything synchronously, and drop what a rotation under way cannot finish. */
  endOfProcess(): void;
  /**
   * A warning from the end of the process: the signal context's lines are drained when handleSignals' hook
   * has returned, and the process exits next. Printed at once when nobody listens (no stats() follows).
   */
  warnEnding(event: WarningEvent): void;
  /** Tell the app's listeners what the file held back while every file was flushed (see flushAllTargets); true if anything. */
  deliverHeldEvents(): boolean;
  /** The process is about to exit: stop archive maintenance (a run under way stops between two steps). */
  stopMaintenance(): Promise<void>;
}

/** Capacity of the signal buffer when {@link handleSignals} is not told otherwise: 1 MiB. */
export const DEFAULT_SIGNAL_BUFFER_BYTES = 1024 * 1024;

// Record layout in the ring: the file id in ASCII digits, one kind byte ('s': the line was a string,
// 'b': it was bytes), then the line itself.
const KIND_STRING = 0x73;
const KIND_BYTES = 0x62;
const DIGIT_0 = 0x30;
const textDecoder = new TextDecoder();

const targets = new Map<number, SignalTarget>();
/**
 * Closed files, for as long as anything else holds them: a line written to one in the signal context is
 * buffered like any other (it is appended when the context ends, see RotatingFile's write after close).
 */
const closedTargets = new Map<number, WeakRef<SignalTarget>>();
const forgetClosed = new FinalizationRegistry<number>((id) => closedTargets.delete(id));
let nextId = 1;
/** Nesting depth of the signal context; > 0 means "inside". */
let depth = 0;
let buffer: SignalBuffer | null = null;
/** Lines refused by a full buffer, per file id, not reported yet. */
const refused = new Map<number, number>();
/**
 * Closed files with lines in the signal buffer: held until those lines are handed over (a WeakRef alone
 * would let them go, and their lines with them), and until the events of that hand-over are told (see
 * flushAllTargets: only open files are flushed there, and the drain can hand lines to closed ones).
 */
const closedInPlay = new Set<SignalTarget>();

/**
 * Register an open file. Returns its id, which {@link deferLine} takes. The first registration arms
 * the flush before a default death by signal.
 */
export function registerSignalTarget(target: SignalTarget): number {
  const id = nextId++;
  targets.set(id, target);
  if (targets.size === 1 && isMainThread) armDefaultSignalFlush(flushAllTargets);
  return id;
}

/**
 * A file closed: it is no longer flushed at the end of the process, but still takes lines in the signal
 * context. When no file is open, the process's signal listeners are as if timberlock were not loaded.
 */
export function unregisterSignalTarget(id: number): void {
  const target = targets.get(id);
  if (!target) return;
  targets.delete(id);
  closedTargets.set(id, new WeakRef(target));
  forgetClosed.register(target, id);
  if (targets.size === 0) disarmDefaultSignalFlush();
}

/** The file, open or closed, that `id` names. */
function targetOf(id: number): SignalTarget | undefined {
  return targets.get(id) ?? closedTargets.get(id)?.deref();
}

/** True while a signal is being handled through the library: write() must only buffer. */
export function inSignalContext(): boolean {
  return depth > 0;
}

/**
 * Inside the signal context: append `line` of file `id` to the signal buffer. Never blocks, never does
 * I/O. Returns false when the buffer had no room (or the line is larger than a record may be): the line
 * is dropped, and a DROPPED_LINES warning on its file reports it once the context ends.
 */
export function deferLine(id: number, line: string | Uint8Array): boolean {
  const ring = buffer;
  let stored = false;
  if (ring) {
    const record = typeof line === 'string' ? `${id}s${line}` : Buffer.concat([Buffer.from(`${id}b`), line]);
    // A record larger than maxRecordBytes makes push() throw; here it is one more line that does not fit.
    if (Buffer.byteLength(record) <= ring.maxRecordBytes) stored = ring.push(record);
  }
  if (!stored) refused.set(id, (refused.get(id) ?? 0) + 1);
  else if (!targets.has(id)) {
    const closed = closedTargets.get(id)?.deref();
    if (closed) closedInPlay.add(closed);
  }
  return stored;
}

/**
 * Make sure a signal buffer of at least `capacityBytes` exists (allocated now, not when a signal
 * arrives). Throws TimberlockOptionError for a size SignalBuffer refuses.
 */
export function reserveSignalBuffer(capacityBytes: number): void {
  if (buffer && buffer.capacity >= capacityBytes) return;
  try {
    const fresh = SignalBuffer.create(capacityBytes);
    if (buffer) drainInto(buffer); // cannot hold records outside the context, but never drop any
    buffer = fresh;
  } catch (err) {
    if (err instanceof TimberlockOptionError) {
      throw new TimberlockOptionError('bufferBytes', capacityBytes, 'an integer number of bytes from 64 to 2^30 that is a multiple of 8');
    }
    throw err;
  }
}

/**
 * Run `fn` inside the signal context. When the outermost context ends (even by an exception), the lines
 * buffered meanwhile are handed to their files, in order, through their ordinary write().
 */
export function runInSignalContext<T>(fn: () => T): T {
  // handleSignals() reserves the buffer when it is installed; this only covers a caller that did not.
  if (!buffer) reserveSignalBuffer(DEFAULT_SIGNAL_BUFFER_BYTES);
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    if (depth === 0) {
      try {
        drainSignalBuffer();
      } finally {
        for (const resolve of contextEndWaiters.splice(0)) resolve();
      }
    }
  }
}

const contextEndWaiters: (() => void)[] = [];

/**
 * Resolves once the signal context has ended and the lines buffered in it have been handed to their
 * files (at once outside the context). A flush() asked for inside the context waits for this first.
 */
export function signalContextEnded(): Promise<void> {
  return depth === 0 ? Promise.resolve() : new Promise((resolve) => contextEndWaiters.push(resolve));
}

/** Hand every buffered line to its file (outside the signal context) and report refused lines. */
export function drainSignalBuffer(): void {
  if (depth > 0) return;
  if (buffer) drainInto(buffer);
  if (flushingAll === 0) closedInPlay.clear(); // their events were told as they came (see flushAllTargets)
  if (refused.size === 0) return;
  const counts = [...refused];
  refused.clear();
  for (const [id, lines] of counts) {
    targetOf(id)?.warnEnding({
      code: 'DROPPED_LINES',
      message:
        `${lines} line(s) written while a signal was handled were dropped: they did not fit in the signal ` +
        `buffer (${buffer?.capacity ?? 0} bytes; handleSignals() option bufferBytes)`,
      details: { lines, reason: 'signal buffer full' },
    });
  }
}

/** Rotations running off the event loop in this thread (RotatingFile.startRotation). */
const rotationsUnderWay = new Set<Promise<void>>();

/** Register a rotation under way; `done` must never reject. */
export function trackRotation(done: Promise<void>): void {
  rotationsUnderWay.add(done);
  void done.then(() => rotationsUnderWay.delete(done));
}

/**
 * Resolves once no rotation is under way. A graceful shutdown awaits it before its last synchronous
 * flush, so that it never exits between two steps of a rotation (the next rotator would repair what was
 * left, but a clean stop should leave nothing to repair). A rotation takes milliseconds and never waits
 * for a lock; the shutdown's timeout bounds the wait all the same.
 */
export async function rotationsSettled(): Promise<void> {
  while (rotationsUnderWay.size > 0) await Promise.all(rotationsUnderWay);
}

/**
 * Resolves once no rotation is under way and archive maintenance has stopped: a compression under way stops
 * between two chunks (its temp file removed, no `.gz`), or, past its `.gz` rename, finishes by removing the
 * original. A graceful shutdown awaits this before its last flush, so that it leaves nothing to repair.
 * Bounded by the shutdown's timeout, as rotationsSettled is.
 */
export async function settledForExit(): Promise<void> {
  await rotationsSettled();
  await Promise.all([...targets.values()].map((target) => target.stopMaintenance()));
  await rotationsSettled();
}

/** The process is exiting: a context still open (a hook that called process.exit()) ends here. */
export function endSignalContextForExit(): void {
  depth = 0;
}

/** > 0 while flushAllTargets runs. */
let flushingAll = 0;

/**
 * Rounds of flushAllTargets: a flush, then the events it held, then a flush of what their listeners
 * logged … A listener that logs on every event would make a warning per round (DROPPED_LINES, while
 * writes fail): the last round's events are not told, but its lines are written or counted.
 */
const EXIT_FLUSH_ROUNDS = 3;

/**
 * For the end of the process: drain the signal buffer, then flush every registered file synchronously
 * (see RotatingFile.flushSync and endOfProcess), and only then tell the events they raised meanwhile
 * (see holdingEventsForExit); then flush again what the listeners logged. Never throws: a file whose
 * flush fails reports it through its own events.
 */
export function flushAllTargets(): void {
  for (let round = 1; ; round++) {
    flushingAll++;
    try {
      drainSignalBuffer();
      for (const target of targets.values()) target.endOfProcess();
    } finally {
      flushingAll--;
    }
    if (flushingAll > 0 || round === EXIT_FLUSH_ROUNDS) return;
    // What the listeners log is written (or counted as dropped) by the next round: on a death by signal
    // no later turn of the event loop, and no 'exit', would write it.
    let told = false;
    const handedTo = [...closedInPlay];
    closedInPlay.clear();
    for (const target of [...targets.values(), ...handedTo]) told = target.deliverHeldEvents() || told;
    if (!told) return;
  }
}


/**
 * True while every file is being flushed for the end of the process: files hold their events back until
 * all of them are flushed. A listener may call process.exit(), which, once the process is exiting, ends
 * it on the spot: the lines of the files not flushed yet would be lost.
 */
export function holdingEventsForExit(): boolean {
  return flushingAll > 0;
}

/**
 * Records taken out of the signal buffer and not yet handed to their files, oldest first. They are
 * copied out before any is handed over: a write can run the app's code (a 'rotate' or 'error' listener)
 * that calls process.exit(), whose exit flush drains again from inside the write. That nested drain then
 * carries on with the records left here, and the buffer's one-consumer guard is never held meanwhile.
 */
const taken: Uint8Array[] = [];
let nextTaken = 0;

function drainInto(ring: SignalBuffer): void {
  for (const record of ring.drain()) taken.push(record);
  while (nextTaken < taken.length) {
    // Past it before the write: a nested drain never hands it over a second time.
    handOver(taken[nextTaken++] as Uint8Array);
  }
  taken.length = 0;
  nextTaken = 0;
}

/** Give one record to the file it names, through the file's ordinary write(). */
function handOver(record: Uint8Array): void {
  let at = 0;
  let id = 0;
  while (at < record.length && (record[at] as number) >= DIGIT_0 && (record[at] as number) <= DIGIT_0 + 9) {
    id = id * 10 + (record[at] as number) - DIGIT_0;
    at++;
  }
  const kind = record[at];
  const payload = record.subarray(at + 1);
  // A record names a file that is open, or closed and still held by the code that wrote to it.
  const target = targetOf(id);
  if (!target) return;
  if (kind === KIND_STRING) target.write(textDecoder.decode(payload));
  else if (kind === KIND_BYTES) target.write(Buffer.from(payload));
}
