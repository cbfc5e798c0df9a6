/**
 * The rotation lock: a try-once wrapper over proper-lockfile. Nothing in timberlock ever waits for it.
 */
import fs from 'node:fs';
import lockfile from 'proper-lockfile';

/**
 * The file system calls proper-lockfile makes for timberlock's locks. Locks are only ever taken and
 * released through its synchronous API (see {@link RotationLock.tryAcquire}), which calls the `…Sync`
 * methods, its refreshes included. Three changes:
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
 *   A path is marked when a stat or utimes finds it gone, and unmarked by the next successful mkdir of it.
 *   A mark left by a refresh that found our lock gone, or by a look at another holder's lock that had just
 *   been released, is taken by the next rmdir of that path, which may be the removal of a stale lock: that
 *   removal is skipped, the try answers "busy", and the next try removes it.
 */
const vanishedLocks = new Set<string>();

/** Run a stat or utimes of `file`; a lock found gone is marked (see above). */
function watchVanish<T>(file: fs.PathLike, call: () => T): T {
  try {
    return call();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') vanishedLocks.add(String(file));
    throw err;
  }
}

/** True (and forgotten) when `dir` is a lock that vanished under a probe: not ours to remove. */
function skipRemoval(dir: fs.PathLike): boolean {
  return vanishedLocks.delete(String(dir));
}

export const lockFileSystem = {
  statSync(file: fs.PathLike): fs.Stats {
    return watchVanish(file, () => fs.statSync(file));
  },
  rmdirSync(dir: fs.PathLike): void {
    if (!skipRemoval(dir)) fs.rmdirSync(dir);
  },
  realpathSync: fs.realpathSync,
  mkdirSync(dir: fs.PathLike): void {
    fs.mkdirSync(dir, { mode: 0o700 });
    vanishedLocks.delete(String(dir));
  },
  utimesSync(file: fs.PathLike, atime: fs.TimeLike, mtime: fs.TimeLike): void {
    const time = notAhead(mtime);
    watchVanish(file, () => fs.utimesSync(file, time ?? atime, time ?? mtime));
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
   *
   * Taking and releasing are synchronous on purpose: proper-lockfile removes a lock directory when the
   * process exits or dies by a signal only once it has registered it, after the mkdir and the mtime
   * probe that follows it (a utimes and a stat), and it forgets it before the rmdir. Made on libuv's
   * pool, those calls left a moment in which a process that ended left the directory behind (for
   * staleMs). This holds for the thread that took the lock: a worker thread that is terminated with
   * the process runs nothing on the way out, and leaves a lock it holds at that moment.
   */
  tryAcquire(): boolean;
  /** Release the lock if this object holds it (rmdir of the lock directory). Never throws for "not held". */
  release(): void;
  /** True between a successful tryAcquire() and release(). */
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
  const base = { lockfilePath: lockPath, realpath: false, stale: staleMs, retries: 0, fs: lockFileSystem };
  // A refresh (a synchronous stat and utimes on proper-lockfile's timer) that finds the lock gone or
  // re-dated by someone else reports it compromised; proper-lockfile then forgets it.
  const options = {
    ...base,
    onCompromised: (err: Error) => {
      if (!held) return;
      held = false;
      onCompromised(err);
    },
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
      if (held) return false; // one holder per lock object: no reentrancy
      try {
        lockfile.lockSync(target, options);
      } catch (err) {
        return busy(err);
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
  };
}
