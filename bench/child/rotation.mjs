// One of four timberlock processes measuring what a rotation costs the event loop.
//
// forced:   writes 20 lines every ms and, every 2–8 ms, calls rotate() — timed with the clock (and the
//           process's CPU time) around the call, after flushSync(), so the figure is the rotation, not a
//           batch of lines. Runs
//           until it won `target` rotations or `runMs` passed.
// boundary: writes 20 lines every ms to a file rotating every `frequency` ms; every callback of the
//           event loop (timer, immediate) in which the file switched to a new period is timed with
//           async_hooks, and the switch ('open') is stamped with the wall clock, so run.mjs can tell
//           how long after each boundary every process was writing to the new file.
// Usage: node rotation.mjs <forced|boundary> <dir> <writer tag> <runMs> <target or frequency>
import { createHook } from 'node:async_hooks';
import path from 'node:path';
import { distUrl } from '../lib/destinations.mjs';
import { line } from '../lib/lines.mjs';

const [mode, dir, tag, runMsText, param] = process.argv.slice(2);
const runMs = Number(runMsText);
const { createRotatingFile } = await import(distUrl('index.js'));
const wallNow = () => performance.timeOrigin + performance.now();

const file = createRotatingFile({
  path: path.join(dir, 'app.log'),
  frequency: mode === 'boundary' ? Number(param) : 'daily',
  timeZone: 'UTC',
});

// Event-loop callbacks: how long each one ran, and whether the file switched period inside it.
let callbackStart = 0;
let switchedInCallback = false;
let archivedInCallback = false;
/** One entry per event-loop callback in which the file switched period: { ms, archived } */
const taskBlocksMs = [];
const opens = [];
file.on('open', (event) => {
  opens.push({ at: wallNow(), periodStart: event.periodStart, ino: event.ino });
  switchedInCallback = true;
});
let archives = 0;
file.on('rotate', (event) => {
  if (event.archive) {
    archives++;
    archivedInCallback = true;
  }
});
if (mode === 'boundary') {
  createHook({
    before() {
      callbackStart = performance.now();
      switchedInCallback = archivedInCallback = false;
    },
    after() {
      if (switchedInCallback) taskBlocksMs.push({ ms: performance.now() - callbackStart, archived: archivedInCallback });
      switchedInCallback = archivedInCallback = false;
    },
  }).enable();
}

const { startAt } = await new Promise((resolve) => {
  process.once('message', resolve);
  process.send({ ready: true });
});
await sleep(Math.max(0, startAt - Date.now()));
const stopAt = startAt + runMs;
opens.length = 0;
taskBlocksMs.length = 0;

let seq = 0;
const writer = setInterval(() => {
  for (let i = 0; i < 20; i++) file.write(line(tag, seq++));
}, 1);

const won = [];
const busy = [];
const wonCpu = [];
if (mode === 'forced') {
  const target = Number(param);
  while (won.length < target && Date.now() < stopAt) {
    await sleep(2 + Math.floor(Math.random() * 7));
    file.flushSync();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const ok = file.rotate();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    (ok ? won : busy).push(ms);
    if (ok) wonCpu.push((cpu.user + cpu.system) / 1000);
  }
} else {
  await sleep(stopAt - Date.now());
}
clearInterval(writer);
await file.close();
process.send(
  { tag, written: seq, won, wonCpu, busy, archives, opens, taskBlocksMs, stats: file.stats() },
  () => process.disconnect(),
);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
