/**
 * handleSignals(): opt-in, one-shot graceful shutdown on SIGTERM/SIGINT.
 *
 * The sequence, run once per process, on the first signal (what each step does to the disk):
 * 1. begin  — record the signal; arm the timeout (a timer that keeps the process alive until it fires).
 * 2. hook   — call `onSignal(signal)` inside the signal context: lines written by its synchronous part go
 *             to the signal buffer (memory only) and are handed to their files as soon as it returns.
 *             When it returns a promise, the rest of it runs as ordinary code: a rotation never waits
 *             for a lock, so nothing it awaits can be stuck behind a lock of ours.
 * 3. wait   — for that promise, then for the rotations under way (off the event loop) to finish and for
 *             archive maintenance to stop (a compression under way stops between two chunks), at most
 *             `timeoutMs` after the signal in all.
 * 4. flush  — drain the signal buffer and write every open file synchronously (lines waiting for a
 *             rotation another process is doing go to the previous file, counted as late).
 * 5. exit   — process.exit(exitCode): proper-lockfile's exit handler removes any lock directory this
 *             process still holds (e.g. the archive lock of a compression the timeout cut short).
 * Every later signal is counted and passed to `onRepeat`; none runs any step again.
 */
import os from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { describeValue, printToStderr, TimberlockError, TimberlockOptionError } from './errors.js';
import {
  DEFAULT_SIGNAL_BUFFER_BYTES,
  endSignalContextForExit,
  flushAllTargets,
  reserveSignalBuffer,
  settledForExit,
  runInSignalContext,
} from './signal-context.js';

/** Signals handleSignals() can handle. SIGUSR1 is Node's debugger signal; SIGKILL and SIGSTOP cannot be caught. */
export type ShutdownSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGQUIT' | 'SIGUSR2';

const SHUTDOWN_SIGNALS: readonly ShutdownSignal[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];
const KNOWN_OPTIONS = ['signals', 'timeoutMs', 'onSignal', 'onRepeat', 'exitCode', 'bufferBytes'] as const;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Sizes SignalBuffer.create accepts. */
const MIN_BUFFER_BYTES = 64;
const MAX_BUFFER_BYTES = 2 ** 30;

/** Options of {@link handleSignals}. */
export interface HandleSignalsOptions {
  /** Signals that start the shutdown. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly ShutdownSignal[] | undefined;
  /** How long `onSignal` may take (from the signal) before the process exits anyway. Default 5000. */
  timeoutMs?: number | undefined;
  /**
   * Your shutdown work, run once, for the first signal: close the HTTP server, log 'bye'. May return a
   * promise. Lines written by its synchronous part go to the signal buffer first. If it throws, rejects
   * or is still running after `timeoutMs`, that is printed to stderr and the process exits all the same.
   */
  onSignal?: ((signal: ShutdownSignal) => void | Promise<void>) | undefined;
  /**
   * Called for every further signal while the shutdown runs, with how many have come so far (1 for the
   * first repeat). Runs inside the signal context, so it may log. Never starts anything again.
   */
  onRepeat?: ((signal: ShutdownSignal, count: number) => void) | undefined;
  /** Exit status. Default 128 + the signal's number: 143 for SIGTERM, 130 for SIGINT. */
  exitCode?: number | undefined;
  /** Capacity of the signal buffer, allocated now. Default 1 MiB. */
  bufferBytes?: number | undefined;
}

interface ShutdownConfig {
  signals: readonly ShutdownSignal[];
  timeoutMs: number;
  onSignal: ((signal: ShutdownSignal) => void | Promise<void>) | null;
  onRepeat: ((signal: ShutdownSignal, count: number) => void) | null;
  exitCode: number | null;
  bufferBytes: number;
}

let installed: Shutdown | null = null;

/**
 * Install a one-shot graceful shutdown for `signals` (default SIGTERM and SIGINT) and return the function
 * that uninstalls it. On the first signal: run `onSignal` (inside the signal context, bounded by
 * `timeoutMs`), flush every open file and the signal buffer synchronously, exit with 128 + the signal's
 * number (or `exitCode`). Further signals are counted and passed to `onRepeat`, never re-run anything.
 *
 * Its listeners are ordinary `process.on()` listeners: listeners of your own still run too, and
 * signal-exit's (installed by proper-lockfile) stand aside because a listener exists; the exit through
 * process.exit() still runs their lock cleanup. Once a shutdown has begun, uninstalling does nothing.
 *
 * Throws TimberlockOptionError (ERR_TIMBERLOCK_OPTION) for an invalid option; TimberlockError
 * ERR_TIMBERLOCK_SIGNALS_HANDLED when it is already installed, ERR_TIMBERLOCK_NOT_MAIN_THREAD in a
 * worker thread (signals never reach those).
 */
export function handleSignals(options: HandleSignalsOptions = {}): () => void {
  const config = normalizeShutdownOptions(options);
  if (!isMainThread) {
    throw new TimberlockError(
      'ERR_TIMBERLOCK_NOT_MAIN_THREAD',
      'handleSignals() must be called in the main thread: process signals are never delivered to worker threads',
    );
  }
  if (installed) {
    throw new TimberlockError(
      'ERR_TIMBERLOCK_SIGNALS_HANDLED',
      `handleSignals() is already installed (for ${installed.config.signals.join(', ')}); call the uninstall function it returned first`,
    );
  }
  reserveSignalBuffer(config.bufferBytes);
  const shutdown = new Shutdown(config);
  installed = shutdown;
  shutdown.install();
  return () => {
    if (installed !== shutdown || shutdown.phase !== 'idle') return;
    shutdown.uninstall();
    installed = null;
  };
}

/** One installed shutdown: its listeners and the progress of the sequence. */
class Shutdown {
  phase: 'idle' | 'running' | 'exiting' = 'idle';
  private first: ShutdownSignal | null = null;
  private repeats = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The hook has returned or settled: what remains of step 3 is waiting for rotations. */
  private hookSettled = false;
  /** Why the hook did not end normally (it threw or rejected), once it has settled. */
  private hookProblem: string | null = null;
  /**
   * One listener per signal, which knows its signal: `process.emit('SIGTERM')` from code (readline's
   * SIGINT passed on, say) gives listeners no argument.
   */
  private readonly listeners: ReadonlyMap<ShutdownSignal, () => void>;
  private readonly exitListener = (): void => this.onExit();

  constructor(readonly config: ShutdownConfig) {
    this.listeners = new Map(config.signals.map((signal) => [signal, () => this.onSignal(signal)]));
  }

  install(): void {
    for (const [signal, listener] of this.listeners) process.on(signal, listener);
    process.on('exit', this.exitListener);
  }

  uninstall(): void {
    for (const [signal, listener] of this.listeners) process.removeListener(signal, listener);
    process.removeListener('exit', this.exitListener);
  }

  private onSignal(signal: ShutdownSignal): void {
    if (this.phase !== 'idle') {
      this.repeat(signal);
      return;
    }
    // Step 1: begin.
    this.phase = 'running';
    this.first = signal;
    this.timer = setTimeout(() => {
      const what = this.hookSettled
        ? `${this.hookProblem ? `${this.hookProblem}, and ` : ''}the rotations under way did not finish, or archive maintenance did not stop,`
        : `onSignal(${signal}) did not settle`;
      this.finish(`${what} within ${this.config.timeoutMs} ms`);
    }, this.config.timeoutMs);
    // Step 2: hook.
    let pending: PromiseLike<void> | undefined;
    try {
      const result = runInSignalContext(() => this.config.onSignal?.(signal));
      if (isThenable(result)) pending = result;
    } catch (err) {
      // Like a rejection: rotations under way finish first.
      this.afterRotations(`onSignal(${signal}) threw: ${errorText(err)}`);
      return;
    }
    // Step 3: wait (the timer above bounds it).
    if (!pending) {
      this.afterRotations(null);
      return;
    }
    pending.then(
      () => this.afterRotations(null),
      (err: unknown) => this.afterRotations(`onSignal(${signal}) rejected: ${errorText(err)}`),
    );
  }

  /** End of step 3: let rotations under way finish and maintenance stop (the timer still bounds it), then steps 4 and 5. */
  private afterRotations(problem: string | null): void {
    this.hookSettled = true;
    this.hookProblem = problem;
    void settledForExit().then(() => this.finish(problem));
  }

  private repeat(signal: ShutdownSignal): void {
    this.repeats++;
    const onRepeat = this.config.onRepeat;
    if (!onRepeat) return;
    try {
      runInSignalContext(() => onRepeat(signal, this.repeats));
    } catch (err) {
      report(`onRepeat(${signal}, ${this.repeats}) threw: ${errorText(err)}`);
    }
  }

  /** Steps 4 and 5. `problem`: why the hook did not end normally, printed to stderr. */
  private finish(problem: string | null): void {
    if (this.phase === 'exiting') return;
    this.phase = 'exiting';
    if (this.timer) clearTimeout(this.timer);
    const signal = this.first as ShutdownSignal;
    const code = this.config.exitCode ?? 128 + (os.constants.signals[signal] as number);
    if (problem) report(`${problem}; exiting with status ${code}`);
    if (this.repeats > 0) {
      report(`${this.repeats} more signal(s) arrived while shutting down after ${signal}; they were counted and ignored`);
    }
    flushAllTargets();
    process.exit(code);
  }

  /** 'exit' by any path (the hook calling process.exit() itself, too): nothing may stay in the signal buffer. */
  private onExit(): void {
    endSignalContextForExit();
    flushAllTargets();
  }
}

/** One line on stderr, written synchronously: the process is about to exit. */
function report(message: string): void {
  printToStderr(`timberlock: ${message}\n`);
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : describeValue(err);
}

function isThenable(value: unknown): value is PromiseLike<void> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** `signals`: a non-empty array of distinct names from SHUTDOWN_SIGNALS. */
function checkSignals(signals: unknown): asserts signals is ShutdownSignal[] {
  const allowed = `a non-empty array of distinct signal names from ${SHUTDOWN_SIGNALS.join(', ')}`;
  if (!Array.isArray(signals) || signals.length === 0) throw new TimberlockOptionError('signals', signals, allowed);
  // Every index, holes of a sparse array included (forEach would skip them).
  for (let index = 0; index < signals.length; index++) {
    const signal: unknown = signals[index];
    if (!(SHUTDOWN_SIGNALS as readonly unknown[]).includes(signal) || signals.indexOf(signal) !== index) {
      throw new TimberlockOptionError(`signals[${index}]`, signal, allowed);
    }
  }
}

/** Check every option once; throws TimberlockOptionError naming the option, the value and what is allowed. */
function normalizeShutdownOptions(input: unknown): ShutdownConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TimberlockOptionError('options', input, 'an object with any of ' + KNOWN_OPTIONS.join(', '));
  }
  const options = input as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!(KNOWN_OPTIONS as readonly string[]).includes(key)) {
      throw new TimberlockOptionError(key, options[key], `one of the handleSignals options: ${KNOWN_OPTIONS.join(', ')}`);
    }
  }
  const {
    signals = ['SIGTERM', 'SIGINT'],
    timeoutMs = 5000,
    onSignal,
    onRepeat,
    exitCode,
    bufferBytes = DEFAULT_SIGNAL_BUFFER_BYTES,
  } = options;
  checkSignals(signals);
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new TimberlockOptionError('timeoutMs', timeoutMs, `an integer number of milliseconds from 0 to ${MAX_TIMEOUT_MS}`);
  }
  if (onSignal !== undefined && typeof onSignal !== 'function') {
    throw new TimberlockOptionError('onSignal', onSignal, 'a function (signal) => void | Promise<void>');
  }
  if (onRepeat !== undefined && typeof onRepeat !== 'function') {
    throw new TimberlockOptionError('onRepeat', onRepeat, 'a function (signal, count) => void');
  }
  if (exitCode !== undefined && (typeof exitCode !== 'number' || !Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255)) {
    throw new TimberlockOptionError('exitCode', exitCode, 'an integer exit status from 0 to 255');
  }
  if (
    typeof bufferBytes !== 'number' ||
    !Number.isInteger(bufferBytes) ||
    bufferBytes < MIN_BUFFER_BYTES ||
    bufferBytes > MAX_BUFFER_BYTES ||
    bufferBytes % 8 !== 0
  ) {
    throw new TimberlockOptionError('bufferBytes', bufferBytes, 'an integer number of bytes from 64 to 2^30 that is a multiple of 8');
  }
  return {
    signals: [...signals], // a copy: the caller changing its array cannot change which listeners go
    timeoutMs,
    onSignal: (onSignal as ShutdownConfig['onSignal']) ?? null,
    onRepeat: (onRepeat as ShutdownConfig['onRepeat']) ?? null,
    exitCode: (exitCode as number | undefined) ?? null,
    bufferBytes,
  };
}
