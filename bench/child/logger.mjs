// One logger burst, in a fresh process: N entries through a logger in one synchronous loop, then the
// logger's own way of ending, awaited until every entry is in the file.
// Prints one JSON line: elapsed time, loop time, peak RSS (the main thread and any worker), CPU time.
// Usage: node logger.mjs <logger> <dir> <lines>
import { LOGGERS } from '../lib/loggers.mjs';
import { peakRssMB } from '../lib/memory.mjs';

const [name, dir, count] = process.argv.slice(2);
const lines = Number(count);
const logger = await LOGGERS[name].open(dir);

const start = performance.now();
for (let seq = 0; seq < lines; seq++) logger.log('w0', seq);
const looped = performance.now();
await logger.end();
const end = performance.now();

const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({
    elapsedMs: end - start,
    loopMs: looped - start,
    maxRssMB: peakRssMB(),
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
  })}\n`,
);
