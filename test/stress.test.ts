/**
 * Multi-process stress tests: real processes (test/fixtures/stress-writer.mjs) appending to one rotating
 * file on a real disk, checked line by line by test/helpers/verify.ts.
 *
 * Needs dist/index.js (`npm test` builds it first). TIMBERLOCK_STRESS_MODULE=/abs/path.js runs the
 * writers against another build of the library instead.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatReport, lineOf, verifyDir, type ReportedRotate, type VerifyReport } from './helpers/verify.js';
import { incidents, killWriters, startWriters, sumStat as sum, type WriterConfig, type WritersOutcome } from './helpers/writer-run.js';

const LIBRARY_MODULE = process.env.TIMBERLOCK_STRESS_MODULE;
const DAY_MS = 86_400_000;

/** Temp directories of the current test; removed after a passing test, kept (and printed) after a failure. */
const dirs: string[] = [];

afterEach(async (context) => {
  await killWriters();
  const failed = context.task.result?.state === 'fail';
  for (const dir of dirs.splice(0)) {
    if (failed) console.log(`kept ${dir} for inspection`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
});

function makeDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-stress-'));
  dirs.push(dir);
  return dir;
}

/**
 * Run one stress writer per config (all started at the same instant) until every one has exited. A writer
 * that crashes is listed in `failures` (the others' results and the directory can still be checked).
 * Rejects with each child's state and stderr if the deadline passes.
 */
function runWriters(configs: WriterConfig[], deadlineMs: number): Promise<WritersOutcome> {
  return startWriters(
    configs.map((config) => ({ ...config, module: LIBRARY_MODULE })),
    deadlineMs,
  ).finished;
}

function expectEveryLineOnce(report: VerifyReport): void {
  const detail = formatReport(report);
  expect(report.missing.count, detail).toBe(0);
  expect(report.duplicated.count, detail).toBe(0);
  expect(report.unexpected.count, detail).toBe(0);
  expect(report.torn.count, detail).toBe(0);
  expect(report.linesFound, detail).toBe(report.expected);
}

const writerNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `w${i}`);

// ---- (a) many processes, many boundaries ---------------------------------------------------------------

describe('4 processes × 20,000 lines, rotating every 200 ms', () => {
  it('lands every line exactly once and whole, with one archive per period and none overwritten', async () => {
    const dir = makeDir();
    const file = path.join(dir, 'app.log');
    const writers = writerNames(4);
    const linesPerWriter = 20_000;
    const periodMs = 200;

    const run = await runWriters(
      writers.map((writer) => ({
        path: file,
        writer,
        lines: linesPerWriter,
        frequency: periodMs,
        timeZone: 'UTC',
        paceEvery: 50,
        // Spread the lines over ≥ 3 s (≥ 15 boundaries) whatever the machine speed.
        spanMs: 3_000,
      })),
      60_000,
    );
    const report = verifyDir(dir, { writers, linesPerWriter }, run.rotates, periodMs);

    const lines = report.linesFound;
    const rotations = report.archivesOnDisk.length;
    console.log(
      `stress 4×20k: lines=${lines} rotations=${rotations} misplaced=${report.misplaced} ` +
        `(early ${report.misplacedEarly}, late ${report.misplacedLate}) duration=${run.durationMs} ms ` +
        `lines/s=${Math.round(lines / (run.durationMs / 1000))} (paced) ` +
        `lateLines=${sum(run.results, 'lateLines')} lockAttemptsLost=${sum(run.results, 'lockAttemptsLost')} ` +
        `reopens=${sum(run.results, 'reopens')} droppedLines=${sum(run.results, 'droppedLines')} ` +
        `errors=${sum(run.results, 'errors')} drains=${run.results.reduce((n, r) => n + r.drains, 0)} ` +
        `startup=${run.startupMs} ms exitLag=${JSON.stringify(run.exitLagMs)}\n` +
        `  ${formatReport(report)}` +
        (incidents(run.results) ? `\n  ${incidents(run.results)}` : ''),
    );

    expect(run.failures, run.failures.join('\n')).toEqual([]);
    for (const r of run.results) expect(r.written, `writer ${r.writer}`).toBe(linesPerWriter);
    expectEveryLineOnce(report);
    expect(report.archivesNeverOverwritten, report.archiveProblems.join('\n')).toBe(true);
    expect(report.periodsWithSeveralArchives, formatReport(report)).toEqual([]);
    expect(rotations, formatReport(report)).toBeGreaterThanOrEqual(10);
    expect(report.ok, formatReport(report)).toBe(true);
  }, 90_000);
});

// ---- (b) the checker catches what it must catch ----------------------------------------------------------

describe('the verifier', () => {
  const linesPerWriter = 5_000;

  async function runWithFault(fault: 'drop' | 'dup') {
    const dir = makeDir();
    const file = path.join(dir, 'app.log');
    const writers = writerNames(2);
    const run = await runWriters(
      writers.map((writer, i) => ({
        path: file,
        writer,
        lines: linesPerWriter,
        frequency: 200,
        timeZone: 'UTC',
        fault: i === 0 ? fault : null,
        faultRate: 0.01,
        paceEvery: 50,
        spanMs: 1_000,
      })),
      30_000,
    );
    const report = verifyDir(dir, { writers, linesPerWriter }, run.rotates, 200);
    console.log(
      `fault ${fault}: ${formatReport(report)} | duration=${run.durationMs} ms exitLag=${JSON.stringify(run.exitLagMs)}`,
    );
    expect(run.failures, run.failures.join('\n')).toEqual([]);
    return { run, report, faulty: run.results.find((r) => r.writer === writers[0])! };
  }

  it("reports missing lines and not ok when a writer skips 1 % of its lines ('drop')", async () => {
    const { report, faulty } = await runWithFault('drop');
    const skipped = linesPerWriter - faulty.written;
    expect(skipped).toBeGreaterThan(0);
    expect(report.missing.count, formatReport(report)).toBeGreaterThanOrEqual(skipped);
    expect(report.ok).toBe(false);
  }, 45_000);

  it("reports duplicated lines and not ok when a writer writes 1 % of its lines twice ('dup')", async () => {
    const { report, faulty } = await runWithFault('dup');
    const doubled = faulty.written - linesPerWriter;
    expect(doubled).toBeGreaterThan(0);
    expect(report.duplicated.count, formatReport(report)).toBeGreaterThanOrEqual(doubled);
    expect(report.ok).toBe(false);
  }, 45_000);

  it('reports torn and merged lines, a lost final newline, and archives no event or two events reported', () => {
    const dir = makeDir();
    const t = Date.UTC(2026, 10, 25, 12);
    const a = lineOf('w0', 0, t);
    const b = lineOf('w0', 1, t);
    const c = lineOf('w1', 0, t);
    const d = lineOf('w1', 1, t);
    // active file: a whole line, a line with one payload byte changed, two lines merged, a line cut short
    const damaged = `${b.slice(0, 22)}${b[22] === 'a' ? 'b' : 'a'}${b.slice(23)}`; // index 22 is in the payload
    fs.writeFileSync(path.join(dir, 'app.log'), a + damaged + c.slice(0, 30) + d + c.slice(0, -1));
    fs.writeFileSync(path.join(dir, 'app.2026-11-25.log'), '');
    fs.writeFileSync(path.join(dir, '.app.log.123.tmp'), '');
    const archive = path.join(dir, 'app.2026-11-24.log');
    const events: ReportedRotate[] = [
      { archive, periodStart: t, previousPeriodStart: t - DAY_MS, writer: 'w0' },
      { archive, periodStart: t, previousPeriodStart: t - DAY_MS, writer: 'w1' },
    ];

    const report = verifyDir(dir, { writers: ['w0', 'w1'], linesPerWriter: 2 }, events);

    expect(report.torn.examples.map((e) => e.reason)).toEqual(['payload-mismatch', 'merged', 'no-final-newline']);
    expect(report.missing.examples).toEqual(['w0#1', 'w1#0', 'w1#1']);
    expect(report.archivesNeverOverwritten).toBe(false);
    expect(report.archiveProblems).toHaveLength(3); // reported twice, reported but absent, present but unreported
    expect(report.emptyArchives).toEqual(['app.2026-11-25.log']);
    expect(report.tempFiles).toEqual(['.app.log.123.tmp']);
    expect(report.ok).toBe(false);
  });
});

// ---- (c) start-up races ------------------------------------------------------------------------------------

describe('4 processes starting at the same instant', () => {
  const writers = writerNames(4);
  const linesPerWriter = 1_000;
  const configs = (file: string): WriterConfig[] =>
    writers.map((writer) => ({
      path: file,
      writer,
      lines: linesPerWriter,
      frequency: 'daily',
      timeZone: 'UTC',
      paceEvery: 100,
    }));

  // Both tests assume the run does not cross 00:00 UTC (it takes about a second).

  it('on an empty directory create exactly one active file and no archive, with every line once', async () => {
    const dir = makeDir();
    const run = await runWriters(configs(path.join(dir, 'app.log')), 30_000);

    const report = verifyDir(dir, { writers, linesPerWriter }, run.rotates, DAY_MS);
    console.log(`empty dir start: ${formatReport(report)}`);
    expect(run.failures, run.failures.join('\n')).toEqual([]);

    expect(report.files.map((f) => f.name), formatReport(report)).toEqual(['app.log']);
    expect(report.archivesOnDisk).toEqual([]);
    expect(report.archivesFromEvents).toEqual([]);
    expectEveryLineOnce(report);
    expect(report.ok, formatReport(report)).toBe(true);
  }, 45_000);

  it("archive yesterday's app.log (no state file) exactly once, before any new line lands in it", async () => {
    const dir = makeDir();
    const file = path.join(dir, 'app.log');
    const todayStart = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const yesterdayNoon = todayStart - DAY_MS / 2;
    const oldLines = 500;
    let old = '';
    for (let seq = 0; seq < oldLines; seq++) old += lineOf('old', seq, yesterdayNoon);
    fs.writeFileSync(file, old);
    fs.utimesSync(file, new Date(yesterdayNoon), new Date(yesterdayNoon));
    const archiveName = `app.${new Date(todayStart - DAY_MS).toISOString().slice(0, 10)}.log`;

    const run = await runWriters(configs(file), 30_000);

    const report = verifyDir(
      dir,
      {
        writers: ['old', ...writers],
        linesPerWriter: { old: oldLines, ...Object.fromEntries(writers.map((w) => [w, linesPerWriter])) },
      },
      run.rotates,
      DAY_MS,
    );
    console.log(`yesterday's file start: ${formatReport(report)}`);
    expect(run.failures, run.failures.join('\n')).toEqual([]);
    const byName = new Map(report.files.map((f) => [f.name, f]));

    expect(report.files.map((f) => f.name).sort(), formatReport(report)).toEqual([archiveName, 'app.log'].sort());
    expect(byName.get(archiveName)?.writers, formatReport(report)).toEqual({ old: oldLines });
    expect(byName.get('app.log')?.writers, formatReport(report)).toEqual(
      Object.fromEntries(writers.map((w) => [w, linesPerWriter])),
    );
    const rotationsBy = run.results.map(
      (r) => `${r.writer}: stats.rotations=${r.stats.rotations} rotate events=${r.rotates.length}`,
    );
    expect(
      report.archivesFromEvents,
      `the archive exists, so the 'rotate' event that names it must reach the listener of the process that made it\n` +
        `${rotationsBy.join('\n')}\n${formatReport(report)}`,
    ).toEqual([archiveName]);
    expectEveryLineOnce(report);
    expect(report.ok, formatReport(report)).toBe(true);
  }, 45_000);
});
