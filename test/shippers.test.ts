/**
 * Log shippers follow the active name and must see every line exactly once: a real rsyslogd (imfile)
 * and GNU `tail -F` follow logs/app.log while 4 processes write and rotate it every second. What they
 * copied is checked line by line (test/helpers/verify.ts), and so is the disk.
 *
 * Needs dist/index.js (`npm test` builds it first), rsyslogd and GNU tail (.ci/run installs rsyslog).
 * Outside CI a missing rsyslogd skips its test with a printed reason; in CI it fails.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bytesOnDisk,
  haveCommand,
  startRsyslog,
  startTail,
  waitUntilQuiet,
  type Follower,
} from './helpers/followers.js';
import { formatCopyReport, formatReport, verifyCopy, verifyDir, type CopyReport, type VerifyReport } from './helpers/verify.js';
import { expectEveryLineOnce, useFollowSuite } from './helpers/follow-suite.js';
import { incidents, startWriters, sumStat, type WriterConfig } from './helpers/writer-run.js';

const IN_CI = Boolean(process.env.CI);
const HAVE_RSYSLOG = haveCommand('rsyslogd');
const HAVE_TAIL = haveCommand('tail');
if (!HAVE_RSYSLOG && !IN_CI) console.log('shippers.test: rsyslogd not installed (apt-get install rsyslog): its test is skipped');

const makeDir = useFollowSuite('shippers');

/**
 * Boundary quiescence seen from the disk. Unlinking the active name (the rename) sets the archive's
 * ctime; a write sets both mtime and ctime. So a cleanly archived file has ctime > mtime (the rename
 * came settleMs after the last write), while mtime === ctime means its last write came at or after the
 * rename (within one clock tick): bytes a follower of the active name never reads. Also: how long after
 * its period's end each archive was renamed (the settle margin plus however long the rotator waited
 * for the CPU).
 */
function renameFacts(disk: VerifyReport, logs: string, periodMs: number): { appendedAfterRename: string[]; maxRenameDelayMs: number } {
  const appendedAfterRename: string[] = [];
  let maxRenameDelayMs = 0;
  for (const f of disk.files) {
    if (f.kind !== 'archive') continue;
    const st = fs.statSync(path.join(logs, f.name), { bigint: true });
    if (st.mtimeNs >= st.ctimeNs) appendedAfterRename.push(`${f.name} (last write at ${new Date(Number(st.mtimeNs / 1_000_000n)).toISOString()})`);
    if (f.periodStart !== null) {
      maxRenameDelayMs = Math.max(maxRenameDelayMs, Number(st.ctimeNs / 1_000_000n) - (f.periodStart + periodMs));
    }
  }
  return { appendedAfterRename, maxRenameDelayMs };
}

function expectCopyExact(copy: CopyReport, what: string): void {
  const detail = `${what}: ${formatCopyReport(copy)}`;
  expect(copy.missing.count, detail).toBe(0);
  expect(copy.duplicated.count, detail).toBe(0);
  expect(copy.unexpected.count, detail).toBe(0);
  expect(copy.unterminated, detail).toBe(false);
  expect(copy.linesFound, detail).toBe(copy.expected);
}

/**
 * What a follower of the active name gets. With no late line, every line exactly once, and no archive
 * written after its rename. A write(2) that stalls past SETTLE_MS on an overloaded host can land after
 * the rename, where the follower never reads it: the writer then counts it as late (it looks at the
 * active name after every write that returns past the settle margin). So with late lines, the follower
 * may miss lines, never more than were counted late, and still never duplicates or corrupts one.
 */
function expectFollowerCopy(copy: CopyReport, late: number, appendedAfterRename: string[], what: string): void {
  if (late === 0) {
    expect(appendedAfterRename).toEqual([]);
    expectCopyExact(copy, what);
    return;
  }
  console.log(`${what}: ${late} line(s) counted late (a write stalled past settleMs ${SETTLE_MS}); the follower missed ${copy.missing.count}`);
  const detail = `${what}: ${formatCopyReport(copy)}`;
  expect(copy.missing.count, detail).toBeLessThanOrEqual(late);
  expect(copy.duplicated.count, detail).toBe(0);
  expect(copy.unexpected.count, detail).toBe(0);
  expect(copy.unterminated, detail).toBe(false);
}

const WRITERS = ['w0', 'w1', 'w2', 'w3'];
const LINES_PER_WRITER = 20_000; // 4 × 1,000 lines/s for 20 s
const SPAN_MS = 20_000;
const PERIOD_MS = 1_000;
/**
 * The rename waits this long after the boundary. Measured on a 2-core machine at load average ~20: a
 * write(2) issued before the boundary returned up to 192 ms after it (189 ms in another run), and a
 * writer was held 60 ms between its boundary check and its write. With the default 25 ms, two runs
 * each appended a 10-line batch to an archive after its rename, and the follower (rsyslog in one,
 * tail -F in the other) never read it. A loaded host needs a margin longer than its longest write stall.
 */
const SETTLE_MS = 250;

/**
 * A service already runs (logs/app.log exists), a follower is started on it, then 4 processes write
 * ~4,000 lines/s in total for 20 s with a 1 s period. After the writers end, the follower's output is
 * polled until it stops growing, the follower is stopped, and both the disk and the output are checked.
 */
async function followWhileWriting(start: (options: { follow: string; output: string; dir: string }) => Promise<Follower>, name: string) {
  const dir = makeDir();
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const active = path.join(logs, 'app.log');
  const output = path.join(dir, 'shipped.log'); // what the follower read
  fs.writeFileSync(active, '');
  const follower = await start({ follow: active, output, dir });

  const configs: WriterConfig[] = WRITERS.map((writer) => ({
    path: active,
    writer,
    lines: LINES_PER_WRITER,
    frequency: PERIOD_MS,
    timeZone: 'UTC',
    options: { settleMs: SETTLE_MS },
    paceEvery: 10,
    spanMs: SPAN_MS,
  }));
  const forkedAt = Date.now();
  const writing = startWriters(configs, 60_000);
  const run = await writing.finished;
  const expectedBytes = bytesOnDisk(logs);
  const drained = await waitUntilQuiet(output, { expectedBytes, quietMs: 1_500, giveUpMs: 5_000, deadlineMs: 30_000 });
  const cpuMs = follower.cpuMs();
  const stopped = await follower.stop();

  const verifyStart = Date.now();
  const expected = { writers: WRITERS, linesPerWriter: LINES_PER_WRITER };
  const disk = verifyDir(logs, expected, run.rotates, PERIOD_MS);
  const copy = verifyCopy(logs, output);
  const verifyMs = Date.now() - verifyStart;
  const lines = WRITERS.length * LINES_PER_WRITER;
  const late = sumStat(run.results, 'lateLines');
  const renames = renameFacts(disk, logs, PERIOD_MS);
  console.log(
    `${name}: lines=${lines} received=${copy.linesFound} lost=${copy.missing.count} duplicated=${copy.duplicated.count} ` +
      `corrupt=${copy.unexpected.count} late=${late} (${((100 * late) / lines).toFixed(3)} %) archives=${disk.archivesOnDisk.length} ` +
      `appendedAfterRename=${renames.appendedAfterRename.length} maxRenameDelay=${renames.maxRenameDelayMs} ms ` +
      `startup=${run.goAt - forkedAt} ms writing=${run.durationMs} ms drain=${drained.waitedMs} ms (${drained.reason}, ${drained.bytes}/${expectedBytes} bytes) verify=${verifyMs} ms ` +
      `follower nice=${follower.priority} cpu=${cpuMs} ms exit=${JSON.stringify(stopped)} load=${os.loadavg().map((n) => n.toFixed(1)).join(',')}\n` +
      `  disk: ${formatReport(disk)}\n  ${name}: ${formatCopyReport(copy)}` +
      (incidents(run.results) ? `\n  ${incidents(run.results)}` : '') +
      (follower.messages() ? `\n  ${name} said: ${follower.messages().slice(-800)}` : ''),
  );
  return { run, disk, copy, late, renames };
}

describe('log shippers following logs/app.log while 4 processes write ~4,000 lines/s and rotate every second', () => {
  it.skipIf(!HAVE_RSYSLOG && !IN_CI)(
    'rsyslog imfile (inotify, static name) ships every line exactly once, but for lines a write stall past settleMs made late (counted)',
    async () => {
      const { run, disk, copy, late, renames } = await followWhileWriting(startRsyslog, 'rsyslog');
      expect(run.failures, run.failures.join('\n')).toEqual([]);
      expectEveryLineOnce(disk, 'disk');
      expect(disk.archivesOnDisk.length, formatReport(disk)).toBeGreaterThanOrEqual(15);
      expectFollowerCopy(copy, late, renames.appendedAfterRename, "rsyslog's output");
    },
    75_000,
  );

  it.skipIf(!HAVE_TAIL && !IN_CI)(
    'GNU tail -F (started after the file exists) copies every line exactly once, but for lines a write stall past settleMs made late (counted)',
    async () => {
      const { run, disk, copy, late, renames } = await followWhileWriting(startTail, 'tail -F');
      expect(run.failures, run.failures.join('\n')).toEqual([]);
      expectEveryLineOnce(disk, 'disk');
      expect(disk.archivesOnDisk.length, formatReport(disk)).toBeGreaterThanOrEqual(15);
      expectFollowerCopy(copy, late, renames.appendedAfterRename, "tail -F's output");
    },
    75_000,
  );
});

describe('header: true', () => {
  it('starts every file — each archive and the active one — with its own first line, distinct from every other', async () => {
    const dir = makeDir();
    const active = path.join(dir, 'app.log');
    const writers = ['w0', 'w1'];
    const linesPerWriter = 2_000;
    const periodMs = 250;
    const run = await startWriters(
      writers.map((writer) => ({
        path: active,
        writer,
        lines: linesPerWriter,
        frequency: periodMs,
        timeZone: 'UTC',
        options: { header: true },
        paceEvery: 20,
        spanMs: 2_000,
      })),
      30_000,
    ).finished;

    const report = verifyDir(dir, { writers, linesPerWriter, headerPrefix: '# timberlock app.log ' }, run.rotates, periodMs);
    const firstLines = report.files.map((f) => `${f.name}: ${f.header}`);
    console.log(`header: ${formatReport(report)}\n  ${firstLines.join('\n  ')}`);

    expect(run.failures, run.failures.join('\n')).toEqual([]);
    expectEveryLineOnce(report, 'disk');
    expect(report.archivesOnDisk.length, formatReport(report)).toBeGreaterThanOrEqual(5);
    for (const f of report.files) {
      expect(f.header, `${f.name} has no header line`).toMatch(/^# timberlock app\.log period=\S+ created=\S+ pid=\d+ host=\S+$/);
    }
    const headers = report.files.map((f) => f.header);
    expect(new Set(headers).size, firstLines.join('\n')).toBe(report.files.length);
  }, 45_000);
});
