// One of several processes appending to the same log path (forked by run.mjs, which sends the start
// time). Writes bursts of 1000 lines, honouring the destination's backpressure (waits for 'drain'
// when write() returned false, otherwise yields to the event loop), until the run time is over; then
// ends the destination and reports how many lines it wrote (or, if the library crashed the process,
// how many it had written until then).
// Usage: node multi.mjs <destination> <dir> <writer tag> <rotateMs> <runMs>
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { DESTINATIONS } from '../lib/destinations.mjs';
import { peakRssMB } from '../lib/memory.mjs';

const BURST = 1000;
const [name, dir, tag, rotateMs, runMs] = process.argv.slice(2);
const dest = await DESTINATIONS[name].open(dir, { rotateMs: Number(rotateMs) });
const { startAt } = await new Promise((resolve) => {
  process.once('message', resolve);
  process.send({ ready: true });
});
await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));

const stopAt = startAt + Number(runMs);
let seq = 0;
let drainWaits = 0;
let drainWaitMs = 0;
// A library that throws from a timer or callback ends this process as it would end a service; first
// say how many lines were handed to it, so that its lost lines can be counted.
process.on('uncaughtException', (err) => {
  const crashed = String(err?.stack ?? err).split('\n').slice(0, 2).join(' ');
  process.send({ tag, written: seq, startAt, crashed, closedAt: Date.now(), maxRssMB: peakRssMB() }, () => process.exit(1));
});
while (Date.now() < stopAt) {
  let ok = true;
  for (let i = 0; i < BURST; i++) ok = dest.write(tag, seq++) && ok;
  if (ok) {
    await yieldToLoop();
  } else {
    const waitStart = performance.now();
    await dest.drained();
    drainWaits++;
    drainWaitMs += performance.now() - waitStart;
  }
}
const writtenAt = Date.now();
await dest.end();
const closedAt = Date.now();
process.send({ tag, written: seq, startAt, writtenAt, closedAt, drainWaits, drainWaitMs, maxRssMB: peakRssMB() }, () => process.disconnect());
