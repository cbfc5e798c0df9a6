/**
 * The flush before a default death by signal: when the app has no listener of its own for SIGTERM,
 * SIGINT, SIGHUP or another of {@link DEFAULT_FLUSH_SIGNALS}, the signal still kills the process as before (death by that signal, status
 * 128 + n in a shell), but every open file is flushed synchronously first.
 *
 * Why a listener is needed at all: proper-lockfile loads signal-exit (v3), which listens to these
 * signals and, when its listeners are the only ones, runs its exit handlers (removing lock directories)
 * and re-raises the signal. process.on('exit') does not run on that path, so lines still in memory
 * would be lost.
 *
 * How it coexists:
 * - Our listener is prepended, so it sees the listener list as Node found it when the signal came
 *   (a `process.once()` listener of the app has not removed itself yet).
 * - "Other listeners" are all listeners but ours and signal-exit's. Ours: those of every loaded copy of
 *   timberlock (its ESM and CommonJS builds are two module instances when an app loads both, and two
 *   versions may be installed), each marked with {@link OURS}. A copy that counted another's as the app's
 *   stood aside, as the other did, and the process lived on. Signal-exit's: one per loaded copy of signal-exit 3
 *   (counted in `process.__signal_exit_emitter__.count`) and of signal-exit 4 (counted in
 *   `globalThis[Symbol.for('signal-exit emitter')].count`), as signal-exit itself counts them. If there is
 *   any, the app decides what the signal means: we do nothing at all. (Counting signal-exit 4's listener
 *   as the app's would leave the process alive: signal-exit 4 and 3 each wait while another listener is
 *   there, and ours would wait for them.)
 * - Otherwise: flush, remove our listeners, emit the signal again synchronously so that signal-exit
 *   sees itself alone and does what it does without us (remove lock directories, re-raise); another
 *   copy's listener, still there, flushes that copy's files first and does the same. If nothing
 *   ended the process by then (no signal-exit loaded), re-raise the signal ourselves: with no listener
 *   left, Node's default action applies.
 *
 * Armed only while at least one RotatingFile is open (signal-context.ts arms and disarms it).
 */

/**
 * Signals whose default action ends the process, that something outside sends to stop one, and that
 * signal-exit (loaded by proper-lockfile) listens to, re-raising them after its cleanup: a service manager
 * or a terminal (SIGTERM, SIGINT, SIGHUP, SIGQUIT), nodemon's restart (SIGUSR2), CPU and timer limits
 * (SIGXCPU, SIGALRM, SIGVTALRM), a UPS daemon (SIGPWR), `kill -ABRT`. Not SIGXFSZ: a write past the file
 * size limit raises it, and the flush would write again. Per platform, only signals signal-exit 3 and 4
 * both listen to there (otherSignalListeners counts on that): SIGPWR on Linux, the first three on Windows.
 */
export const DEFAULT_FLUSH_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  ...(process.platform === 'win32' ? [] : (['SIGQUIT', 'SIGUSR2', 'SIGXCPU', 'SIGALRM', 'SIGVTALRM', 'SIGABRT'] as const)),
  ...(process.platform === 'linux' ? (['SIGPWR'] as const) : []),
];

interface SignalExitEmitter {
  count?: unknown;
}

/** How many signal listeners the loaded copies of signal-exit 3 and 4 have installed. */
function signalExitListeners(): number {
  const v3 = (process as unknown as { __signal_exit_emitter__?: SignalExitEmitter }).__signal_exit_emitter__;
  const v4 = (globalThis as Record<symbol, SignalExitEmitter | undefined>)[Symbol.for('signal-exit emitter')];
  return [v3?.count, v4?.count].reduce<number>((sum, count) => sum + (typeof count === 'number' ? count : 0), 0);
}

/** Marks the signal listener of each loaded copy of timberlock (see "Other listeners" above). */
const OURS = Symbol.for('timberlock.defaultSignalFlush');

let flushAll: (() => void) | null = null;

/**
 * Our listener of each signal, which knows its signal: `process.emit('SIGTERM')` from code (readline's
 * SIGINT passed on, say) gives listeners no argument.
 */
const listeners: ReadonlyMap<NodeJS.Signals, () => void> = new Map(
  DEFAULT_FLUSH_SIGNALS.map((signal) => [signal, Object.assign(() => onDefaultSignal(signal), { [OURS]: true })]),
);

/** Start flushing with `flush` before a default death by one of {@link DEFAULT_FLUSH_SIGNALS}. */
export function armDefaultSignalFlush(flush: () => void): void {
  if (flushAll) return;
  flushAll = flush;
  for (const [signal, listener] of listeners) process.prependListener(signal, listener);
}

/** Remove our listeners again. */
export function disarmDefaultSignalFlush(): void {
  if (!flushAll) return;
  flushAll = null;
  for (const [signal, listener] of listeners) process.removeListener(signal, listener);
}

/** Listeners of `signal` other than ours and signal-exit's: the app's own (handleSignals counts as one). */
export function otherSignalListeners(signal: NodeJS.Signals): number {
  const all = process.listeners(signal);
  const ours = all.filter((listener) => (listener as { [OURS]?: boolean })[OURS] === true).length;
  return Math.max(0, all.length - ours - signalExitListeners());
}

function onDefaultSignal(signal: NodeJS.Signals): void {
  if (otherSignalListeners(signal) > 0) return; // the app handles this signal: not ours to decide
  const flush = flushAll;
  disarmDefaultSignalFlush();
  try {
    flush?.();
  } finally {
    // The process is dying by this signal either way. First let signal-exit run alone (lock cleanup,
    // re-raise); if it is not loaded, nobody listens any more and the re-raise below takes the default action.
    process.emit(signal as 'SIGTERM', signal);
    process.kill(process.pid, signal);
  }
}
