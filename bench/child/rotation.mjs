// One of four timberlock processes measuring what a rotation costs the event loop.
//
// Every callback of the event loop (timer, immediate, I/O completion, promise continuation) is timed
// with async_hooks. A rotation runs its system calls off the event loop, so what it blocks the loop
// for is the longest callback while it is under way:
// forced:   writes 20 lines every ms and, every 2–8 ms, calls rotate() (after flushSync() and a turn of
//           the loop, so no batch of lines is in the figure); per call, the longest callback from the
//           call until its promise settled, the time until it settled, and the process's CPU time.
//           Runs until it won `target` rotations or `runMs` passed. Between the calls: windows as long
//           without a rotation (control), and windows as long in which one callback computes for
//           KNOWN_BLOCK_MS (calibration: what this machine reports for a block of known length).
// boundary: writes 20 lines every ms to a file rotating every `frequency` ms; per boundary, the
//           longest callback from the boundary until the file switched to the new period ('open',
//           stamped with the wall clock, so run.mjs can tell how long after each boundary every
//           process was writing to the new file).
// Usage: node rotation.mjs <forced|boundary> <dir> <writer tag> <runMs> <target or frequency>
import { createHook } from 'node:async_hooks';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
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

// Event-loop callbacks: how long each one ran; `window` collects the longest one while it is open.
// Callbacks nest (a promise continuation inside an I/O callback): only the outermost is timed.
let depth = 0;
let callbackStart = 0;
/** { longest: ms, callbacks: n } while a rotation is measured, else null. */
let window = null;
createHook({
  before() {
    if (depth++ === 0) callbackStart = performance.now();
  },
  after() {
    if (--depth > 0 || !window) return;
    window.longest = Math.max(window.longest, performance.now() - callbackStart);
    window.callbacks++;
  },
}).enable();

/** One entry per boundary: { ms: longest callback from the boundary to the switch, archived } */
const taskBlocksMs = [];
const opens = [];
let archives = 0;
file.on('open', (event) => {
  opens.push({ at: wallNow(), periodStart: event.periodStart, ino: event.ino });
  if (mode !== 'boundary' || !window || window.control) return;
  // The callback that switched is still running: count it up to now.
  const longest = Math.max(window.longest, performance.now() - callbackStart);
  taskBlocksMs.push({ ms: longest, archived: false });
  lastWindowMs = performance.now() - window.opened;
  window = null;
});
// 'rotate' follows 'open' in the same callback when this process made the archive.
file.on('rotate', (event) => {
  if (!event.archive) return;
  archives++;
  const last = taskBlocksMs.at(-1);
  if (mode === 'boundary' && last) last.archived = true;
});
/** The same measurement over windows without a rotation: what the machine and the writer cost alone. */
const control = [];
/** Forced mode: the longest callback of windows holding one callback that computes for KNOWN_BLOCK_MS. */
const calibration = [];
const KNOWN_BLOCK_MS = 0.3;
let lastWindowMs = 0;
/**
 * Boundary mode: open a window at every boundary (the first timer callback after it); half a period
 * later, a control window as long as the last boundary's.
 */
function watchBoundaries(frequency) {
  let nextBoundary = Math.ceil(Date.now() / frequency) * frequency;
  let controlAt = Infinity;
  return () => {
    const now = Date.now();
    if (window?.control && performance.now() - window.opened >= lastWindowMs) {
      control.push(window.longest);
      window = null;
    }
    if (now >= nextBoundary) {
      nextBoundary += frequency;
      controlAt = nextBoundary - frequency / 2;
      window = { longest: 0, callbacks: 0, opened: performance.now(), control: false };
    } else if (now >= controlAt && !window && lastWindowMs > 0) {
      controlAt = Infinity;
      window = { longest: 0, callbacks: 0, opened: performance.now(), control: true };
    }
  };
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
const atBoundary = mode === 'boundary' ? watchBoundaries(Number(param)) : () => {};
const writer = setInterval(() => {
  atBoundary();
  for (let i = 0; i < 20; i++) file.write(line(tag, seq++));
}, 1);

const won = [];
const busy = [];
const wonCpu = [];
const wonLatency = [];
if (mode === 'forced') {
  const target = Number(param);
  while (won.length < target && Date.now() < stopAt) {
    await sleep(2 + Math.floor(Math.random() * 7));
    file.flushSync();
    await nextTurn();
    // After each rotation: a window without rotation, then one with a known block, each as long as the
    // median rotation so far.
    const length = wonLatency.toSorted((a, b) => a - b)[wonLatency.length >> 1];
    if (wonLatency.length > 0 && control.length < won.length) {
      window = { longest: 0, callbacks: 0 };
      await sleep(length);
      control.push(window.longest);
      window = null;
      continue;
    }
    if (wonLatency.length > 0 && calibration.length < control.length) {
      window = { longest: 0, callbacks: 0 };
      await nextTurn();
      const until = performance.now() + KNOWN_BLOCK_MS;
      while (performance.now() < until); // a callback that computes, without I/O, for KNOWN_BLOCK_MS
      await sleep(Math.max(0, length - KNOWN_BLOCK_MS));
      calibration.push(window.longest);
      window = null;
      continue;
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    window = { longest: 0, callbacks: 0 };
    const pending = file.rotate();
    const syncPart = performance.now() - t0; // the caller's own callback goes on after this
    const ok = await pending;
    const longest = Math.max(window.longest, syncPart);
    window = null;
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    (ok ? won : busy).push(longest);
    if (ok) {
      wonLatency.push(ms);
      wonCpu.push((cpu.user + cpu.system) / 1000);
    }
  }
} else {
  await sleep(stopAt - Date.now());
}
clearInterval(writer);
await file.close();
process.send(
  { tag, written: seq, won, wonCpu, wonLatency, control, calibration, knownBlockMs: KNOWN_BLOCK_MS, busy, archives, opens, taskBlocksMs, stats: file.stats() },
  () => process.disconnect(),
);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
