#!/usr/bin/env node
// timberlock benchmarks: `npm run bench` (builds first), `npm run bench -- --quick` for a fast pass.
//
// Suites (all by default; pick with --only single,loggers,multi,rotation,exit):
//   single    one process, a burst of 1,000,000 ~200-byte lines per library, fresh process per run,
//             libraries interleaved over 5 rounds; every line of every run is checked on disk
//   loggers   the same burst through pino and winston, into timberlock and into their usual files
//   multi     4 processes, one path, rotation every second, 5 s: lost/duplicated/torn lines, files,
//             aggregate lines/s
//   rotation  event-loop block per rotation with 4 processes contending, time until all reopened
//   exit      lines lost on process.exit() and on SIGTERM with and without a handler
//
// Output: tables on stdout; the full figures in bench/results/bench.json and the chart in
// bench/results/bench.svg (the ones the README shows; a --quick run writes quick.json / quick.svg).
// Options: --dist <dir> (a timberlock build other than ./dist), --workdir <dir> (where the logs are
// written; default: the OS temp directory), --out <name> (results file name without extension),
// --from <results.json> (measure nothing: print the tables and redraw the chart of an earlier run),
// --peers-full (the peers that write one system call per line get the full line count too),
// --libs timberlock,sonic-boom (only these libraries, and the logger pairs that use them).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compact, renderChart } from './lib/chart.mjs';
import { DESTINATIONS, versionOf } from './lib/destinations.mjs';
import { LOGGERS } from './lib/loggers.mjs';
import { fmt, renderTable } from './lib/table.mjs';
import { exitSafety, SCENARIOS } from './suites/exit.mjs';
import { throughLoggers } from './suites/loggers.mjs';
import { multiProcess } from './suites/multi.mjs';
import { ms, rotationCost } from './suites/rotation.mjs';
import { singleProcess } from './suites/single.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    dist: { type: 'string' },
    workdir: { type: 'string' },
    out: { type: 'string' },
    'peers-full': { type: 'boolean', default: false },
    from: { type: 'string' },
    libs: { type: 'string' },
  },
});

/**
 * Writers that make one system call per line (timberlock with sync:true on purpose; the two peers
 * asynchronously): a 1M-line burst takes them from half a minute to several minutes, so by default they
 * get `perLineLines` lines (--peers-full: the full count).
 */
const PER_LINE = ['timberlock-sync', 'rotating-file-stream', 'log4js'];

const CONFIG = opts.quick
  ? {
      single: { lines: 100_000, perLineLines: 20_000, rounds: 2 },
      loggers: { lines: 50_000, rounds: 1 },
      multi: { processes: 4, rotateMs: 1000, runMs: 3000, rounds: 1 },
      rotation: { processes: 4, forced: { target: 50, runMs: 15_000 }, boundary: { frequency: 100, runMs: 3000 }, diskSamples: 200 },
      exit: { lines: 20_000, repeats: 1 },
    }
  : {
      single: { lines: 1_000_000, perLineLines: opts['peers-full'] ? 1_000_000 : 50_000, rounds: 5 },
      loggers: { lines: 100_000, rounds: 3 },
      multi: { processes: 4, rotateMs: 1000, runMs: 5000, rounds: 2 },
      rotation: { processes: 4, forced: { target: 260, runMs: 60_000 }, boundary: { frequency: 100, runMs: 10_000 }, diskSamples: 1000 },
      exit: { lines: 20_000, repeats: 2 },
    };

const SINGLE = ['raw', 'timberlock', 'sonic-boom', 'pino-roll', 'winston-daily-rotate-file', ...PER_LINE];
const MULTI = ['timberlock', 'pino-roll', 'rotating-file-stream', 'winston-daily-rotate-file', 'log4js', 'sonic-boom', 'raw'];
const EXIT = ['timberlock', 'timberlock-sync', 'sonic-boom', 'pino-roll', 'rotating-file-stream', 'winston-daily-rotate-file', 'log4js'];
const LOGGER_PAIRS = Object.keys(LOGGERS);
/** --libs a,b: keep only these libraries (and logger pairs naming them) in every suite. */
const picked = opts.libs ? opts.libs.split(',').map((s) => s.trim()) : null;
const pick = (names) => (picked ? names.filter((name) => picked.some((p) => name === p || name.split('>').includes(p))) : names);
const suites = new Set((opts.only ?? 'single,loggers,multi,rotation,exit').split(',').map((s) => s.trim()));

const results = opts.from ? JSON.parse(fs.readFileSync(opts.from, 'utf8')) : await measure();
// An earlier run's targets are judged again, so that its table reads as a new run's would.
if (opts.from) results.targets = evaluateTargets(results);
printTables(results);
const outName = opts.out ?? (opts.from ? path.basename(opts.from, '.json') : opts.quick ? 'quick' : 'bench');
const resultsDir = path.join(here, 'results');
fs.mkdirSync(resultsDir, { recursive: true });
if (!opts.from) fs.writeFileSync(path.join(resultsDir, `${outName}.json`), `${JSON.stringify(results, null, 2)}\n`);
if (results.single || results.multi) fs.writeFileSync(path.join(resultsDir, `${outName}.svg`), chartOf(results, outName));
console.log(`\nWrote bench/results/${outName}.json${results.single || results.multi ? ` and bench/results/${outName}.svg` : ''} (${(results.durationMs / 60000).toFixed(1)} min)`);

// ---------------------------------------------------------------------------------------------

/** Run the selected suites and return every figure (the results file's content). */
async function measure() {
  const workRoot = fs.mkdtempSync(path.join(opts.workdir ?? os.tmpdir(), 'timberlock-bench-'));
  const distDir = opts.dist ? path.resolve(opts.dist) : path.join(here, '..', 'dist');
  if (!fs.existsSync(path.join(distDir, 'index.js'))) {
    console.error(`timberlock bench: no build in ${distDir} (run \`npm run build\` or pass --dist)`);
    process.exit(2);
  }
  let dirCount = 0;
  const ctx = {
    env: { TIMBERLOCK_BENCH_DIST: distDir },
    freshDir(label) {
      const dir = path.join(workRoot, `${String(++dirCount).padStart(4, '0')}-${label}`);
      fs.mkdirSync(dir, { recursive: true });
      return dir;
    },
    removeDir(dir) {
      fs.rmSync(dir, { recursive: true, force: true });
    },
    progress(line) {
      console.log(`  ${line}`);
    },
  };

  const startedAt = new Date();
  const machine = describeMachine(workRoot);
  console.log(`timberlock bench${opts.quick ? ' --quick' : ''}: ${machine.cpuModel} × ${machine.nproc}, Node ${machine.node}, ${machine.fsType} (${workRoot})`);
  console.log(`load average at start: ${machine.loadAtStart.map((l) => l.toFixed(2)).join(' ')}\n`);

  const results = { startedAt: startedAt.toISOString(), quick: opts.quick, config: CONFIG, machine, versions: versions(), build: buildInfo(distDir) };
  const timings = {};
  try {
    if (suites.has('single')) {
      const t0 = Date.now();
      console.log(`Single process: ${fmt(CONFIG.single.lines)} lines per run (${PER_LINE.join(', ')}: ${fmt(CONFIG.single.perLineLines)}), ${CONFIG.single.rounds} rounds`);
      const fast = pick(SINGLE).filter((name) => !PER_LINE.includes(name));
      const main = await singleProcess(ctx, { libraries: fast, lines: CONFIG.single.lines, rounds: CONFIG.single.rounds });
      const perLine = await singleProcess(ctx, { libraries: pick(PER_LINE), lines: CONFIG.single.perLineLines, rounds: CONFIG.single.rounds });
      results.single = combineSingle(main, perLine);
      timings.single = Date.now() - t0;
    }
    if (suites.has('multi')) {
      const t0 = Date.now();
      const m = CONFIG.multi;
      console.log(`\nMulti-process: ${m.processes} processes, one path, rotation every ${m.rotateMs} ms, ${m.runMs / 1000} s, ${m.rounds} round(s)`);
      results.multi = await multiProcess(ctx, { libraries: pick(MULTI), ...m });
      timings.multi = Date.now() - t0;
    }
    if (suites.has('rotation')) {
      const t0 = Date.now();
      console.log(`\nRotation cost: ${CONFIG.rotation.processes} timberlock processes contending`);
      results.rotation = await rotationCost(ctx, CONFIG.rotation);
      timings.rotation = Date.now() - t0;
    }
    if (suites.has('exit')) {
      const t0 = Date.now();
      console.log(`\nExit safety: ${fmt(CONFIG.exit.lines)} lines logged, then the process ends at once`);
      results.exit = await exitSafety(ctx, { libraries: pick(EXIT), ...CONFIG.exit });
      timings.exit = Date.now() - t0;
    }
    if (suites.has('loggers')) {
      const t0 = Date.now();
      console.log(`\nThrough loggers: ${fmt(CONFIG.loggers.lines)} entries per run, ${CONFIG.loggers.rounds} round(s)`);
      results.loggers = await throughLoggers(ctx, { loggers: pick(LOGGER_PAIRS), ...CONFIG.loggers });
      timings.loggers = Date.now() - t0;
    }
  } finally {
    fs.rmSync(workRoot, { recursive: true, force: true });
  }

  results.machine.loadAtEnd = os.loadavg();
  results.durationMs = Date.now() - startedAt.getTime();
  results.suiteDurationMs = timings;
  results.targets = evaluateTargets(results);
  return results;
}


function combineSingle(main, perLine) {
  const summary = [...main.summary, ...perLine.summary];
  const raw = summary.find((row) => row.library === 'raw');
  const sonic = summary.find((row) => row.library === 'sonic-boom');
  for (const row of summary) {
    row.lines = PER_LINE.includes(row.library) ? CONFIG.single.perLineLines : CONFIG.single.lines;
    row.vsRaw = raw ? row.linesPerSec / raw.linesPerSec : null;
    row.vsSonic = sonic ? row.linesPerSec / sonic.linesPerSec : null;
  }
  return { runs: [...main.runs, ...perLine.runs], summary };
}

function evaluateTargets(r) {
  const targets = [];
  const add = (name, met, measured) => targets.push({ name, met, measured });
  const single = r.single?.summary;
  const tl = single?.find((row) => row.library === 'timberlock');
  const raw = single?.find((row) => row.library === 'raw');
  const sonic = single?.find((row) => row.library === 'sonic-boom');
  if (tl && sonic && raw) {
    add('single process ≥ 2× sonic-boom', tl.vsSonic >= 2, `${tl.vsSonic.toFixed(2)}× (${fmt(tl.linesPerSec)} vs ${fmt(sonic.linesPerSec)} lines/s)`);
    add('single process ≥ 0.5× raw', tl.vsRaw >= 0.5, `${tl.vsRaw.toFixed(2)}× (${fmt(tl.linesPerSec)} vs ${fmt(raw.linesPerSec)} lines/s)`);
    add(`peak RSS on the ${fmt(tl.lines)}-line burst ≤ ⅓ of sonic-boom's`, tl.maxRssMB <= sonic.maxRssMB / 3, `${fmt(tl.maxRssMB)} MB vs ${fmt(sonic.maxRssMB)} MB (${(tl.maxRssMB / sonic.maxRssMB).toFixed(2)}×)`);
    add('every single-process run verified', tl.verified, tl.verified ? 'all lines found, none torn' : 'see runs');
  }
  const multi = r.multi?.summary.find((row) => row.library === 'timberlock');
  if (multi) {
    const clean = multi.lost === 0 && multi.duplicated === 0 && multi.torn === 0 && multi.failedRuns === 0 && multi.crashedProcesses === 0;
    add('4 processes: 0 lost, 0 duplicated, 0 torn', clean, `lost ${multi.lost}, duplicated ${multi.duplicated}, torn ${multi.torn} of ${fmt(multi.expected)}`);
    if (tl) {
      // The raw baseline's own ratio shows what 4 appenders to one file gain on this machine at all.
      const rawMulti = r.multi.summary.find((row) => row.library === 'raw');
      const rawRatio = rawMulti && raw ? `; raw: ${fmt(rawMulti.aggregateLinesPerSec)} vs ${fmt(raw.linesPerSec)}` : '';
      add('4 processes: aggregate ≥ single process', multi.aggregateLinesPerSec >= tl.linesPerSec, `${fmt(multi.aggregateLinesPerSec)} vs ${fmt(tl.linesPerSec)} lines/s${rawRatio}`);
    }
  }
  if (r.rotation) {
    const f = r.rotation.forced;
    add('rotation: p99 event-loop block < 1 ms (forced, 4 processes)', f.block.p99 < 1, `p99 ${ms(f.block.p99)} over ${f.rotations} rotations (p50 ${ms(f.block.p50)}, max ${ms(f.block.max)})`);
    const b = r.rotation.boundary;
    add('rotation: p99 event-loop block < 1 ms (boundary, rotating process)', b.rotatorTaskBlock.p99 < 1, `p99 ${ms(b.rotatorTaskBlock.p99)} over ${b.rotatorTaskBlock.n} boundaries`);
    add(
      'rotation: every process reopened within 1 s',
      b.allReopenedAfterBoundary.max < 1000 && b.boundariesNotReopenedByAll === 0,
      `max ${ms(b.allReopenedAfterBoundary.max)} after the boundary over ${b.allReopenedAfterBoundary.n} boundaries`,
    );
  }
  return targets;
}

function printTables(r) {
  if (r.single) {
    console.log('\n== Single process: one burst, fresh process per run, median of rounds ==');
    console.log(
      renderTable(
        ['library', 'lines', 'lines/s', 'MB/s', '× raw', '× sonic-boom', 'peak RSS MB', 'lines/CPU-s', 'verified', 'load'],
        r.single.summary.map((row) => [
          row.label,
          fmt(row.lines),
          fmt(row.linesPerSec),
          fmt(row.mbPerSec, 1),
          fmt(row.vsRaw, 2),
          fmt(row.vsSonic, 2),
          fmt(row.maxRssMB),
          fmt(row.linesPerCpuSec),
          row.verified ? `yes (${row.runs})` : 'NO',
          fmt(row.load1, 1),
        ]),
      ),
    );
  }
  if (r.loggers) {
    console.log('\n== Through loggers: one burst, median of rounds ==');
    console.log(
      renderTable(
        ['logger → destination', 'lines/s', 'MB/s', '× pino→sonic-boom', 'peak RSS MB', 'verified', 'load'],
        r.loggers.summary.map((row) => [row.label, fmt(row.linesPerSec), fmt(row.mbPerSec, 1), fmt(row.vsSonic, 2), fmt(row.maxRssMB), row.verified ? `yes (${row.runs})` : 'NO', fmt(row.load1, 1)]),
      ),
    );
  }
  if (r.multi) {
    const m = r.config.multi;
    console.log(`\n== ${m.processes} processes, one path, rotation every ${m.rotateMs / 1000} s, ${m.runMs / 1000} s (sums over ${m.rounds} round(s)) ==`);
    console.log(
      renderTable(
        ['library', 'expected', 'found', 'lost', 'duplicated', 'torn', 'files', 'crashed', 'aggregate lines/s', 'load'],
        r.multi.summary.map((row) => [
          row.rotates ? row.label : `${row.label} (no rotation)`,
          fmt(row.expected),
          fmt(row.found),
          fmt(row.lost),
          fmt(row.duplicated),
          fmt(row.torn),
          fmt(row.files),
          fmt(row.crashedProcesses),
          fmt(row.aggregateLinesPerSec),
          fmt(row.load1, 1),
        ]),
      ),
    );
  }
  if (r.rotation) {
    const { disk, forced, boundary, diskAfter } = r.rotation;
    console.log('\n== Rotation cost (timberlock, 4 processes) ==');
    const dist = (d) => [ms(d.p50), ms(d.p99), ms(d.max), fmt(d.n)];
    // Each percentile of its own: the p99 wait and the p99 block less its wait need not be one turn.
    const cpuWaitRows = (w) =>
      w
        ? [
            ['    … of which waiting for a CPU', ...dist(w.waiting)],
            ['    … less that wait', ...dist(w.lessWaiting)],
          ]
        : [];
    console.log(
      renderTable(
        ['measure', 'p50', 'p99', 'max', 'n'],
        [
          ['forced rotate(): longest event-loop turn', ...dist(forced.block)],
          ...cpuWaitRows(forced.blockCpuWait),
          ['  time until rotate() resolved', ...(forced.latency ? dist(forced.latency) : ['', '', '', ''])],
          ['  same-length windows without a rotation', ...(forced.control ? dist(forced.control) : ['', '', '', ''])],
          ...cpuWaitRows(forced.controlCpuWait),
          [`  same-length windows, one turn computing ${forced.knownBlockMs} ms`, ...(forced.calibration ? dist(forced.calibration) : ['', '', '', ''])],
          ...cpuWaitRows(forced.calibrationCpuWait),
          ['  process CPU time meanwhile (all threads)', ...dist(forced.cpu)],
          ['  first fifth of each process (few archives)', ...dist(forced.blockFirstFifth)],
          ['  last fifth (many archives in the period)', ...dist(forced.blockLastFifth)],
          ['  rotate() that found the lock busy', ...dist(forced.busyAttempts)],
          [`boundary (${boundary.frequency} ms): rotating process's longest turn`, ...dist(boundary.rotatorTaskBlock)],
          ...cpuWaitRows(boundary.rotatorTaskBlockCpuWait),
          ['  other processes\' longest turn (they follow)', ...dist(boundary.followerTaskBlock)],
          ['  same-length windows mid-period', ...(boundary.control ? dist(boundary.control) : ['', '', '', ''])],
          ['  boundary → every process on the new file', ...dist(boundary.allReopenedAfterBoundary)],
          ...(disk.lockUnlock ? [['disk: proper-lockfile lockSync + unlockSync', ...dist(disk.lockUnlock)]] : []),
          ['disk: mkdir + rmdir (the lock)', ...dist(disk.mkdirRmdir)],
          ['disk: write + rename (the state)', ...dist(disk.writeRename)],
          ['disk: create + unlink (a new file)', ...dist(disk.createUnlink)],
          ['disk: link + unlink (archive name)', ...dist(disk.linkUnlink)],
          ...(diskAfter
            ? [
                ['disk after the runs: mkdir + rmdir', ...dist(diskAfter.mkdirRmdir)],
                ['disk after the runs: create + unlink', ...dist(diskAfter.createUnlink)],
              ]
            : []),
        ],
      ),
    );
    const lines = (c) => `expected ${fmt(c.expected)}, lost ${fmt(c.lost)}, duplicated ${fmt(c.duplicated)}, torn ${fmt(c.torn)}, ${fmt(c.files)} files`;
    console.log(`forced: ${forced.archives} archives; ${lines(forced.lines)} (load ${forced.load1.toFixed(1)})`);
    if (forced.slowest) {
      const names = { pool: 'a thread-pool completion', immediate: "rotate()'s own turn (the lock)", timer: 'a timer', other: 'other' };
      const kinds = Object.entries(forced.slowest.kinds)
        .sort((a, b) => b[1].n - a[1].n)
        .map(([kind, k]) => `${names[kind] ?? kind} in ${k.n}${k.waitingForCpuP50 === null ? '' : ` (waiting for a CPU ${ms(k.waitingForCpuP50)} at p50)`}`);
      console.log(`forced, slowest 1 % (${forced.slowest.n} rotations, from ${ms(forced.slowest.fromMs)}): the longest turn was ${kinds.join(', ')}`);
    }
    console.log(`boundary: ${boundary.boundaries} boundaries, late lines ${fmt(boundary.lateLines)}; ${lines(boundary.lines)} (load ${boundary.load1.toFixed(1)})`);
  }
  if (r.exit) {
    console.log(`\n== Exit safety: lines lost of ${fmt(r.config.exit.lines)} (median of ${r.config.exit.repeats}; worst in brackets) ==`);
    const scenarios = Object.keys(SCENARIOS);
    console.log(
      renderTable(
        ['library', ...scenarios.map((s) => SCENARIOS[s])],
        r.exit.summary.map((row) => [row.label, ...scenarios.map((s) => (row[s] ? `${fmt(row[s].lostMedian)}${row[s].lostMax !== row[s].lostMedian ? ` (${fmt(row[s].lostMax)})` : ''}` : '–'))]),
      ),
    );
  }
  if (r.targets.length > 0) {
    console.log('\n== Targets ==');
    console.log(renderTable(['target', 'result', 'measured'], r.targets.map((t) => [t.name, t.met ? 'MET' : 'MISSED', t.measured])));
  }
  const load = r.machine.loadAtEnd.map((l) => l.toFixed(2)).join(' ');
  console.log(`\nload average at end: ${load}; suites: ${Object.entries(r.suiteDurationMs).map(([k, v]) => `${k} ${(v / 1000).toFixed(0)} s`).join(', ')}`);
}

function chartOf(r, outName) {
  const panels = [];
  if (r.single) {
    panels.push({
      title: `One process, a burst of ${fmt(r.config.single.lines)} ~200-byte lines (* one write per line: ${fmt(r.config.single.perLineLines)}), median lines/s`,
      unit: 'lines per second (higher is better); note: peak RSS',
      bars: r.single.summary.map((row) => ({
        label: `${shortLabel(row.library)}${row.lines !== r.config.single.lines ? ' *' : ''}`,
        value: row.linesPerSec,
        note: `peak RSS ${fmt(row.maxRssMB)} MB`,
        highlight: row.library.startsWith('timberlock'),
        bad: !row.verified,
      })),
    });
  }
  if (r.multi) {
    const m = r.config.multi;
    panels.push({
      title: `${m.processes} processes, one log path, rotation every ${m.rotateMs / 1000} s: aggregate lines/s and lines lost`,
      unit: 'lines per second on disk (higher is better); note: lost / duplicated / torn lines of those written',
      bars: r.multi.summary.map((row) => {
        const noRotation = row.rotates ? '' : 'no rotation; ';
        const bad = row.lost + row.duplicated + row.torn > 0 || row.failedRuns > 0 || row.crashedProcesses > 0;
        const crashes = row.crashedProcesses > 0 ? `${row.crashedProcesses} process${row.crashedProcesses > 1 ? 'es' : ''} crashed; ` : '';
        const broken = [`lost ${compact(row.lost)}`, row.duplicated > 0 ? `duplicated ${compact(row.duplicated)}` : '', row.torn > 0 ? `torn ${compact(row.torn)}` : '']
          .filter(Boolean)
          .join(', ');
        return {
          label: shortLabel(row.library),
          value: row.aggregateLinesPerSec,
          note: row.failedRuns > 0 ? 'run failed' : bad ? `${crashes}${broken} of ${compact(row.expected)}` : `${noRotation}0 lost of ${compact(row.expected)}`,
          highlight: row.library.startsWith('timberlock'),
          bad,
        };
      }),
    });
  }
  if (r.loggers) {
    panels.push({
      title: `Through a logger: ${fmt(r.config.loggers.lines)} entries, median lines/s`,
      unit: 'lines per second (higher is better); note: peak RSS',
      bars: r.loggers.summary.map((row) => ({
        label: shortLabel(row.library),
        value: row.linesPerSec,
        note: `peak RSS ${fmt(row.maxRssMB)} MB`,
        highlight: row.library.includes('timberlock'),
        bad: !row.verified,
      })),
    });
  }
  const m = r.machine;
  return renderChart({
    title: 'timberlock benchmarks',
    subtitle: `${m.cpuModel} × ${m.nproc}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.fsType}; ${r.startedAt.slice(0, 10)}; load average ${m.loadAtStart[0].toFixed(1)} → ${m.loadAtEnd[0].toFixed(1)}`,
    panels,
    footer: [`npm run bench (bench/run.mjs); figures in bench/results/${outName}.json`],
  });
}

/** Names short enough for the chart's label column. */
function shortLabel(name) {
  const labels = {
    raw: 'raw writeSync, 64 KiB',
    'timberlock-sync': 'timberlock sync:true',
    log4js: 'log4js dateFile',
    'pino>timberlock': 'pino → timberlock (main thread)',
    'pino>timberlock-worker': 'pino → timberlock (worker)',
    'pino>sonic-boom': 'pino → sonic-boom',
    'pino>pino-roll': 'pino → pino-roll (worker)',
    'winston>timberlock': 'winston → timberlock',
    'winston>winston-daily-rotate-file': 'winston → daily-rotate-file',
  };
  return labels[name] ?? name;
}

function describeMachine(dir) {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1].trim();
  } catch {
    // Not Linux: os.cpus() already gave the model.
  }
  return {
    cpuModel,
    nproc: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version.slice(1),
    platform: `${os.type()} ${os.release()}`,
    fsType: fileSystemType(dir),
    loadAtStart: os.loadavg(),
  };
}

/** The file system of `dir` by its statfs magic number (ext4, xfs, tmpfs …). */
function fileSystemType(dir) {
  const known = { 0xef53: 'ext4', 0x58465342: 'xfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x9123683e: 'btrfs', 0x6969: 'nfs', 0x2fc12fc1: 'zfs' };
  try {
    const type = fs.statfsSync(dir).type;
    return known[type] ?? `fs 0x${type.toString(16)}`;
  } catch {
    try {
      return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown file system';
    }
  }
}

/** Which timberlock was measured: the dist directory and the repository's commit (and whether src/ differs from it). */
function buildInfo(distDir) {
  const git = (...args) => execFileSync('git', args, { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { dist: path.relative(path.join(here, '..'), distDir), gitHead: git('rev-parse', 'HEAD'), srcUncommittedChanges: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length };
  } catch {
    return { dist: distDir, gitHead: null };
  }
}

function versions() {
  const out = { timberlock: JSON.parse(fs.readFileSync(path.join(here, '..', 'package.json'), 'utf8')).version };
  for (const pkg of ['sonic-boom', 'pino', 'pino-roll', 'rotating-file-stream', 'winston', 'winston-daily-rotate-file', 'log4js']) {
    try {
      out[pkg] = versionOf(pkg);
    } catch {
      out[pkg] = null;
    }
  }
  return out;
}
