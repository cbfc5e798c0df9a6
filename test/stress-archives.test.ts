/**
 * The multi-process stress test, harder: 8 processes (test/fixtures/stress-writer.mjs), a period of 200 ms,
 * a maxSize small enough for several size rolls per period, and gzip of archives older than 300 ms — then
 * the same with maxFiles = 3. Checked line by line by test/helpers/verify.ts, which reads `.gz` archives
 * through gunzip.
 *
 * After the writers have exited, the test runs archive maintenance once more itself (what a restarted
 * process does at start-up), since the writers' own runs stop when they close.
 *
 * Needs dist/index.js (`npm test` builds it first).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { maintainArchives, type ArchiveTarget } from '../src/archive.js';
import { defaultDateFormat, parseArchiveName, type NameScheme } from '../src/naming.js';
import { formatReport, verifyDir, type ReportedRotate, type VerifyReport } from './helpers/verify.js';

const WRITER_SCRIPT = fileURLToPath(new URL('./fixtures/stress-writer.mjs', import.meta.url));
const WRITERS = Array.from({ length: 8 }, (_, i) => `w${i}`);
const PERIOD_MS = 200;
const DELAY_MS = 300;
const MAX_SIZE = 16 * 1024;
const LINES_PER_WRITER = 2_000;
/** Lines are 10–2000 letters (about 1 KB on average): 8 × 2,000 over at least 4 s, at most about 0.8 MB per period. */
const SPAN_MS = 4_000;
/**
 * How long past the grace delay an archive beyond the newest maxFiles may still be seen. Maintenance runs in
 * the writers, 50 ms after the delay, one process at a time (an archive lock), between the writes of 8 busy
 * processes on a small machine: taking the lock and one gzip with its fsyncs can each take hundreds of ms.
 */
const RETENTION_LAG_MS = 4_000;
const SCHEME: NameScheme = { activeName: 'app.log', dateFormat: defaultDateFormat(PERIOD_MS), timeZone: 'UTC', frequency: PERIOD_MS };

interface WriterResult {
  writer: string;
  written: number;
  rotates: ReportedRotate[];
  stats: Record<string, number>;
  warnings: { code: string; message: string }[];
  errors: { code?: string; message: string }[];
}

const live = new Set<ChildProcess>();
const dirs: string[] = [];

afterEach(async (context) => {
  const leftovers = [...live];
  for (const child of leftovers) child.kill('SIGKILL');
  await Promise.all(leftovers.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  live.clear();
  const failed = context.task.result?.state === 'fail';
  for (const dir of dirs.splice(0)) {
    if (failed) console.log(`kept ${dir} for inspection`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Fork one stress writer per name, start them all at once when every one has loaded the library, and
 * resolve with their results when all have exited. `whileRunning` is called every 20 ms until then.
 */
async function runWriters(
  file: string,
  options: Record<string, unknown>,
  whileRunning: () => void,
): Promise<{ results: WriterResult[]; failures: string[]; durationMs: number }> {
  const tracked = WRITERS.map((writer) => {
    const config = { path: file, writer, lines: LINES_PER_WRITER, frequency: PERIOD_MS, timeZone: 'UTC', options, paceEvery: 10, spanMs: SPAN_MS };
    const child = fork(WRITER_SCRIPT, [JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    live.add(child);
    const t = { writer, child, ready: false, result: null as WriterResult | null, exit: null as number | null, stderr: '' };
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (t.stderr = (t.stderr + text).slice(-2000)));
    return t;
  });
  const started = Date.now();
  const poll = setInterval(whileRunning, 20);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`writers not done within 90 s: ${tracked.map((t) => `${t.writer} exit=${t.exit}`).join(', ')}`)), 90_000);
      let goSent = false;
      const check = (): void => {
        // Start together once every writer has loaded the library (a writer that died while loading is reported below).
        if (!goSent && tracked.every((t) => t.ready || t.exit !== null)) {
          goSent = true;
          for (const t of tracked) if (t.exit === null && t.child.connected) t.child.send({ type: 'go' });
        }
        if (tracked.every((t) => t.exit !== null)) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const t of tracked) {
        t.child.on('message', (message: { type?: string; result?: WriterResult }) => {
          if (message.type === 'ready') t.ready = true;
          if (message.type === 'result' && message.result) t.result = message.result;
          check();
        });
        t.child.on('exit', (code) => {
          t.exit = code ?? -1;
          live.delete(t.child);
          check();
        });
      }
    });
  } finally {
    clearInterval(poll);
  }
  whileRunning();
  const failures = tracked.filter((t) => t.exit !== 0 || t.result === null).map((t) => `${t.writer}: exit ${t.exit} ${t.stderr}`);
  return { results: tracked.flatMap((t) => (t.result ? [t.result] : [])), failures, durationMs: Date.now() - started };
}

/** Archives on disk (a plain name and its .gz count as one), newest first, with their mtimes. */
function listArchives(dir: string): { plain: string; names: string[]; periodStart: number; index: number; mtimeMs: number }[] {
  const byPlain = new Map<string, { plain: string; names: string[]; periodStart: number; index: number; mtimeMs: number }>();
  for (const name of fs.readdirSync(dir)) {
    const parsed = parseArchiveName(SCHEME, name);
    if (!parsed) continue;
    const stats = fs.statSync(path.join(dir, name), { throwIfNoEntry: false });
    if (!stats) continue; // deleted between readdir and stat
    const plain = parsed.compressed ? name.slice(0, -3) : name;
    const entry = byPlain.get(plain) ?? { plain, names: [], periodStart: parsed.periodStart, index: parsed.index, mtimeMs: stats.mtimeMs };
    entry.names.push(name);
    entry.mtimeMs = Math.max(entry.mtimeMs, stats.mtimeMs);
    byPlain.set(plain, entry);
  }
  return [...byPlain.values()].sort((a, b) => b.periodStart - a.periodStart || b.index - a.index);
}

/** What a process starting now would do first: one maintenance run with the writers' policy. */
async function catchUp(dir: string, maxFiles: number | null): Promise<void> {
  const target: ArchiveTarget = {
    dir,
    activeName: 'app.log',
    scheme: SCHEME,
    mode: 0o640,
    staleMs: 5000,
    policy: { compress: true, maxFiles, maxAgeMs: null, delayMs: DELAY_MS },
  };
  // Wait until the newest archive is past the grace delay, so the run may handle every one.
  const newest = Math.max(0, ...listArchives(dir).map((a) => a.mtimeMs));
  const wait = newest + DELAY_MS + 10 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const result = await maintainArchives(target);
  expect(result.skipped, 'the archive lock is free once every writer has exited').toBeNull();
  expect(result.errors.map((e) => e.message)).toEqual([]);
}

/** Errors the writers saw: there must be none. */
function errorsOf(results: WriterResult[]): string[] {
  return results.flatMap((r) => r.errors.map((e) => `${r.writer} error ${e.code}: ${e.message}`));
}

/** Warning codes the writers saw, with counts (printed, not asserted: this test is about the lines). */
function warningCounts(results: WriterResult[]): string {
  const counts = new Map<string, number>();
  for (const w of results.flatMap((r) => r.warnings)) counts.set(w.code, (counts.get(w.code) ?? 0) + 1);
  return JSON.stringify(Object.fromEntries(counts));
}

function sum(results: WriterResult[], stat: string): number {
  return results.reduce((n, r) => n + (r.stats[stat] ?? 0), 0);
}

function figures(report: VerifyReport, results: WriterResult[], durationMs: number): string {
  const gz = report.archivesOnDisk.filter((name) => name.endsWith('.gz')).length;
  const sizeRolls = report.archivesOnDisk.filter((name) => (parseArchiveName(SCHEME, name)?.index ?? 0) > 0).length;
  const periods = new Set(report.archivesOnDisk.map((name) => parseArchiveName(SCHEME, name)?.periodStart)).size;
  return (
    `archives ${report.archivesOnDisk.length} in ${periods} periods (.gz ${gz}, size-roll parts ${sizeRolls}), rotations ${sum(results, 'rotations')}, ` +
    `lateLines ${sum(results, 'lateLines')}, errors ${sum(results, 'errors')}, warnings ${warningCounts(results)}, duration ${durationMs} ms\n  ${formatReport(report)}`
  );
}

describe('8 processes, 200 ms periods, size rolls and gzip', () => {
  it('lands every (writer, seq) exactly once and whole across plain and .gz archives', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-stress-gz-'));
    dirs.push(dir);
    const run = await runWriters(path.join(dir, 'app.log'), { maxSize: MAX_SIZE, compress: { delayMs: DELAY_MS } }, () => undefined);
    expect(run.failures, run.failures.join('\n')).toEqual([]);
    const rotates = run.results.flatMap((r) => r.rotates.map((e) => ({ ...e, writer: r.writer })));
    const expected = { writers: WRITERS, linesPerWriter: LINES_PER_WRITER };

    // As the writers left it: some archives compressed, the youngest still plain.
    const left = verifyDir(dir, expected, rotates, PERIOD_MS);
    console.log(`gzip stress, as the writers left it: ${figures(left, run.results, run.durationMs)}`);
    for (const r of run.results) expect(r.written).toBe(LINES_PER_WRITER);
    expect(errorsOf(run.results)).toEqual([]);
    expect(left.missing.count, formatReport(left)).toBe(0);
    expect(left.duplicated.count, formatReport(left)).toBe(0);
    expect(left.unexpected.count, formatReport(left)).toBe(0);
    expect(left.torn.count, formatReport(left)).toBe(0);
    expect(left.archivesNeverOverwritten, left.archiveProblems.join('\n')).toBe(true);
    expect(left.tempFiles, 'no compression temp file or lock is left behind').toEqual([]);
    expect(left.archivesOnDisk.some((name) => name.endsWith('.gz'))).toBe(true);
    // Several size rolls per period: on average at least three files (two rolls) for each period that has any.
    const periods = new Set(left.archivesOnDisk.map((name) => parseArchiveName(SCHEME, name)?.periodStart));
    expect(left.archivesOnDisk.length).toBeGreaterThanOrEqual(3 * periods.size);

    // After a catch-up run every archive is a .gz, and still every line is there once.
    await catchUp(dir, null);
    const done = verifyDir(dir, expected, rotates, PERIOD_MS);
    console.log(`gzip stress, after a catch-up run: ${formatReport(done)}`);
    expect(done.archivesOnDisk.every((name) => name.endsWith('.gz')), done.archivesOnDisk.join(' ')).toBe(true);
    expect(done.ok, formatReport(done)).toBe(true);
    expect(done.linesFound).toBe(done.expected);
  }, 120_000);

  it('with maxFiles = 3: no duplicate, no torn line, and never more than 3 archives once the grace delay has passed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-stress-max-'));
    dirs.push(dir);
    let samples = 0;
    let mostArchives = 0;
    let worstExcessAgeMs = 0;
    const overdue: string[] = [];
    const watch = (): void => {
      const now = Date.now();
      const archives = listArchives(dir);
      samples++;
      mostArchives = Math.max(mostArchives, archives.length);
      for (const excess of archives.slice(3)) {
        const age = now - excess.mtimeMs;
        worstExcessAgeMs = Math.max(worstExcessAgeMs, age);
        if (age > DELAY_MS + RETENTION_LAG_MS && overdue.length < 10) overdue.push(`${excess.names.join('+')} ${age} ms old`);
      }
    };
    const run = await runWriters(path.join(dir, 'app.log'), { maxSize: MAX_SIZE, compress: { delayMs: DELAY_MS }, maxFiles: 3 }, watch);
    expect(run.failures, run.failures.join('\n')).toEqual([]);
    const rotates = run.results.flatMap((r) => r.rotates.map((e) => ({ ...e, writer: r.writer })));
    const report = verifyDir(dir, { writers: WRITERS, linesPerWriter: LINES_PER_WRITER }, rotates, PERIOD_MS);
    console.log(
      `maxFiles 3 stress: ${figures(report, run.results, run.durationMs)}\n  ${samples} samples, at most ${mostArchives} archives ` +
        `at once, oldest archive beyond the newest 3 seen ${worstExcessAgeMs} ms after its last write (grace ${DELAY_MS} ms)`,
    );
    for (const r of run.results) expect(r.written).toBe(LINES_PER_WRITER);
    expect(errorsOf(run.results)).toEqual([]);
    expect(report.duplicated.count, formatReport(report)).toBe(0);
    expect(report.unexpected.count, formatReport(report)).toBe(0);
    expect(report.torn.count, formatReport(report)).toBe(0);
    expect(report.tempFiles).toEqual([]);
    expect(overdue).toEqual([]);
    expect(report.missing.count, 'retention deleted archives, and their lines with them').toBeGreaterThan(0);

    await catchUp(dir, 3);
    expect(listArchives(dir).length, 'archives after the grace delay').toBeLessThanOrEqual(3);
    const after = verifyDir(dir, { writers: WRITERS, linesPerWriter: LINES_PER_WRITER }, [], PERIOD_MS);
    expect(after.duplicated.count + after.unexpected.count + after.torn.count, formatReport(after)).toBe(0);
  }, 120_000);
});
