// Through loggers: the same burst, but every line is a logger call (pino, winston) whose output goes
// to timberlock or to the destination people use with that logger today.
import os from 'node:os';
import { LOGGERS } from '../lib/loggers.mjs';
import { logFiles, verify } from '../lib/lines.mjs';
import { runChild } from '../lib/spawn.mjs';
import { fmt } from '../lib/table.mjs';
import { measured, shifted, summarize } from './single.mjs';

export async function throughLoggers(ctx, { loggers, lines, rounds }) {
  const runs = [];
  for (let round = 0; round < rounds; round++) {
    for (const name of shifted(loggers, round)) {
      const dir = ctx.freshDir('logger');
      const load1 = os.loadavg()[0];
      const child = await runChild('logger', [name, dir, lines], { env: ctx.env });
      const check = verify(logFiles(dir), { w0: lines }, { extract: LOGGERS[name].extract });
      ctx.removeDir(dir);
      const run = { library: name, round, load1, ...measured(child, lines, check) };
      runs.push(run);
      ctx.progress(
        `logger ${name.padEnd(34)} round ${round + 1}/${rounds}: ${fmt(run.linesPerSec).padStart(10)} lines/s, ` +
          `peak RSS ${fmt(run.maxRssMB)} MB, ${run.ok ? 'all lines verified' : `VERIFY FAILED ${JSON.stringify(check)}`} (load ${load1.toFixed(1)})`,
      );
    }
  }
  return { runs, summary: summarize(runs, loggers, (name) => LOGGERS[name].label, { raw: null, sonic: 'pino>sonic-boom' }) };
}
