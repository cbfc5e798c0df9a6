// The timed part of a one-process burst (bench/child/single.mjs, bench/child/logger.mjs): `lines` calls
// of `writeOne(seq)` in one synchronous loop, return values ignored, then `end()` awaited until every
// line is in the file. Prints one JSON line: elapsed time, time spent in the loop, peak RSS (the main
// thread and any worker) and CPU time.
import { peakRssMB } from './memory.mjs';

export async function timedBurst(lines, writeOne, end) {
  const start = performance.now();
  for (let seq = 0; seq < lines; seq++) writeOne(seq);
  const looped = performance.now();
  await end();
  const ended = performance.now();
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      elapsedMs: ended - start,
      loopMs: looped - start,
      maxRssMB: peakRssMB(),
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    })}\n`,
  );
}
