// Multi-process: several processes append to ONE path that rotates every `rotateMs`, for `runMs`.
// Afterwards every file in the directory is read and every line checked: expected (what the writers
// report), found, lost, duplicated, torn, files produced; aggregate lines/s over the whole run (from
// the common start until the last process has closed its file).
import os from 'node:os';
import { DESTINATIONS } from '../lib/destinations.mjs';
import { logFiles, verify } from '../lib/lines.mjs';
import { runGroup } from '../lib/spawn.mjs';
import { median, sum } from '../lib/stats.mjs';
import { fmt } from '../lib/table.mjs';
import { shifted } from './single.mjs';

export async function multiProcess(ctx, { libraries, processes, rotateMs, runMs, rounds }) {
  const runs = [];
  // A run that is not counted (of the raw baseline): the suite's first run measured 20–35% below the same
  // library's later runs, whichever library it was (timberlock, first in the list, 1.32M–1.39M lines/s in
  // round 1 against 1.70M–2.07M in round 2; 1.96M after such a run), and that library paid for it.
  {
    const dir = ctx.freshDir('multi-warm-up');
    const startAt = (now) => Math.ceil((now + 500) / rotateMs) * rotateMs + rotateMs / 2;
    await runGroup('multi', processes, (i) => ['raw', dir, `w${i}`, rotateMs, runMs], { env: ctx.env, startAt });
    ctx.removeDir(dir);
  }
  for (let round = 0; round < rounds; round++) {
    for (const library of shifted(libraries, round)) {
      const dir = ctx.freshDir(`multi-${library}`);
      const load1 = os.loadavg()[0];
      // Start half-way through a period, so the run crosses runMs / rotateMs boundaries.
      const startAt = (now) => Math.ceil((now + 500) / rotateMs) * rotateMs + rotateMs / 2;
      let group;
      try {
        group = await runGroup('multi', processes, (i) => [library, dir, `w${i}`, rotateMs, runMs], { env: ctx.env, startAt });
      } catch (err) {
        runs.push({ library, round, load1, failed: String(err.message).slice(0, 2000) });
        ctx.progress(`multi  ${library.padEnd(26)} round ${round + 1}/${rounds}: FAILED ${String(err.message).slice(0, 300)}`);
        ctx.removeDir(dir);
        continue;
      }
      const written = Object.fromEntries(group.results.map((r) => [r.tag, r.written]));
      const files = logFiles(dir);
      const check = verify(files, written);
      ctx.removeDir(dir);
      const spanMs = Math.max(...group.results.map((r) => r.closedAt)) - group.startAt;
      const delivered = check.expected - check.lost;
      const run = {
        library,
        round,
        load1,
        ...check,
        spanMs,
        aggregateLinesPerSec: (delivered * 1000) / spanMs,
        maxRssMB: Math.max(...group.results.map((r) => r.maxRssMB)),
        crashed: group.results.filter((r) => r.crashed).map((r) => `${r.tag}: ${r.crashed}`),
        // Time the writers spent waiting for 'drain' (backpressure), summed over the processes.
        drainWaitMs: sum(group.results.map((r) => r.drainWaitMs ?? 0)),
        ok: check.lost === 0 && check.duplicated === 0 && check.torn === 0 && group.results.every((r) => !r.crashed),
      };
      runs.push(run);
      ctx.progress(
        `multi  ${library.padEnd(26)} round ${round + 1}/${rounds}: expected ${fmt(check.expected)}, lost ${fmt(check.lost)}, ` +
          `dup ${fmt(check.duplicated)}, torn ${fmt(check.torn)}, ${check.files} files, ${fmt(run.aggregateLinesPerSec)} lines/s` +
          `, ${fmt(run.drainWaitMs)} ms waiting for drain` +
          `${run.crashed.length > 0 ? `, ${run.crashed.length} process(es) crashed: ${run.crashed[0]}` : ''} (load ${load1.toFixed(1)})`,
      );
    }
  }
  const summary = libraries.map((library) => {
    const mine = runs.filter((run) => run.library === library && !run.failed);
    return {
      library,
      label: DESTINATIONS[library].label,
      rotates: DESTINATIONS[library].rotates,
      runs: mine.length,
      failedRuns: runs.filter((run) => run.library === library && run.failed).length,
      crashedProcesses: sum(mine.map((run) => run.crashed.length)),
      expected: sum(mine.map((run) => run.expected)),
      found: sum(mine.map((run) => run.found)),
      lost: sum(mine.map((run) => run.lost)),
      duplicated: sum(mine.map((run) => run.duplicated)),
      torn: sum(mine.map((run) => run.torn)),
      files: median(mine.map((run) => run.files)),
      aggregateLinesPerSec: median(mine.map((run) => run.aggregateLinesPerSec)),
      drainWaitMs: median(mine.map((run) => run.drainWaitMs)),
      load1: median(mine.map((run) => run.load1)),
    };
  });
  return { runs, summary };
}
