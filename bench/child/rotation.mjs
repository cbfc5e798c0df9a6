// One of four timberlock processes measuring what a rotation costs the event loop.
//
// Every turn of the event loop (a timer, immediate or I/O callback with the promise jobs and nextTick
// callbacks that run right after it) is timed with async_hooks, with the part of it the thread spent
// waiting for a CPU. A rotation takes and releases its lock on the event loop and makes its other
// system calls on libuv's pool, so what it blocks the loop for is the longest turn while it is under way:
// forced:   writes 20 lines every ms and, every 2–8 ms, calls rotate() (after flushSync() and a turn of
//           the loop, so no batch of lines is in the figure); per call, the longest turn from the call
//           until its promise settled, the time until it settled, and the process's CPU time.
//           Runs until it won `target` rotations or `runMs` passed. Between the calls: windows as long
//           without a rotation (control), and windows as long in which one turn computes for
//           KNOWN_BLOCK_MS (calibration: what this machine reports for a block of known length).
// boundary: writes 20 lines every ms to a file rotating every `frequency` ms; per boundary, the
//           longest turn from the boundary until the new period's file had the active name ('rotate':
//           the file is staged first, and gets the name settleMs later), and when the process switched
//           to the new period's file ('open', stamped with the wall clock, so run.mjs can tell how
//           long after each boundary every process was writing to the new file).
// Usage: node rotation.mjs <forced|boundary> <dir> <writer tag> <runMs> <target or frequency>
import { createHook } from 'node:async_hooks';
import fs from 'node:fs';
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

/**
 * How long the main thread has been runnable but waiting for a CPU, in ms (Linux: the second field of
 * /proc/<pid>/task/<tid>/schedstat, brought up to date whenever the thread gets a CPU back, so exact at
 * any moment the thread runs). Its first field, the time on a CPU, only moves at scheduler ticks and
 * switches, too coarsely for sub-millisecond callbacks: not used, except that 0 there means the kernel
 * keeps no such counters (both fields stay 0). Null where there is no schedstat. A read costs about 5 µs.
 */
const readCpuWait = (() => {
  let fd;
  const buf = Buffer.alloc(96);
  const fields = () => buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0)).split(' ');
  try {
    fd = fs.openSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'r');
    if (Number(fields()[0]) === 0) return null;
  } catch {
    return null;
  }
  return () => Number(fields()[1]) / 1e6;
})();

// What the event loop is blocked for is a turn: one callback (a timer, an immediate, an I/O completion)
// and the process.nextTick callbacks and promise jobs that run right after it, before the loop goes on.
// async_hooks reports each of those jobs as a callback of its own, so they are added up here: a turn
// starts with a callback that is not such a job and lasts until the last job after it ended.
// `window` collects the longest turn while it is open, and how much of it the thread spent waiting for
// a CPU (another thread or process had both). The CPU wait is read at the start of every turn, before
// its clock starts, and at the end of every job that makes its turn the longest so far, inside the turn:
// a long turn of many jobs carries a few reads, so its figures err high by some tens of µs at most.
const JOBS = new Set(['PROMISE', 'TickObject', 'Microtask']);
const jobIds = new Set();
/** What starts each turn, by async id: a thread-pool completion, a timer, an immediate (see turnKind). */
const kinds = new Map();
const POOL = new Set(['FSREQCALLBACK', 'FSREQPROMISE', 'FILEHANDLECLOSEREQ', 'STATWATCHER']);
const turnKind = (type) => (POOL.has(type) ? 'pool' : type === 'Timeout' ? 'timer' : type === 'Immediate' ? 'immediate' : 'other');
let kindOfTurn = 'other';
let depth = 0;
let turnStart = 0;
let cpuWaitAtTurnStart = null;
/** { longest: ms, waitingForCpu: ms of it or null } while a rotation is measured, else null. */
let window = null;
createHook({
  init(id, type) {
    if (JOBS.has(type)) jobIds.add(id);
    else kinds.set(id, turnKind(type));
  },
  before(id) {
    if (depth++ > 0 || jobIds.has(id)) return;
    cpuWaitAtTurnStart = readCpuWait?.() ?? null; // always: a window may open inside this turn
    turnStart = performance.now();
    kindOfTurn = kinds.get(id) ?? 'other';
  },
  after() {
    if (--depth > 0 || !window) return;
    countTurn(window);
  },
  // A promise that never settles, or whose jobs never run, leaves its id only here.
  destroy(id) {
    jobIds.delete(id);
    kinds.delete(id);
  },
}).enable();

/** Count the turn under way, up to now, into the window `w`. */
function countTurn(w) {
  const wall = performance.now() - turnStart;
  if (wall <= w.longest) return;
  w.longest = wall;
  w.kind = kindOfTurn;
  w.waitingForCpu = cpuWaitAtTurnStart === null ? null : readCpuWait() - cpuWaitAtTurnStart;
}

/** A measuring window (see countTurn). */
function openWindow(extra = {}) {
  return { longest: 0, waitingForCpu: null, kind: null, ...extra };
}

/** One entry per boundary: { ms: longest turn from the boundary to the rotation, waitingForCpu, archived } */
const taskBlocksMs = [];
const opens = [];
let archives = 0;
file.on('open', (event) => {
  opens.push({ at: wallNow(), periodStart: event.periodStart, ino: event.ino });
});
file.on('rotate', (event) => {
  if (event.archive) archives++;
  if (mode !== 'boundary' || !window || window.control) return;
  // The turn that rotated is still under way: count it up to now.
  countTurn(window);
  taskBlocksMs.push({ ms: window.longest, waitingForCpu: window.waitingForCpu, archived: event.archive !== null });
  lastWindowMs = performance.now() - window.opened;
  window = null;
});
/** The same measurement over windows without a rotation: what the machine and the writer cost alone. */
const control = [];
const controlCpuWait = [];
/** Forced mode: the longest turn of windows holding one turn that computes for KNOWN_BLOCK_MS. */
const calibration = [];
const calibrationCpuWait = [];
const KNOWN_BLOCK_MS = 0.3;
let lastWindowMs = 0;
/**
 * Boundary mode: open a window at every boundary (the first timer turn after it); half a period
 * later, a control window as long as the last boundary's.
 */
function watchBoundaries(frequency) {
  let nextBoundary = Math.ceil(Date.now() / frequency) * frequency;
  let controlAt = Infinity;
  return () => {
    const now = Date.now();
    if (window?.control && performance.now() - window.opened >= lastWindowMs) {
      control.push(window.longest);
      controlCpuWait.push(window.waitingForCpu);
      window = null;
    }
    if (now >= nextBoundary) {
      nextBoundary += frequency;
      controlAt = nextBoundary - frequency / 2;
      window = openWindow({ opened: performance.now(), control: false });
    } else if (now >= controlAt && !window && lastWindowMs > 0) {
      controlAt = Infinity;
      window = openWindow({ opened: performance.now(), control: true });
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
const wonCpuWait = [];
/** Forced: what started the longest turn of each rotation won ('immediate': the turn that called rotate(), which takes the lock). */
const wonTurnKind = [];
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
      window = openWindow();
      await sleep(length);
      control.push(window.longest);
      controlCpuWait.push(window.waitingForCpu);
      window = null;
      continue;
    }
    if (wonLatency.length > 0 && calibration.length < control.length) {
      window = openWindow();
      await nextTurn();
      const until = performance.now() + KNOWN_BLOCK_MS;
      while (performance.now() < until); // a turn that computes, without I/O, for KNOWN_BLOCK_MS
      await sleep(Math.max(0, length - KNOWN_BLOCK_MS));
      calibration.push(window.longest);
      calibrationCpuWait.push(window.waitingForCpu);
      window = null;
      continue;
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    window = openWindow();
    // rotate()'s synchronous part counts with this turn.
    const ok = await file.rotate();
    const longest = window.longest;
    const waitingForCpu = window.waitingForCpu;
    const kind = window.kind;
    window = null;
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    (ok ? won : busy).push(longest);
    if (ok) {
      wonLatency.push(ms);
      wonCpuWait.push(waitingForCpu);
      wonTurnKind.push(kind);
      wonCpu.push((cpu.user + cpu.system) / 1000);
    }
  }
} else {
  await sleep(stopAt - Date.now());
}
clearInterval(writer);
await file.close();
process.send(
  {
    tag,
    written: seq,
    won,
    wonCpu,
    wonLatency,
    wonCpuWait,
    wonTurnKind,
    control,
    controlCpuWait,
    calibration,
    calibrationCpuWait,
    knownBlockMs: KNOWN_BLOCK_MS,
    busy,
    archives,
    opens,
    taskBlocksMs,
    stats: file.stats(),
  },
  () => process.disconnect(),
);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
