/**
 * RotatingFile: the writer. Buffers lines, writes whole-line batches with one O_APPEND write each, and
 * before every write checks the period boundary; the rotation itself is in rotation.ts.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TimberlockError, TimberlockOptionError, describeValue, emitAsProcessWarning, printToStderr } from './errors.js';
import { runAsync, runSync } from './io.js';
import { createRotationLock, type RotationLock } from './lock.js';
import { DEFAULT_MAX_BUFFER_BYTES, normalizeOptions, type NormalizedOptions } from './options.js';
import {
  APPEND_ONLY,
  followActive,
  holdsNoLines,
  openExisting,
  rotateUnderLock,
  stageNext,
  statOrNull,
  takeActive,
  type ActiveFile,
  type RollRequest,
  type RotationTarget,
} from './rotation.js';
import type { MaintenanceResult } from './archive.js';
import { ArchiveScheduler } from './archive-scheduler.js';
import { archiveName } from './naming.js';
import { CLOCK_AHEAD_MS } from './retention.js';
import { newFileTempPath, readState, stateTempPath, type RotationState } from './state.js';
import { MAX_TIMER_DELAY_MS, periodOf, type Period } from './schedule.js';
import {
  deferLine,
  endSignalContextForExit,
  flushAllTargets,
  holdingEventsForExit,
  inSignalContext,
  registerSignalTarget,
  signalContextEnded,
  trackRotation,
  unregisterSignalTarget,
  type SignalTarget,
} from './signal-context.js';
import type { ArchiveEvent, HeaderInfo, OpenEvent, RotateEvent, RotatingFileOptions, RotatingFileStats, WarningEvent } from './types.js';

/** Largest batch handed to one write(2), in bytes (a single longer line is written alone). */
const MAX_BATCH_BYTES = 64 * 1024;
/**
 * After this long without a write or a look at the active name, a flush looks first (see flushNow): half
 * the shortest grace delay archive maintenance gives an archive (twice the shortest checkIntervalMs), a
 * margin for file times that the kernel keeps to a few ms.
 */
const QUIET_RECHECK_MS = 50;
/** Dropped slots at the front of the buffer that make relieveOverCap copy the rest to a new array. */
const COMPACT_AFTER_SLOTS = 4096;
/** Delay between two tries of a busy lock while lines wait for the new period's file. */
const LOCK_RETRY_MS = 5;
/**
 * A busy lock is tried again after this when nothing waits for it: no line in memory, no flush() or write
 * callback waiting for a publication, or a publication that stalled. Its holder may keep it for as long as
 * its own disk stalls; trying every LOCK_RETRY_MS meanwhile cost 185 attempts and 6 % of a CPU per second.
 * A line, flush() or write callback that comes meanwhile brings the next try forward to LOCK_RETRY_MS.
 */
const IDLE_LOCK_RETRY_MS = 100;
/** Back-off after a failed write: first and maximum delay. */
const ERROR_RETRY_MIN_MS = 100;
const ERROR_RETRY_MAX_MS = 5000;

/** The next wait after another failure: twice `delayMs`, at most ERROR_RETRY_MAX_MS. */
function backedOff(delayMs: number): number {
  return Math.min(delayMs * 2, ERROR_RETRY_MAX_MS);
}

const NEWLINE = 0x0a;
/** What opening the active name fails with when something that is no regular file was put there. */
const REFUSED_AT_ACTIVE_NAME = new Set(['ELOOP', 'EISDIR', 'EINVAL', 'ENXIO']);
/** The log directory, when `mkdir` makes it (at start-up, or again after it was removed), less the umask. */
const DIRECTORY_MODE = 0o750;
/** Append, creating the file if missing, never through a symbolic link (ELOOP instead) nor waiting on a FIFO (see APPEND_ONLY). */
const APPEND_CREATE = APPEND_ONLY | fs.constants.O_CREAT;

/** Lifecycle of a RotatingFile. 'waiting': no descriptor for the current period yet (lines wait in memory). */
export type FileState = 'waiting' | 'open' | 'closing' | 'closed';

type Chunk = string | Uint8Array;
/** write()'s callback: called once the line has reached the kernel, or with the error once writes fail. */
export type WriteCallback = (error?: Error | null) => void;

/** Why lines went to a file that may no longer carry the active name (see noteLate). */
type LateReason = 'fallback' | 'after-rename' | 'rotation-under-way' | 'unpublished' | 'after-close';

/** The file a process announced last ('rotate' compares with it): its period, inode, and whether there was one. */
interface Announced {
  periodStart: number;
  ino: number;
  hadFile: boolean;
}

/** Internal knobs for tests: an injectable clock. Not part of the public API. */
export interface RotatingFileInternals {
  now?: () => number;
  /** Stands in for os.hostname() and process.pid in `{hostname}` / `{pid}` path tokens. */
  identity?: { hostname: string; pid: number };
  /**
   * close() waits at most this long (never longer than fallbackMs) for lines that wait for a new file or
   * for a failing disk. The pino transport's: pino's worker gives the transport 10 s to close on exit.
   */
  closeWaitMs?: number;
}

let exitHookInstalled = false;
/** Set once this thread's 'exit' flush has run: no later turn of the event loop will write anything. */
let exiting = false;

/**
 * The process is exiting: this thread's 'exit' flush has run, or 'exit' is being emitted already (Node
 * sets process._exiting first). The second covers a first file created in an app's 'exit' listener: the
 * 'exit' listener it adds is not called, and no later turn of the event loop comes.
 */
function processExiting(): boolean {
  return exiting || (process as unknown as { _exiting?: boolean })._exiting === true;
}

/**
 * Once per process: flush every open file on 'exit', before the listeners already there: one of the app's
 * that calls process.exit() again or throws ends the process without running the listeners after it (all
 * 1,000 lines of a process.exit() were lost). Lines its listeners log after the flush are written at once.
 * Write at once from 'beforeExit' too (see onBeforeExit). Also keep SIGXFSZ harmless: Node ignores it (a
 * write past RLIMIT_FSIZE fails with EFBIG), but the signal-exit listener that proper-lockfile installs
 * re-raises it with its default action, which kills the process. A no-op listener restores Node's
 * behaviour, so a file-size limit becomes an 'error' event like any other write failure.
 */
function installProcessHooks(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.prependListener('exit', flushAllOpenFiles);
  process.prependListener('beforeExit', onBeforeExit);
  process.on('SIGXFSZ', ignoreSignal);
}

/** From a 'beforeExit' until the event loop goes on (see onBeforeExit): write() writes at once. */
let beforeExit = false;

/**
 * 'beforeExit': the event loop has nothing left to do. A line an app's listener logs now is written at
 * once, since the turn a queued flush takes would keep the process alive and bring 'beforeExit' again: for
 * ever, with a listener that logs each time (685,102 lines in 3 s, and no exit). Until the event loop goes
 * on, if the listeners gave it work (an unref'd immediate tells): an async listener's lines too.
 */
function onBeforeExit(): void {
  beforeExit = true;
  setImmediate(() => {
    beforeExit = false;
  }).unref();
}

/**
 * Flush every open RotatingFile of this thread synchronously and give up their rotations under way (see
 * RotatingFile.endOfProcess). For process 'exit'.
 */
export function flushAllOpenFiles(): void {
  exiting = true; // from now on write() writes at once: an app's 'exit' listener may still log
  // On exit a signal context can still be open (a hook that called process.exit()): close it, so that
  // its buffered lines are drained into their files and the files may do I/O again.
  endSignalContextForExit();
  flushAllTargets(); // every open file of this thread is registered there
}

function ignoreSignal(): void {
  // Intentionally empty: see installProcessHooks.
}

/** The events of a {@link RotatingFile} and what their listeners are called with. */
export interface RotatingFileEvents {
  open: [event: OpenEvent];
  ready: [];
  rotate: [event: RotateEvent];
  archive: [event: ArchiveEvent];
  warning: [event: WarningEvent];
  error: [error: TimberlockError];
  drain: [];
  finish: [];
  close: [];
  /** Emitted by Node's `readable.pipe(file)` (and `stream.pipeline()`), as on any destination. */
  pipe: [source: NodeJS.ReadableStream];
  /** Emitted by Node's `readable.unpipe(file)`, and when a pipe ends. */
  unpipe: [source: NodeJS.ReadableStream];
}

type RotatingFileListener<K extends keyof RotatingFileEvents> = (...args: RotatingFileEvents[K]) => void;

/** The listener methods of a {@link RotatingFile}, typed by event: a misspelt event or payload field does not compile. */
export interface RotatingFile {
  on<K extends keyof RotatingFileEvents>(event: K, listener: RotatingFileListener<K>): this;
  once<K extends keyof RotatingFileEvents>(event: K, listener: RotatingFileListener<K>): this;
  off<K extends keyof RotatingFileEvents>(event: K, listener: RotatingFileListener<K>): this;
  addListener<K extends keyof RotatingFileEvents>(event: K, listener: RotatingFileListener<K>): this;
  removeListener<K extends keyof RotatingFileEvents>(event: K, listener: RotatingFileListener<K>): this;
  prependListener<K extends keyof RotatingFileEvents>(event: K, listener: RotatingFileListener<K>): this;
  prependOnceListener<K extends keyof RotatingFileEvents>(event: K, listener: RotatingFileListener<K>): this;
}

/**
 * One log file shared by any number of processes and rotated by time.
 *
 * The active file always has the name given as `path`. Lines are buffered in memory and written in
 * batches of whole lines (at most 64 KiB, one write(2) each) to an O_APPEND descriptor, so lines of
 * concurrent processes never tear or overwrite each other. Batches are written on the next turn of
 * the event loop, as soon as 64 KiB are waiting, or immediately with `sync: true`.
 *
 * Right before each write the current time is compared with the end of the open file's period. Once
 * it has passed, nothing more is written to that file: lines wait in memory until the file of the new
 * period exists. One process (whoever wins the lock, tried once, never waited for) renames the old
 * file to its archive name (`app.2026-11-25.log`; `app.2026-11-25.1.log` if taken — an archive is
 * never overwritten), creates the new active file and records its inode in `.app.log.state`; the
 * others see the state and reopen. An empty file is not archived, it just moves into the new period.
 * A timer (unref'd) does the same at the boundary when nothing is written, so idle logs rotate on time.
 *
 * On process 'exit' every open RotatingFile is flushed synchronously, so `process.exit()` right after
 * a write loses nothing. I/O errors never throw from write(): they become 'error' events (or a process
 * warning when nobody listens for 'error'), and the data is kept and retried.
 *
 * Events: 'open' (OpenEvent), 'ready' (after the first 'open'), 'rotate' (RotateEvent), 'warning'
 * (WarningEvent), 'error' (Error), 'drain', 'close'.
 */
export class RotatingFile extends EventEmitter {
  /** Absolute path of the active file. */
  readonly path: string;
  private readonly options: NormalizedOptions;
  private readonly target: RotationTarget;
  private readonly lock: RotationLock;
  private readonly now: () => number;
  /** How long close() waits for lines held for a new file or a failing disk: fallbackMs, or less (RotatingFileInternals). */
  private readonly closeWaitMs: number;

  private state: FileState = 'waiting';
  private fd: number | null = null;
  private ino = -1;
  /** The active file's size without lines (its header's), as the state records it: it never rolls at that size. */
  private emptySize = 0;
  private period: Period = { start: 0, next: 0 };
  /** The last period periodAt() computed (see there). */
  private lastPeriod: Period = { start: 0, next: 0 };

  /** Buffered chunks; `head` is the first one not yet written. */
  private pending: Chunk[] = [];
  private head = 0;
  private pendingBytes = 0;
  private flushing = false;
  private flushQueued = false;
  private needDrain = false;
  /** The promise every flush() waiting now shares (they all resolve at once, see resolveFlushWaiters), or null. */
  private flushWaiter: { promise: Promise<void>; resolve: () => void } | null = null;
  /** write()'s callbacks waiting for their lines to reach the kernel, oldest first (see callBackWhenWritten). */
  private writeCallbacks: WriteCallback[] = [];
  /** One per line of this file in the signal buffer, in order: its write() callback, or null (see writeDeferred). */
  private deferredCallbacks: Array<WriteCallback | null> = [];
  /** Why the last append after close() failed (see write()). */
  private appendError: Error | null = null;
  /** When lines started waiting for a file of the current period (0: they are not waiting). */
  private waitingSince = 0;
  private errorEpisode = false;
  /** A flush that write() makes because a full batch waits within one turn (see flushOutpaced). */
  private outpaced = false;
  /** Readable streams piped into this file (pipe(), pipeline()) that have not unpiped: see raiseError. */
  private pipedIn = 0;
  /** A write failed in the error episode under way (not only a rotation, a check or a close). */
  private writesFailing = false;
  /** When writesFailing became true. */
  private writesFailingSince = 0;
  /** The error that began the error episode under way (what a waiting flush(callback) is given). */
  private episodeError: TimberlockError | null = null;
  /** flush(callback) calls waiting for their lines: each is called with the error if writes fail meanwhile. */
  private flushFailures = new Set<(error: Error) => void>();
  /** end() was called: 'finish' comes before 'close'. */
  private finishing = false;
  /** destroy() was called. */
  private destroyCalled = false;
  /** Ends close()'s wait for the lines it may still write to the right file (destroy()); null outside that wait. */
  private stopCloseWait: (() => void) | null = null;
  /** A line came after close(): WRITE_AFTER_CLOSE was told (once per file). */
  private toldWriteAfterClose = false;
  private errorDelay = ERROR_RETRY_MIN_MS;
  private lateEpisode = false;
  /** 'ready' has been raised: after the first 'open', once. */
  private readyTold = false;
  /** While appendToActiveName writes: the late lines it wrote, told when it is done (see there). */
  private heldLate: number | null = null;
  /** The process is ending (endOfProcess): a listener's error cannot wait for the next tick (emitSafely). */
  private ending = false;

  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  /** The pending retry was asked to keep the process alive while lines wait for it (see refRetry). */
  private retryKeepsAlive = false;
  /** The pending retry is a busy lock's while no line waited (IDLE_LOCK_RETRY_MS): a line makes it sooner. */
  private retryIdle = false;
  /** The pending publish timer is a busy lock's while nothing waited: a flush() or write callback makes it sooner. */
  private publishIdle = false;
  private boundaryTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  /** When checkActiveName last looked at the active name (see flushNow). */
  private checkedAt = 0;
  /** When flushNow last wrote a batch to the open file. */
  private wroteAt = 0;
  /** A line written after close() was cut short by a failing write: the next one ends it first. */
  private cutAfterClose = false;
  /** Lines written to the open file since checkActiveName last saw it under the active name. */
  private linesSinceSeen = 0;
  /** The code of the failure the last active-name check ended with; null when it got through. */
  private failingCheck: string | null = null;
  /** When the boundary timer fires, by the wall clock (see armBoundaryTimer). */
  private boundaryTimerAt = Number.NaN;
  /** How far ahead of the clock a file's period may start before the clock counts as set back (see clockSetBack). */
  private readonly clockSetBackMs: number;
  /** The period start of the last CLOCK_SET_BACK warning (see clockSetBack). */
  private clockWarnedFor = Number.NaN;
  /** reopen() waiting for another process to finish taking the new file, until reopenUntil. */
  private reopenTimer: NodeJS.Timeout | null = null;
  private reopenUntil = 0;
  /** reopen()'s timer is its slow retry, nothing waiting for it (see hurryReopen). */
  private reopenIdle = false;
  private missingSince = 0;
  /**
   * The open file is the new period's staged file (see stageNext): written to, but not under the active
   * name yet. publishTimer, settleMs after its boundary, sees that it gets the name. `stagedFrom` is the
   * file this process wrote to before, for the 'rotate' event that publication brings; `stagedLines` the
   * lines written to the staged file, counted as late if it may never get the active name (see switchTo).
   */
  private staged = false;
  private stagedFrom: Announced = { periodStart: 0, ino: -1, hadFile: false };
  private stagedLines = 0;
  /**
   * The staging of the open staged file lost the lock to another process (this one stalled past staleMs):
   * that process may have written a state without it, and then the file is archived as a stray, its lines
   * never under the active name. Counted as late ('unpublished') if this process never sees it published.
   */
  private stagedAfterTakeover = false;
  /** When the staged file was found without a name (0: it was not): lines wait for fallbackMs at most. */
  private namelessSince = 0;
  /** Times the rotation lock was found taken over while this process held it. */
  private lockTakeovers = 0;
  /** Giving the staged file the active name failed (an 'error' said why): flush() no longer waits for it. */
  private publishFailing = false;
  /** The lock has been busy for the publication since fallbackMs after the settle margin (see publishAgain). */
  private publishStalled = false;
  private publishTimer: NodeJS.Timeout | null = null;
  /** The period start whose file this process tried to stage (once per boundary). */
  private stagingTried = Number.NaN;
  /**
   * A rotation, size roll or follow running off the event loop (see startRotation). Nothing is written
   * while it runs: the lines wait for the file it produces.
   */
  private inFlight: Promise<void> | null = null;
  /** The rotation in flight has adopted its new file: its listeners run, its last steps follow. */
  private inFlightAdopted = false;
  /**
   * Until then (performance.now()) a size roll is not tried again: its lock was busy (someone else is
   * rolling), or it failed. On the monotonic clock: by the wall clock, a clock set back an hour meanwhile
   * would stop size rolls for that hour.
   */
  private rollBusyUntil = 0;
  /**
   * A burst found the lock busy as it staged the new period's file or published it: it does not try the lock
   * for either again before this (performance.now()), rather than at every batch.
   */
  private lockBusyInBurstUntil = 0;
  /** Bytes logged while a retry is pending, in this run of synchronous code, since the loop last did the retry's work. */
  private runBytes = 0;
  /** The reset of runBytes once this run of synchronous code ends is queued. */
  private runEndQueued = false;
  /** How long a size roll that failed waits before the next try: doubles with each failure, back to the shortest once one works. */
  private rollRetryDelay = ERROR_RETRY_MIN_MS;
  private closing: Promise<void> | null = null;
  /** Lines dropped in the current full-disk episode, reported by a marker line once writes work. */
  private drops: { lines: number; first: number; last: number; causes: Set<string> } | null = null;
  /** The unwritten rest of a short write: it must be the next bytes written, so it is never dropped. */
  private shortWriteRest: Buffer | null = null;
  /** The short write's rest while it begins inside a line (the write stopped in the middle of one). */
  private tornRest: Buffer | null = null;
  /**
   * The file a short write cut a line in, kept open after a switch to another file: the end of that line
   * goes there (completeTornLine), never to the new file.
   */
  private restFd: number | null = null;
  /** The inode restFd was open on when it was kept: a descriptor closed and reused since shows another. */
  private restIno = 0;
  /** The last drop marker queued: kept in the buffer until written, even past maxBufferBytes. */
  private unwrittenMarker: string | null = null;
  /** Compression and retention runs; null when no archive policy is set. */
  private readonly archives: ArchiveScheduler | null;
  /**
   * Events raised while the constructor runs, delivered on the next tick, so that listeners added right
   * after it get them; or, in order, right before any later event (a rotate() in the same tick).
   */
  private deferred: Array<() => void> | null = [];
  /**
   * Events not delivered yet, in the order raised. Every event goes through here (tell): it waits while
   * this file is writing (flushNow), while every file is flushed at exit, and while earlier events are
   * being delivered. A listener never runs in the middle of a flush: one that calls process.exit() there
   * would find this file's exit flush shut out by the reentrancy guard (the flush under way never
   * resumes), and at exit would end the process before the other files were flushed.
   */
  private held: Array<() => void> = [];
  private deliveringHeld = false;
  /** > 0 while telling() runs its work. */
  private batching = 0;
  /** The DROPPED_LINES warning of the end of the process has been raised (see dropUnwritten). */
  private exitDropTold = false;
  private constructing = true;
  /** This file's id in the signal context's registry (signal-context.ts). */
  private readonly signalId: number;
  /** This file as the signal context sees it; held here, since the context holds a closed file only weakly. */
  private readonly signalTarget: SignalTarget;

  private readonly counters: Omit<RotatingFileStats, 'bufferedLines' | 'bufferedBytes'> = {
    lines: 0,
    bytes: 0,
    rotations: 0,
    reopens: 0,
    lockAttemptsLost: 0,
    lateLines: 0,
    droppedLines: 0,
    errors: 0,
  };

  /**
   * Validate the options (throws TimberlockOptionError), create the directory when `mkdir` is set and
   * try to open the active file. When the lock is busy at start-up, lines wait in memory and the file
   * is opened a few ms later; a file left from an earlier period is archived before the first write.
   */
  constructor(options: RotatingFileOptions, internals: RotatingFileInternals = {}) {
    super();
    this.on('pipe', (source) => {
      this.pipedIn++;
      source.once('close', () => source.unpipe(this)); // destroyed without an 'end', it never unpipes
    });
    this.on('unpipe', () => (this.pipedIn = Math.max(0, this.pipedIn - 1)));
    this.options = normalizeOptions(options, internals.identity ?? { hostname: os.hostname(), pid: process.pid });
    this.path = this.options.path;
    this.now = internals.now ?? Date.now;
    this.closeWaitMs = Math.min(this.options.fallbackMs, internals.closeWaitMs ?? Infinity);
    const { dir, name, path: file, mode, frequency, timeZone, dateFormat } = this.options;
    // A file whose period starts further ahead of the clock was made while the clock was ahead, and it was set
    // back since (see clockSetBack). Clocks that merely disagree are within it; a clock set back by less leaves
    // the file in its period until that period ends.
    this.clockSetBackMs = Math.max(this.options.staleMs, CLOCK_AHEAD_MS);
    this.target = {
      path: file,
      dir,
      statePath: path.join(dir, `.${name}.state`),
      stagedPath: path.join(dir, `.${name}.next`),
      newPath: newFileTempPath(dir, name),
      mode,
      frequency,
      timeZone,
      scheme: { activeName: name, dateFormat, timeZone, frequency },
      archiveHint: { periodStart: Number.NaN, next: 0 },
      deletesArchives: this.options.maxFiles !== null || this.options.maxAgeMs !== null,
      clock: { now: () => this.now(), aheadMs: this.clockSetBackMs },
      header: headerWriter(this.options, internals.identity ?? { hostname: os.hostname(), pid: process.pid }, this.now, (problem) =>
        this.warn('HEADER_ERROR', `The header function of ${file} ${problem}; the default header line was written instead`),
      ),
    };
    this.lock = createRotationLock(file, path.join(dir, `.${name}.lock`), this.options.staleMs, (err) => {
      this.lockTakeovers++;
      this.warn('LOCK_COMPROMISED', `The rotation lock of ${file} was taken over by another process: ${err.message}`);
    });
    this.prepareDirectory();
    // The first date formatting in a process loads time-zone data (tens of ms): do it here, not under the lock.
    archiveName(this.target.scheme, periodOf(this.now(), frequency, timeZone).start, 0);
    const { compress, maxFiles, maxAgeMs, archiveDelayMs, checkIntervalMs, staleMs } = this.options;
    // A process that did not rotate notices a rotate() at its next active-name check and appends to the
    // archive until then: no archive is gzipped or deleted within two checks of getting its name.
    const delayMs = Math.max(archiveDelayMs, 2 * checkIntervalMs);
    this.archives =
      compress || maxFiles !== null || maxAgeMs !== null
        ? new ArchiveScheduler(
            { dir, activeName: name, scheme: this.target.scheme, mode, staleMs, policy: { compress, maxFiles, maxAgeMs, delayMs } },
            this.now,
            (result) => this.reportMaintenance(result),
            (err) => this.warn('ARCHIVE_ERROR', `Archive maintenance of ${file} failed: ${err.message}`),
          )
        : null;
    this.signalTarget = {
      write: (chunk) => this.writeDeferred(chunk),
      endOfProcess: () => this.endOfProcess(),
      warnEnding: ({ code, message, details }) => this.warn(code, message, details, true),
      deliverHeldEvents: () => this.deliverDeferred(true),
      stopMaintenance: async () => this.archives?.stop(),
    };
    this.signalId = registerSignalTarget(this.signalTarget);
    // A listener for 'open' or 'ready' added while no file is open: see openAwaited (it is counted once added).
    super.on('newListener', (event: string | symbol) => {
      if ((event === 'open' || event === 'ready') && this.fd === null) queueMicrotask(() => this.refRetry());
    });
    installProcessHooks();
    this.archives?.runSoon(0); // catch up on archives an earlier process left unhandled
    this.flushNow();
    this.startCheckTimer();
    this.constructing = false;
    if (this.deferred?.length === 0) this.deferred = null;
    else process.nextTick(() => this.deliverDeferred());
  }

  /**
   * Queue one line (a missing trailing newline is added). Returns false while more than
   * `highWaterMark` bytes are buffered; 'drain' follows. Never throws for I/O problems.
   * Throws TypeError for a chunk that is not a string or Uint8Array. After close() the line is still
   * appended, synchronously and without a rotation check, so that a shutdown race loses nothing.
   * As a Writable's write(): a string in `encoding` (UTF-8 by default), and `callback` called once the
   * line has reached the kernel (everything buffered with it has: see flush()), or with the write error as
   * soon as writes fail (at once while they fail), or with an error when the line is dropped at once.
   */
  write(chunk: string | Uint8Array, encoding?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    if (typeof encoding === 'function') return this.write(chunk, undefined, encoding);
    // A string in another encoding, as a Writable takes it (an unknown encoding throws TypeError).
    if (typeof chunk === 'string' && encoding !== undefined && encoding !== 'utf8' && encoding !== 'utf-8') chunk = encode(chunk, encoding);
    if (callback !== undefined && typeof callback !== 'function') {
      throw new TypeError(`RotatingFile.write(chunk, encoding, callback): callback must be a function, got ${typeof callback}`);
    }
    if (!callback) return this.writeLine(chunk);
    const droppedBefore = this.counters.droppedLines;
    this.appendError = null;
    const accepted = this.writeLine(chunk);
    if (this.counters.droppedLines > droppedBefore && (this.state === 'closed' || inSignalContext())) {
      // Dropped at once: an append after close() that failed, a line the signal buffer had no room for.
      this.answerWriteCallbacks([callback], this.appendError ?? new TimberlockError('DROPPED_LINES', `timberlock: the line did not fit in the signal buffer of ${this.path}; see stats().droppedLines`));
    } else if (inSignalContext()) {
      // Its line is in the signal buffer: the callback goes with it, in the buffer's order (see writeDeferred).
      this.deferredCallbacks[this.deferredCallbacks.length - 1] = callback;
    } else {
      this.callBackWhenWritten(callback);
    }
    return accepted;
  }

  /** A line the signal buffer kept, handed back when the signal context ends, with its callback if it had one. */
  private writeDeferred(line: string | Uint8Array): boolean {
    const callback = this.deferredCallbacks.shift();
    return callback ? this.write(line, undefined, callback) : this.writeLine(line);
  }

  /**
   * Call `callback` once the lines buffered now have reached the kernel (see resolveFlushWaiters), or with
   * the error as soon as writes fail: at once if they are failing already. Not kept while they fail, so
   * that callbacks cannot pile up beyond maxBufferBytes' reach.
   */
  private callBackWhenWritten(callback: WriteCallback): void {
    if (this.writesFailing) this.answerWriteCallbacks([callback], this.episodeError);
    else if (this.flushed()) this.answerWriteCallbacks([callback], null);
    else {
      this.writeCallbacks.push(callback);
      this.refWaits();
    }
  }

  /**
   * Call write()'s `callbacks` with `error`, in order, once this turn of the event loop is over. Not on the
   * next tick: a callback that logs again with a callback when told of an error (while writes fail, or after
   * close()) would be answered on the tick after, and so on without end, with no timer ever running.
   */
  private answerWriteCallbacks(callbacks: WriteCallback[], error: Error | null): void {
    if (callbacks.length === 0) return;
    setImmediate(() => {
      for (const callback of callbacks) this.callSafely('write callback', () => callback(error));
    });
  }

  private writeLine(chunk: string | Uint8Array): boolean {
    let line: Chunk;
    if (typeof chunk === 'string') {
      line = chunk.charCodeAt(chunk.length - 1) === NEWLINE ? chunk : `${chunk}\n`;
    } else if (chunk instanceof Uint8Array) {
      line = chunk[chunk.length - 1] === NEWLINE ? chunk : Buffer.concat([chunk, Buffer.of(NEWLINE)]);
    } else {
      throw new TypeError(`RotatingFile.write(chunk): chunk must be a string or Uint8Array, got ${typeof chunk}`);
    }
    // Signal context (handleSignals): no rotation check, no lock, no I/O — the line goes to the signal
    // buffer and comes back through write() when the context ends (it is counted then, or now if dropped).
    if (inSignalContext()) {
      if (deferLine(this.signalId, line)) {
        this.deferredCallbacks.push(null);
      } else {
        this.counters.lines++;
        this.counters.droppedLines++;
      }
      return true;
    }
    this.counters.lines++;
    if (this.state === 'closed') {
      this.appendAfterClose(line);
      return true;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    // While a retry is scheduled (boundary wait, busy lock, error back-off) lines only queue up.
    if (this.processEnding() && !this.flushing) {
      // After the exit flush (an app's 'exit' listener logs), or the flush before a death by signal (a
      // signal-exit onExit callback logs): written now, or counted as dropped. (Inside a flush of this file,
      // the line is written by that flush.) A file made in an 'exit' listener tells the constructor's events
      // now: no tick comes.
      this.deliverDeferred();
      this.flushSync();
      this.dropUnwritten('the process exited');
    }
    else if (this.reopenIdle && this.reopenTimer !== null) {
      this.hurryReopen(); // lines wait for reopen()'s file: its slow retry comes within 5 ms now
    } else if (this.retryTimer === null) {
      // From 'beforeExit': a rotation that is due runs now, on this thread (off the event loop it would keep
      // the process alive and bring 'beforeExit' back). Within the settle margin it waits, on a retry that
      // keeps nothing alive: the exit flush does it if the process ends, as it does on exit.
      if (beforeExit) this.flushNow(false, true);
      else if (this.options.sync) this.flushNow();
      else if (this.pendingBytes >= MAX_BATCH_BYTES) this.flushOutpaced();
      else this.queueFlush();
    } else if (!this.writesFailing && this.loopHoldsRetry(line.length)) {
      // A retry is pending, but the app keeps the loop from turning: it would not fire before the loop ends.
      // What it would do is done now, on this thread (another process's staged file followed, say), rather
      // than the lines piling up to maxBufferBytes.
      if (this.options.sync) this.flushNow();
      else this.flushOutpaced();
    } else if (this.retryIdle) {
      this.scheduleRetry(LOCK_RETRY_MS, true); // a busy lock's slow retry: the line tries it at once, nearly
    } else {
      this.refRetry(); // lines wait for it now: it may keep the process alive
      if (!this.writesFailing && this.waitingSince !== 0 && this.waitedTooLong(this.now(), false)) {
        // Past fallbackMs, waiting lines go to the previous file: now, not at the rotation's next retry (up
        // to 5 s away with its back-off), which the flush leaves to the retry timer. (From 'beforeExit', in
        // this turn: a turn queued for it would bring 'beforeExit' back.)
        if (beforeExit) this.flushNow(false, true, false);
        else this.queueFlush(false);
      }
    }
    const overCap = this.pendingBytes > this.options.maxBufferBytes;
    if (overCap) this.relieveOverCap();
    if (this.pendingBytes > this.options.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    if (overCap) {
      // The lines went over maxBufferBytes and were written (or dropped) at once: the caller is still told to
      // wait, and 'drain' follows on the next tick. (With maxBufferBytes equal to highWaterMark, a caller
      // that writes until false would otherwise never stop.)
      process.nextTick(() => this.emitDrain());
      return false;
    }
    return true;
  }

  /**
   * Resolve once everything written so far has reached the kernel (or was dropped and counted), in the
   * file under its name: lines written to the new period's file before it has the active name (settleMs
   * after a boundary) are flushed once it has it. `callback`, if given, is called then too (pino's
   * `logger.flush(cb)` passes one) — or, as sonic-boom does, with the error once writes fail (already, or
   * while it waits): the lines stay in memory and are retried, and the promise waits on for them.
   */
  flush(callback?: (error?: Error | null) => void): Promise<void> {
    // In the signal context (handleSignals' hook) the lines are in the signal buffer until it ends.
    const flushed = inSignalContext() ? signalContextEnded().then(() => this.flush()) : this.flushAndWait();
    if (callback) this.callBackOnFlush(flushed, callback);
    return flushed;
  }

  /** Call `callback` once `flushed` resolves, or with the error of writes that fail before that. */
  private callBackOnFlush(flushed: Promise<void>, callback: (error?: Error | null) => void): void {
    const failing = this.episodeError;
    if (failing !== null && !this.flushed()) {
      // Writes fail now: told at once, and nothing is kept for it while they fail (an app that calls
      // flush(cb) every few ms through an outage of minutes).
      process.nextTick(() => callback(failing));
      return;
    }
    let called = false;
    const call = (error: Error | null): void => {
      this.flushFailures.delete(call);
      if (called) return;
      called = true;
      callback(error);
    };
    void flushed.then(() => this.callSafely('flush callback', () => call(null)));
    if (failing === null) this.flushFailures.add(call);
  }

  private flushAndWait(): Promise<void> {
    this.flushNow();
    return this.whenFlushed();
  }

  /** Resolves once nothing is in memory and the file written to has its name (see flushed()). */
  private whenFlushed(): Promise<void> {
    if (this.flushed()) return Promise.resolve();
    if (this.flushWaiter === null) {
      let resolve = (): void => {};
      const promise = new Promise<void>((settle) => (resolve = settle));
      this.flushWaiter = { promise, resolve };
    }
    this.refRetry();
    this.refWaits();
    return this.flushWaiter.promise;
  }

  /** True until close() begins: streams consumers (pino) check it to recognise a destination. */
  get writable(): boolean {
    return this.state !== 'closing' && this.state !== 'closed' && this.closing === null;
  }

  /**
   * Write everything buffered now, synchronously. If the lines are waiting for the next period's file
   * and it cannot be made now (the lock is busy), they go to the previous period's file after all and
   * are counted as late. Used on process exit and by graceful shutdown.
   */
  flushSync(): void {
    this.flushNow(false, true);
    if (this.bufferedLineCount() === 0) return;
    this.flushNow(true);
  }

  /**
   * Before the last flush (close(), the process's end): an open file deleted by hand since the last check
   * would take the lines still in memory with it, and nothing would count those written to it since it was
   * last seen. The check counts them and makes the file again now, for the lines in memory. Only with the
   * active name missing: another file under it means another process rotated or rolled the open file,
   * which the flush follows, and archive maintenance may have compressed the archive since (its lines are
   * in the .gz, not lost).
   */
  private lookBeforeTheEnd(): void {
    if (this.fd !== null && !this.staged && hasNoName(this.fd) && statOrNull(this.path) === null) this.checkActiveName();
  }

  /**
   * The process is ending (exit, a death by signal, the end of a graceful shutdown): flushSync(), then
   * give up a rotation still under way, which will not get to its next step. If it has written the new
   * state to this process's temp file but not renamed it yet, the temp file is removed: nothing else
   * would (archive maintenance does, when configured, once it is staleMs old). The lock is released here
   * too rather than left to proper-lockfile's exit handler, which signal-exit 4 can unhook (its unload()
   * restores the process.emit it found, dropping signal-exit 3's). What else a rotation stopped half-way
   * leaves (a file under two names, a state naming the old file) is repaired by the next rotator.
   * Node still runs thread-pool work that is already queued after the 'exit' listeners: if the temp
   * file's creation was queued behind other work at this moment, an empty temp file can appear after this.
   */
  private endOfProcess(): void {
    this.ending = true;
    this.lookBeforeTheEnd();
    this.flushSync();
    this.publishNow();
    this.dropUnwritten('the process exited'); // writes kept failing (a full disk, a file size limit)
    this.archives?.finishForExit(); // no original left beside its .gz
    // Only the lock holder writes the temp file. Its name is this thread's, shared by another file of this
    // thread on the same path: without the lock, it could be that file's, mid-rotation.
    if (!this.inFlight || !this.lock.held) return;
    // So is the new active file's temp name (with `header`), this file's own: one made but not linked yet
    // would hold a header at most; one linked already is an extra name of the new active file.
    for (const temp of [stateTempPath(this.target.statePath), this.target.newPath]) {
      try {
        fs.unlinkSync(temp);
      } catch {
        // ENOENT, the usual case: the rotation had not made it, or was done with it. Anything else: the
        // process is ending and has nowhere to report it; archive maintenance removes the file later.
      }
    }
    try {
      this.lock.release();
    } catch {
      // The process is ending: proper-lockfile's exit handler, or staleness, takes care of the lock.
    }
  }

  /**
   * Rotate now, whatever the period: the active file (if not empty) is archived under its period's
   * name with the next free index and a new active file is created. Resolves false when the lock was
   * busy (another process is rotating) or an I/O error occurred (reported as an 'error' event), in
   * which case nothing was done. The work runs off the event loop; lines written meanwhile wait for
   * the new file.
   */
  async rotate(): Promise<boolean> {
    // Not while the process ends (a listener told at exit): the rotation could not get past its first steps.
    if (this.state === 'closed' || this.state === 'closing' || this.ending) return false;
    this.flushNow();
    while (this.inFlight) {
      await this.inFlight;
      this.flushNow(); // lines written before this call belong in the file it archives
    }
    if (this.state !== 'open' && this.state !== 'waiting') return false;
    const period = this.periodAt(this.now());
    if (!this.inBackground(false)) return this.rotateNow(period.start);
    return (await this.startRotation(period.start, 'force')) === 'done';
  }

  /** rotate() on this thread (the `sync` option: a line written after it must be in the new file at once). */
  private rotateNow(periodStart: number): boolean {
    let rotated: boolean;
    try {
      rotated = this.rotateHere(periodStart, 'force');
    } catch (err) {
      this.reportError(err as Error, 'rotate');
      return false;
    }
    if (rotated) this.flushNow();
    return rotated;
  }

  /**
   * Close the descriptor and open the active name again (creating it if it is missing). For SIGHUP
   * after an external rotation such as logrotate's postrotate.
   *
   * The file is taken under the rotation lock, tried once: a new empty file gets the header and a state
   * naming it. When another process holds the lock (it is taking the same file: SIGHUP reached them all),
   * this one follows once that state is written, trying again every few ms; lines logged meanwhile wait
   * in memory for the new file, as at a boundary. After `fallbackMs` it opens whatever is there.
   */
  reopen(): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.reopenUntil = this.now() + this.options.fallbackMs;
    this.flushNow(); // what was logged before goes where it would have gone
    this.reopenNow();
  }

  private reopenNow(): void {
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = null;
    this.reopenIdle = false;
    if (this.state === 'closed' || this.state === 'closing') return;
    try {
      // Not underLock(): waiting for a process that is taking the same file is no lost rotation attempt.
      let active: ActiveFile | null = null;
      if (this.lock.tryAcquire()) {
        try {
          active = runSync(takeActive(this.target, this.periodAt(this.now()).start));
        } finally {
          this.lock.release();
        }
      } else {
        active = runSync(followActive(this.target, this.period.start));
      }
      if (active) {
        this.adoptForeign(active, null);
      } else if (this.now() < this.reopenUntil) {
        // Every process that got SIGHUP is at it: slowly while nothing waits (see IDLE_LOCK_RETRY_MS).
        const waited = this.bufferedLineCount() > 0 || this.someoneWaits();
        this.reopenTimer = setTimeout(() => this.reopenNow(), waited ? LOCK_RETRY_MS : IDLE_LOCK_RETRY_MS);
        this.reopenIdle = !waited;
        this.refWaits();
        return;
      } else {
        const opened =
          runSync(openExisting(this.path)) ?? { fd: fs.openSync(this.path, APPEND_CREATE, this.options.mode), ino: 0 };
        if (opened.ino === 0) opened.ino = fs.fstatSync(opened.fd).ino;
        this.counters.reopens++;
        this.switchTo(opened.fd, opened.ino, this.periodAt(this.now()).start, 0);
      }
    } catch (err) {
      this.reportError(err as Error, 'reopen');
      this.leaveDeletedFile(err as Error);
    }
    this.flushNow();
  }

  /**
   * As a Writable's end(): append `chunk` if one is given (a string in `encoding`, UTF-8 by default),
   * then close(); 'finish' is emitted once everything is written, right before 'close', and `callback` is
   * called once the file is closed. For code that ends its streams (pino.multistream().end(), stream
   * pipelines).
   */
  end(chunk?: string | Uint8Array | null | (() => void), encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (typeof chunk === 'function') return this.end(undefined, undefined, chunk);
    if (typeof encoding === 'function') return this.end(chunk, undefined, encoding);
    if (chunk !== undefined && chunk !== null) this.write(chunk, encoding); // null: no chunk, as for a Writable
    this.finishing = true;
    const closed = this.close();
    // A callback that throws is thrown again as an uncaught exception, as a Writable's would be (not a rejection).
    if (callback) void closed.then(() => this.callSafely('end callback', callback));
    return this;
  }

  /**
   * As sonic-boom's destroy(): close now, without close()'s wait. Unlike a Writable's, nothing buffered is
   * thrown away: the lines in memory are written at once (those waiting for the next period's file to the
   * previous one, counted as late; those writes fail for, dropped and counted), then the descriptor is
   * closed and 'close' follows (after 'finish' only if end() was called). Under way, a close() is hurried
   * the same way. With an `error`, as Node's `stream.pipeline()` destroys its streams with the one that
   * ended it (this file's own I/O error among them), it is close(): the lines the file retries get its
   * wait. The error is not emitted: 'error' events are this file's own failures.
   */
  destroy(error?: Error | null): this {
    this.destroyCalled = true;
    void this.close();
    // close() has begun its wait by now (it does so before it returns): without an error, it ends here.
    if (error === undefined || error === null) this.stopCloseWait?.();
    return this;
  }

  /**
   * Flush everything and close the descriptor. Lines that wait for the next period's file wait at most
   * `fallbackMs`, then go to the previous file (counted as late). Emits 'close'.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    this.lookBeforeTheEnd();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.closeWaitMs);
      this.stopCloseWait = resolve;
    });
    await Promise.race([this.flush(), deadline]);
    clearTimeout(timer);
    this.stopCloseWait = null;
    while (this.inFlight) await this.inFlight; // its file must be adopted (or closed) before ours closes
    this.state = 'closing';
    this.flushSync();
    this.publishNow();
    this.clearTimers();
    await this.archives?.stop();
    // Lines written while a maintenance run was being stopped: the flush they queued would find the
    // file closed. Nothing can be written between this and the end of close().
    this.flushSync();
    this.dropUnwritten('it closed');
    if (this.restFd !== null) closeQuietly(this.restFd);
    this.restFd = null;
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch (err) {
        this.reportError(err as Error, 'close');
      }
      this.fd = null;
    }
    unregisterSignalTarget(this.signalId);
    this.state = 'closed';
    // What failed before is told and counted: a failing append after close() is a spell of its own.
    if (this.errorEpisode) this.endErrorEpisode(false);
    this.resolveFlushWaiters();
    this.deliverDeferred(); // closed in the constructor's tick: its events come first
    if (this.finishing) this.emitSafely('finish');
    this.emitSafely('close');
  }

  /**
   * write() after close(): one synchronous open-append-close, so nothing is lost; the file no longer
   * rotates. The first such line is told (WRITE_AFTER_CLOSE): a winston transport removed from its logger
   * and added again, or shared with a logger that closed it, goes on like this.
   */
  private appendAfterClose(line: Chunk): void {
    // A line that a failing write cut short before (a full disk) is ended first, so this one starts a line.
    let data = toBuffer(line);
    if (this.cutAfterClose) data = Buffer.concat([Buffer.of(NEWLINE), data]);
    let written = 0;
    try {
      const fd = fs.openSync(this.path, APPEND_CREATE, this.options.mode);
      let late = false;
      try {
        // A short write (a disk that fills up) leaves the rest of the line to write, not to drop.
        while (written < data.length) written += fs.writeSync(fd, data, written);
        // Still the file it had open when it closed, whose period has ended: nobody rotated it since (the
        // state still says so: an inode number alone may be a newer file's, reused).
        late = this.now() >= this.period.next && fs.fstatSync(fd).ino === this.ino && this.stateStillNamesOpenFile();
      } finally {
        fs.closeSync(fd);
      }
      this.cutAfterClose = false;
      if (late) this.noteLate(1, 'after-close');
      // Writes work again: the next failure is told as one of its own. (No drop marker: nothing writes it.)
      if (this.errorEpisode) this.endErrorEpisode(false);
    } catch (err) {
      this.counters.droppedLines++;
      // Cut in the middle: the file now ends inside this line (not when all that got in was the newline
      // that ended an earlier one).
      if (written > 0) this.cutAfterClose = data[written - 1] !== NEWLINE;
      // Nothing keeps or retries a line after close(): one 'error' and one DROPPED_LINES per failing spell
      // (a 'warning' listener that logs to this file would otherwise be told of its own line, dropped in
      // turn, without end); the lines dropped later in the spell are counted.
      this.appendError = err as Error;
      const firstInSpell = !this.errorEpisode;
      this.reportError(err as Error, 'write after close', 'the line is dropped');
      if (firstInSpell) {
        this.warn(
          'DROPPED_LINES',
          `A line written to ${this.path} after close() could not be written (${(err as Error).message}); those that fail after it until an append works are counted in droppedLines`,
          { lines: 1 },
        );
      }
    }
    this.counters.bytes += written;
    if (!this.toldWriteAfterClose) {
      this.toldWriteAfterClose = true;
      this.warn(
        'WRITE_AFTER_CLOSE',
        `A line was written to ${this.path} after close(): such lines are appended one by one, and the file no longer rotates`,
      );
    }
  }

  /**
   * followActive for the period of the open file, from inside a flush: a state or file that cannot be read
   * (EIO, EACCES, EMFILE …) answers null, as if nobody had made the file yet (the lines then wait for the
   * publication or fall back, see flushNow); a write never throws for an I/O problem.
   */
  private followQuietly(): ActiveFile | null {
    try {
      return runSync(followActive(this.target, this.period.start));
    } catch {
      return null;
    }
  }

  /**
   * @internal Not part of the API. The pino transport's limit on a line it holds before its newline has
   * come: maxBufferBytes, in characters.
   */
  get unfinishedLineLimit(): number {
    // Not less than the default, whatever maxBufferBytes says: pino's worker hands a long record over in
    // pieces, and a record that a main-thread destination writes whole must not be dropped here (a
    // maxBufferBytes of 64 KiB dropped every record of 100 KB).
    return Math.max(this.options.maxBufferBytes, DEFAULT_MAX_BUFFER_BYTES);
  }

  /**
   * @internal Not part of the API. A line the pino transport dropped before it reached write(): it grew
   * past unfinishedLineLimit without a newline. Counted as written and dropped, and told.
   */
  dropUnfinishedLine(length: number): void {
    this.counters.lines++;
    this.counters.droppedLines++;
    this.warn(
      'DROPPED_LINES',
      `Dropping a line for ${this.path} that grew to ${length} characters without a newline (more than ${this.unfinishedLineLimit}: maxBufferBytes, and at least 16 MiB); input up to its newline is skipped`,
      { lines: 1, reason: 'line too long' },
    );
  }

  /** Counters since this RotatingFile was created. */
  stats(): RotatingFileStats {
    return { ...this.counters, bufferedLines: this.linesInMemory(), bufferedBytes: this.pendingBytes };
  }

  /** The current lifecycle state. */
  get status(): FileState {
    return this.state;
  }

  /** As a Writable's: end(), close() or destroy() was called. Lines written since are appended one by one (see write()). */
  get writableEnded(): boolean {
    return this.closing !== null;
  }

  /** As a Writable's: the file is closed ('close' is emitted); what could not be written is in stats().droppedLines. */
  get writableFinished(): boolean {
    return this.state === 'closed';
  }

  /** As a Writable's: closed, or destroy() was called. */
  get destroyed(): boolean {
    return this.destroyCalled || this.state === 'closed';
  }

  /** As a Writable's: the file is closed ('close' is emitted). */
  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Bytes in memory, as highWaterMark counts them (stats().bufferedBytes). */
  get writableLength(): number {
    return this.pendingBytes;
  }

  get writableHighWaterMark(): number {
    return this.options.highWaterMark;
  }

  /**
   * write() returned false and 'drain' has not followed yet: `readable.pipe()` waits for 'drain' while it is
   * true. False once the file is closing, as a Writable's once it ends: no 'drain' follows 'close'.
   */
  get writableNeedDrain(): boolean {
    return this.needDrain && this.closing === null;
  }

  /** Always false: each chunk is a string or bytes. */
  get writableObjectMode(): boolean {
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Write path

  private bufferedLineCount(): number {
    return this.pending.length - this.head;
  }

  /** Lines in memory, each line of a short write's rest (one chunk of the buffer) counted. */
  private linesInMemory(): number {
    const rest = this.pending[this.head];
    if (rest === undefined || rest !== this.shortWriteRest) return this.bufferedLineCount();
    return this.bufferedLineCount() - 1 + newlinesIn(rest);
  }

  /**
   * Lines still in memory when the file closes or the process ends (its writes kept failing) are lost:
   * count and report them. A drop marker among them is no line of the app's: the lines it reports were
   * counted when dropped.
   */
  private dropUnwritten(when: 'it closed' | 'the process exited'): void {
    if (this.bufferedLineCount() === 0) return;
    const lines = this.appLinesInMemory();
    if (lines > 0) {
      // First the warning: what a listener logs on it goes the same way, counted with the rest. At exit
      // it is told once: a listener that logs on it would otherwise be told of its own line, dropped in
      // turn (write() drops what it cannot write then), and so on without end. Later drops are counted.
      const exit = when === 'the process exited';
      if (!exit || !this.exitDropTold) {
        this.exitDropTold ||= exit;
        this.warn('DROPPED_LINES', `${lines} line(s) could not be written to ${this.path} before ${when}`, { lines });
      }
      this.counters.droppedLines += this.appLinesInMemory();
    }
    // The rest of a line a short write cut, dropped here, leaves that line open in the file (when no other
    // descriptor takes its end): a line written after close() ends it first.
    if (this.restFd === null && this.tornRest !== null && this.pending.indexOf(this.tornRest, this.head) !== -1) this.cutAfterClose = true;
    this.pending = [];
    this.head = 0;
    this.pendingBytes = 0;
  }

  /** linesInMemory(), less a drop marker not written yet. */
  private appLinesInMemory(): number {
    const marker = this.unwrittenMarker !== null && this.pending.indexOf(this.unwrittenMarker, this.head) !== -1;
    return this.linesInMemory() - (marker ? 1 : 0);
  }

  /**
   * Flush now: a full batch waits within one turn of the event loop, so the app writes faster than the loop
   * turns (a synchronous loop that logs, a burst that does not wait for 'drain'). A rotation, size roll or
   * publication that is due runs on this thread (see inBackground): started off the event loop, it could not
   * move until the app let the loop turn, and past maxBufferBytes the lines behind it would go to the file
   * being rotated.
   */
  private flushOutpaced(): void {
    this.outpaced = true;
    try {
      this.flushNow();
    } finally {
      this.outpaced = false;
    }
  }

  /** Flush on the next turn of the event loop. `rotate`: see flushNow. */
  private queueFlush(rotate = true): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      this.flushNow(false, false, rotate);
    });
  }

  /**
   * Write buffered batches while the open file belongs to the current period. `force` (exit,
   * flushSync): when no file of the current period can be had now, write to the previous one.
   * `sync` (implied by `force`): a rotation that is due runs now, on this thread, instead of off the
   * event loop. `rotate` false: a rotation that is due is not tried now (the retry timer tries it).
   */
  private flushNow(force = false, sync = force, rotate = true): void {
    if (this.flushing || this.state === 'closed') return; // reentrancy guard: the outer call writes it
    // The check timer is overdue: the event loop was blocked (this runs before overdue timers do). Another
    // process may have rotated meanwhile, and the grace delay that keeps the archive from being compressed
    // or deleted assumes this process notices within two checks: look now, before writing to it.
    // So is a look after a quiet spell: archive maintenance may gzip or delete a file another process
    // archived once it has been left alone for twice the maintaining process's checkIntervalMs, which need
    // not be this one's. Written to after that, the file would take these lines with it.
    const lookedAt = this.now();
    if (
      this.checkTimer !== null &&
      (lookedAt - this.checkedAt > this.options.checkIntervalMs || lookedAt - Math.max(this.checkedAt, this.wroteAt) >= QUIET_RECHECK_MS)
    ) {
      this.checkActiveName();
    }
    this.flushing = true;
    try {
      for (;;) {
        // reopen() is waiting for another process to take the new file: lines wait for it too (on exit
        // or flushSync() they go to the current file).
        if (this.reopenTimer !== null && !force) break;
        const now = this.now();
        let late: LateReason | null = null;
        if (this.inFlight) {
          // A rotation is running off the event loop: the lines wait for its file (it flushes when done),
          // unless they have waited too long, or the process is exiting (process.exit(), a death by
          // signal) and cannot wait: then they go to the file being rotated, which may already carry its
          // archive name, and are counted.
          // Once it has adopted its file (a listener of its 'rotate' or 'open' event runs), they wait for
          // its flush a moment later, or on exit go to that file, not late.
          if (this.fd === null || this.bufferedLineCount() === 0) break;
          const adopted = this.inFlightAdopted;
          if (!adopted && this.waitingSince === 0) this.waitingSince = now; // a reopen() meanwhile reset it
          if (adopted ? !force : !this.waitedTooLong(now, force)) break;
          if (!adopted) late = force ? 'rotation-under-way' : 'fallback';
        } else if ((this.fd === null || now >= this.period.next || this.clockSetBack(now)) && (!rotate || !this.makeCurrent(now, force, sync))) {
          // No file of the current period yet: lines wait, unless they have waited too long.
          if (this.bufferedLineCount() === 0 || !this.waitedTooLong(now, force)) break;
          if (this.fd === null) {
            this.appendToActiveName('fallback');
            break;
          }
          late = 'fallback';
        }
        if (this.bufferedLineCount() === 0) break;
        if (late === null && this.staged && this.fd !== null && hasNoName(this.fd)) {
          // (Before the maxSize check, which would have these lines wait for the publication without end.)
          // The staged file lost its name (removed by hand, or by a holder that took the lock over from this
          // process, stalled past staleMs, as an empty stray): lines written there would be in no file.
          // They wait for the period's file that the publication makes settleMs after the boundary (its
          // timer is set), or now when they cannot wait (exit, flushSync()). The lines already written there
          // are accounted for when this process leaves the file (switchTo).
          // Other processes may have given the period's file the active name already (and rolled it): take it.
          const followed = this.followQuietly();
          if (followed) {
            this.adopt(followed);
            continue;
          }
          if (sync) this.publishNow();
          if (!this.staged) continue;
          // Its own clock: each publication attempt starts waitingSince anew (see publish()).
          if (this.namelessSince === 0) this.namelessSince = now;
          if (!force && now - this.namelessSince < this.options.fallbackMs) break;
          this.appendToActiveName('fallback');
          break;
        }
        if (late === null && this.outpaced && this.staged && this.options.maxSize === null && this.mayPublishInBurst(now)) {
          // A burst past the settle margin: the publish timer cannot fire while the app keeps the loop from
          // turning, so the staged file gets the active name here, as checkSize does with maxSize. Left staged,
          // the next boundary would find the staging still under way, and the lines would pile up to
          // maxBufferBytes. (Busy: the lines go on to the staged file, and the lock is tried again in 5 ms.)
          this.publish();
          if (this.staged) this.lockBusyInBurstUntil = performance.now() + LOCK_RETRY_MS;
        }
        if (this.options.maxSize !== null && late === null && !this.inFlight) {
          const size = this.checkSize(now, sync, force);
          if (size === 'rolling') continue;
          if (size === 'wait') break;
          if (size === 'late') late = 'after-rename';
        }
        if (late !== null && this.fd !== null && hasNoName(this.fd)) {
          // The old file these late lines would go to lost its last name meanwhile (compressed or deleted by
          // archive maintenance, or by hand): lines written there would be in no file. The active name takes them.
          this.appendToActiveName(late);
          break;
        }
        if (!this.writeBatch(late)) break;
        this.wroteAt = now;
      }
    } finally {
      this.flushing = false;
      this.outpaced = false; // what listeners start is not part of the burst (rotate() runs off the event loop)
      this.deliverHeld();
      this.afterFlush();
    }
  }

  private afterFlush(): void {
    if (this.bufferedLineCount() === 0) {
      this.pending = [];
      this.head = 0;
      this.pendingBytes = 0;
      if (this.flushed()) this.resolveFlushWaiters();
    }
    if (this.needDrain && this.pendingBytes <= this.options.highWaterMark) {
      this.needDrain = false;
      process.nextTick(() => this.emitDrain());
    }
  }

  /** 'drain', unless the file has closed meanwhile: no event follows 'close'. */
  private emitDrain(): void {
    if (this.state !== 'closed') this.emit('drain');
  }

  /** Nothing in memory, and the file written to has its name (see flush()). */
  private flushed(): boolean {
    return this.bufferedLineCount() === 0 && (!this.staged || this.publicationHeldUp());
  }

  /**
   * Giving the staged file the active name failed, or the lock has kept it from that for fallbackMs past the
   * settle margin: nothing waits for the publication any more (flush(), the process, lines with maxSize).
   */
  private publicationHeldUp(): boolean {
    return this.publishFailing || this.publishStalled;
  }

  private resolveFlushWaiters(): void {
    const waiter = this.flushWaiter;
    this.flushWaiter = null;
    waiter?.resolve();
    this.answerWriteCallbacks(this.writeCallbacks.splice(0), null);
  }

  /**
   * The active name no longer holds the open file. A stat that fails (the directory replaced by a file:
   * ENOTDIR; EACCES) answers no: the lines are written, and the same failure is reported by the next
   * batch's checks (checkSize, the active-name check), not thrown out of a write.
   */
  private activeNameMovedOn(): boolean {
    try {
      return statOrNull(this.path)?.ino !== this.ino;
    } catch {
      return false;
    }
  }

  /**
   * Write the buffered lines to the active name as it is (opened for these lines only, created if missing,
   * without the lock), counted as late for `why`; the file keeps the descriptor it had. For lines that
   * cannot wait any longer (close, exit, flushSync(), fallbackMs) when there is no descriptor yet
   * (start-up while another process holds the lock: the file's period is unknown, so the next lines wait
   * for a file of their own as before), or when the file it is open on has lost its name.
   */
  private appendToActiveName(why: LateReason): void {
    let fd: number;
    try {
      fd = fs.openSync(this.path, APPEND_CREATE, this.options.mode);
    } catch (err) {
      this.noteWriteFailure(err as Error); // no file takes these lines: relieveOverCap drops them rather than try again each write
      return;
    }
    // Listeners hear of the late lines only once the descriptor is let go: one that rotates must find a line
    // a short write cut in it kept for its end (letGo), not the file's own descriptor in its place.
    this.heldLate = 0;
    try {
      while (this.bufferedLineCount() > 0 && this.writeBatch(why, fd));
    } finally {
      this.letGo(fd, null); // just opened here: its own
      const lines = this.heldLate;
      this.heldLate = null;
      if (lines > 0) this.noteLate(lines, why);
    }
  }

  /**
   * Close a descriptor this file no longer writes to, unless a short write cut a line in it: then it stays
   * open until that line's end is written there (completeTornLine), whatever file is written next.
   */
  private letGo(fd: number, ino: number | null): void {
    // `ino`: the file it was open on. Other code may have closed it since, and the number may be another
    // file's now: that file is neither closed nor given the end of a line.
    const lost = ino !== null && !this.ownsDescriptor(fd, ino);
    if (this.restFd === null && this.pending[this.head] === this.tornRest) {
      if (!lost) {
        this.restFd = fd;
        this.restIno = ino ?? inodeOf(fd);
        return;
      }
      this.dropTornEnd(
        'a short write cut a line in a descriptor closed by other code',
        `Dropping a line a short write cut in a previous file of ${this.path}: its descriptor was closed by other code`,
      );
    }
    if (!lost) closeQuietly(fd);
  }

  /** Write one batch of whole lines with one write(2), to `fd` if given. Returns false when writing failed. */
  private writeBatch(late: LateReason | null, fd = this.fd as number): boolean {
    if (this.restFd !== null && this.pending[this.head] === this.tornRest) return this.completeTornLine(this.restFd);
    let end = this.head;
    let size = 0;
    let allStrings = true;
    while (end < this.pending.length) {
      const chunk = this.pending[end] as Chunk;
      if (end > this.head && size + chunk.length > MAX_BATCH_BYTES) break;
      size += chunk.length;
      if (typeof chunk !== 'string') allStrings = false;
      end++;
    }
    // One line alone (one longer than a batch, a short write's rest) is written as it is: a copy would double
    // the memory a long line takes.
    let data: Buffer | string = allStrings
      ? (this.pending.slice(this.head, end) as string[]).join('')
      : end - this.head === 1
        ? toBuffer(this.pending[this.head] as Chunk)
        : Buffer.concat(this.pending.slice(this.head, end).map(toBuffer));
    let bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    while (bytes > MAX_BATCH_BYTES && end - this.head > 1) {
      // Multi-byte characters made the batch larger than its chars: write fewer lines.
      end = this.head + Math.ceil((end - this.head) / 2);
      data = Buffer.concat(this.pending.slice(this.head, end).map(toBuffer));
      bytes = data.length;
    }
    let written: number;
    try {
      written = typeof data === 'string' ? fs.writeSync(fd, data) : fs.writeSync(fd, data);
    } catch (err) {
      this.writeFailed(err as Error);
      return false;
    }
    // Lines this write completed: one per chunk, but a short write's rest (one chunk) holds as many lines
    // as it has newlines, and a short write completes only the lines whose newline got in.
    let lines = end - this.head;
    const rest = this.pending[this.head] === this.shortWriteRest ? this.shortWriteRest : null;
    if (rest !== null) lines += newlinesIn(rest) - 1;
    const wasTorn = this.pending[this.head] === this.tornRest;
    for (let i = this.head; i < end; i++) this.pendingBytes -= (this.pending[i] as Chunk).length;
    this.head = end;
    this.counters.bytes += written;
    if (written < bytes) {
      // A short write (disk nearly full): the rest of these lines must be the very next bytes written.
      const buffer = toBuffer(data);
      const unwritten = buffer.subarray(written);
      this.pending[--this.head] = unwritten;
      this.shortWriteRest = unwritten;
      this.tornRest = (written === 0 ? wasTorn : buffer[written - 1] !== NEWLINE) ? unwritten : null;
      this.pendingBytes += unwritten.length;
      lines = newlinesIn(buffer.subarray(0, written));
    } else if (wasTorn) {
      this.tornRest = null;
    }
    if (this.staged && fd === this.fd && late === null) this.stagedLines += lines; // late ones are counted already
    // Late: written to the previous period's file on purpose (fallback), or the write returned after the
    // settle margin and the active name has moved on, so it may have landed after the rename, where a
    // follower of the active name never reads it (a write stalled in the kernel, or this process was
    // descheduled between its boundary check and its write). Told only now that the lines written are off
    // the buffer: a 'warning' listener that logs must not find them there (relieveOverCap would drop them).
    if (fd === this.fd) this.linesSinceSeen += lines;
    if (late) this.noteLate(lines, late);
    else if (this.mayHaveMissedRename() && this.activeNameMovedOn()) this.noteLate(lines, 'after-rename');
    // Writes work again. A late batch says nothing of a rotation that fails, nor a batch to a staged file of
    // its publication: their episode goes on (one 'error') until the rotation or the publication works.
    if (this.errorEpisode && (this.writesFailing || (late === null && !(this.staged && this.publishFailing)))) this.endErrorEpisode();
    return true;
  }

  /**
   * Whether a write that just returned may have landed after the open file's rename, so the active name
   * must be looked at: past settleMs after the boundary, or with maxSize (a roll by another process has no
   * settle margin: it can come between this batch's check and its write).
   */
  private mayHaveMissedRename(): boolean {
    if (this.options.maxSize !== null && !this.staged) return true;
    return this.now() >= this.period.next + this.options.settleMs;
  }

  private writeFailed(err: Error): void {
    this.noteWriteFailure(err);
    const awaited = this.retryAwaited();
    // An awaited retry keeps the process alive until fallbackMs after the first failure at the latest.
    const delay = awaited ? Math.max(1, Math.min(this.errorDelay, this.writesFailingSince + this.closeWaitMs - this.now())) : this.errorDelay;
    this.scheduleRetry(delay, awaited);
    this.errorDelay = backedOff(this.errorDelay);
  }

  /**
   * A flush() someone awaits keeps the process alive for the retries of failed writes, as close() does: for
   * fallbackMs at most from the first failure. Else the retry keeps nothing alive (a disk that stays full
   * must not keep a process from ending; its exit flush then counts what it could not write).
   */
  private retryAwaited(): boolean {
    return this.writesFailing && this.flushWaiter !== null && this.now() - this.writesFailingSince < this.closeWaitMs;
  }

  /**
   * Writes fail (the write itself, or the open for it). The first such failure in an episode that a failed
   * rotation or check began is a failure of its own: its own 'error' (a full disk is not hidden behind a
   * rotation that keeps failing), and what a waiting flush(callback) is given.
   */
  private noteWriteFailure(err: Error): void {
    if (this.errorEpisode && !this.writesFailing) {
      this.errorEpisode = false;
      this.errorDelay = ERROR_RETRY_MIN_MS; // and its own back-off: not the rotation's, grown meanwhile
    }
    this.reportError(err, 'write');
    if (!this.writesFailing) this.writesFailingSince = this.now();
    this.writesFailing = true;
    this.answerWriteCallbacks(this.writeCallbacks.splice(0), this.episodeError);
  }

  /**
   * A short write cut a line in `fd`, and this process has switched files since: the end of that line
   * goes to `fd` too, so that no line is split across two files. The whole lines after it in the rest
   * stay in the buffer for the current file. A full disk (ENOSPC, EDQUOT) is waited for like any failed
   * write; any other error means `fd` will take no more (EFBIG: a file size limit): that line cannot be
   * completed anywhere, so it is counted as dropped and the file keeps its beginning, unterminated.
   * Returns false when writing failed and a retry is scheduled.
   */
  private completeTornLine(fd: number): boolean {
    let stats: fs.Stats | null = null;
    try {
      stats = fs.fstatSync(fd);
    } catch {
      // EBADF: other code closed it (below).
    }
    if (stats === null || stats.ino !== this.restIno || stats.nlink === 0) {
      // Deleted, or compressed away by archive maintenance: the line's beginning is in no file any more. Or
      // other code closed the descriptor, and its number may be another file's now: that file must not get
      // the line's end (nor is the number closed again).
      const gone = stats !== null && stats.ino === this.restIno;
      if (gone) closeQuietly(fd);
      this.restFd = null;
      if (gone) {
        this.dropTornEnd('the file a short write cut a line in has no name left', `Dropping a line a short write cut in a previous file of ${this.path}: that file has no name left`);
      } else {
        this.dropTornEnd(
          'a short write cut a line in a descriptor closed by other code',
          `Dropping a line a short write cut in a previous file of ${this.path}: its descriptor was closed by other code`,
        );
      }
      if (this.errorEpisode) this.endErrorEpisode();
      return true;
    }
    const rest = this.pending[this.head] as Buffer;
    const end = rest.indexOf(NEWLINE) + 1 || rest.length;
    let written: number;
    let refused: string | null = null;
    try {
      written = fs.writeSync(fd, rest, 0, end);
      this.counters.bytes += written;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        this.writeFailed(err as Error);
        return false;
      }
      this.counters.errors++;
      refused = code;
      written = end;
    }
    this.pendingBytes -= written;
    if (written < end) {
      this.pending[this.head] = this.shortWriteRest = this.tornRest = rest.subarray(written);
    } else {
      closeQuietly(fd);
      this.restFd = null;
      this.tornRest = null;
      // The whole lines after it go to the current file, still ahead of everything else.
      if (end < rest.length) this.pending[this.head] = this.shortWriteRest = rest.subarray(end);
      else this.pending[this.head++] = '';
    }
    if (refused !== null) {
      this.countDropped(
        1,
        `a line cut short could not be completed (${refused})`,
        `Dropping a line a short write cut in the previous file of ${this.path}: that file refuses its end (${refused})`,
      );
    }
    // The file that failed is left behind: the next failure is a new episode, and the drop marker goes to the current file.
    if (this.errorEpisode) this.endErrorEpisode();
    return true;
  }

  /**
   * The end of the line a short write cut (at the head of the buffer) cannot be written after its beginning:
   * it is dropped, and the line counted as dropped. The whole lines after it stay, still ahead of everything else.
   */
  private dropTornEnd(cause: string, message: string): void {
    const rest = this.pending[this.head] as Buffer;
    const end = rest.indexOf(NEWLINE) + 1 || rest.length;
    this.pendingBytes -= end;
    this.tornRest = null;
    if (end < rest.length) this.pending[this.head] = this.shortWriteRest = rest.subarray(end);
    else this.pending[this.head++] = '';
    this.countDropped(1, cause, message);
  }

  /** Over maxBufferBytes: write to whatever file is open rather than grow without bound. */
  private relieveOverCap(): void {
    // Waiting for a boundary, a lock or a rotation that failed: write wherever possible rather than grow.
    // While writes fail, the retry timer owns the next attempt (no tight loop), so go straight to dropping.
    // While a rotation fails, the retry timer owns its next attempt too (its back-off): the lines go to the
    // open file, late, without one attempt per relief.
    if (!this.writesFailing) this.flushNow(true, true, !(this.errorEpisode && this.retryTimer !== null));
    if (this.pendingBytes <= this.options.maxBufferBytes) return;
    // The disk refuses writes: drop the oldest whole lines and count them. The rest of a short write (it must
    // be the very next bytes written) and a drop marker not written yet stay in front; the lines after them go.
    const kept: Chunk[] = [];
    while (this.bufferedLineCount() > 0 && this.mustKeep(this.pending[this.head] as Chunk)) {
      kept.push(this.pending[this.head++] as Chunk);
    }
    let dropped = 0;
    while (this.pendingBytes > this.options.maxBufferBytes && this.bufferedLineCount() > 1) {
      const chunk = this.pending[this.head] as Chunk;
      this.pendingBytes -= chunk.length;
      this.pending[this.head] = '';
      this.head++;
      dropped++;
    }
    for (let i = kept.length - 1; i >= 0; i--) this.pending[--this.head] = kept[i] as Chunk;
    // The buffer never empties while the disk refuses writes: the slots of dropped lines go now, or the
    // array would grow by every line written for as long as that lasts.
    if (this.head >= COMPACT_AFTER_SLOTS && this.head * 2 >= this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    if (dropped === 0) return;
    this.countDropped(
      dropped,
      'the buffer was full',
      `Dropping the oldest lines: ${this.path} cannot be written and ${this.options.maxBufferBytes} bytes are buffered`,
    );
  }

  /**
   * Count lines lost to a failing disk. They join the current drop episode, which a marker line reports
   * once writes work again (saying `cause`); the first drop of an episode is also a DROPPED_LINES warning.
   */
  private countDropped(lines: number, cause: string, message: string): void {
    this.counters.droppedLines += lines;
    const now = this.now();
    if (this.drops) {
      this.drops.lines += lines;
      this.drops.last = now;
      this.drops.causes.add(cause);
      return;
    }
    this.drops = { lines, first: now, last: now, causes: new Set([cause]) };
    this.warn('DROPPED_LINES', message, { lines });
  }

  /** Chunks relieveOverCap never drops: the rest of a short write and the drop marker. */
  private mustKeep(chunk: Chunk): boolean {
    return chunk === this.shortWriteRest || chunk === this.unwrittenMarker;
  }

  /** After a drop episode, once writing works again: one line in the file that says what was lost. */
  private queueDropMarker(): void {
    const drops = this.drops;
    if (!drops) return;
    this.drops = null;
    const marker = `timberlock: ${drops.lines} line(s) dropped between ${new Date(drops.first).toISOString()} and ${new Date(drops.last).toISOString()}: ${this.path} could not be written and ${[...drops.causes].join(' and ')}\n`;
    // Behind the rest of a short write, if one waits: that must be the very next bytes written.
    const at = this.pending[this.head] === this.shortWriteRest ? this.head + 1 : this.head;
    this.pending.splice(at, 0, marker);
    this.unwrittenMarker = marker;
    this.pendingBytes += marker.length;
    this.warn('DROPPED_LINES', marker.trimEnd(), { lines: drops.lines, first: drops.first, last: drops.last });
  }

  // ---------------------------------------------------------------------------------------------
  // Periods and rotation

  /**
   * Make `fd` point at the active file of the period containing `now`. Returns false when that is not
   * possible yet (settle margin, lock busy, error, or the rotation was started off the event loop); a
   * retry is scheduled, or the rotation flushes when it is done.
   */
  private makeCurrent(now: number, force: boolean, sync: boolean): boolean {
    const period = this.periodAt(now);
    if (this.waitingSince === 0) this.waitingSince = now;
    // Give writes issued just before the boundary time to land before the rename.
    const settleUntil = period.start + this.options.settleMs;
    if (this.inBackground(sync)) {
      // The usual case, a boundary passed while the file is open: off the event loop. Within the settle
      // margin the new file is made under the staged name (once per boundary), so lines need not wait for it.
      if (now >= settleUntil) {
        void this.startRotation(period.start, null);
      } else if (this.mayStage(period.start)) {
        void this.startRotation(period.start, 'stage');
      } else {
        this.scheduleRetry(settleUntil - now, true);
      }
      return false;
    }
    // Start-up, exit and graceful shutdown, and a burst: now, on this thread.
    try {
      // Someone (maybe this process, earlier) already made the file of this period: follow it.
      const followed = runSync(followActive(this.target, period.start));
      if (followed) {
        this.adopt(followed);
        return true;
      }
      if (!force && this.fd !== null && now < settleUntil) {
        // A burst: the new file under the staged name, as off the event loop; the lines cannot wait for a
        // retry timer while the app keeps the loop from turning.
        if (this.outpaced && performance.now() >= this.lockBusyInBurstUntil && this.mayStage(period.start) && this.stageHere(period.start)) return true;
        this.scheduleRetry(settleUntil - now, true);
        return false;
      }
      if (this.rotateHere(period.start, null)) return true;
      this.scheduleRetry(LOCK_RETRY_MS, true);
      return false;
    } catch (err) {
      this.rotationFailed(err as Error, 'rotate');
      return false;
    }
  }

  /**
   * Whether to stage the file of the period starting at `periodStart` now: once per boundary (again after a
   * busy lock), and not when settleMs >= staleMs (two processes could then stage at once, see stageNext).
   * True marks it tried.
   */
  private mayStage(periodStart: number): boolean {
    if (this.stagingTried === periodStart || this.options.settleMs >= this.options.staleMs) return false;
    this.stagingTried = periodStart;
    return true;
  }

  /**
   * stageNext on this thread, under the lock tried once; the staged file is adopted. An I/O error is reported
   * as off the event loop: the staging is not tried again, the lines wait for the rotation at the settle
   * margin's end (see makeCurrent).
   */
  private stageHere(periodStart: number): boolean {
    const takeoversBefore = this.lockTakeovers;
    let staged: ActiveFile | null | 'busy';
    try {
      staged = this.underLock(() => runSync(stageNext(this.target, periodStart)));
    } catch (err) {
      this.reportError(err as Error, 'rotate');
      return false;
    }
    if (staged === 'busy') {
      this.stagingTried = Number.NaN; // another process is staging it: the retry at the settle margin's end looks again
      this.lockBusyInBurstUntil = performance.now() + LOCK_RETRY_MS; // and a burst in 5 ms, not at every batch
      return false;
    }
    if (!staged) return false;
    this.adopt(staged);
    if (staged.staged && this.lockTakeovers !== takeoversBefore) this.stagedAfterTakeover = true;
    return true;
  }

  /**
   * Off the event loop: follow the file another process made for `periodStart` (boundaries only), or
   * take the lock and run the protocol — its system calls on libuv's thread pool. Nothing is written
   * meanwhile; when it ends, the new file is adopted and the waiting lines are written. A busy lock or an
   * error at a boundary schedules a retry; a forced rotation or a size roll just reports it.
   * The lock itself is taken and released on this thread, one mkdir and one rmdir: a process that
   * ends at any moment then leaves no lock directory behind (see RotationLock.tryAcquire).
   */
  private startRotation(periodStart: number, roll: RollRequest | 'stage'): Promise<'done' | 'busy' | 'failed' | 'declined'> {
    if (this.inFlight) return Promise.resolve('busy'); // one at a time (callers look before they start one)
    if (this.waitingSince === 0) this.waitingSince = this.now();
    const stage = roll === 'stage';
    // A boundary follows another process's file; not the staged file this process has open (it publishes it).
    const follow = (roll === null || stage) && !this.staged;
    // Giving the staged file the active name, in its own period: its retries are the publish timer's (see
    // publishAgain). Once that period has ended, the rotation to the next one retries on its own back-off.
    const publishing = roll === null && this.staged && periodStart === this.period.start;
    const takeoversBefore = this.lockTakeovers;
    const run = async (): Promise<ActiveFile | 'busy' | 'declined'> => {
      if (follow) {
        const followed = await runAsync(followActive(this.target, periodStart));
        if (followed) return followed;
      }
      if (!this.lock.tryAcquire()) return 'busy';
      try {
        if (stage) return (await runAsync(stageNext(this.target, periodStart))) ?? 'declined';
        return await runAsync(rotateUnderLock(this.target, periodStart, roll));
      } finally {
        this.lock.release();
      }
    };
    const outcome = run().then(
      (active) => {
        if (active === 'busy' || active === 'declined') return active;
        if (this.state === 'closed') {
          closeQuietly(active.fd);
        } else {
          this.inFlightAdopted = true;
          this.adopt(active);
          if (stage && active.staged && this.lockTakeovers !== takeoversBefore) this.stagedAfterTakeover = true;
        }
        return 'done' as const;
      },
      (err: unknown) => {
        if (publishing) this.reportError(err as Error, 'rotate');
        else if (roll === null) this.rotationFailed(err as Error, 'rotate');
        else this.reportError(err as Error, roll === 'force' || stage ? 'rotate' : 'size roll');
        return 'failed' as const;
      },
    );
    const inFlight = outcome.then((result) => {
      if (this.inFlight === inFlight) {
        this.inFlight = null;
        this.inFlightAdopted = false;
      }
      if (stage) {
        // Not staged: the lines wait for the rotation settleMs after the boundary (the lock busy: another
        // process is staging the file; look again shortly).
        if (result === 'busy') {
          this.counters.lockAttemptsLost++;
          this.stagingTried = Number.NaN;
        }
        if (result !== 'done') {
          if (result === 'busy') this.scheduleLockRetry();
          else this.scheduleRetry(Math.max(1, periodStart + this.options.settleMs - this.now()), true);
          return;
        }
      }
      if (result !== 'done' && roll !== null && !stage) this.waitingSince = 0; // the lines go on to the current file
      if (result === 'busy') {
        this.counters.lockAttemptsLost++;
        if (roll === null) {
          // The retry timer looks again, not the next write. A publication's retries are the publish timer's:
          // this one only writes the lines logged meanwhile to the staged file (a later line queues its flush).
          if (!publishing) this.scheduleLockRetry();
          else if (this.bufferedLineCount() > 0) this.scheduleRetry(LOCK_RETRY_MS, true);
          return;
        }
        this.rollBusyUntil = performance.now() + LOCK_RETRY_MS;
      }
      if (result === 'failed' && roll === null && !publishing) return; // rotationFailed() scheduled the retry
      if (typeof roll === 'object' && roll !== null) {
        if (result === 'failed') this.rollFailed();
        else if (result === 'done') this.rollRetryDelay = ERROR_RETRY_MIN_MS;
      }
      // The waiting lines are written on the next turn of the event loop, not in this callback.
      this.queueFlush();
    });
    this.inFlight = inFlight;
    trackRotation(inFlight);
    return outcome;
  }

  /**
   * Whether a rotation that is due now runs off the event loop: not when the caller must have it done
   * before it returns (`sync`: exit, flushSync), not with the `sync` option (write() puts the line in the
   * kernel before it returns), not in a burst (see flushOutpaced), and not before the file is open
   * (start-up, after an error).
   */
  private inBackground(sync: boolean): boolean {
    return !sync && !this.options.sync && !this.outpaced && this.state === 'open';
  }

  /** A rotation at a boundary failed: report it and try again after the error back-off. */
  private rotationFailed(err: Error, operation: string): void {
    this.reportError(err, operation);
    this.scheduleRetry(this.errorDelay, false);
    this.errorDelay = backedOff(this.errorDelay);
  }

  /**
   * With maxSize, right before each batch: if another process rolled the file, follow it (so lines
   * never go to a renamed file); if the file reached maxSize, roll it — off the event loop unless `sync`.
   * 'write': go on with the batch; 'rolling': a roll started in the background (the batch waits for its
   * file); 'wait': another process's roll is not complete yet (a retry is scheduled); 'late': write it to
   * the rolled file all the same, counted as late. A busy lock just means someone else is rolling or
   * rotating: the batch goes to the current file.
   */
  private checkSize(now: number, sync: boolean, force: boolean): 'write' | 'rolling' | 'wait' | 'late' {
    try {
      // A staged file is rolled once it has the active name; from then on, a roll by another process is
      // followed before this batch, as for any active file. Past settleMs without the name (not published
      // yet, or published and rolled away already), the batch waits for the publication or the follow.
      if (this.staged) {
        if (now < this.period.start + this.options.settleMs) return 'write';
        if (statOrNull(this.path)?.ino !== this.ino) {
          // Lines that cannot wait (exit, flushSync) go to the staged file while it is not published yet, as
          // they would without maxSize; if it was published and rolled away, to it all the same, as late.
          const unpublished = statOrNull(this.target.stagedPath)?.ino === this.ino;
          if (force) return unpublished ? 'write' : 'late';
          // A publication that fails is tried again on its own timer, with its back-off: meanwhile the lines
          // go on to the staged file, as they would without maxSize.
          if (this.publicationHeldUp() && unpublished) return 'write';
          this.publish();
          if (!this.staged) return 'rolling'; // published on this thread (a burst): the batch goes on
          this.scheduleRetry(LOCK_RETRY_MS, true);
          return 'wait';
        }
        this.notePublished();
      }
      const current = statOrNull(this.path);
      if (!current || current.ino !== this.ino) return this.followRoll(now, force);
      this.waitingSince = 0; // the file is current (a wait above may have found it away for a moment)
      // A file holding only its header is never rolled, however long the header (it would not be archived).
      if (current.size < (this.options.maxSize as number) || holdsNoLines(current.size, this.emptySize) || performance.now() < this.rollBusyUntil) return 'write';
      const period = this.periodAt(now);
      const roll = { minSize: this.options.maxSize as number, ino: current.ino };
      if (this.inBackground(sync)) {
        void this.startRotation(period.start, roll);
        return 'rolling';
      }
      if (this.rotateHere(period.start, roll)) this.rollRetryDelay = ERROR_RETRY_MIN_MS;
      else this.rollBusyUntil = performance.now() + LOCK_RETRY_MS; // as off the event loop: not every batch
    } catch (err) {
      this.reportError(err as Error, 'size roll');
      this.rollFailed();
      // The roll may have failed after giving the open file its archive name (it stalled past staleMs, lost
      // the lock, and its state temp file was removed): the batch goes to the file with the active name, not
      // to that archive, which archive maintenance may compress and remove (a line was lost so).
      let current: fs.Stats | null;
      try {
        current = statOrNull(this.path);
      } catch (err) {
        this.reportError(err as Error, 'size roll');
        return 'write';
      }
      if (current?.ino === this.ino) return 'write';
      try {
        return this.followRoll(now, force);
      } catch (err) {
        // The file was rolled away and the one with the active name cannot be followed now (EMFILE, say): the
        // batch goes to the rolled file, counted as late. (Written as on time, it would also end the error
        // episode, and the next batch's failure would be an 'error' of its own: one per batch.)
        this.reportError(err as Error, 'size roll');
        return 'late';
      }
    }
    return 'write';
  }

  /**
   * Before a batch, with maxSize: the open file no longer has the active name (rolled by another process, or
   * by this one in a roll that then failed). Follow the file that has it; or, while its successor is not
   * complete yet (no active name, or no state naming it), the batch waits for it as at a boundary. Lines
   * that cannot wait go to the rolled file, counted as late. (An active name that someone else deleted or
   * replaced is the check timer's: it reopens.)
   */
  private followRoll(now: number, force: boolean): 'write' | 'wait' | 'late' {
    const followed = runSync(followActive(this.target, this.period.start));
    if (followed) {
      this.adopt(followed);
      return 'write';
    }
    if (this.waitingSince === 0) this.waitingSince = now;
    if (this.waitedTooLong(now, force)) return 'late';
    this.scheduleRetry(LOCK_RETRY_MS, true);
    return 'wait';
  }

  /** A size roll failed: the batches go on to the current file, and the next roll waits (see rollRetryDelay). */
  private rollFailed(): void {
    this.rollBusyUntil = performance.now() + this.rollRetryDelay;
    this.rollRetryDelay = backedOff(this.rollRetryDelay);
  }

  /**
   * The protocol on this thread, under the lock tried once; the new file is adopted. False when the lock
   * was busy. Throws on I/O errors.
   */
  private rotateHere(periodStart: number, roll: RollRequest): boolean {
    const active = this.underLock(() => runSync(rotateUnderLock(this.target, periodStart, roll)));
    if (active === 'busy') return false;
    this.adopt(active);
    return true;
  }

  /** Run `fn` holding the lock, tried once. 'busy' when the lock is busy. */
  private underLock<T>(fn: () => T): T | 'busy' {
    if (!this.lock.tryAcquire()) {
      this.counters.lockAttemptsLost++;
      return 'busy';
    }
    try {
      return fn();
    } finally {
      this.lock.release();
    }
  }

  /** Lines have waited for the new period's file longer than allowed (or we are exiting). */
  private waitedTooLong(now: number, force: boolean): boolean {
    return force || now - this.waitingSince >= this.options.fallbackMs;
  }

  /** Count lines written to a previous period's file (they are counted once, when written). */
  private noteLate(lines: number, why: LateReason): void {
    if (this.heldLate !== null) {
      this.heldLate += lines;
      return;
    }
    this.counters.lateLines += lines;
    if (this.lateEpisode) return;
    this.lateEpisode = true;
    const message = {
      fallback: `${lines} line(s) written to the previous period's file of ${this.path}: no file for the new period could be had in time`,
      'after-rename': `${lines} line(s) may have been appended to ${this.path} after its rename: the write returned more than settleMs after a boundary, or after another process rolled the file (maxSize)`,
      'rotation-under-way': `${lines} line(s) written to ${this.path} in the middle of a rotation because they could not wait (process exit, flushSync() or maxBufferBytes): they may be in the archive`,
      'after-close': `${lines} line(s) written to ${this.path} after close() went to the file of a period that has ended: after close() the file no longer rotates`,
      unpublished: `${lines} line(s) were written to the new period's file staged for ${this.path} while another process took the rotation lock over from this one (stalled past staleMs), and this process did not see that file get the active name: the lines may be in an archive that never had it`,
    }[why];
    this.warn('LATE_LINES', message, { lines, why });
  }

  /** Switch to a file someone else put under the active name (takeActive, or followed): a reopen. */
  private adoptForeign(active: ActiveFile, warning: string | null): void {
    this.telling(() => this.adoptForeignNow(active, warning));
  }

  private adoptForeignNow(active: ActiveFile, warning: string | null): void {
    if (warning) this.warn('EXTERNAL_MOVE', warning);
    if (active.published) {
      // Taking it gave a staged file the active name first, and archived the file that had it: a rotation.
      this.adopt(active);
      return;
    }
    this.counters.reopens++;
    this.switchTo(active.fd, active.ino, active.periodStart, active.emptySize, active.staged);
  }

  /** Switch to the descriptor the protocol produced and tell listeners. */
  private adopt(active: ActiveFile): void {
    this.telling(() => this.adoptNow(active));
  }

  private adoptNow(active: ActiveFile): void {
    // A staged file is announced ('rotate', counters) when it gets the active name, not when it is opened.
    let from: Announced = this.staged ? this.stagedFrom : { periodStart: this.period.start, ino: this.ino, hadFile: this.fd !== null };
    const { published } = active;
    if (published) {
      if (published.ino === this.ino) this.stagedLines = 0; // this process's staged file: its lines are under the active name
      this.announce(published.archive, published.periodStart, published.previousPeriodStart, from.hadFile);
      from = { periodStart: published.periodStart, ino: published.ino, hadFile: true };
    }
    if (active.setBackFrom !== undefined) this.warnClockSetBack(active.setBackFrom, this.now());
    this.switchTo(active.fd, active.ino, active.periodStart, active.emptySize, active.staged);
    // A file of the current period: a rotation that failed works again. (An episode of failing writes ends
    // with a write that works.)
    if (this.errorEpisode && !this.writesFailing) this.endErrorEpisode();
    if (active.staged) return;
    const changed = active.ino !== from.ino;
    if (active.action === 'archived') this.archives?.afterArchive();
    if (active.action === 'archived' || active.action === 'relabelled') this.counters.rotations++;
    else if (from.hadFile && changed) this.counters.reopens++;
    if (active.action === 'archived' || (from.hadFile && (changed || active.periodStart !== from.periodStart))) {
      const event: RotateEvent = {
        archive: active.archive,
        periodStart: active.periodStart,
        previousPeriodStart: active.previousPeriodStart ?? from.periodStart,
      };
      this.notify('rotate', event);
    }
  }

  /** A rotation this process saw happen: `archive` is the one it made, null if another process made it. */
  private announce(archive: string | null, periodStart: number, previousPeriodStart: number, hadFile: boolean): void {
    if (archive) {
      this.archives?.afterArchive();
      this.counters.rotations++;
    } else if (hadFile) {
      this.counters.reopens++;
    }
    if (!archive && !hadFile) return;
    const event: RotateEvent = { archive, periodStart, previousPeriodStart };
    this.notify('rotate', event);
  }

  /**
   * The period containing `t`, for this file's frequency and zone. Computing a calendar period in a zone
   * costs up to a tenth of a millisecond (schedule.ts), so the open file's period and the last one
   * computed are reused: a boundary costs one computation.
   */
  private periodAt(t: number): Period {
    for (const known of [this.period, this.lastPeriod]) if (t >= known.start && t < known.next) return known;
    this.lastPeriod = periodOf(t, this.options.frequency, this.options.timeZone);
    return this.lastPeriod;
  }

  /** `staged`: see the field. The 'open' event is not repeated for the staged file once it is published. */
  private switchTo(fd: number, ino: number, periodStart: number, emptySize: number, staged = false): void {
    const old = this.fd;
    const oldIno = this.ino;
    this.linesSinceSeen = 0;
    const wasStaged = this.staged;
    const published = wasStaged && !staged && ino === this.ino;
    if (staged !== wasStaged || ino !== this.ino) this.publishFailing = this.publishStalled = false;
    if (staged && !wasStaged) {
      this.stagedFrom = { periodStart: this.period.start, ino: this.ino, hadFile: old !== null };
      this.stagedLines = 0;
    } else if (wasStaged && !staged && !published) {
      // This process did not see its staged file get the active name: another process published it and
      // rolled it away (maxSize), maybe compressed or deleted it since (then it has no name left), or
      // archived it as a stray. Its lines are in a file of their period either way; but a stray's never
      // had the active name, which is possible only if another process took the lock over from this one
      // while it staged. (A staged file removed by hand, or in a race of microseconds with a takeover's
      // removal of an empty stray, loses its lines uncounted.)
      if (this.stagedAfterTakeover && this.stagedLines > 0) this.noteLate(this.stagedLines, 'unpublished');
      this.stagedLines = 0;
    }
    if (staged !== wasStaged || ino !== this.ino) {
      this.stagedAfterTakeover = false;
      this.namelessSince = 0;
    }
    this.fd = fd;
    this.ino = ino;
    this.emptySize = emptySize;
    this.period = this.periodAt(periodStart);
    this.waitingSince = 0;
    this.lateEpisode = false;
    this.missingSince = 0;
    if (this.state === 'waiting') this.state = 'open';
    if (old !== null && old !== fd) this.letGo(old, oldIno);
    this.armBoundaryTimer();
    this.staged = staged;
    this.armPublishTimer();
    if (wasStaged && this.flushed()) this.resolveFlushWaiters();
    if (published) return;
    const event: OpenEvent = { path: this.path, ino, periodStart };
    this.notify('open', event);
    if (this.readyTold) return;
    // As sonic-boom (pino.destination()) says once its descriptor is open: code written for it waits for 'ready'.
    this.readyTold = true;
    this.tell(() => this.emitSafely('ready'));
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  /** Retry writing later: lock busy, settle margin, or an error back-off. */
  private scheduleRetry(delayMs: number, keepAlive: boolean, idle = false): void {
    const at = this.now() + delayMs;
    if (this.retryTimer && this.retryAt <= at) {
      this.retryKeepsAlive ||= keepAlive;
      this.retryIdle &&= idle; // it is also this caller's retry now, which a line must not bring forward
      this.refRetry();
      return;
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryAt = at;
    this.retryIdle = idle;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flushNow();
    }, Math.max(1, Math.min(delayMs, MAX_TIMER_DELAY_MS)));
    this.retryKeepsAlive = keepAlive;
    this.refRetry();
  }

  /** How soon a busy lock is tried again: at once, nearly, while lines wait in memory (see IDLE_LOCK_RETRY_MS). */
  private lockRetryDelay(): number {
    return this.bufferedLineCount() > 0 ? LOCK_RETRY_MS : IDLE_LOCK_RETRY_MS;
  }

  /** The retry after a busy lock: soon while lines wait, else slowly (a line logged meanwhile brings it forward, see write()). */
  private scheduleLockRetry(): void {
    // While writes fail, their back-off decides when the lines are tried again (a line does not bring it forward).
    if (this.writesFailing) {
      if (this.retryTimer === null) this.scheduleRetry(IDLE_LOCK_RETRY_MS, true);
      return;
    }
    const delayMs = this.lockRetryDelay();
    this.scheduleRetry(delayMs, true, delayMs === IDLE_LOCK_RETRY_MS);
  }

  /**
   * Whether the pending retry keeps the process alive: when its caller asked for that and lines wait in
   * memory for it (an idle file's rotation waiting for a busy lock does not: its holder may keep it for as
   * long as its own disk stalls), unless writes are failing (lines that cannot be written are no reason to
   * stay) and never to bring 'beforeExit' back; or when an awaited flush() waits for the retry of failing
   * writes (see retryAwaited). Looked at again when lines come (write()).
   */
  private refRetry(): void {
    if (this.retryTimer === null) return;
    if (this.retryAwaited() || this.openAwaited() || (this.retryKeepsAlive && !this.writesFailing && this.bufferedLineCount() > 0 && !beforeExit)) {
      this.retryTimer.ref();
    } else {
      this.retryTimer.unref();
    }
  }

  /**
   * No file is open yet (another process holds the lock at start-up), and the app waits for 'open' or 'ready'
   * (`await once(file, 'ready')`, as for pino.destination()): the retry keeps the process alive, or it would
   * end with nothing left to run, the event never come.
   */
  private openAwaited(): boolean {
    return this.fd === null && this.state === 'waiting' && this.listenerCount('open') + this.listenerCount('ready') > 0;
  }

  /** An unref'd timer at the next boundary (plus the settle margin) so that idle files rotate on time. */
  private armBoundaryTimer(): void {
    const at = this.period.next + this.options.settleMs;
    // Set for this boundary already (rotate(), size rolls and reopens keep the period). A new timer would do
    // no better, and Node keeps a list per distinct delay of unref'd timers until it fires: one per roll.
    if (this.boundaryTimer !== null && this.boundaryTimerAt === at) return;
    if (this.boundaryTimer) clearTimeout(this.boundaryTimer);
    this.boundaryTimerAt = at;
    const delay = at - this.now();
    this.boundaryTimer = setTimeout(() => {
      this.boundaryTimer = null;
      if (this.now() < this.period.next) this.armBoundaryTimer(); // a capped long delay: not there yet
      else this.flushNow();
    }, Math.max(1, Math.min(delay, MAX_TIMER_DELAY_MS)));
    this.boundaryTimer.unref();
  }

  /** While the open file is staged: settleMs after its boundary (now, if that has passed), see that it is published. */
  private armPublishTimer(): void {
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishTimer = null;
    if (this.staged) this.retryPublish(this.period.start + this.options.settleMs - this.now());
  }

  private retryPublish(delayMs: number): void {
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishIdle = false;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = null;
      this.publish();
    }, Math.max(1, Math.min(delayMs, MAX_TIMER_DELAY_MS)));
    this.refWaits();
  }

  /** A flush() or a write callback waits for the lines to reach the kernel. */
  private someoneWaits(): boolean {
    return this.flushWaiter !== null || this.writeCallbacks.length > 0;
  }

  /** reopen()'s slow retry (nothing waited for it): a line, flush() or write callback now does, try within 5 ms. */
  private hurryReopen(): void {
    if (this.reopenTimer === null || !this.reopenIdle) return;
    clearTimeout(this.reopenTimer);
    this.reopenIdle = false;
    this.reopenTimer = setTimeout(() => this.reopenNow(), LOCK_RETRY_MS);
    this.refWaits();
  }

  /**
   * The timers a flush() or a write callback waits for keep the process alive only while one does: the
   * publish timer (unless the publication failed or stalled: the lines are in the staged file, and a process
   * that ends publishes it in its exit flush, or leaves it to the next process, see endOfProcess), and
   * reopen()'s, for fallbackMs at most (the exit flush writes the lines to the current file). Otherwise a
   * script's `await file.flush()` would end the process with the code after it never run.
   */
  private refWaits(): void {
    const awaited = this.someoneWaits();
    if (awaited) this.hurryReopen();
    if (awaited && this.publishTimer !== null && this.publishIdle && !this.publicationHeldUp()) {
      this.retryPublish(LOCK_RETRY_MS); // a busy lock's slow retry: now someone waits for it (this comes back here)
      return;
    }
    if (this.publishTimer !== null) {
      if (awaited && !this.publicationHeldUp()) this.publishTimer.ref();
      else this.publishTimer.unref();
    }
    if (this.reopenTimer !== null) {
      if (awaited) this.reopenTimer.ref();
      else this.reopenTimer.unref();
    }
  }

  /**
   * The staged file should have the active name by now: if another process gave it, say so; else give it
   * here, off the event loop (the lock busy: another process is at it, look again shortly).
   */
  private publish(): void {
    if (!this.staged || this.state === 'closed' || this.state === 'closing') return;
    if (this.inFlight) {
      this.retryPublish(LOCK_RETRY_MS);
      return;
    }
    if (!this.inBackground(false)) {
      const result = this.publishNow();
      if (this.staged) this.publishAgain(result);
      return;
    }
    try {
      if (statOrNull(this.path)?.ino === this.ino) {
        this.notePublished();
        return;
      }
    } catch (err) {
      this.reportError(err as Error, 'rotate');
    }
    void this.startRotation(this.period.start, null).then((result) => {
      if (!this.staged) return;
      // Within the staged file's period, lines waited for this attempt only, not for a new file. Once it has
      // ended, they wait for the next period's file, since the boundary: for fallbackMs at most, whatever
      // the attempts to publish meanwhile.
      if (this.now() < this.period.next) this.waitingSince = 0;
      this.publishAgain(result);
    });
  }

  /**
   * The staged file is still not published: try again soon (lock busy), or after the error back-off. Lines
   * go on to the staged file meanwhile: a failed publication leaves the writer's retry timer alone.
   */
  private publishAgain(result: 'done' | 'busy' | 'failed' | 'declined'): void {
    if (result === 'failed' && !this.publishFailing) {
      // The lines written so far are in the kernel, in the staged file: flush() does not wait for a
      // publication that keeps failing, nor does the retry keep the process alive.
      this.publishFailing = true;
      if (this.flushed()) this.resolveFlushWaiters();
    }
    if (result === 'busy' && !this.publishStalled && this.now() >= this.period.start + this.options.settleMs + this.options.fallbackMs) {
      // Another process has held the lock for fallbackMs past the settle margin (its own disk stalls, and it
      // keeps the lock fresh): as for a failing publication, flush() no longer waits for it, nor does the
      // process stay alive for it. The lines are in the staged file already; the attempts go on.
      this.publishStalled = true;
      if (this.flushed()) this.resolveFlushWaiters();
    }
    if (result !== 'failed') {
      const awaited = !this.publicationHeldUp() && this.someoneWaits();
      this.retryPublish(awaited ? LOCK_RETRY_MS : this.lockRetryDelay());
      this.publishIdle = !awaited && this.bufferedLineCount() === 0;
      return;
    }
    this.retryPublish(this.errorDelay);
    this.errorDelay = backedOff(this.errorDelay);
  }

  /**
   * Whether the pending retry is one the app keeps from firing: with `sync`, it is due; otherwise another
   * 64 KiB were logged in this run of synchronous code (a burst: once per 64 KiB, as a batch is written).
   */
  private loopHoldsRetry(bytes: number): boolean {
    if (this.options.sync) return this.now() >= this.retryAt;
    if (!this.runEndQueued) {
      this.runEndQueued = true;
      process.nextTick(() => {
        this.runBytes = 0;
        this.runEndQueued = false;
      });
    }
    this.runBytes += bytes;
    if (this.runBytes < MAX_BATCH_BYTES) return false;
    this.runBytes = 0;
    return true;
  }

  /** In a burst: the staged file's settle margin is over, and its publication is neither held up nor tried a moment ago. */
  private mayPublishInBurst(now: number): boolean {
    return !this.inFlight && now >= this.period.start + this.options.settleMs && !this.publicationHeldUp() && performance.now() >= this.lockBusyInBurstUntil;
  }

  /** On close() and at exit: publish the staged file now, on this thread (the lock busy: its holder is at it). */
  private publishNow(): 'done' | 'busy' | 'failed' {
    if (!this.staged || this.inFlight) return 'busy';
    try {
      if (statOrNull(this.path)?.ino !== this.ino) return this.rotateHere(this.period.start, null) ? 'done' : 'busy';
      this.notePublished();
      return 'done';
    } catch (err) {
      this.reportError(err as Error, 'rotate'); // retried by the publish timer (see publishAgain)
      return 'failed';
    }
  }

  /** Another process gave the staged file the active name: from now on it is this process's active file. */
  private notePublished(): void {
    this.staged = false;
    this.waitingSince = 0;
    if (this.flushed()) this.resolveFlushWaiters();
    this.armPublishTimer();
    this.announce(null, this.period.start, this.stagedFrom.periodStart, this.stagedFrom.hadFile);
  }

  /** Every checkIntervalMs: has someone moved or deleted the active file? */
  private startCheckTimer(): void {
    this.checkedAt = this.now();
    this.checkTimer = setInterval(() => {
      this.checkActiveName();
      this.boundaryOverdue();
    }, this.options.checkIntervalMs);
    this.checkTimer.unref();
  }

  /**
   * Whether the open file's period starts more than staleMs after `now`: the clock was set back since the
   * file was made (a host that booted with its clock ahead, corrected by NTP). The next rotation makes it
   * the file of now's period (rotation.ts, fromTheFuture); until then nothing would rotate until the clock
   * caught up. Warned once per such period.
   */
  private clockSetBack(now: number): boolean {
    if (this.fd === null || this.period.start <= now + this.clockSetBackMs) return false;
    this.warnClockSetBack(this.period.start, now);
    return true;
  }

  /** CLOCK_SET_BACK, once per period the clock was set back from (this process's, or a file's it took). */
  private warnClockSetBack(periodStart: number, now: number): void {
    if (this.clockWarnedFor === periodStart) return;
    this.clockWarnedFor = periodStart;
    this.warn(
      'CLOCK_SET_BACK',
      `The active file of ${this.path} belongs to a period that starts ${new Date(periodStart).toISOString()}, ` +
        `${periodStart - now} ms from now: the clock was set back since it was made. It becomes the file of the current period.`,
      { periodStart, now },
    );
  }

  /**
   * Timers count time on the monotonic clock, boundaries are on the wall clock: after a suspended host or a
   * clock stepped forward, the boundary timer of an idle file would fire as late as the jump. Each check
   * looks whether the boundary (and its settle margin) has passed by the wall clock, and if so does the
   * timer's work now.
   */
  private boundaryOverdue(): void {
    const now = this.now();
    if (this.boundaryTimer === null || (now < this.period.next + this.options.settleMs && !this.clockSetBack(now))) return;
    clearTimeout(this.boundaryTimer);
    this.boundaryTimer = null;
    this.flushNow();
  }

  private checkActiveName(): void {
    // A staged file is not under the active name yet: its publish timer looks after it, once the directory
    // it goes in is there.
    if (this.staged && !this.flushing && !this.inFlight) this.directoryRemoved();
    if (this.fd === null || this.flushing || this.inFlight || this.staged) return;
    this.checkedAt = this.now();
    if (!this.ownsDescriptor(this.fd)) {
      this.descriptorLost(this.fd);
      return;
    }
    let failed = false;
    try {
      const current = statOrNull(this.path);
      if (current && current.ino === this.ino) {
        this.linesSinceSeen = 0;
        return;
      }
      const sibling = runSync(followActive(this.target, this.period.start));
      // Another process found the open file deleted and made a new one: the lines written here since it was
      // last seen went with it.
      if (current && this.linesSinceSeen > 0 && hasNoName(this.fd) && readStateQuietly(this.target.statePath)?.deleted === this.ino) {
        this.countLinesOfDeletedFile();
      }
      if (sibling) {
        // Another process rotated (rotate(), a size roll): follow it.
        this.adopt(sibling);
        return;
      }
      if (current) {
        // Another inode under the active name: logrotate's create or an operator — or a sibling process
        // between creating the new file and writing the state. Only the lock tells them apart: a rotation in
        // progress holds it (look again at the next check); holding it, the state is complete.
        if (!this.lock.tryAcquire()) {
          failed = true; // no answer either way: a failure seen before still stands
          return;
        }
        let sibling: ActiveFile | null;
        let foreign: ActiveFile | null = null;
        // Renamed over (an editor saving it, sed -i, a deploy tool), the open file has no name left: the lines
        // written to it since it was last seen went with it, as with a deletion (and no rotation is under way,
        // the lock says). The state of the file taken names it, so that the other processes count theirs too.
        const replaced = hasNoName(this.fd);
        try {
          sibling = runSync(followActive(this.target, this.period.start));
          // Not a sibling's file: take it as it is (with the header if it is empty, and a state naming it,
          // so that the other processes follow it as a sibling's).
          if (!sibling) {
            this.target.deletedIno = replaced ? this.ino : null;
            try {
              foreign = runSync(takeActive(this.target, this.periodAt(this.now()).start));
            } finally {
              this.target.deletedIno = null;
            }
          }
        } finally {
          this.lock.release();
        }
        // (Or it was moved away and then deleted or compressed, as logrotate's compress without delaycompress
        // does: the lines written before the compression are in the .gz. No way to tell from here.)
        if (foreign && replaced) this.countLinesOfDeletedFile('replaced by another file, or moved away and deleted since', 'may have gone', 'file replaced');
        if (foreign) this.adoptForeign(foreign, `${this.path} was replaced by another file; reopened it`);
        else if (sibling) this.adopt(sibling);
        return;
      }
      // The active name is missing.
      // - The open file still has a name (moved away: logrotate renames, then creates): an external rotator
      //   gets one interval to create it (racing logrotate's `create` makes it rename ours away), then this
      //   process creates it.
      // - It has none: it takes no more lines, and the active name is made at once. It was deleted (rm), and
      //   the lines written to it since it was last seen under its name went with it (counted as dropped),
      //   only if it had no name already when the active name was first found missing and the rotation lock
      //   is not there. Otherwise a rotator gave it an archive name and stalled, or died, before making the
      //   new file, and archive maintenance compressed the archive, lines and all (this process may have
      //   stalled through all of that).
      const nameless = hasNoName(this.fd);
      const deleted = nameless && this.missingSince === 0 && statOrNull(this.lock.lockPath) === null;
      if (!nameless) {
        const now = this.now();
        if (this.missingSince === 0) {
          this.missingSince = now;
          return;
        }
        // The next tick comes one interval later; timers may measure it a millisecond short.
        if (now - this.missingSince < this.options.checkIntervalMs / 2) return;
      } else if (deleted) {
        this.countLinesOfDeletedFile();
      }
      this.linesSinceSeen = 0;
      this.warn('EXTERNAL_MOVE', `${this.path} was ${deleted ? 'deleted' : 'moved or deleted'}; creating it again`);
      // The directory may have gone with it (rm -r): made again as at start-up, when asked to.
      this.makeDirectoryAgain();
      // The state of the new file says which file was deleted, so that the other processes that wrote to it
      // count their lines too when they follow.
      this.target.deletedIno = deleted ? this.ino : null;
      let made: boolean;
      try {
        made = this.rotateHere(this.period.start, null);
      } finally {
        this.target.deletedIno = null;
      }
      // The lock is busy (a rotation under way): lines wait for the file it makes, as at start-up, and go to
      // the active name after fallbackMs at the latest; never to the file without a name.
      if (!made && nameless) this.letGoOfNamelessFile();
    } catch (err) {
      failed = true;
      this.leaveDeletedFile(err as Error);
      // The same failure at every check (something in the way that this process cannot open: EACCES,
      // EISDIR) is one 'error' until a check gets through, not one per check: the writes to the open file in
      // between end each error episode.
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      if (code === this.failingCheck) {
        this.counters.errors++;
        return;
      }
      this.failingCheck = code;
      this.reportError(err as Error, 'check');
    } finally {
      if (!failed) this.failingCheck = null;
    }
  }

  /**
   * The log directory was removed (rm -r, or renamed away) while the open file was staged: no lock,
   * publication or file can be made in it. Made again as at start-up, when asked to; the publication's
   * retry then makes the period's file as for a staged file removed (see flushNow).
   */
  private directoryRemoved(): void {
    if (!this.options.mkdir || statOrNull(this.options.dir) !== null) return;
    try {
      this.makeDirectoryAgain();
      this.warn('EXTERNAL_MOVE', `${this.options.dir} was removed; creating it again`);
    } catch (err) {
      this.reportError(err as Error, 'check');
    }
  }

  /** The log directory, as at start-up, when `mkdir` asks for it (nothing if it is there). */
  private makeDirectoryAgain(): void {
    if (this.options.mkdir) fs.mkdirSync(this.options.dir, { recursive: true, mode: DIRECTORY_MODE });
  }

  /**
   * The file under the active name could not be taken (`err`: a link, directory or FIFO put there, which is
   * refused), and the open file has no name left (deleted): the lines written to it since it was last seen
   * went with it, and the next ones would. They wait for a file instead (see flushNow), and are counted if
   * they cannot be written. (Another failure, EMFILE say, leaves it to the next check: an open file without
   * a name may also be an archive another process rolled and compressed, its lines in the .gz.)
   */
  private leaveDeletedFile(err: Error): void {
    if (!REFUSED_AT_ACTIVE_NAME.has((err as NodeJS.ErrnoException).code ?? '') || this.fd === null || !hasNoName(this.fd)) return;
    this.countLinesOfDeletedFile();
    this.letGoOfNamelessFile();
  }

  /** Stop writing to the open file, which has no name left: the next lines wait for a file (see flushNow). */
  private letGoOfNamelessFile(): void {
    const fd = this.fd as number;
    this.fd = null;
    this.letGo(fd, this.ino);
  }

  /**
   * The open file was deleted (rm), or `how` (replaced by a file renamed over it): the lines written to it
   * since it was last seen under its name `went` (or 'may have gone') with it.
   */
  private countLinesOfDeletedFile(how = 'deleted', went = 'went', reason = 'file deleted'): void {
    const lines = this.linesSinceSeen;
    this.linesSinceSeen = 0;
    if (lines === 0) return;
    this.counters.droppedLines += lines;
    this.warn('DROPPED_LINES', `${this.path} was ${how}: ${lines} line(s) written to it since it was last seen under its name ${went} with it`, {
      lines,
      reason,
    });
  }

  /**
   * Whether `fd` is still open on the file `ino` (the open file, by default): code of the app's that closed
   * it (EBADF), and maybe opened another file that got its number, took it away. Another failing fstat
   * (EIO) says nothing about that.
   */
  private ownsDescriptor(fd: number, ino = this.ino): boolean {
    try {
      return fs.fstatSync(fd).ino === ino;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== 'EBADF';
    }
  }

  /**
   * The descriptor was closed behind this file's back: it is never written to, nor closed, again (its number
   * may be another file's by now), and the active file of the period is opened anew, as at start-up.
   */
  private descriptorLost(fd: number): void {
    this.fd = null;
    const tornHere = this.tornRest !== null && this.pending[this.head] === this.tornRest && (this.restFd === null || this.restFd === fd);
    // Writes that succeeded since the last check went to the file, or, after the close, to whatever file got
    // the number: counted as dropped (at most that many are lost).
    const lines = this.linesSinceSeen;
    this.linesSinceSeen = 0;
    this.counters.droppedLines += lines;
    this.warn(
      'DESCRIPTOR_LOST',
      `The descriptor ${fd} of ${this.path} was closed by other code (and its number may be another file's now); opening the file again. ` +
        `${lines} line(s) written since the last check may have gone to another file: counted as dropped`,
      { fd, lines },
    );
    // A line a short write cut in that descriptor is completed through a new one to the same file, if the
    // active name still holds it; else it cannot be: its end would begin another file.
    if (this.restFd === fd || tornHere) {
      this.restFd = tornHere ? this.reopenForTornLine() : null;
      this.restIno = this.ino;
    }
    this.flushNow();
  }

  /** Whether the state file names the file this process had open, in the period it had it for. */
  private stateStillNamesOpenFile(): boolean {
    const state = readStateQuietly(this.target.statePath);
    return state !== null && state.ino === this.ino && state.periodStart === this.period.start;
  }

  /**
   * A new descriptor of the file whose descriptor was lost, for the end of the line a short write cut in it:
   * only under the active name can it be found again. Not there (or failing to open), the end is dropped,
   * the line counted as dropped, and null returned.
   */
  private reopenForTornLine(): number | null {
    try {
      const opened = runSync(openExisting(this.path, this.ino));
      if (opened) return opened.fd;
    } catch {
      // Dropped below; the reopening of the active file that follows reports what is wrong with it.
    }
    this.dropTornEnd('a short write cut a line in a descriptor closed by other code', `Dropping a line a short write cut in ${this.path}: its descriptor was closed by other code and the file is not under its name any more`);
    return null;
  }

  private clearTimers(): void {
    for (const timer of [this.retryTimer, this.boundaryTimer, this.reopenTimer, this.publishTimer]) if (timer) clearTimeout(timer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.retryTimer = this.boundaryTimer = this.checkTimer = this.reopenTimer = this.publishTimer = null;
  }

  // ---------------------------------------------------------------------------------------------
  // Start-up, errors and warnings

  /**
   * mkdir -p the directory when asked. Refuse a path that lies under a file, and one that exists but is not a
   * regular file: a directory, a FIFO or device (a rotation would link and unlink it like a file), or a
   * symbolic link (writes would go through it until the first rotation archived the link itself, and a link
   * planted by whoever can write the directory would redirect the lines). Directories on the way may be links.
   */
  private prepareDirectory(): void {
    const { dir, path: file, mkdir } = this.options;
    const underFile = (): TimberlockOptionError =>
      new TimberlockOptionError('path', file, `a path whose parent ${dir} is a directory (part of it is a file)`);
    /** The path's own problems as an option error; when `making` the directory, any failure; else EIO and the like as they are. */
    const pathError = (err: unknown, making = false): unknown => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST') return underFile(); // a directory further up is a file
      if (code === 'ENAMETOOLONG') return new TimberlockOptionError('path', file, 'a path whose names are at most 255 bytes long, 4095 in all');
      if (code === 'ELOOP') return new TimberlockOptionError('path', file, `a path whose directory ${dir} is not a loop of symbolic links`);
      // Not allowed, or (making it) any other failure: a read-only file system, which Node reports as ENOENT …
      if (making || code === 'EACCES' || code === 'EPERM') {
        return new TimberlockOptionError('path', file, `a path whose directory ${dir} this process can ${making ? 'create' : 'reach'} (${(err as Error).message})`);
      }
      return err;
    };
    try {
      if (mkdir) fs.mkdirSync(dir, { recursive: true, mode: DIRECTORY_MODE });
    } catch (err) {
      throw pathError(err, true);
    }
    let parent: fs.Stats | undefined;
    let existing: fs.Stats | undefined;
    try {
      parent = fs.statSync(dir, { throwIfNoEntry: false });
      existing = fs.lstatSync(file, { throwIfNoEntry: false });
    } catch (err) {
      throw pathError(err);
    }
    if (!parent) throw new TimberlockOptionError('path', file, `a path in an existing directory (${dir} is missing and mkdir is false)`);
    if (!parent.isDirectory()) throw underFile();
    // The lock, the state file, archives and new files are made there: a directory that takes none of them
    // would hold every line back until fallbackMs at each boundary, then append them late, for ever.
    const unwritable = unwritableDirectory(dir);
    if (unwritable) {
      throw new TimberlockOptionError('path', file, `a path whose directory ${dir} this process can write to: the lock, the state and the archives are made there (${unwritable.message})`);
    }
    if (!existing || existing.isFile()) return;
    if (existing.isSymbolicLink()) {
      throw new TimberlockOptionError('path', file, `the path of a regular file, not a symbolic link (this one points to ${fs.readlinkSync(file)}); give the real path`);
    }
    if (existing.isDirectory()) throw new TimberlockOptionError('path', file, 'a file path, but it names a directory');
    throw new TimberlockOptionError('path', file, 'the path of a regular file, but it names a FIFO, socket or device');
  }

  /**
   * One 'error' per episode (until a write succeeds again); never crashes a process without listeners.
   * `outcome`: what becomes of the data, when it is not kept and retried (nor is the process ending).
   */
  private reportError(err: Error, operation: string, outcome?: string): void {
    this.counters.errors++;
    if (this.errorEpisode) return;
    this.errorEpisode = true;
    const then = outcome ?? (this.processEnding() ? null : 'data is kept and retried');
    const error = new TimberlockError(
      (err as NodeJS.ErrnoException).code ?? 'ERR_TIMBERLOCK_IO',
      `timberlock: ${operation} failed on ${this.path}: ${err.message}${then === null ? '' : `; ${then}`}`,
      { cause: err },
    );
    this.episodeError = error;
    this.tell(() => this.raiseError(error));
    for (const fail of this.flushFailures) this.tell(() => this.callSafely('flush callback', () => fail(error)));
  }

  /** Tell listeners what a maintenance run did: 'archive' per file, a 'warning' per problem. */
  private reportMaintenance(result: MaintenanceResult): void {
    this.telling(() => this.reportMaintenanceNow(result));
  }

  private reportMaintenanceNow(result: MaintenanceResult): void {
    const { dir } = this.options;
    for (const { from, to } of result.compressed) {
      const event: ArchiveEvent = { type: 'compressed', path: path.join(dir, to), from: path.join(dir, from) };
      this.tell(() => this.emitSafely('archive', event));
    }
    for (const name of result.removed) {
      const event: ArchiveEvent = { type: 'removed', path: path.join(dir, name) };
      this.tell(() => this.emitSafely('archive', event));
    }
    for (const error of result.errors) this.warn('ARCHIVE_ERROR', error.message, { code: error.code });
  }

  /**
   * No later turn of the event loop comes for this file: the process exits ('exit' is being emitted, or this
   * thread's exit flush ran), or it is about to die by a signal after this file's flush (endOfProcess).
   */
  private processEnding(): boolean {
    return this.ending || processExiting();
  }

  private raiseError(error: TimberlockError): void {
    // Node's pipe() and pipeline() take an 'error' of their destination as its end: they would stop the
    // source, or throw it when nobody else listens, for a failure this file retries. A 'warning' says it,
    // and a process warning when nobody listens for that.
    if (this.pipedIn > 0) {
      if (this.listenerCount('warning') === 0) emitAsProcessWarning(error, this.processEnding());
      this.warn('IO_ERROR', error.message, { code: error.code });
    } else if (this.listenerCount('error') > 0) this.emitSafely('error', error);
    else emitAsProcessWarning(error, this.processEnding());
  }

  /** Emit now, or, while the constructor runs (nobody can listen yet), on the next tick. */
  private notify(event: 'open' | 'rotate' | 'warning', payload: OpenEvent | RotateEvent | WarningEvent): void {
    this.tell(() => this.emitSafely(event, payload));
  }

  /**
   * Call the app's listeners. One that throws must not stop what this file was doing when it told them
   * (a rotation half adopted would leave the lines in memory and close() waiting): its error is thrown
   * again on the next tick, an uncaught exception like one thrown by a listener of a core stream. While the
   * process exits there is no next tick: the error is printed to stderr at once.
   */
  private emitSafely(event: string, ...args: unknown[]): void {
    this.callSafely(`'${event}' listener`, () => this.emit(event, ...args));
  }

  /**
   * Run the app's code (`what`: "a '<event>' listener", "flush callback"): what it throws is thrown again
   * on the next tick, out of the writer's way; while the process exits (no tick comes), printed.
   */
  private callSafely(what: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      if (exiting || this.ending) {
        printToStderr(`A ${what} of the timberlock file ${this.path} threw while the process exited: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        return;
      }
      process.nextTick(() => {
        throw err;
      });
    }
  }

  /**
   * Run `work`, then tell the events it raised: a listener never runs in the middle of it (one that
   * calls process.exit() would stop it half done: a rotation adopted but not counted nor told).
   */
  private telling(work: () => void): void {
    this.batching++;
    try {
      work();
    } finally {
      this.batching--;
    }
    this.deliverHeld();
  }

  /**
   * Raise an event: now, after any the constructor kept and any held back (see `held`); while the
   * constructor runs, keep it for the next tick.
   */
  private tell(deliver: () => void): void {
    if (this.constructing) {
      this.deferred?.push(deliver);
      return;
    }
    this.held.push(deliver);
    this.deliverDeferred();
  }

  /**
   * The constructor's events, then any held back, in order (see deliverHeld). At exit (`exit`) they may
   * not have had their tick yet: the process was told to exit in the constructor's.
   */
  private deliverDeferred(exit = false): boolean {
    const deferred = this.deferred ?? [];
    this.deferred = null;
    this.held.unshift(...deferred);
    return this.deliverHeld(exit);
  }

  /**
   * Deliver the events held back by a flush under way, or by the flush of every file at exit (see
   * `held`). True if there were any. A listener that writes or flushes comes back in here: the loop under
   * way delivers what follows, in order. `exit`: the exit flush delivers even then, because a listener
   * that called process.exit() is where that loop stopped, for good.
   */
  private deliverHeld(exit = false): boolean {
    if (this.flushing || this.batching > 0 || holdingEventsForExit() || this.held.length === 0) return false;
    if (this.deliveringHeld && !exit) return false;
    const outer = this.deliveringHeld;
    this.deliveringHeld = true;
    try {
      while (this.held.length > 0) (this.held.shift() as () => void)();
    } finally {
      this.deliveringHeld = outer;
    }
    return true;
  }

  /** `marker`: queue the line that says what the episode dropped (see queueDropMarker). */
  private endErrorEpisode(marker = true): void {
    this.errorEpisode = false;
    this.writesFailing = false;
    this.episodeError = null;
    this.errorDelay = ERROR_RETRY_MIN_MS;
    if (marker) this.queueDropMarker();
  }

  /** `ending`: the process ends next, whether or not it is exiting yet (see processEnding()). */
  private warn(code: string, message: string, details?: Record<string, unknown>, ending = this.processEnding()): void {
    const event: WarningEvent = { code, message, ...(details ? { details } : {}) };
    // Lines lost while the process ends, and nobody listens: no stats() can be read afterwards to tell.
    if (code === 'DROPPED_LINES' && this.listenerCount('warning') === 0 && ending) {
      this.tell(() => emitAsProcessWarning(event, true)); // in turn with the error told before it
    }
    this.notify('warning', event);
  }
}

/**
 * The `header` option as a function of the new file's period start, or null. A user function that
 * throws or returns a non-string gets the default line instead (the file must be created either way),
 * and `failed` is told what went wrong.
 */
function headerWriter(
  options: NormalizedOptions,
  identity: { hostname: string; pid: number },
  now: () => number,
  failed: (problem: string) => void,
): ((periodStart: number) => string) | null {
  const { header } = options;
  if (header === false) return null;
  return (periodStart) => {
    const info: HeaderInfo = { path: options.path, periodStart, createdAt: now(), ...identity };
    let line = `# timberlock ${options.name} period=${new Date(periodStart).toISOString()} created=${new Date(info.createdAt).toISOString()} pid=${info.pid} host=${info.hostname}`;
    if (typeof header === 'function') {
      try {
        const custom = header(info);
        if (typeof custom === 'string') line = custom;
        else failed(`returned ${describeValue(custom)}, not a string`);
      } catch (err) {
        failed(`threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return line.endsWith('\n') ? line : `${line}\n`;
  };
}

/** How many lines `bytes` ends: its newlines. */
function newlinesIn(bytes: Uint8Array): number {
  let lines = 0;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) lines++;
  return lines;
}

/** Encodings whose bytes hold 0x0A inside characters (U+0A00–U+0AFF, U+xx0A), where lines are cut. */
const WIDE_ENCODINGS = new Set(['utf16le', 'utf-16le', 'ucs2', 'ucs-2']);

/** `text` in `encoding`, as a Writable takes a string in one; TypeError for one whose bytes cannot be cut into lines. */
function encode(text: string, encoding: BufferEncoding): Buffer {
  if (typeof encoding === 'string' && WIDE_ENCODINGS.has(encoding.toLowerCase())) {
    throw new TypeError(
      `RotatingFile.write(chunk, encoding): encoding '${encoding}' is not supported: the file is cut into lines at each 0x0A byte, ` +
        'and UTF-16 has that byte inside characters. Allowed: utf8, ascii, latin1 (binary), base64, base64url, hex',
    );
  }
  return Buffer.from(text, encoding);
}

/** A chunk as a Buffer, without copying bytes it already has. */
export function toBuffer(chunk: Chunk | Buffer): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** The state file's contents, or null when it is missing or cannot be read (EIO, EACCES …). */
function readStateQuietly(statePath: string): RotationState | null {
  try {
    return readState(statePath);
  } catch {
    return null;
  }
}

/** The inode of `fd`, or 0 when fstat fails. */
function inodeOf(fd: number): number {
  try {
    return fs.fstatSync(fd).ino;
  } catch {
    return 0;
  }
}

/** The file open on `fd` has no name left (nlink 0): what is written to it is in no file. */
function hasNoName(fd: number): boolean {
  try {
    return fs.fstatSync(fd).nlink === 0;
  } catch {
    return false; // the write that follows reports what is wrong with the descriptor
  }
}

/**
 * Why this process cannot create files in `dir`, or null. access(2) answers for the real user and leaves
 * out capabilities (a container's non-root user with CAP_DAC_OVERRIDE): a refusal is checked by making a
 * directory there. A read-only file system is refused whoever asks.
 */
function unwritableDirectory(dir: string): Error | null {
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return err as Error;
    if (code !== 'EACCES' && code !== 'EPERM') return null; // EIO and the like: the first write reports them
  }
  try {
    fs.rmdirSync(fs.mkdtempSync(path.join(dir, '.timberlock-probe-')));
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? (err as Error) : null;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // The descriptor is ours and no longer used; a failing close (EBADF, EIO) changes nothing for the data.
  }
}

/** Create a {@link RotatingFile}. See its documentation for what it does on disk. */
export function createRotatingFile(options: RotatingFileOptions): RotatingFile {
  return new RotatingFile(options);
}
