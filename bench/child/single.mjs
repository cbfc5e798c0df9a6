// One single-process burst, in a fresh process: N lines written in one synchronous loop, return values
// ignored (as a logger does), then end() and wait until every line reached the kernel.
// Prints one JSON line: elapsed time, time spent in the loop, peak RSS and CPU time.
// Usage: node single.mjs <destination> <dir> <lines>
import { DESTINATIONS } from '../lib/destinations.mjs';
import { peakRssMB } from '../lib/memory.mjs';

const [name, dir, count] = process.argv.slice(2);
const lines = Number(count);
const dest = await DESTINATIONS[name].open(dir, { rotateMs: null });

const start = performance.now();
for (let seq = 0; seq < lines; seq++) dest.write('w0', seq);
const looped = performance.now();
await dest.end();
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
