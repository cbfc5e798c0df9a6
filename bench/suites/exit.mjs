// Exit safety: lines logged right before the process ends, and how many of them reached the file.
import os from 'node:os';
import { DESTINATIONS } from '../lib/destinations.mjs';
import { logFiles, verify } from '../lib/lines.mjs';
import { runChild } from '../lib/spawn.mjs';
import { max, median } from '../lib/stats.mjs';
import { fmt } from '../lib/table.mjs';

export const SCENARIOS = {
  exit: 'process.exit(0) right after logging',
  sigterm: 'SIGTERM, no handler',
  'sigterm-handler': "SIGTERM, handler calls process.exit(0)",
  'handle-signals': 'SIGTERM, timberlock handleSignals()',
};

export async function exitSafety(ctx, { libraries, lines, repeats }) {
  const runs = [];
  for (const library of libraries) {
    for (const scenario of Object.keys(SCENARIOS)) {
      if (scenario === 'handle-signals' && !library.startsWith('timberlock')) continue;
      for (let repeat = 0; repeat < repeats; repeat++) {
        const dir = ctx.freshDir(`exit-${library}`);
        const load1 = os.loadavg()[0];
        const child = await runChild('exit', [library, dir, scenario, lines], { env: ctx.env, timeoutMs: 30_000 });
        const check = verify(logFiles(dir), { w0: lines });
        ctx.removeDir(dir);
        runs.push({ library, scenario, repeat, load1, code: child.code, signal: child.signal, lost: check.lost, torn: check.torn, duplicated: check.duplicated });
      }
      const mine = runs.filter((run) => run.library === library && run.scenario === scenario);
      ctx.progress(`exit   ${library.padEnd(26)} ${scenario.padEnd(16)}: lost ${mine.map((run) => fmt(run.lost)).join(', ')} of ${fmt(lines)}`);
    }
  }
  const summary = [];
  for (const library of libraries) {
    const row = { library, label: DESTINATIONS[library].label, lines };
    for (const scenario of Object.keys(SCENARIOS)) {
      const mine = runs.filter((run) => run.library === library && run.scenario === scenario);
      if (mine.length === 0) continue;
      row[scenario] = { lostMedian: median(mine.map((run) => run.lost)), lostMax: max(mine.map((run) => run.lost)), torn: max(mine.map((run) => run.torn)) };
    }
    summary.push(row);
  }
  return { runs, summary };
}
