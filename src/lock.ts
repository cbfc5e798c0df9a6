/**
 * The rotation lock: a try-once wrapper over proper-lockfile. Nothing in timberlock ever waits for it.
 */
import fs from 'node:fs';
import lockfile from 'proper-lockfile';

/**
 * The file system calls proper-lockfile makes for timberlock's locks, with two changes:
 * - lock directories are created with mode 0o700, so no umask can make one world-writable (anyone able to
 *   put a file into a lock directory could keep it from ever being removed);
 * - a time in the future given to utimes becomes now. On every lockSync (the sync API does not keep its
 *   cache) proper-lockfile probes the mtime precision by dating the new lock to the next whole second + 5 ms,
 *   so a lock taken at 12:00:00.030 looked fresh until 12:00:03.005 with staleMs 2000 and a holder killed
 *   right away blocked everyone for staleMs + up to 1 s. proper-lockfile reads the mtime back after the
 *   probe, so its bookkeeping stays consistent; its refreshes ask for `now` and pass unchanged. A whole
 *   second is avoided so that the probe always concludes 'ms' precision ('s' would date every refresh ahead);
 * - a lock directory that vanished between our mkdir and the probe was removed by another process that
 *   had judged the previous (stale) lock and removed ours instead; proper-lockfile then rmdirs the lock
 *   path, which by now may be that other process's fresh lock. That rmdir is skipped: the lock is not ours.
 *   A path is marked when a stat or utimes issued after our last successful mkdir of it finds it gone,
 *   and unmarked by the next successful mkdir. Only the rmdir of proper-lockfile's failed probe can come
 *   between the two: its stale check retries with a mkdir, a refresh that finds the lock gone reports it
 *   compromised without removing anything, and a refresh issued before a later mkdir (one still under
 *   way when the lock was released and taken again) cannot mark the new lock.
 */
const vanishedLocks = new Set<string>();
/** Per lock path: how many times a mkdir of it succeeded in this process. */
const mkdirCount = new Map<string, number>();

type Callback = (err: NodeJS.ErrnoException | null, ...rest: never[]) => void;

/** Call before a stat or utimes of `file`; call the result with its error when it is done. */
function watchVanish(file: fs.PathLike): (err: unknown) => void {
  const key = String(file);
  const seen = mkdirCount.get(key);
  return (err) => {
    if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT' && mkdirCount.get(key) === seen) vanishedLocks.add(key);
  };
}

function created(dir: fs.PathLike): void {
  const key = String(dir);
  mkdirCount.set(key, (mkdirCount.get(key) ?? 0) + 1);
  vanishedLocks.delete(key);
}

/** True (and forgotten) when `dir` is a lock that vanished under a probe: not ours to remove. */
function skipRemoval(dir: fs.PathLike): boolean {
  return vanishedLocks.delete(String(dir));
}

export const lockFileSystem = {
  stat(file: fs.PathLike, callback: (err: NodeJS.ErrnoException | null, stats?: fs.Stats) => void): void {
    const done = watchVanish(file);
    fs.stat(file, (err, stats) => {
      done(err);
      callback(err, stats);
    });
  },
  statSync(file: fs.PathLike): fs.Stats {
    const done = watchVanish(file);
    try {
      return fs.statSync(file);
    } catch (err) {
      done(err);
      throw err;
    }
  },
  rmdir(dir: fs.PathLike, callback: Callback): void {
    if (skipRemoval(dir)) process.nextTick(callback, null);
    else fs.rmdir(dir, callback);
  },
  rmdirSync(dir: fs.PathLike): void {
    if (!skipRemoval(dir)) fs.rmdirSync(dir);
  },
  realpath: fs.realpath,
  realpathSync: fs.realpathSync,
  mkdir(dir: fs.PathLike, callback: Callback): void {
    fs.mkdir(dir, { mode: 0o700 }, (err) => {
      if (!err) created(dir);
      callback(err);
    });
  },
  mkdirSync(dir: fs.PathLike): void {
    fs.mkdirSync(dir, { mode: 0o700 });
    created(dir);
  },
  utimes(file: fs.PathLike, atime: fs.TimeLike, mtime: fs.TimeLike, callback: Callback): void {
    const time = notAhead(mtime);
    const done = watchVanish(file);
    fs.utimes(file, time ?? atime, time ?? mtime, (err) => {
      done(err);
      callback(err);
    });
  },
  utimesSync(file: fs.PathLike, atime: fs.TimeLike, mtime: fs.TimeLike): void {
    const time = notAhead(mtime);
    const done = watchVanish(file);
    try {
      fs.utimesSync(file, time ?? atime, time ?? mtime);
    } catch (err) {
      done(err);
      throw err;
    }
  },
};

/** Now (never on a whole second) when `mtime` lies in the future, else null (use the times as given). */
function notAhead(mtime: fs.TimeLike): Date | null {
  const now = Date.now();
  if (!(mtime instanceof Date) || mtime.getTime() <= now) return null;
  return new Date(now % 1000 === 0 ? now - 1 : now);
}

/** A lock that is tried once and never waited for. */
export interface RotationLock {
  /** Absolute path of the lock directory. */
  readonly lockPath: string;
  /**
   * Try to take the lock once, synchronously (one mkdir; a stale lock is removed and retaken).
   * Returns false when another holder has it or won the race for a stale one. Throws on other I/O errors.
   */
  tryAcquire(): boolean;
  /** tryAcquire() without blocking the event loop (the same system calls, made by libuv's thread pool). */
  acquire(): Promise<boolean>;
  /** Release the lock if this object holds it (rmdir of the lock directory). Never throws for "not held". */
  release(): void;
  /** release() without blocking the event loop. */
  releaseAsync(): Promise<void>;
  /** True between a successful tryAcquire() or acquire() and release(). */
  readonly held: boolean;
}

/**
 * Create the lock for `target` (the active log path). The lock is the directory `lockPath`; a holder
 * that stops refreshing it for `staleMs` (a crashed or stalled process) loses it to the next taker,
 * and `onCompromised` is told instead of proper-lockfile's default, which throws from a timer.
 */
export function createRotationLock(
  target: string,
  lockPath: string,
  staleMs: number,
  onCompromised: (err: Error) => void,
): RotationLock {
  let held = false;
  let acquiring = false;
  /** Counts acquisitions: a late report about an earlier one (released since) is not about the lock now held. */
  let acquisition = 0;
  const base = { lockfilePath: lockPath, realpath: false, stale: staleMs, retries: 0, fs: lockFileSystem };
  // proper-lockfile keeps the options of each acquisition for its refreshes; a refresh still under way when
  // the lock was released can report it "compromised" afterwards (its stat finds the directory gone).
  const options = (): typeof base & { onCompromised(err: Error): void } => {
    const mine = ++acquisition;
    return {
      ...base,
      onCompromised: (err: Error) => {
        if (mine !== acquisition || !held) return;
        held = false;
        onCompromised(err);
      },
    };
  };
  /** The errors that mean "someone else has it"; anything else is rethrown. */
  const busy = (err: unknown): false => {
    const { code, syscall } = err as NodeJS.ErrnoException;
    if (code === 'ELOCKED') return false;
    // Our new lock directory vanished before proper-lockfile could date it: another process that found
    // the old lock stale removed ours. It holds the lock now, or will in a moment; that is "busy".
    // (ENOENT from mkdir itself means the log directory is gone: a real error.)
    if (code === 'ENOENT' && syscall !== 'mkdir') return false;
    throw err;
  };
  /** ERELEASED: the lock was compromised (taken over) meanwhile; that was already reported. */
  const releasedAlready = (err: unknown): void => {
    if ((err as NodeJS.ErrnoException).code !== 'ERELEASED') throw err;
  };
  return {
    lockPath,
    get held() {
      return held;
    },
    tryAcquire() {
      if (held || acquiring) return false; // one holder per lock object: no reentrancy
      try {
        lockfile.lockSync(target, options());
      } catch (err) {
        return busy(err);
      }
      held = true;
      return true;
    },
    async acquire() {
      if (held || acquiring) return false;
      acquiring = true;
      try {
        await lockfile.lock(target, options());
      } catch (err) {
        return busy(err);
      } finally {
        acquiring = false;
      }
      held = true;
      return true;
    },
    release() {
      if (!held) return;
      held = false;
      try {
        lockfile.unlockSync(target, base);
      } catch (err) {
        releasedAlready(err);
      }
    },
    async releaseAsync() {
      if (!held) return;
      held = false;
      try {
        await lockfile.unlock(target, base);
      } catch (err) {
        releasedAlready(err);
      }
    },
  };
}
