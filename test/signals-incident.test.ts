/**
 * The incident this library exists for, as a regression test. A cluster primary (this test process) runs
 * 4 workers (test/fixtures/signal-cluster-worker.mjs, against dist/) that log as fast as they can to one
 * file rotating every 200 ms. The primary then behaves like the broken supervisor: it re-sends SIGTERM to
 * every live worker every 10 ms, starting right after a boundary, while rotations are under way.
 *
 * Required of every variant: every worker exits within 2 s of its first signal; every line logged before
 * the exit (the handler's too) is on disk exactly once and whole; no lock directory or temp file is left.
 * With handleSignals() (and stopChildren()) the rotations under way finish first, so the state file is
 * valid and no file is under two names. A naive handler's process.exit() and a death by signal without a
 * handler end the process at once, possibly between two steps of a rotation, as a crash would: there the
 * next process that opens the file (a restarted worker) must find and repair that, which the test checks
 * by opening it once. Variants: handleSignals(), a naive process.on('SIGTERM') handler, no handler at all
 * — and a primary that uses stopChildren() instead (all stop, none needs the SIGKILL).
 */
import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createRotatingFile, stopChildren } from '../src/index.js';

const WORKER = fileURLToPath(new URL('./fixtures/signal-cluster-worker.mjs', import.meta.url));
const WORKERS = 4;
const PERIOD_MS = 200;
const EXIT_LIMIT_MS = 2000;
/** How long a worker gets in all before the test SIGKILLs it and fails. */
const HARD_DEADLINE_MS = 8000;

type Mode = 'handle' | 'naive' | 'none';

interface WorkerRun {
  worker: Worker;
  writer: string;
  pid: number;
  stderr: string;
  firstSignalAt: number | null;
  exitedAt: number | null;
  signalsSent: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  exited: Promise<void>;
}

const roots: string[] = [];
const started: Worker[] = [];

afterEach(() => {
  for (const worker of started.splice(0)) {
    if (worker.process.exitCode === null && worker.process.signalCode === null) worker.process.kill('SIGKILL');
  }
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

function payloadFor(writer: string, seq: number): string {
  return `${writer}-${seq}-`.repeat(1 + (seq % 7));
}

/**
 * Fork the workers and resolve once each has seen three 'rotate' events, two of them rotations of a period
 * with lines (so rotations are constantly happening).
 */
async function startWorkers(root: string, mode: Mode): Promise<WorkerRun[]> {
  const logDir = path.join(root, 'logs');
  const progressDir = path.join(root, 'progress');
  fs.mkdirSync(logDir);
  fs.mkdirSync(progressDir);
  cluster.setupPrimary({ exec: WORKER, silent: true });
  const runs: WorkerRun[] = [];
  const ready: Promise<void>[] = [];
  for (let i = 0; i < WORKERS; i++) {
    const worker = cluster.fork({ SIGNAL_WORKER: JSON.stringify({ logDir, progressDir, mode, hookMs: 100 }) });
    started.push(worker);
    const run = { worker, writer: '', pid: worker.process.pid ?? -1, stderr: '', firstSignalAt: null, exitedAt: null, signalsSent: 0, code: null, signal: null } as Omit<WorkerRun, 'exited'> as WorkerRun;
    worker.process.stdout?.resume();
    worker.process.stderr?.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
    run.exited = new Promise((resolve) =>
      worker.process.once('exit', (code, signal) => {
        run.exitedAt = performance.now();
        run.code = code;
        run.signal = signal;
        resolve();
      }),
    );
    ready.push(
      new Promise((resolve, reject) => {
        worker.once('message', (message: { ready: string }) => {
          run.writer = message.ready;
          resolve();
        });
        void run.exited.then(() => reject(new Error(`worker ${i} exited before it was ready: ${run.stderr}`)));
      }),
    );
    runs.push(run);
  }
  await withDeadline(Promise.all(ready), 20_000, 'workers did not get ready');
  return runs;
}

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolve 10 ms after the next period boundary: the moment the rotations of that boundary are under way. */
function justAfterBoundary(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, PERIOD_MS - (Date.now() % PERIOD_MS) + 10));
}

function alive(run: WorkerRun): boolean {
  return run.exitedAt === null;
}

/** The broken supervisor: SIGTERM to every live worker every 10 ms until all have exited (bounded). */
async function brokenSupervisor(runs: WorkerRun[]): Promise<void> {
  await justAfterBoundary();
  const sendRound = (): void => {
    const now = performance.now();
    for (const run of runs) {
      if (!alive(run)) continue;
      run.firstSignalAt ??= now;
      if (run.worker.process.kill('SIGTERM')) run.signalsSent++;
    }
  };
  sendRound();
  const timer = setInterval(sendRound, 10);
  try {
    await withDeadline(Promise.all(runs.map((run) => run.exited)), HARD_DEADLINE_MS, 'not every worker exited');
  } finally {
    clearInterval(timer);
  }
}

// ---- what is on disk ------------------------------------------------------------------------------------

interface DiskReport {
  files: string[];
  archives: number;
  /** Names that are the same file as an earlier name (a rotation stopped between its link and unlink). */
  sameFile: string[];
  lockLeft: boolean;
  tempFiles: string[];
  stateProblem: string | null;
  torn: string[];
  /** Per writer: lines handed to write() before the exit, as the worker recorded it. */
  logged: Record<string, number>;
  missing: Record<string, number>;
  duplicated: Record<string, number>;
  /** Data lines with a seq the worker never reported as logged (impossible unless something is off). */
  unexpected: Record<string, number>;
  bye: Record<string, number[]>;
  repeats: Record<string, number[]>;
}

const STAGED = '.app.log.next';

function readDisk(root: string, writers: string[]): DiskReport {
  const logDir = path.join(root, 'logs');
  const files = fs.readdirSync(logDir).sort();
  const report: DiskReport = {
    files,
    archives: 0,
    sameFile: [],
    lockLeft: files.some((name) => name.endsWith('.lock')),
    // Thread-pool work queued before a death by signal still runs after the exit flush: it can make an empty
    // state temp file (see the README, "Decisions and guarantees"). Any other, or one with a byte in it, is a leftover.
    tempFiles: files.filter(
      (name) => name.endsWith('.tmp') && !(/^\.app\.log\.state\..+\.tmp$/.test(name) && fs.statSync(path.join(logDir, name)).size === 0),
    ),
    stateProblem: null,
    torn: [],
    logged: {},
    missing: {},
    duplicated: {},
    unexpected: {},
    bye: {},
    repeats: {},
  };
  try {
    const state = JSON.parse(fs.readFileSync(path.join(logDir, '.app.log.state'), 'utf8')) as { periodStart?: unknown; ino?: unknown };
    if (!Number.isFinite(state.periodStart) || state.ino !== fs.statSync(path.join(logDir, 'app.log')).ino) {
      report.stateProblem = `state does not describe app.log: ${JSON.stringify(state)}`;
    }
  } catch (err) {
    report.stateProblem = (err as Error).message;
  }
  const seen = new Map<string, Uint8Array>();
  for (const writer of writers) {
    report.logged[writer] = Number(fs.readFileSync(path.join(root, 'progress', writer), 'utf8').trim());
    seen.set(writer, new Uint8Array((report.logged[writer] as number) + 1));
    report.bye[writer] = [];
    report.repeats[writer] = [];
    report.unexpected[writer] = 0;
  }
  const inodes = new Set<number>();
  for (const name of files) {
    // The staged file of a new period is on disk too: workers that all died within settleMs of a boundary,
    // the lock busy, left it for the next process to publish (restartOnce checks that it does).
    if (name.startsWith('.') && name !== STAGED) continue;
    // A file under two names holds its lines once: read it once.
    const { ino } = fs.statSync(path.join(logDir, name));
    if (inodes.has(ino)) {
      report.sameFile.push(name);
      continue;
    }
    inodes.add(ino);
    if (name !== 'app.log' && name !== STAGED) {
      if (!/^app\..+\.log$/.test(name)) {
        report.torn.push(`unexpected file ${name}`);
        continue;
      }
      report.archives++;
    }
    const text = fs.readFileSync(path.join(logDir, name), 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) report.torn.push(`${name}: no final newline`);
    for (const line of text.split('\n').slice(0, -1)) {
      let match = /^(w\d+) (\d+) \d+ (\S+)$/.exec(line);
      if (match) {
        const [, writer, seqText, payload] = match as unknown as [string, string, string, string];
        const seq = Number(seqText);
        const marks = seen.get(writer);
        if (!marks || payload !== payloadFor(writer, seq)) report.torn.push(`${name}: ${line.slice(0, 80)}`);
        else if (seq >= (report.logged[writer] as number)) (report.unexpected[writer] as number)++;
        else marks[seq] = Math.min(255, (marks[seq] as number) + 1);
        continue;
      }
      match = /^(w\d+) (bye|repeat) (\d+) SIGTERM$/.exec(line);
      if (match && seen.has(match[1] as string)) {
        (match[2] === 'bye' ? report.bye : report.repeats)[match[1] as string]?.push(Number(match[3]));
        continue;
      }
      report.torn.push(`${name}: ${line.slice(0, 80)}`);
    }
  }
  for (const [writer, marks] of seen) {
    const logged = report.logged[writer] as number;
    let missing = 0;
    let duplicated = 0;
    for (let seq = 0; seq < logged; seq++) {
      if (marks[seq] === 0) missing++;
      else if ((marks[seq] as number) > 1) duplicated++;
    }
    report.missing[writer] = missing;
    report.duplicated[writer] = duplicated;
  }
  return report;
}

function zeroes(writers: string[]): Record<string, number> {
  return Object.fromEntries(writers.map((writer) => [writer, 0]));
}

function figures(runs: WorkerRun[], disk: DiskReport): string {
  return runs
    .map((run) => {
      const latency = run.exitedAt !== null && run.firstSignalAt !== null ? (run.exitedAt - run.firstSignalAt).toFixed(0) : '?';
      const received = disk.bye[run.writer]?.length ? 1 + (disk.repeats[run.writer]?.length ?? 0) : '-';
      return `${run.writer}: ${disk.logged[run.writer]} lines, exit ${run.code ?? run.signal} ${latency} ms after the first signal, signals sent ${run.signalsSent}, handled ${received}`;
    })
    .join('; ');
}

/**
 * Open the log once, as a restarted worker would, then close it; return what is on disk afterwards. The
 * opening finishes a rotation that a process ended between two of its steps.
 */
async function restartOnce(root: string, writers: string[]): Promise<DiskReport> {
  const file = createRotatingFile({ path: path.join(root, 'logs', 'app.log'), frequency: PERIOD_MS, timeZone: 'UTC' });
  await file.flush();
  await file.close();
  return readDisk(root, writers);
}

/** What a rotation stopped half-way left, for the log line. */
function halfWay(disk: DiskReport): string {
  const left = [
    ...(disk.stateProblem ? [disk.stateProblem] : []),
    ...disk.sameFile.map((name) => `${name} under two names`),
    ...(disk.files.includes(STAGED) ? [`${STAGED} not published yet`] : []),
  ];
  return left.length === 0 ? 'no rotation left half-way' : `left half-way (repaired by the restart): ${left.join(', ')}`;
}

/**
 * What a process that ended between two steps of a rotation may leave, as a crash would: a valid state
 * that names another file than app.log (the old one), or no app.log yet. Anything else (no state, a state
 * that does not parse) no ending can explain.
 */
function expectAtMostHalfWay(disk: DiskReport): void {
  if (disk.stateProblem === null) return;
  expect(disk.stateProblem).toMatch(/^state does not describe app\.log: |^ENOENT: .*app\.log'$/);
}

/** The state names app.log, no file is under two names and none is staged: no rotation was left half-way. */
function expectNoRotationHalfWay(disk: DiskReport, when: string): void {
  expect(disk.stateProblem, when).toBeNull();
  expect(disk.sameFile, `${when}: files under two names`).toEqual([]);
  expect(disk.files, `${when}: a staged file not published`).not.toContain(STAGED);
}

/** Everything the incident requires, for every variant. */
function expectCleanShutdown(runs: WorkerRun[], disk: DiskReport, withBye: boolean): void {
  const writers = runs.map((run) => run.writer);
  for (const run of runs) {
    expect(run.exitedAt, `${run.writer} exited`).not.toBeNull();
    expect((run.exitedAt as number) - (run.firstSignalAt as number), `${run.writer}: ms from the first signal to the exit`).toBeLessThan(EXIT_LIMIT_MS);
    expect(disk.logged[run.writer], `${run.writer} logged lines`).toBeGreaterThan(0);
  }
  expect(disk.torn).toEqual([]);
  expect(disk.missing).toEqual(zeroes(writers));
  expect(disk.duplicated).toEqual(zeroes(writers));
  expect(disk.unexpected).toEqual(zeroes(writers));
  expect(disk.lockLeft, `lock left in ${disk.files.join(' ')}`).toBe(false);
  expect(disk.tempFiles).toEqual([]);
  expect(disk.archives, 'rotations happened while the workers logged').toBeGreaterThanOrEqual(2);
  if (withBye) {
    for (const writer of writers) {
      expect(disk.bye[writer], `${writer}'s handler line`).toHaveLength(1);
      expect(disk.bye[writer]?.[0]).toBeLessThanOrEqual(disk.logged[writer] as number);
    }
  }
}

function tempRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-incident-'));
  roots.push(root);
  return root;
}

describe('the incident: 4 cluster workers, rotation every 200 ms, SIGTERM re-sent every 10 ms', () => {
  it('handleSignals(): every worker runs its hook once, exits 143 in time, and every line is on disk exactly once', async () => {
    const root = tempRoot();
    const runs = await startWorkers(root, 'handle');
    await brokenSupervisor(runs);
    const disk = readDisk(root, runs.map((run) => run.writer));
    console.info(`handleSignals: ${figures(runs, disk)}; archives ${disk.archives}`);
    expectCleanShutdown(runs, disk, true);
    expectNoRotationHalfWay(disk, 'after the workers');
    for (const run of runs) {
      expect({ code: run.code, signal: run.signal }).toEqual({ code: 143, signal: null });
      const repeats = disk.repeats[run.writer] ?? [];
      expect(repeats, `${run.writer}: repeated signals counted in order, each once`).toEqual(repeats.map((_, i) => i + 1));
      expect(1 + repeats.length).toBeLessThanOrEqual(run.signalsSent);
    }
    // The supervisor kept signalling during the 100 ms hooks: the repeats did reach the workers.
    expect(runs.some((run) => (disk.repeats[run.writer]?.length ?? 0) > 0)).toBe(true);
  });

  it("a naive process.on('SIGTERM', () => { log(); process.exit(0) }): every worker exits 0 in time, nothing lost", async () => {
    const root = tempRoot();
    const runs = await startWorkers(root, 'naive');
    await brokenSupervisor(runs);
    const disk = readDisk(root, runs.map((run) => run.writer));
    const restarted = await restartOnce(root, runs.map((run) => run.writer));
    console.info(`naive handler: ${figures(runs, disk)}; archives ${disk.archives}; ${halfWay(disk)}`);
    expectCleanShutdown(runs, disk, true);
    expectAtMostHalfWay(disk);
    expectCleanShutdown(runs, restarted, true);
    expectNoRotationHalfWay(restarted, 'after one restart');
    for (const run of runs) {
      expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
      expect(disk.bye[run.writer]?.[0], 'nothing is logged after the handler').toBe(disk.logged[run.writer]);
    }
  });

  it('no handler at all: every worker dies by SIGTERM in time, and every line it logged is on disk exactly once', async () => {
    const root = tempRoot();
    const runs = await startWorkers(root, 'none');
    await brokenSupervisor(runs);
    const disk = readDisk(root, runs.map((run) => run.writer));
    const restarted = await restartOnce(root, runs.map((run) => run.writer));
    console.info(`no handler: ${figures(runs, disk)}; archives ${disk.archives}; ${halfWay(disk)}`);
    expectCleanShutdown(runs, disk, false);
    expectAtMostHalfWay(disk);
    expectCleanShutdown(runs, restarted, false);
    expectNoRotationHalfWay(restarted, 'after one restart');
    for (const run of runs) expect({ code: run.code, signal: run.signal }).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('stopChildren() instead of the broken supervisor: one SIGTERM each, all exit 143, none needs the SIGKILL', async () => {
    const root = tempRoot();
    const runs = await startWorkers(root, 'handle');
    await justAfterBoundary();
    const signalledAt = performance.now();
    for (const run of runs) {
      run.firstSignalAt = signalledAt;
      run.signalsSent = 1;
    }
    const outcomes = await stopChildren(
      runs.map((run) => run.worker),
      { signal: 'SIGTERM', timeoutMs: 5000 },
    );
    await Promise.all(runs.map((run) => run.exited));
    const disk = readDisk(root, runs.map((run) => run.writer));
    console.info(`stopChildren: ${figures(runs, disk)}; outcomes ${outcomes.map((o) => `${o.result}/${o.code}/${o.elapsedMs}ms`).join(' ')}`);
    expectCleanShutdown(runs, disk, true);
    expectNoRotationHalfWay(disk, 'after the workers');
    for (const [i, outcome] of outcomes.entries()) {
      expect(outcome).toMatchObject({ result: 'exited', code: 143, signal: null, signalsSent: 1 });
      expect(outcome.child).toBe(runs[i]?.worker);
      expect(disk.repeats[runs[i]?.writer as string], 'one signal each: nothing repeated').toEqual([]);
    }
  });
});
