/**
 * Runs test/fixtures/stress-writer.mjs processes for the stress, shipper and logrotate tests: forks them,
 * starts them at one instant, lets the test act while they write (send signals, move files), and collects
 * their results. Real processes, bounded in time; killWriters() (call it in afterEach) SIGKILLs any
 * still running.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReportedRotate } from './verify.js';
import { killAndWait } from './child.js';

const WRITER_SCRIPT = fileURLToPath(new URL('../fixtures/stress-writer.mjs', import.meta.url));

/** The config of one stress writer (see the comment at the top of stress-writer.mjs). */
export interface WriterConfig {
  path: string;
  writer: string;
  lines: number;
  frequency: number | string;
  timeZone: string;
  options?: Record<string, unknown>;
  paceEvery?: number;
  paceMs?: number;
  spanMs?: number;
  reopenOnSighup?: boolean;
  /** Checker self-test: drop or duplicate a share (`faultRate`) of the lines on purpose. */
  fault?: null | 'drop' | 'dup';
  faultRate?: number;
  /** Absolute path of another build of the library (default: dist/index.js). */
  module?: string;
}

/** What a writer reports after close(). */
export interface WriterResult {
  writer: string;
  pid: number;
  written: number;
  /** How many times write() returned false and the writer waited for 'drain'. */
  drains: number;
  startedAt: number;
  writesDoneAt: number;
  closedAt: number;
  rotates: (ReportedRotate & { at: number })[];
  opens: { ino: number; periodStart: number; at: number }[];
  sighups: number[];
  /** The longest the writer's event loop was late for a timer, from 'go' to close(). */
  maxLoopDelayMs: number;
  stats: Record<string, number>;
  warnings: { code: string; message: string; details?: unknown; at: number }[];
  errors: { name?: string; code?: string; message: string; at: number }[];
}

export interface WritersOutcome {
  results: WriterResult[];
  /** One paragraph per writer that exited non-zero or sent no result. */
  failures: string[];
  /** Every rotate event of every writer, tagged with the writer. */
  rotates: ReportedRotate[];
  /** Per writer: the last 20,000 characters it printed on stderr. */
  stderr: Record<string, string>;
  /** Date.now() when 'go' was sent. */
  goAt: number;
  /** From 'go' to the last close(). */
  durationMs: number;
  /** From fork to 'go' (loading node and the library). */
  startupMs: number;
  /** Per writer: from its result (sent right after close() resolved) to its exit. */
  exitLagMs: Record<string, number>;
}

/** A started run: `started` resolves at 'go' with the writers' pids, `finished` when all have exited. */
export interface WritersRun {
  started: Promise<{ pids: number[]; goAt: number }>;
  finished: Promise<WritersOutcome>;
}

const live = new Set<ChildProcess>();

/** SIGKILL every writer still running and wait for their exits. */
export async function killWriters(): Promise<void> {
  await killAndWait(live);
}

/**
 * Fork one writer per config, wait until every one has loaded the library, send 'go' to all at once.
 * `finished` rejects (with each child's state) when they are not all done within deadlineMs.
 */
export function startWriters(configs: WriterConfig[], deadlineMs: number): WritersRun {
  interface Tracked {
    config: WriterConfig;
    child: ChildProcess;
    stderr: string;
    ready: boolean;
    result: WriterResult | null;
    exit: { code: number | null; signal: NodeJS.Signals | null } | null;
    resultAt: number;
    exitAt: number;
  }
  const forkedAt = Date.now();
  const tracked: Tracked[] = configs.map((config) => {
    const child = fork(WRITER_SCRIPT, [JSON.stringify(config)], {
      execPath: process.execPath,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    live.add(child);
    const t: Tracked = { config, child, stderr: '', ready: false, result: null, exit: null, resultAt: 0, exitAt: 0 };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      t.stderr = (t.stderr + chunk).slice(-20_000);
    });
    return t;
  });
  const describeChild = (t: Tracked): string =>
    `${t.config.writer}: ready=${t.ready} result=${t.result !== null} exit=${JSON.stringify(t.exit)}` +
    (t.stderr ? ` stderr=${JSON.stringify(t.stderr.slice(-1500))}` : '');

  let goAt = 0;
  let announceStart: (value: { pids: number[]; goAt: number }) => void = () => undefined;
  let refuseStart: (err: Error) => void = () => undefined;
  const started = new Promise<{ pids: number[]; goAt: number }>((resolve, reject) => {
    announceStart = resolve;
    refuseStart = reject;
  });
  const finished = new Promise<WritersOutcome>((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new Error(`writers not done within ${deadlineMs} ms\n${tracked.map(describeChild).join('\n')}`);
      refuseStart(err);
      reject(err);
    }, deadlineMs);
    const check = (): void => {
      if (goAt === 0 && tracked.every((t) => t.ready || t.exit !== null)) {
        goAt = Date.now();
        for (const t of tracked) if (t.exit === null && t.child.connected) t.child.send({ type: 'go' });
        announceStart({ pids: tracked.map((t) => t.child.pid ?? 0), goAt });
      }
      if (!tracked.every((t) => t.exit !== null)) return;
      clearTimeout(timer);
      const results = tracked.flatMap((t) => (t.result ? [t.result] : []));
      resolve({
        results,
        failures: tracked.filter((t) => t.exit?.code !== 0 || t.result === null).map(describeChild),
        rotates: results.flatMap((r) => r.rotates.map((e) => ({ ...e, writer: r.writer }))),
        stderr: Object.fromEntries(tracked.map((t) => [t.config.writer, t.stderr])),
        goAt,
        durationMs: Math.max(goAt, ...results.map((r) => r.closedAt)) - goAt,
        startupMs: goAt - forkedAt,
        exitLagMs: Object.fromEntries(tracked.filter((t) => t.resultAt > 0).map((t) => [t.config.writer, t.exitAt - t.resultAt])),
      });
    };
    for (const t of tracked) {
      t.child.on('message', (msg: { type?: string; result?: WriterResult }) => {
        if (msg.type === 'ready') t.ready = true;
        if (msg.type === 'result' && msg.result) {
          t.result = msg.result;
          t.resultAt = Date.now();
        }
        check();
      });
      t.child.on('exit', (code, signal) => {
        t.exit = { code, signal };
        t.exitAt = Date.now();
        live.delete(t.child);
        check();
      });
      t.child.on('error', (err) => {
        t.stderr += `\nspawn error: ${err.message}`;
      });
    }
  });
  // A test that only awaits `finished` must not see an unhandled rejection of `started`.
  started.catch(() => undefined);
  return { started, finished };
}

/** Sum of one stats() counter over all writers. */
export function sumStat(results: WriterResult[], stat: string): number {
  return results.reduce((n, r) => n + (r.stats[stat] ?? 0), 0);
}

/** The writers' library errors and warnings, one per line, for the log of a run. */
export function incidents(results: WriterResult[]): string {
  return results
    .flatMap((r) => [
      ...r.errors.map((e) => `${r.writer} error ${e.code ?? e.name ?? ''}: ${e.message}`),
      ...r.warnings.map((w) => `${r.writer} warning ${w.code}: ${w.message}`),
    ])
    .slice(0, 20)
    .join('\n');
}
