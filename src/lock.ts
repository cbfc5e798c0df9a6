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
 *   The synchronous API runs mkdir → utimes → stat → (rmdir on failure) without yielding, so one flag is
 *   enough to tie the failure to the rmdir that follows it.
 */
let lostBetweenMkdirAndProbe = false;

function noteVanished(err: unknown): never {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') lostBetweenMkdirAndProbe = true;
  throw err;
}

export const lockFileSystem = {
  stat: fs.stat,
  statSync(file: fs.PathLike): fs.Stats {
    try {
      return fs.statSync(file);
    } catch (err) {
      return noteVanished(err);
    }
  },
  rmdir: fs.rmdir,
  rmdirSync(dir: fs.PathLike): void {
    if (lostBetweenMkdirAndProbe) {
      lostBetweenMkdirAndProbe = false;
      return;
    }
    fs.rmdirSync(dir);
  },
  realpath: fs.realpath,
  realpathSync: fs.realpathSync,
  mkdir(dir: fs.PathLike, callback: (err: NodeJS.ErrnoException | null) => void): void {
    fs.mkdir(dir, { mode: 0o700 }, callback);
  },
  mkdirSync(dir: fs.PathLike): void {
    lostBetweenMkdirAndProbe = false;
    fs.mkdirSync(dir, { mode: 0o700 });
  },
  utimes(file: fs.PathLike, atime: fs.TimeLike, mtime: fs.TimeLike, callback: (err: NodeJS.ErrnoException | null) => void): void {
    const time = notAhead(mtime);
    fs.utimes(file, time ?? atime, time ?? mtime, callback);
  },
  utimesSync(file: fs.PathLike, atime: fs.TimeLike, mtime: fs.TimeLike): void {
    const time = notAhead(mtime);
    try {
      fs.utimesSync(file, time ?? atime, time ?? mtime);
    } catch (err) {
      noteVanished(err);
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
  let releaseFn: (() => void) | null = null;
  const options = {
    lockfilePath: lockPath,
    realpath: false,
    stale: staleMs,
    retries: 0,
    fs: lockFileSystem,
    onCompromised: (err: Error) => {
      releaseFn = null;
      onCompromised(err);
    },
  };
  return {
    lockPath,
    get held() {
      return releaseFn !== null;
    },
    tryAcquire() {
      if (releaseFn) return false; // one holder per lock object: no reentrancy
      try {
        releaseFn = lockfile.lockSync(target, options);
        return true;
      } catch (err) {
        const { code, syscall } = err as NodeJS.ErrnoException;
        if (code === 'ELOCKED') return false;
        // Our new lock directory vanished before proper-lockfile could date it: another process that found
        // the old lock stale removed ours. It holds the lock now, or will in a moment; that is "busy".
        // (ENOENT from mkdir itself means the log directory is gone: a real error.)
        if (code === 'ENOENT' && syscall !== 'mkdir') return false;
        throw err;
      }
    },
    release() {
      const fn = releaseFn;
      releaseFn = null;
      if (!fn) return;
      try {
        fn();
      } catch (err) {
        // ERELEASED: the lock was compromised (taken over) meanwhile; that was already reported.
        if ((err as NodeJS.ErrnoException).code !== 'ERELEASED') throw err;
      }
    },
  };
}
