import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRotationLock, lockOnce } from '../src/lock.js';
import { useInternalModule } from './helpers/internal-module.js';

// A child process runs the compiled src/lock.ts (an internal module).
const lockModule = useInternalModule('lock');

const dirs: string[] = [];

afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempLock(staleMs = 2000) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-lock-'));
  dirs.push(dir);
  const lockPath = path.join(dir, '.app.log.lock');
  const compromised: Error[] = [];
  const lock = createRotationLock(path.join(dir, 'app.log'), lockPath, staleMs, (err) => compromised.push(err));
  return { dir, lockPath, lock, compromised };
}

/** A directory (a lock, a takeover directory) left by a process that died: its mtime `ageMs` in the past. */
function leftBehind(dir: string, ageMs: number): void {
  fs.mkdirSync(dir);
  const past = new Date(Date.now() - ageMs);
  fs.utimesSync(dir, past, past);
}

/**
 * Run `race` (another process's steps) right after a stat of the lock directory: proper-lockfile's ('first',
 * which finds it stale) or timberlock's second look ('second'); the stat returns what it found before.
 * Returns a check that `race` ran and the lock directory it left is still there, untouched.
 */
function afterStat(lockPath: string, which: 'first' | 'second', race: () => void): () => boolean {
  const statSync = fs.statSync;
  let theirs: number | null = null;
  let seen = 0;
  vi.spyOn(fs, 'statSync').mockImplementation(((file: fs.PathLike, options?: fs.StatSyncOptions) => {
    const stats = statSync(file, options);
    if (file === lockPath && theirs === null && ++seen === (which === 'first' ? 1 : 2)) {
      race();
      theirs = statSync(lockPath).ino;
    }
    return stats;
  }) as typeof fs.statSync);
  return () => theirs !== null && statSync(lockPath).ino === theirs;
}

describe('rotation lock', () => {
  it('is taken once, refused to a second taker while held, and free again after release', () => {
    const a = tempLock();
    const b = createRotationLock(path.join(a.dir, 'app.log'), a.lockPath, 2000, () => {});
    expect(a.lock.tryAcquire()).toBe(true);
    expect(fs.statSync(a.lockPath).isDirectory()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    a.lock.release();
    expect(fs.existsSync(a.lockPath)).toBe(false);
    expect(b.tryAcquire()).toBe(true);
    b.release();
  });

  it('dates a new lock no later than now, so a holder killed at once is stale after staleMs', () => {
    const { lockPath, lock } = tempLock();
    const before = Date.now();
    expect(lock.tryAcquire()).toBe(true);
    const mtime = fs.statSync(lockPath).mtimeMs;
    lock.release();
    expect(mtime).toBeGreaterThanOrEqual(before - 1000); // file systems may keep whole seconds only
    expect(mtime).toBeLessThanOrEqual(Date.now());
  });

  it('keeps its lock where mtimes have whole seconds only: a refresh is not taken for a takeover', async () => {
    const { lockPath, lock, compromised } = tempLock(2000);
    // ext3, or ext4 with 128-byte inodes: the file system drops the milliseconds of every date it is given.
    const utimesSync = fs.utimesSync;
    vi.spyOn(fs, 'utimesSync').mockImplementation((file, atime, mtime) => {
      const ms = mtime instanceof Date ? mtime.getTime() : typeof mtime === 'number' ? mtime * 1000 : Date.parse(mtime);
      utimesSync(file, atime, new Date(Math.floor(ms / 1000) * 1000));
    });
    expect(lock.tryAcquire()).toBe(true);
    // The date the lock got, then two refreshes (one every staleMs / 2), each comparing what it finds with
    // the date the one before it asked for.
    const dated: number[] = [];
    await vi.waitFor(
      () => {
        const mtime = fs.statSync(lockPath).mtimeMs;
        if (dated.at(-1) !== mtime) dated.push(mtime);
        expect(dated.length).toBeGreaterThanOrEqual(3);
      },
      { timeout: 6000, interval: 50 },
    );
    expect(compromised).toEqual([]);
    expect(lock.held).toBe(true);
    lock.release();
    expect(fs.existsSync(lockPath)).toBe(false);
  });

  it('where mtimes have whole seconds only, a lock taken late in a second is not dated back to its start: a first refresh 150 ms late keeps it', async () => {
    const { dir, lockPath, lock, compromised } = tempLock(2000);
    // ext3, or ext4 with 128-byte inodes: the file system keeps whole seconds of every date, its own included.
    const floor = (ms: number): number => Math.floor(ms / 1000) * 1000;
    const utimesSync = fs.utimesSync;
    vi.spyOn(fs, 'utimesSync').mockImplementation((file, atime, mtime) => {
      const ms = mtime instanceof Date ? mtime.getTime() : typeof mtime === 'number' ? mtime * 1000 : Date.parse(mtime);
      utimesSync(file, atime, new Date(floor(ms)));
    });
    const statSync = fs.statSync;
    vi.spyOn(fs, 'statSync').mockImplementation(((file: fs.PathLike, options?: fs.StatSyncOptions) => {
      const stats = statSync(file, options);
      if (stats === undefined || !String(file).startsWith(lockPath)) return stats;
      const mtimeMs = floor(Number(stats.mtimeMs));
      return Object.assign(Object.create(stats) as fs.Stats, { mtimeMs, mtime: new Date(mtimeMs) });
    }) as typeof fs.statSync);
    await vi.waitFor(() => expect(Date.now() % 1000).toBeGreaterThanOrEqual(900), { timeout: 2000, interval: 1 });
    const takenAt = Date.now();
    expect(lock.tryAcquire()).toBe(true);
    expect(fs.statSync(lockPath).mtimeMs).toBeGreaterThanOrEqual(takenAt); // not the second begun
    expect(fs.statSync(lockPath).mtimeMs).toBeLessThanOrEqual(takenAt + 1000);
    // The first refresh is due staleMs / 2 after the take: the event loop is 150 ms late for it, and another
    // process tries the lock meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() - takenAt) - 50));
    const blockedUntil = takenAt + 1150;
    while (Date.now() < blockedUntil); // the event loop stalls
    const other = createRotationLock(path.join(dir, 'app.log'), lockPath, 2000, () => {});
    expect(other.tryAcquire()).toBe(false);
    await vi.waitFor(() => expect(fs.statSync(lockPath).mtimeMs).toBeGreaterThan(takenAt + 1000), { timeout: 2000, interval: 20 }); // refreshed
    expect(compromised).toEqual([]);
    lock.release();
    expect(fs.existsSync(lockPath)).toBe(false);
  });

  it('takes over a stale lock left by a dead holder', () => {
    const { lockPath, lock } = tempLock(2000);
    leftBehind(lockPath, 5000);
    expect(lock.tryAcquire()).toBe(true);
    expect(Date.now() - fs.statSync(lockPath).mtimeMs).toBeLessThan(2000);
    lock.release();
  });

  it('takes over a stale file that is no directory at the lock\'s name (put there by hand), which no holder makes', () => {
    const { lockPath, lock } = tempLock(2000);
    fs.writeFileSync(lockPath, '');
    const past = new Date(Date.now() - 5000);
    fs.utimesSync(lockPath, past, past);
    expect(lock.tryAcquire()).toBe(true);
    expect(fs.statSync(lockPath).isDirectory()).toBe(true);
    lock.release();
  });

  it('leaves a fresh file at the lock\'s name alone: busy until it is staleMs old', () => {
    const { lockPath, lock } = tempLock(2000);
    fs.writeFileSync(lockPath, '');
    expect(lock.tryAcquire()).toBe(false);
    expect(fs.statSync(lockPath).isFile()).toBe(true);
  });

  it('takes over a lock dated more than staleMs ahead (the clock was set back, or another host\'s runs ahead), and a takeover directory so dated', () => {
    const { lockPath, lock } = tempLock(2000);
    leftBehind(lockPath, -3_600_000);
    leftBehind(`${lockPath}.takeover`, -3_600_000);
    expect(lock.tryAcquire()).toBe(false); // the abandoned takeover directory goes first
    expect(lock.tryAcquire()).toBe(true);
    expect(Math.abs(Date.now() - fs.statSync(lockPath).mtimeMs)).toBeLessThan(2000);
    lock.release();
  });

  it('leaves a lock dated up to staleMs ahead to its holder', () => {
    const { lockPath, lock } = tempLock(2000);
    leftBehind(lockPath, -1500); // proper-lockfile dates a refresh up to a second ahead where mtimes have whole seconds
    expect(lock.tryAcquire()).toBe(false);
    expect(fs.statSync(lockPath).mtimeMs).toBeGreaterThan(Date.now());
  });

  it('reports "busy", not an error, when another taker of the same stale lock removes ours before it is dated, and leaves that taker\'s lock alone', () => {
    const { lockPath, lock } = tempLock(2000);
    leftBehind(lockPath, 5000);
    // Another process judged the old lock stale a moment ago: it removes the directory we just created
    // (thinking it the stale one) between our mkdir and proper-lockfile's utimes, then creates its own.
    const utimesSync = fs.utimesSync;
    let raced = 0;
    vi.spyOn(fs, 'utimesSync').mockImplementation((file, atime, mtime) => {
      if (file === lockPath && raced++ === 0) {
        fs.rmdirSync(lockPath);
        try {
          utimesSync(file, atime, mtime);
        } finally {
          fs.mkdirSync(lockPath); // the other process's fresh lock
        }
      }
      utimesSync(file, atime, mtime);
    });
    const othersLock = () => fs.statSync(lockPath).ino;

    expect(lock.tryAcquire()).toBe(false);
    expect(raced).toBe(1);
    expect(lock.held).toBe(false);
    const ino = othersLock();
    expect(fs.statSync(lockPath).isDirectory()).toBe(true); // the winner's lock survives our failed attempt
    lock.release(); // not held: must not remove the winner's lock
    expect(othersLock()).toBe(ino);
  });

  it('answers "busy" and leaves the new lock alone when another taker replaced the stale lock after proper-lockfile judged it stale', () => {
    const { lockPath, lock } = tempLock(2000);
    leftBehind(lockPath, 5000);
    // Another process that found the lock stale at the same moment removes it and takes its own right
    // after proper-lockfile's stat of the old one: a removal on that stat alone would remove the new lock.
    const theirs = afterStat(lockPath, 'first', () => {
      fs.rmdirSync(lockPath);
      fs.mkdirSync(lockPath); // the other process's lock, dated now
    });

    expect(lock.tryAcquire()).toBe(false);
    expect(lock.held).toBe(false);
    expect(theirs()).toBe(true);
    expect(fs.existsSync(`${lockPath}.takeover`)).toBe(false);
  });

  it('answers "busy" while another process is taking the stale lock over (its takeover directory is fresh)', () => {
    const { lockPath, lock } = tempLock(2000);
    leftBehind(lockPath, 5000);
    fs.mkdirSync(`${lockPath}.takeover`);
    const ino = fs.statSync(lockPath).ino;

    expect(lock.tryAcquire()).toBe(false);
    expect(fs.statSync(lockPath).ino).toBe(ino);
    expect(fs.existsSync(`${lockPath}.takeover`)).toBe(true);
  });

  it('removes a takeover directory left by a taker killed in the middle once it is staleMs old, then takes the stale lock', () => {
    const { lockPath, lock } = tempLock(2000);
    leftBehind(lockPath, 5000);
    leftBehind(`${lockPath}.takeover`, 3000);

    expect(lock.tryAcquire()).toBe(false); // the taker that left it might still run: not this time
    expect(fs.existsSync(`${lockPath}.takeover`)).toBe(false);
    expect(lock.tryAcquire()).toBe(true);
    expect(Date.now() - fs.statSync(lockPath).mtimeMs).toBeLessThan(2000);
    expect(fs.existsSync(`${lockPath}.takeover`)).toBe(false);
    lock.release();
    expect(fs.existsSync(lockPath)).toBe(false);
  });

  it('answers "busy" and leaves the new lock alone when its takeover directory was removed as abandoned while it looked (it stalled past staleMs)', () => {
    const { lockPath, lock } = tempLock(2000);
    leftBehind(lockPath, 5000);
    // Our second look at the lock, made holding the takeover directory: meanwhile another process found that
    // directory staleMs old, removed it, took it again, replaced the stale lock with its own and let go.
    const theirs = afterStat(lockPath, 'second', () => {
      fs.rmdirSync(`${lockPath}.takeover`);
      fs.mkdirSync(`${lockPath}.takeover`);
      fs.rmdirSync(lockPath);
      fs.mkdirSync(lockPath);
      fs.rmdirSync(`${lockPath}.takeover`);
    });

    expect(lock.tryAcquire()).toBe(false);
    expect(theirs()).toBe(true);
  });

  it('leaves the lock alone on release, and reports the takeover, when another process took it over while this one stalled', () => {
    const { lockPath, lock, compromised } = tempLock(2000);
    expect(lock.tryAcquire()).toBe(true);
    // This holder stalled past staleMs (its refresh timer never ran); another process took the lock over.
    fs.rmdirSync(lockPath);
    fs.mkdirSync(lockPath);
    const theirs = fs.statSync(lockPath).ino;

    lock.release();
    expect(fs.statSync(lockPath).ino).toBe(theirs);
    expect(compromised).toEqual([expect.objectContaining({ code: 'ECOMPROMISED' })]);
    expect(lock.held).toBe(false);
  });

  it('where the file system keeps no birth time and the new lock directory gets the old one\'s inode, a holder that stalled leaves the lock of the process that took it over', async () => {
    const { lockPath, lock, compromised } = tempLock(2000);
    // ext4 with 128-byte inodes, ext3: birth time 0, and a directory made right after an rmdir gets the
    // inode it freed. Both shown for the lock directory, whatever this disk does.
    const statSync = fs.statSync;
    let ino: number | null = null;
    vi.spyOn(fs, 'statSync').mockImplementation(((file: fs.PathLike, options?: fs.StatSyncOptions) => {
      const stats = statSync(file, options);
      if (file !== lockPath || stats === undefined) return stats;
      ino ??= Number(stats.ino);
      return Object.assign(Object.create(stats) as fs.Stats, { ino, birthtimeMs: 0, birthtime: new Date(0) });
    }) as typeof fs.statSync);
    expect(lock.tryAcquire()).toBe(true);
    // Its own refresh (every staleMs / 2) re-dates the lock: the release still knows it.
    const dated = fs.statSync(lockPath).mtimeMs;
    await vi.waitFor(() => expect(fs.statSync(lockPath).mtimeMs).not.toBe(dated), { timeout: 5000, interval: 50 });
    lock.release();
    expect(fs.existsSync(lockPath)).toBe(false);
    expect(compromised).toEqual([]);

    expect(lock.tryAcquire()).toBe(true);
    // This holder stalled past staleMs (its refresh timer never ran); another process took the lock over,
    // dating its lock to its now.
    fs.rmdirSync(lockPath);
    fs.mkdirSync(lockPath);
    const later = new Date(Date.now() + 2500);
    fs.utimesSync(lockPath, later, later);
    lock.release();
    expect(Math.round(fs.statSync(lockPath).mtimeMs)).toBe(later.getTime()); // still the taker's
    expect(compromised).toEqual([expect.objectContaining({ code: 'ECOMPROMISED' })]);
    expect(lock.held).toBe(false);
  });

  it('two holders in one process (two files on one path): one that stalled past staleMs and lost the lock to the other releases neither the other\'s lock nor its hold', () => {
    const { dir, lockPath, lock: stalled, compromised } = tempLock();
    const toldOther: Error[] = [];
    const other = createRotationLock(path.join(dir, 'app.log'), lockPath, 2000, (err) => toldOther.push(err));
    expect(stalled.tryAcquire()).toBe(true);
    const past = new Date(Date.now() - 10_000);
    fs.utimesSync(lockPath, past, past); // not refreshed for staleMs: the event loop stalled
    expect(other.tryAcquire()).toBe(true); // takes it over
    const theirs = fs.statSync(lockPath).ino;
    stalled.release();
    expect(fs.statSync(lockPath, { throwIfNoEntry: false })?.ino).toBe(theirs); // still the other holder's
    expect(compromised.map((err) => (err as NodeJS.ErrnoException).code)).toEqual(['ECOMPROMISED']);
    expect(other.held).toBe(true);
    other.release(); // its own hold: released, without an error
    expect(fs.existsSync(lockPath)).toBe(false);
    expect(toldOther).toEqual([]);
    expect(stalled.tryAcquire()).toBe(true); // free for either again
    stalled.release();
  });

  it("at exit, a hold that lost the lock to a sibling in this process removes no other process's lock (proper-lockfile's cleanup)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-lock-'));
    dirs.push(dir);
    const lockPath = path.join(dir, '.app.log.lock');
    // In one tick: hold A goes stale, its sibling B takes the lock over and releases it, another process
    // takes it (mkdir), and the process exits: proper-lockfile's exit cleanup still knows A's hold.
    const script = `
      import fs from 'node:fs';
      const { createRotationLock } = await import(${JSON.stringify(lockModule.url)});
      const lockPath = ${JSON.stringify(lockPath)};
      const a = createRotationLock(${JSON.stringify(path.join(dir, 'app.log'))}, lockPath, 2000, () => {});
      const b = createRotationLock(${JSON.stringify(path.join(dir, 'app.log'))}, lockPath, 2000, () => {});
      if (!a.tryAcquire()) process.exit(3);
      const past = new Date(Date.now() - 10_000);
      fs.utimesSync(lockPath, past, past);
      if (!b.tryAcquire()) process.exit(4);
      b.release();
      fs.mkdirSync(lockPath);
      process.exit(0);
    `;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    expect(out.status, out.stderr).toBe(0);
    expect(fs.existsSync(lockPath)).toBe(true); // the other process's lock
  });

  it('removes its own new lock directory when proper-lockfile gives it up after a failed probe', () => {
    const { lockPath, lock } = tempLock(2000);
    vi.spyOn(fs, 'utimesSync').mockImplementationOnce(() => {
      throw Object.assign(new Error('EPERM: operation not permitted, utime'), { code: 'EPERM', syscall: 'utime' });
    });
    expect(() => lock.tryAcquire()).toThrow(expect.objectContaining({ code: 'EPERM' }));
    expect(fs.existsSync(lockPath)).toBe(false);
    expect(lock.tryAcquire()).toBe(true);
    lock.release();
  });

  it('takes the archive lock over the same way: "busy" while another process is taking it over, then exactly once', () => {
    const { dir } = tempLock();
    const lockPath = path.join(dir, '.app.log.archive-lock');
    const options = { lockfilePath: lockPath, realpath: false, stale: 2000, onCompromised: () => {} };
    leftBehind(lockPath, 5000);
    fs.mkdirSync(`${lockPath}.takeover`);
    expect(() => lockOnce(path.join(dir, '.app.log.archive'), options)).toThrow(expect.objectContaining({ code: 'ELOCKED' }));
    fs.rmdirSync(`${lockPath}.takeover`);
    const release = lockOnce(path.join(dir, '.app.log.archive'), options);
    expect(Date.now() - fs.statSync(lockPath).mtimeMs).toBeLessThan(2000);
    release();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('leaves the archive lock alone on release, and reports the takeover, when another process took it over meanwhile', () => {
    const { dir } = tempLock();
    const lockPath = path.join(dir, '.app.log.archive-lock');
    const compromised: Error[] = [];
    const release = lockOnce(path.join(dir, '.app.log.archive'), { lockfilePath: lockPath, realpath: false, stale: 2000, onCompromised: (err) => compromised.push(err) });
    fs.rmdirSync(lockPath);
    fs.mkdirSync(lockPath); // the process that took it over
    const theirs = fs.statSync(lockPath).ino;

    release();
    expect(fs.statSync(lockPath).ino).toBe(theirs);
    expect(compromised).toEqual([expect.objectContaining({ code: 'ECOMPROMISED' })]);
  });

  it('reports a compromise of the lock it holds (taken from it) and no longer counts it as held', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-lock-'));
    dirs.push(dir);
    const lockPath = path.join(dir, '.app.log.lock');
    const compromised: Error[] = [];
    const lock = createRotationLock(path.join(dir, 'app.log'), lockPath, 2000, (err) => compromised.push(err));
    expect(lock.tryAcquire()).toBe(true);
    fs.rmdirSync(lockPath); // taken from us: proper-lockfile's refresh (every second) finds it gone
    await vi.waitFor(() => expect(compromised).toHaveLength(1), { timeout: 5000, interval: 50 });
    expect(lock.held).toBe(false);
  });

  it('still throws when the directory that should hold the lock is gone', () => {
    const { dir, lock } = tempLock();
    fs.rmSync(dir, { recursive: true });
    expect(() => lock.tryAcquire()).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'mkdir' }));
  });
});
