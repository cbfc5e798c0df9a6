// Rotation cost, with timberlock only (the peers rotate asynchronously or not at all across processes).
//
// forced:   4 processes write and call rotate() every few ms until they won `target` rotations each;
//           the block is the longest event-loop turn (a callback and the promise jobs after it) while
//           a call was under way, and the part of it the process waited for a CPU.
//           All these archives belong to one period (.0, .1, .2 … names), as with rotate() on SIGHUP
//           or size rolls; the figures are split by how many archives the period already had.
// boundary: 4 processes write to a file rotating every `frequency` ms: per boundary, when every
//           process was writing to the new file, and the longest event-loop turn of each process
//           from the boundary until it wrote to the new file.
// disk:     what the rotation's kinds of system calls cost on this disk right now (the floor), and
//           proper-lockfile's lockSync + unlockSync, which a rotation calls on the event loop.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { logFiles, verify } from '../lib/lines.mjs';
import { runGroup } from '../lib/spawn.mjs';
import { distribution, median, sum } from '../lib/stats.mjs';
import { fmt } from '../lib/table.mjs';

export async function rotationCost(ctx, { processes, forced, boundary, diskSamples }) {
  const disk = diskFloor(ctx, diskSamples);
  ctx.progress(
    `rotation disk floor: lockSync+unlockSync p50 ${us(disk.lockUnlock.p50)} p99 ${us(disk.lockUnlock.p99)}, mkdir+rmdir p50 ${us(disk.mkdirRmdir.p50)} p99 ${us(disk.mkdirRmdir.p99)}, ` +
      `write+rename p50 ${us(disk.writeRename.p50)} p99 ${us(disk.writeRename.p99)}, ` +
      `create+unlink p50 ${us(disk.createUnlink.p50)} p99 ${us(disk.createUnlink.p99)}`,
  );
  const forcedResult = await forcedRotations(ctx, processes, forced);
  const boundaryResult = await boundaryRotations(ctx, processes, boundary);
  // Again after the runs: on some disks the cost of making a file or a directory changes for minutes at a
  // time (see the README), and a figure of the runs is read against the floor it had.
  const diskAfter = diskFloor(ctx, diskSamples);
  ctx.progress(`rotation disk floor after the runs: mkdir+rmdir p50 ${us(diskAfter.mkdirRmdir.p50)}, create+unlink p50 ${us(diskAfter.createUnlink.p50)}`);
  return { disk, forced: forcedResult, boundary: boundaryResult, diskAfter };
}

async function forcedRotations(ctx, processes, { target, runMs }) {
  const dir = ctx.freshDir('rotation-forced');
  const load1 = os.loadavg()[0];
  const { results } = await runGroup('rotation', processes, (i) => ['forced', dir, `w${i}`, runMs, target], {
    env: ctx.env,
    startAt: (now) => now + 500,
    timeoutMs: runMs + 60_000,
  });
  const check = verify(logFiles(dir), Object.fromEntries(results.map((r) => [r.tag, r.written])));
  ctx.removeDir(dir);
  const won = results.flatMap((r) => r.won);
  const wonCpu = results.flatMap((r) => r.wonCpu);
  // Each process's wins are in time order: its first and last fifth show how the cost grows with the
  // number of archives the period already has.
  const early = results.flatMap((r) => r.won.slice(0, Math.ceil(r.won.length / 5)));
  const late = results.flatMap((r) => r.won.slice(-Math.ceil(r.won.length / 5)));
  const result = {
    load1,
    rotations: won.length,
    archives: sum(results.map((r) => r.archives)),
    block: distribution(won),
    blockCpuWait: cpuWaitOf(won, results.flatMap((r) => r.wonCpuWait ?? [])),
    cpu: distribution(wonCpu),
    latency: distribution(results.flatMap((r) => r.wonLatency)),
    control: distribution(results.flatMap((r) => r.control ?? [])),
    controlCpuWait: cpuWaitOf(results.flatMap((r) => r.control ?? []), results.flatMap((r) => r.controlCpuWait ?? [])),
    knownBlockMs: results[0]?.knownBlockMs,
    calibration: distribution(results.flatMap((r) => r.calibration ?? [])),
    calibrationCpuWait: cpuWaitOf(results.flatMap((r) => r.calibration ?? []), results.flatMap((r) => r.calibrationCpuWait ?? [])),
    slowest: slowestTurns(won, results.flatMap((r) => r.wonTurnKind ?? []), results.flatMap((r) => r.wonCpuWait ?? [])),
    blockFirstFifth: distribution(early),
    blockLastFifth: distribution(late),
    busyAttempts: distribution(results.flatMap((r) => r.busy)),
    lines: check,
  };
  ctx.progress(
    `rotation forced: ${result.rotations} rotations, block p50 ${ms(result.block.p50)} p99 ${ms(result.block.p99)} max ${ms(result.block.max)} ` +
      `(CPU p50 ${ms(result.cpu.p50)}); first fifth p50 ${ms(result.blockFirstFifth.p50)}, last fifth p50 ${ms(result.blockLastFifth.p50)} (load ${load1.toFixed(1)})`,
  );
  return result;
}

async function boundaryRotations(ctx, processes, { frequency, runMs }) {
  const dir = ctx.freshDir('rotation-boundary');
  const load1 = os.loadavg()[0];
  const { startAt, results } = await runGroup('rotation', processes, (i) => ['boundary', dir, `w${i}`, runMs, frequency], {
    env: ctx.env,
    startAt: (now) => Math.ceil((now + 500) / frequency) * frequency + frequency / 2,
    timeoutMs: runMs + 60_000,
  });
  const check = verify(logFiles(dir), Object.fromEntries(results.map((r) => [r.tag, r.written])));
  ctx.removeDir(dir);
  // Boundaries strictly inside the run, with a period to spare at the end for the last reopen.
  const boundaries = [];
  for (let t = Math.ceil(startAt / frequency) * frequency; t <= startAt + runMs - frequency; t += frequency) boundaries.push(t);
  // A process writes to a file of the new period from its first 'open' of that period or a later one
  // (a process stalled for longer than a period goes straight to the newest file).
  const allReopened = [];
  let missing = 0;
  for (const periodStart of boundaries) {
    const opens = results.map((r) => r.opens.find((open) => open.periodStart >= periodStart));
    if (opens.some((open) => !open)) {
      missing++;
      continue;
    }
    allReopened.push(Math.max(...opens.map((open) => open.at - periodStart)));
  }
  const tasks = results.flatMap((r) => r.taskBlocksMs);
  const result = {
    load1,
    frequency,
    boundaries: boundaries.length,
    boundariesNotReopenedByAll: missing,
    allReopenedAfterBoundary: distribution(allReopened),
    rotatorTaskBlock: distribution(tasks.filter((t) => t.archived).map((t) => t.ms)),
    rotatorTaskBlockCpuWait: cpuWaitOf(
      tasks.filter((t) => t.archived).map((t) => t.ms),
      tasks.filter((t) => t.archived).map((t) => t.waitingForCpu),
    ),
    followerTaskBlock: distribution(tasks.filter((t) => !t.archived).map((t) => t.ms)),
    control: distribution(results.flatMap((r) => r.control ?? [])),
    lateLines: sum(results.map((r) => r.stats.lateLines)),
    lines: check,
  };
  ctx.progress(
    `rotation boundary: ${boundaries.length} boundaries, all processes on the new file after p50 ${ms(result.allReopenedAfterBoundary.p50)} ` +
      `p99 ${ms(result.allReopenedAfterBoundary.p99)} max ${ms(result.allReopenedAfterBoundary.max)}; rotator's longest turn p99 ${ms(result.rotatorTaskBlock.p99)} (load ${load1.toFixed(1)})`,
  );
  return result;
}

/**
 * The slowest 1 % of the rotations (by their longest turn, `blocks`): what started that turn (`kinds`: 'pool',
 * a thread-pool completion; 'immediate', the turn that called rotate() and took the lock; 'timer'; 'other'),
 * how many of each, and the median of their wait for a CPU (`waits`). Null without the kinds (an old child).
 */
function slowestTurns(blocks, kinds, waits) {
  if (blocks.length === 0 || kinds.length !== blocks.length) return null;
  const order = blocks.map((_, i) => i).sort((a, b) => blocks[b] - blocks[a]);
  const slowest = order.slice(0, Math.ceil(blocks.length / 100));
  const byKind = {};
  for (const i of slowest) (byKind[kinds[i]] ??= []).push(i);
  return {
    n: slowest.length,
    fromMs: blocks[slowest.at(-1)],
    kinds: Object.fromEntries(
      Object.entries(byKind).map(([kind, of]) => [
        kind,
        { n: of.length, waitingForCpuP50: waits.length === blocks.length && of.every((i) => waits[i] !== null) ? median(of.map((i) => waits[i])) : null },
      ]),
    ),
  };
}

/**
 * The part of each longest turn (`blocks`, ms) that the thread spent runnable but waiting for a CPU
 * (`waits`, one per block, from the children's schedstat): its distribution, and that of each block
 * without it, which is what the block would have been had a CPU been free whenever the event loop
 * could run. Null where a wait is unknown (no schedstat: not Linux).
 */
function cpuWaitOf(blocks, waits) {
  if (blocks.length === 0 || waits.length !== blocks.length || waits.some((w) => w === null)) return null;
  // The wait is read just outside the turn's clock, so a turn that waited nearly throughout can show a
  // few µs more wait than wall time.
  return { waiting: distribution(waits), lessWaiting: distribution(blocks.map((block, i) => Math.max(0, block - waits[i]))) };
}

const LOCK_FS = { mkdirSync: fs.mkdirSync, statSync: fs.statSync, utimesSync: fs.utimesSync, rmdirSync: fs.rmdirSync, realpathSync: fs.realpathSync };

/** p50/p99 of the syscall sequences a rotation is made of, in this run's directory. */
function diskFloor(ctx, samples) {
  const dir = ctx.freshDir('disk-floor');
  const file = path.join(dir, 'a');
  fs.writeFileSync(file, 'x');
  const time = (fn) => {
    const out = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      fn();
      out.push(performance.now() - t0);
    }
    return distribution(out);
  };
  const result = {
    samples,
    // As the rotation takes its lock: tried once, the lock directory named, no realpath, and a small file
    // system object of node:fs's own calls (timberlock passes a thin wrapper of them; proper-lockfile's
    // default, graceful-fs, is copied whole on every synchronous call).
    lockUnlock: time(() => {
      const options = { lockfilePath: path.join(dir, 'a.lock'), realpath: false, retries: 0, stale: 5000, fs: LOCK_FS };
      lockfile.lockSync(file, options);
      lockfile.unlockSync(file, options);
    }),
    mkdirRmdir: time(() => {
      fs.mkdirSync(path.join(dir, 'lock'));
      fs.rmdirSync(path.join(dir, 'lock'));
    }),
    writeRename: time(() => {
      fs.writeFileSync(path.join(dir, 'state.tmp'), '{"periodStart":0,"ino":0}');
      fs.renameSync(path.join(dir, 'state.tmp'), path.join(dir, 'state'));
    }),
    createUnlink: time(() => {
      fs.closeSync(fs.openSync(path.join(dir, 'new'), 'wx'));
      fs.unlinkSync(path.join(dir, 'new'));
    }),
    linkUnlink: time(() => {
      fs.linkSync(file, path.join(dir, 'b'));
      fs.unlinkSync(path.join(dir, 'b'));
    }),
    stat: time(() => fs.statSync(file)),
  };
  ctx.removeDir(dir);
  return result;
}

export const ms = (value) => `${fmt(value, 3)} ms`;
const us = (value) => `${fmt(value * 1000)} µs`;
export { median };
