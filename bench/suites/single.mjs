// Single process: N lines of ~200 bytes written as one burst, each library in a fresh process,
// libraries interleaved over several rounds (the order shifts every round). Every run's file is read
// back and every line checked.
import os from 'node:os';
import { DESTINATIONS } from '../lib/destinations.mjs';
import { logFiles, verify } from '../lib/lines.mjs';
import { runChild } from '../lib/spawn.mjs';
import { median, max } from '../lib/stats.mjs';
import { fmt } from '../lib/table.mjs';

/** Run the suite; returns { runs, summary } with one summary row per library. */
export async function singleProcess(ctx, { libraries, lines, rounds }) {
  const runs = [];
  for (let round = 0; round < rounds; round++) {
    for (const library of shifted(libraries, round)) {
      const dir = ctx.freshDir(`single-${library}`);
      const load1 = os.loadavg()[0];
      const child = await runChild('single', [library, dir, lines], { env: ctx.env });
      const check = verify(logFiles(dir), { w0: lines });
      ctx.removeDir(dir);
      const run = { library, round, load1, ...measured(child, lines, check) };
      runs.push(run);
      ctx.progress(
        `single ${library.padEnd(26)} round ${round + 1}/${rounds}: ${fmt(run.linesPerSec).padStart(10)} lines/s, ` +
          `peak RSS ${fmt(run.maxRssMB)} MB, ${run.ok ? 'all lines verified' : `VERIFY FAILED ${JSON.stringify(check)}`} (load ${load1.toFixed(1)})`,
      );
    }
  }
  return { runs, summary: summarize(runs, libraries, (name) => DESTINATIONS[name].label) };
}

/** The child's figures plus throughput and the verdict of the line check. */
export function measured(child, lines, check) {
  const r = child.result ?? {};
  const ok = child.code === 0 && check.found === lines && check.lost === 0 && check.duplicated === 0 && check.torn === 0;
  return {
    ok,
    elapsedMs: r.elapsedMs ?? null,
    loopMs: r.loopMs ?? null,
    cpuMs: r.cpuMs ?? null,
    maxRssMB: r.maxRssMB ?? null,
    linesPerSec: r.elapsedMs ? (lines * 1000) / r.elapsedMs : null,
    mbPerSec: r.elapsedMs ? check.bytes / 1e6 / (r.elapsedMs / 1000) : null,
    check,
    ...(child.code === 0 ? {} : { exit: { code: child.code, signal: child.signal, timedOut: child.timedOut, stderr: child.stderr.slice(-1000) } }),
  };
}

/** Median figures per library over its runs, with the ratio to raw and to sonic-boom where present. */
export function summarize(runs, names, labelOf, { raw = 'raw', sonic = 'sonic-boom' } = {}) {
  const rows = names.map((name) => {
    const mine = runs.filter((run) => run.library === name && run.linesPerSec !== null);
    return {
      library: name,
      label: labelOf(name),
      runs: mine.length,
      verified: mine.length > 0 && runs.filter((run) => run.library === name).every((run) => run.ok),
      linesPerSec: median(mine.map((run) => run.linesPerSec)),
      mbPerSec: median(mine.map((run) => run.mbPerSec)),
      maxRssMB: median(mine.map((run) => run.maxRssMB)),
      maxRssMBWorst: max(mine.map((run) => run.maxRssMB)),
      cpuMs: median(mine.map((run) => run.cpuMs)),
      linesPerCpuSec: median(mine.map((run) => (run.check.found * 1000) / run.cpuMs)),
      load1: median(mine.map((run) => run.load1)),
    };
  });
  const byName = Object.fromEntries(rows.map((row) => [row.library, row]));
  for (const row of rows) {
    row.vsRaw = byName[raw] ? row.linesPerSec / byName[raw].linesPerSec : null;
    row.vsSonic = byName[sonic] ? row.linesPerSec / byName[sonic].linesPerSec : null;
  }
  return rows;
}

/** The list rotated by `round` places, so no library always runs first or right after another. */
export function shifted(list, round) {
  const k = round % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
