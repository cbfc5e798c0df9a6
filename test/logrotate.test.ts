/**
 * External rotation and deletion: the real logrotate (`create` + a postrotate that sends SIGHUP, the
 * writers call reopen()), and an operator who removes or moves the active file while processes write.
 * Real processes (test/fixtures/stress-writer.mjs), a real disk, checked line by line
 * (test/helpers/verify.ts). rsyslog follows the file during the logrotate run and what it received is
 * reported.
 *
 * Needs dist/index.js (`npm test` builds it first), logrotate and rsyslogd (.ci/run installs both).
 * Outside CI a missing tool skips its test with a printed reason; in CI it fails.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bytesOnDisk, haveCommand, startRsyslog, waitUntilQuiet } from './helpers/followers.js';
import { formatCopyReport, formatReport, unshippedByFile, verifyCopy, verifyDir, type CopyReport } from './helpers/verify.js';
import { expectEveryLineOnce, useFollowSuite } from './helpers/follow-suite.js';
import { incidents, startWriters, sumStat, type WriterResult } from './helpers/writer-run.js';

const run = promisify(execFile);
const IN_CI = Boolean(process.env.CI);
const HAVE_LOGROTATE = haveCommand('logrotate');
const HAVE_RSYSLOG = haveCommand('rsyslogd');
if (!HAVE_LOGROTATE && !IN_CI) console.log('logrotate.test: logrotate not installed (apt-get install logrotate): its test is skipped');

const makeDir = useFollowSuite('logrotate');

/** Poll (every 20 ms) until `file` holds at least `bytes`, or throw after deadlineMs. */
async function waitForSize(file: string, bytes: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while ((fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0) < bytes) {
    if (Date.now() > until) throw new Error(`${file} did not reach ${bytes} bytes within ${deadlineMs} ms`);
    await sleep(20);
  }
}

/** When each writer first opened a file other than `oldIno` at or after `since` (ms after `since`). */
/** The longest any writer's event loop was late for a timer. */
function maxLoopDelay(results: WriterResult[]): number {
  return Math.max(0, ...results.map((r) => r.maxLoopDelayMs));
}

function reopenDelays(results: WriterResult[], oldIno: number, since: number): Record<string, number | null> {
  return Object.fromEntries(
    results.map((r) => {
      const open = r.opens.find((o) => o.at >= since && o.ino !== oldIno);
      return [r.writer, open ? open.at - since : null];
    }),
  );
}

describe('logrotate rotates the file (create + postrotate kill -HUP), the writers reopen()', () => {
  it.skipIf(!HAVE_LOGROTATE && !IN_CI)(
    "loses no line on disk across app.log and logrotate's app.log.1 … app.log.5, each starting with one header line; rsyslog's share is reported",
    async () => {
      const dir = makeDir();
      const logs = path.join(dir, 'logs');
      fs.mkdirSync(logs);
      const active = path.join(logs, 'app.log');
      fs.writeFileSync(active, '');
      const follower = HAVE_RSYSLOG || IN_CI ? await startRsyslog({ follow: active, output: path.join(dir, 'shipped.log'), dir }) : null;

      const writers = ['w0', 'w1', 'w2', 'w3'];
      const linesPerWriter = 6_000; // 4 × 500 lines/s for 12 s
      const writing = startWriters(
        writers.map((writer) => ({
          path: active,
          writer,
          lines: linesPerWriter,
          frequency: 'monthly', // timberlock's own rotation is effectively off: logrotate rotates
          timeZone: 'UTC',
          reopenOnSighup: true,
          // logrotate creates the new files: the process that takes each one under the lock gives it the header.
          options: { header: true },
          paceEvery: 10,
          spanMs: 12_000,
        })),
        60_000,
      );
      const { pids, goAt } = await writing.started;

      const conf = path.join(dir, 'logrotate.conf');
      fs.writeFileSync(
        conf,
        [
          `${active} {`,
          '    rotate 100',
          '    create 0640',
          '    nocompress',
          '    missingok',
          '    postrotate',
          `        kill -HUP ${pids.join(' ')}`,
          '    endscript',
          '}',
          '',
        ].join('\n'),
        { mode: 0o644 },
      );
      // Five forced rotations, 2 s apart, all while the writers write.
      const rotations: { at: number; ms: number; stderr: string }[] = [];
      for (let i = 1; i <= 5; i++) {
        const due = goAt + i * 2_000;
        if (due > Date.now()) await sleep(due - Date.now());
        const started = Date.now();
        const { stderr } = await run('logrotate', ['-f', '-s', path.join(dir, 'logrotate.state'), conf], { timeout: 20_000 });
        rotations.push({ at: started - goAt, ms: Date.now() - started, stderr });
      }
      const outcome = await writing.finished;

      const expected = { writers, linesPerWriter, headerPrefix: '# timberlock app.log ' };
      const disk = verifyDir(logs, expected, outcome.rotates);
      const rotatedFiles = fs.readdirSync(logs).filter((name) => /^app\.log\.\d+$/.test(name)).sort();
      let shipped: CopyReport | null = null;
      let unshipped = '';
      let drainedMs = 0;
      if (follower) {
        const drained = await waitUntilQuiet(follower.output, { expectedBytes: bytesOnDisk(logs), quietMs: 1_500, giveUpMs: 5_000, deadlineMs: 30_000 });
        drainedMs = drained.waitedMs;
        await follower.stop();
        shipped = verifyCopy(logs, follower.output);
        unshipped = unshippedByFile(logs, follower.output)
          .map((f) => `${f.name}: ${f.missing} of ${f.lines} (${f.missingAtEnd} at its end)`)
          .join(', ');
      }
      const lines = writers.length * linesPerWriter;
      console.log(
        `logrotate: lines=${lines} onDisk=${disk.linesFound} lost=${disk.missing.count} duplicated=${disk.duplicated.count} ` +
          `rotated files=${rotatedFiles.join(',')} logrotate runs=${JSON.stringify(rotations.map((r) => `${r.at}ms+${r.ms}ms`))} ` +
          `sighups=${JSON.stringify(outcome.results.map((r) => r.sighups.length))} reopens=${sumStat(outcome.results, 'reopens')} ` +
          `late=${sumStat(outcome.results, 'lateLines')} timberlock rotations=${sumStat(outcome.results, 'rotations')} writing=${outcome.durationMs} ms\n` +
          `  disk: ${formatReport(disk)}\n` +
          (shipped
            ? `  rsyslog received ${shipped.linesFound} of ${lines} lines (${((100 * shipped.linesFound) / lines).toFixed(2)} %): ` +
              `missing=${shipped.missing.count} duplicated=${shipped.duplicated.count} corrupt=${shipped.unexpected.count} drain=${drainedMs} ms\n` +
              `  not shipped, by file: ${unshipped}\n` +
              `  rsyslog: ${formatCopyReport(shipped)}`
            : '  rsyslog not installed: nothing shipped') +
          (incidents(outcome.results) ? `\n  ${incidents(outcome.results)}` : ''),
      );

      expect(outcome.failures, outcome.failures.join('\n')).toEqual([]);
      for (const r of rotations) expect(r.stderr).toBe('');
      expect(rotatedFiles).toEqual(['app.log.1', 'app.log.2', 'app.log.3', 'app.log.4', 'app.log.5']);
      for (const r of outcome.results) {
        expect(r.sighups, `writer ${r.writer}`).toHaveLength(5);
        expect(r.stats.rotations, `writer ${r.writer}: timberlock itself must not rotate`).toBe(0);
      }
      expectEveryLineOnce(disk, 'disk');
      expect(sumStat(outcome.results, 'lateLines')).toBe(0);
      // A header anywhere but on the first line would be a torn line (expectEveryLineOnce): one per file.
      expect(disk.files.map((f) => f.name).sort()).toEqual(['app.log', ...rotatedFiles].sort());
      for (const f of disk.files) expect(f.header, `${f.name} does not start with a header`).toMatch(/^# timberlock app\.log period=\S+ created=/);
    },
    60_000,
  );
});

describe('the active file is removed or moved while 2 processes write (checkIntervalMs: 200)', () => {
  const writers = ['w0', 'w1'];
  const linesPerWriter = 4_000; // 2 × 1,000 lines/s for 4 s
  const checkIntervalMs = 200;
  /**
   * The name is found missing at the first check (≤ 1 interval); the process gives an external rotator
   * one interval to create it (`now - missingSince >= checkIntervalMs`, which timer jitter can turn into
   * two ticks), then creates it; the other process follows at its next check. Plus 200 ms, and three
   * times the longest the writers' event loops were late for a timer (a loaded machine delays each tick).
   */
  const REOPEN_BOUND_MS = 3 * checkIntervalMs + 200;

  async function writeAndMeddle(meddle: (active: string, logs: string) => void) {
    const dir = makeDir();
    const logs = path.join(dir, 'logs');
    const active = path.join(logs, 'app.log');
    const writing = startWriters(
      writers.map((writer) => ({
        path: active,
        writer,
        lines: linesPerWriter,
        frequency: 'monthly',
        timeZone: 'UTC',
        options: { checkIntervalMs },
        paceEvery: 10,
        spanMs: 4_000,
      })),
      30_000,
    );
    await writing.started;
    await waitForSize(active, 500_000, 10_000); // about a quarter of the lines are written
    const oldIno = fs.statSync(active).ino;
    const at = Date.now();
    meddle(active, logs);
    const outcome = await writing.finished;
    return { dir, logs, active, oldIno, at, outcome, delays: reopenDelays(outcome.results, oldIno, at) };
  }

  /**
   * Every writer reopened within REOPEN_BOUND_MS (plus timer lateness) of the meddling at `at`, wrote
   * nothing to the old file (removed or moved) after its reopen, and has lines in the new app.log.
   */
  function expectEachReopened(
    delays: Record<string, number | null>,
    loopDelayMs: number,
    at: number,
    oldFile: { maxT: Record<string, number> } | undefined,
    newFile: { writers: Record<string, number> } | undefined,
    what: 'removed' | 'moved',
  ): void {
    for (const writer of writers) {
      const delay = delays[writer];
      expect(delay, `${writer} never reopened`).not.toBeNull();
      expect(delay!, `${writer} reopened ${delay} ms after the file was ${what} (loops late by up to ${loopDelayMs} ms)`).toBeLessThanOrEqual(
        REOPEN_BOUND_MS + 3 * loopDelayMs,
      );
      const reopenedAt = at + delay!;
      expect(oldFile?.maxT[writer] ?? 0, `${writer}: a line written after its reopen is in the ${what} file`).toBeLessThanOrEqual(reopenedAt);
      expect(newFile?.writers[writer] ?? 0, `${writer} has no line in the new app.log`).toBeGreaterThan(0);
    }
  }

  it('rm: each process reopens a new app.log within 3 check intervals; every line is in it or in the removed file', async () => {
    let held = -1;
    const { logs, active, oldIno, at, outcome, delays } = await writeAndMeddle((file) => {
      held = fs.openSync(file, 'r'); // like a shipper still reading it: the removed inode stays readable
      fs.unlinkSync(file);
    });
    // The removed file's bytes, as the reader that held it sees them.
    const removed = Buffer.alloc(fs.fstatSync(held).size);
    fs.readSync(held, removed, 0, removed.length, 0);
    fs.closeSync(held);
    fs.writeFileSync(path.join(logs, 'removed-app.log.copy'), removed);

    const report = verifyDir(logs, { writers, linesPerWriter }, outcome.rotates);
    const newFile = report.files.find((f) => f.name === 'app.log');
    const removedFile = report.files.find((f) => f.name === 'removed-app.log.copy');
    const warnings = outcome.results.flatMap((r) => r.warnings.map((w) => `${r.writer} ${w.code} +${w.at - at} ms`));
    console.log(
      `rm: reopen delays ${JSON.stringify(delays)} (checkIntervalMs ${checkIntervalMs}, loops late ≤ ${maxLoopDelay(outcome.results)} ms) new app.log lines=${newFile?.lines} ` +
        `removed file lines=${removedFile?.lines} warnings=${warnings.join('; ')}\n  ${formatReport(report)}`,
    );

    expect(outcome.failures, outcome.failures.join('\n')).toEqual([]);
    expect(fs.statSync(active).ino).not.toBe(oldIno);
    expectEachReopened(delays, maxLoopDelay(outcome.results), at, removedFile, newFile, 'removed');
    expectEveryLineOnce(report, 'disk');
    expect(sumStat(outcome.results, 'lateLines')).toBe(0);
  }, 45_000);

  it('mv: each process reopens a new app.log within 3 check intervals; lines written meanwhile are in the moved file', async () => {
    const { logs, active, oldIno, at, outcome, delays } = await writeAndMeddle((file, dir) => {
      fs.renameSync(file, path.join(dir, 'moved-app.log.copy'));
    });
    const report = verifyDir(logs, { writers, linesPerWriter }, outcome.rotates);
    const newFile = report.files.find((f) => f.name === 'app.log');
    const movedFile = report.files.find((f) => f.name === 'moved-app.log.copy');
    const warnings = outcome.results.flatMap((r) => r.warnings.map((w) => `${r.writer} ${w.code} +${w.at - at} ms`));
    console.log(
      `mv: reopen delays ${JSON.stringify(delays)} (checkIntervalMs ${checkIntervalMs}, loops late ≤ ${maxLoopDelay(outcome.results)} ms) new app.log lines=${newFile?.lines} ` +
        `moved file lines=${movedFile?.lines} warnings=${warnings.join('; ')}\n  ${formatReport(report)}`,
    );

    expect(outcome.failures, outcome.failures.join('\n')).toEqual([]);
    expect(fs.statSync(path.join(logs, 'moved-app.log.copy')).ino).toBe(oldIno);
    expect(fs.statSync(active).ino).not.toBe(oldIno);
    expectEachReopened(delays, maxLoopDelay(outcome.results), at, movedFile, newFile, 'moved');
    expectEveryLineOnce(report, 'disk');
    expect(sumStat(outcome.results, 'lateLines')).toBe(0);
  }, 45_000);
});
