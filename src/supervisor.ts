/**
 * stopChildren(): how a supervisor should stop its children — ONE signal each, a bounded wait, then
 * SIGKILL. The opposite of re-sending SIGTERM every few milliseconds, which re-enters a child's shutdown
 * handler over and over and, in the incident this library exists for, hung every worker.
 *
 * Per child, step by step:
 * 1. watch  — listen for its 'exit' (a child that has already exited is reported as such, untouched).
 * 2. signal — send `signal` once (cluster workers: to `worker.process`, without worker.kill()'s
 *             disconnect-first dance).
 * 3. wait   — up to `timeoutMs` for the exit.
 * 4. kill   — still running: SIGKILL, then wait up to `timeoutMs` again (at least 1 s); a child that survives even that
 *             (stuck in the kernel) is reported as 'unresponsive' rather than waited for forever.
 */
import { ChildProcess } from 'node:child_process';
import type { Worker as ClusterWorker } from 'node:cluster';
import os from 'node:os';
import { TimberlockOptionError } from './errors.js';

/** A child process, or a cluster worker (its `process` is signalled). */
export type StoppableChild = ChildProcess | ClusterWorker;

/** Options of {@link stopChildren}. */
export interface StopChildrenOptions {
  /** The one signal each child gets. Default 'SIGTERM'. */
  signal?: NodeJS.Signals | undefined;
  /** How long each child may take to exit before it is sent SIGKILL. Default 5000. */
  timeoutMs?: number | undefined;
}

/** How one child ended. */
export interface ChildOutcome {
  /** The child as it was passed in. */
  child: StoppableChild;
  pid: number | undefined;
  /**
   * 'exited': it exited after the one signal. 'killed': it was still running after `timeoutMs` and the
   * SIGKILL escalation ended it. 'already-exited': it had exited before (nothing was sent).
   * 'unresponsive': it was still running `timeoutMs` after the SIGKILL.
   */
  result: 'exited' | 'killed' | 'already-exited' | 'unresponsive';
  /** Exit code, or null when it died by a signal (or has not exited). */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: NodeJS.Signals | null;
  /** Signals sent by stopChildren: 0, 1, or 2 with the escalation. */
  signalsSent: number;
  /** Milliseconds from the signal to the exit; 0 for 'already-exited', null for 'unresponsive'. */
  elapsedMs: number | null;
}

const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Shortest wait for the exit after SIGKILL, so that `timeoutMs: 0` does not call every child unresponsive. */
const MIN_KILL_WAIT_MS = 1000;

/**
 * Stop `children` (child processes or cluster workers) concurrently: each gets ONE `signal`, then up to
 * `timeoutMs` to exit, then SIGKILL. Resolves with one {@link ChildOutcome} per child, in the order
 * given; never rejects. Throws TimberlockOptionError (ERR_TIMBERLOCK_OPTION) at once for an invalid
 * argument. Touches no file.
 */
export function stopChildren(
  children: readonly StoppableChild[],
  options: StopChildrenOptions = {},
): Promise<ChildOutcome[]> {
  const { signal, timeoutMs } = normalizeStopOptions(options);
  if (!Array.isArray(children)) {
    throw new TimberlockOptionError('children', children, 'an array of ChildProcess objects or cluster workers');
  }
  const processes = children.map((child, index) => {
    const proc = processOf(child);
    if (!proc) {
      throw new TimberlockOptionError(`children[${index}]`, child, 'a ChildProcess (child_process) or a cluster Worker');
    }
    return proc;
  });
  // A child given twice gets its one signal all the same: both entries share its outcome.
  const stopping = new Map<ChildProcess, Promise<ChildOutcome>>();
  return Promise.all(
    processes.map((proc, index) => {
      const child = children[index] as StoppableChild;
      const stopped = stopping.get(proc);
      if (stopped) return stopped.then((outcome) => ({ ...outcome, child }));
      const outcome = stopOne(child, proc, signal, timeoutMs);
      stopping.set(proc, outcome);
      return outcome;
    }),
  );
}

/**
 * `proc.kill(signal)`, which reports a signal the system refuses (EPERM: the child changed its user) as an
 * 'error' event on the child, and cluster re-emits it on the worker: with no listener on either, that would
 * throw in the caller, or in a timer here. The child then exits on its own or is reported 'unresponsive'.
 */
function sendSignal(child: StoppableChild, proc: ChildProcess, signal: NodeJS.Signals): void {
  const refused = (): void => {};
  const emitters = child === proc ? [proc] : [proc, child];
  for (const emitter of emitters) emitter.on('error', refused);
  try {
    proc.kill(signal);
  } finally {
    for (const emitter of emitters) emitter.removeListener('error', refused);
  }
}

function stopOne(child: StoppableChild, proc: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<ChildOutcome> {
  const outcome: ChildOutcome = { child, pid: proc.pid, result: 'already-exited', code: null, signal: null, signalsSent: 0, elapsedMs: 0 };
  // Step 1: watch.
  if (hasExited(proc)) {
    outcome.code = proc.exitCode;
    outcome.signal = proc.signalCode;
    return Promise.resolve(outcome);
  }
  return new Promise((resolve) => {
    let started = 0;
    let timer: NodeJS.Timeout | null = null;
    const onExit = (code: number | null, exitSignal: NodeJS.Signals | null): void => {
      if (timer) clearTimeout(timer);
      outcome.code = code;
      outcome.signal = exitSignal;
      // After the escalation, only a death by SIGKILL counts as killed: it may have made it on its own.
      if (outcome.signalsSent === 2 && exitSignal !== 'SIGKILL') outcome.result = 'exited';
      outcome.elapsedMs = Math.round(performance.now() - started);
      resolve(outcome);
    };
    proc.once('exit', onExit);
    // Step 2: signal. A failed kill (ESRCH: it is exiting right now) still ends with 'exit'.
    started = performance.now();
    outcome.result = 'exited';
    outcome.signalsSent = 1;
    sendSignal(child, proc, signal);
    // Step 3: wait; step 4: kill.
    timer = setTimeout(() => {
      outcome.result = 'killed';
      outcome.signalsSent = 2;
      sendSignal(child, proc, 'SIGKILL');
      timer = setTimeout(() => {
        proc.removeListener('exit', onExit);
        outcome.result = 'unresponsive';
        outcome.elapsedMs = null;
        resolve(outcome);
      }, Math.max(timeoutMs, MIN_KILL_WAIT_MS));
    }, timeoutMs);
  });
}

function hasExited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined;
}

/** The ChildProcess behind a child or cluster worker, or null for anything else. */
function processOf(child: unknown): ChildProcess | null {
  if (child instanceof ChildProcess) return child;
  const inner = (child as { process?: unknown } | null)?.process;
  return inner instanceof ChildProcess ? inner : null;
}

function normalizeStopOptions(input: unknown): { signal: NodeJS.Signals; timeoutMs: number } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TimberlockOptionError('options', input, 'an object with signal and/or timeoutMs');
  }
  const options = input as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (key !== 'signal' && key !== 'timeoutMs') {
      throw new TimberlockOptionError(key, options[key], 'one of the stopChildren options: signal, timeoutMs');
    }
  }
  const { signal = 'SIGTERM', timeoutMs = 5000 } = options;
  if (typeof signal !== 'string' || !Object.hasOwn(os.constants.signals, signal)) {
    throw new TimberlockOptionError('signal', signal, 'a signal name such as SIGTERM, SIGINT or SIGHUP (see os.constants.signals)');
  }
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new TimberlockOptionError('timeoutMs', timeoutMs, `an integer number of milliseconds from 0 to ${MAX_TIMEOUT_MS}`);
  }
  return { signal: signal as NodeJS.Signals, timeoutMs };
}
