/**
 * The rotation lock: a try-once wrapper over proper-lockfile. Nothing in timberlock ever waits for it.
 */
import fs from 'node:fs';
import lockfile from 'proper-lockfile';

/**
 * The file system calls proper-lockfile makes for timberlock's locks. Locks are only ever taken and
 * released through its synchronous API (see {@link RotationLock.tryAcquire}), which calls the `…Sync`
 * methods, its refreshes included. Five changes:
 * - lock directories are created with mode 0o700, so no umask can make one world-writable (anyone able to
 *   put a file into a lock directory could keep it from ever being removed);
 * - a time in the future given to the utimes that dates a new lock becomes now. On every lockSync (the sync
 *   API does not keep its cache) proper-lockfile probes the mtime precision by dating the new lock to the
 *   next whole second + 5 ms, so a lock taken at 12:00:00.030 looked fresh until 12:00:03.005 with staleMs
 *   2000 and a holder killed right away blocked everyone for staleMs + up to 1 s. proper-lockfile reads the
 *   mtime back after the probe, so its bookkeeping stays consistent; its refreshes pass as they are (with
 *   millisecond mtimes they ask for `now`). A whole second is avoided so that the probe concludes 'ms'
 *   precision wherever the file system keeps it ('s' would date every refresh ahead). Where mtimes have
 *   whole seconds only (the new directory's has none), the probe's date stays: now would come back as the
 *   second begun, up to 1 s in the past, and the first refresh (staleMs / 2 later) would have as little as
 *   a few ms before the lock looked stale to others (a lock taken at .950 was taken over from a holder
 *   whose event loop was 56 ms late). The lock is dated to the next second instead: a holder killed at once
 *   holds everyone back for up to 1 s more than staleMs;
 * - a lock directory that vanished between our mkdir and the probe was removed by another process that
 *   had judged the previous (stale) lock and removed ours instead; proper-lockfile then rmdirs the lock
 *   path, which by now may be that other process's fresh lock. That rmdir is skipped: the lock is not ours.
 *   A path is marked when a stat or utimes finds it gone, and unmarked by the next successful mkdir of it.
 *   A mark left by a refresh that found our lock gone, or by a look at another holder's lock that had just
 *   been released, is taken by the next rmdir of that path, which may be the removal of a stale lock: that
 *   removal is skipped, the try answers "busy", and the next try removes it;
 * - the removal of a stale lock is exclusive (see removeStale): proper-lockfile's own let two processes that
 *   found the lock stale at once both take it;
 * - a release removes the lock directory only if it is still the one this thread made (its inode and birth
 *   time, or mtime: see DirIdentity): a holder that stalled past staleMs, woke and released before its
 *   refresh timer could tell it the lock was taken over, removed the lock of the process that took it over.
 */
const vanishedLocks = new Set<string>();

/**
 * A directory as made: its inode and birth time (inode numbers are reused). Where the file system keeps no
 * birth time (ext3, ext4 with 128-byte inodes: 0), a directory made in place of another one often gets its
 * inode, so the lock's mtime tells them apart instead: the date this thread last gave it (see
 * lockFileSystem.utimesSync). A lock taken over was not refreshed for staleMs, and its taker dates the new
 * one to now, at least staleMs later, in another second even where mtimes have whole seconds only.
 */
interface DirIdentity {
  ino: number;
  birthtimeMs: number;
  mtimeMs: number;
}

/** The lock directories this thread made and holds, by path. */
const made = new Map<string, DirIdentity>();
/** Locks whose release found another process's lock directory in their place (see RotationLock.release). */
const takenOver = new Set<string>();
/**
 * While a hold's rmdir runs (its release, or proper-lockfile's cleanup at exit): the lock directory that
 * hold made, if it made one. Two holds of one lock in this thread (two files on one path, one stalled past
 * staleMs and the other took over) each remove their own directory only; `made` keeps the last one made.
 */
let releasing: DirIdentity | undefined;
/** Holds taken by this thread, for their keys in proper-lockfile's registry (see lockOnce). */
let holds = 0;

function identityOf(dir: string): DirIdentity | null {
  const stats = fs.statSync(dir, { throwIfNoEntry: false });
  return stats === undefined ? null : { ino: stats.ino, birthtimeMs: stats.birthtimeMs, mtimeMs: stats.mtimeMs };
}

function sameDir(a: DirIdentity | null, b: DirIdentity | null): boolean {
  return a !== null && b !== null && a.ino === b.ino && a.birthtimeMs === b.birthtimeMs && (a.birthtimeMs !== 0 || a.mtimeMs === b.mtimeMs);
}

/**
 * The lock that a lockSync of ours is taking, until its mkdir succeeds: an rmdir of that path meanwhile is
 * proper-lockfile removing the lock it found stale (see removeStale). Locks are taken synchronously, so
 * one at a time per thread.
 */
let taking: { dir: string; staleMs: number } | null = null;

/**
 * The lock directory this thread has just made, until proper-lockfile's precision probe (the first utimes
 * after the mkdir) has dated it: only that date is kept from lying ahead (see lockFileSystem.utimesSync).
 */
let probing: string | null = null;

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
    const stats = watchVanish(file, () => fs.statSync(file));
    // While taking: proper-lockfile judges only a lock dated before now - staleMs stale. One dated more than
    // staleMs ahead is stale too (see isStale): it is shown dated at the epoch, so that it goes to removeStale.
    if (taking !== null && String(file) === taking.dir && isStale(stats, taking.staleMs)) {
      return Object.assign(Object.create(stats) as fs.Stats, { mtime: new Date(0) });
    }
    return stats;
  },
  rmdirSync(dir: fs.PathLike): void {
    const lock = String(dir);
    if (taking !== null && taking.dir === lock) {
      removeStale(taking.dir, taking.staleMs);
      return;
    }
    // A release, or proper-lockfile giving the lock up after a failed probe: only our own directory goes.
    const last = made.get(lock);
    const ours = releasing ?? last;
    if (last !== undefined && (ours === undefined || sameDir(last, ours))) made.delete(lock);
    if (skipRemoval(lock)) return;
    if (ours !== undefined && !sameDir(identityOf(lock), ours)) {
      takenOver.add(lock); // gone, or another process's lock: taken over while this thread held it
      return;
    }
    fs.rmdirSync(lock);
  },
  realpathSync: fs.realpathSync,
  mkdirSync(dir: fs.PathLike): void {
    fs.mkdirSync(dir, { mode: 0o700 });
    const lock = String(dir);
    vanishedLocks.delete(lock);
    if (taking !== null && taking.dir === lock) {
      // Ours now: an rmdir of it from here on is a release, or proper-lockfile giving it up after a failed probe.
      taking = null;
      probing = lock;
      const identity = identityOf(lock);
      if (identity !== null) made.set(lock, identity);
    }
  },
  utimesSync(file: fs.PathLike, atime: fs.TimeLike, mtime: fs.TimeLike): void {
    // The probe's date only: a refresh passes as asked. Where mtimes have whole seconds only, proper-lockfile
    // dates each refresh to the next second and compares the next refresh's stat with that date: brought back
    // to now, every refresh after the first found the lock "compromised", and a run longer than two refresh
    // intervals (an archive's compression) was stopped.
    const time = probing === String(file) && !wholeSeconds(made.get(probing)) ? notAhead(mtime) : null;
    probing = null;
    watchVanish(file, () => fs.utimesSync(file, time ?? atime, time ?? mtime));
    // Without birth times, a lock of ours is known by the date it got last (see DirIdentity).
    const ours = made.get(String(file));
    if (ours?.birthtimeMs === 0) ours.mtimeMs = identityOf(String(file))?.mtimeMs ?? ours.mtimeMs;
  },
};

/** Whether the file system dated `dir` (a directory this thread just made) to a whole second: it keeps no less. */
function wholeSeconds(dir: DirIdentity | undefined): boolean {
  return dir !== undefined && dir.mtimeMs % 1000 === 0;
}

/** Now (never on a whole second) when `mtime` lies in the future, else null (use the times as given). */
function notAhead(mtime: fs.TimeLike): Date | null {
  const now = Date.now();
  if (!(mtime instanceof Date) || mtime.getTime() <= now) return null;
  return new Date(now % 1000 === 0 ? now - 1 : now);
}

/**
 * proper-lockfile's lockSync, tried once, on lockFileSystem (so a stale lock is removed by removeStale).
 * Returns its release function; throws ELOCKED when another process holds the lock or is taking it over.
 */
export function lockOnce(
  file: string,
  options: lockfile.LockOptions & { lockfilePath: string; stale: number },
  onTakenOver: ((err: Error) => void) | undefined = options.onCompromised,
): () => void {
  // proper-lockfile raises staleMs below 2000 to 2000 (timberlock's options allow no less).
  taking = { dir: options.lockfilePath, staleMs: Math.max(options.stale, 2000) };
  // proper-lockfile keeps one registry entry per locked path: each hold gets its own key (a path nothing
  // uses; realpath is off), so that two holds of one lock in this thread do not release each other. It
  // keeps each entry's `fs` too, and removes the lock through it on release and at exit: this hold's knows
  // which directory it made.
  const key = `${file}#${++holds}`;
  let identity: DirIdentity | undefined;
  const fsOfHold = {
    ...lockFileSystem,
    mkdirSync(dir: fs.PathLike): void {
      lockFileSystem.mkdirSync(dir);
      identity = made.get(String(dir));
    },
    rmdirSync(dir: fs.PathLike): void {
      releasing = identity;
      try {
        lockFileSystem.rmdirSync(dir);
      } finally {
        releasing = undefined;
      }
    },
  };
  let release: () => void;
  try {
    release = lockfile.lockSync(key, { ...options, fs: fsOfHold, retries: 0 });
  } finally {
    taking = null;
  }
  return () => {
    try {
      release();
    } finally {
      tellIfTakenOver(options.lockfilePath, options.stale, onTakenOver);
    }
  };
}

/**
 * After a release: tell `onCompromised` if the release found the lock directory gone or another process's
 * (taken over, and this thread stalled too long for proper-lockfile's refresh to tell it before now).
 */
function tellIfTakenOver(lockPath: string, staleMs: number, onCompromised: ((err: Error) => void) | undefined): void {
  if (!takenOver.delete(lockPath)) return;
  const message = `The lock directory ${lockPath} was gone or another process's when this one released it (not refreshed for ${staleMs} ms)`;
  onCompromised?.(Object.assign(new Error(message), { code: 'ECOMPROMISED' }));
}

/**
 * Remove the lock `dir`, which proper-lockfile found stale (not refreshed for staleMs: its holder died or
 * stalled), before its mkdir takes it. proper-lockfile's own removal looks and removes in two calls:
 * processes that found the lock stale at once each removed it, and one late by a moment removed the lock
 * another had just taken in its place; both then held it (2 runs in 32 of three processes waiting for a
 * holder stalled past staleMs: two of them took the lock within the same millisecond). Here the removal
 * is made holding the takeover directory `dir.takeover`, after a fresh look that the lock is still stale;
 * a process that finds the takeover directory taken, or the lock fresh, answers busy and tries again
 * later, like one that finds the lock held. What a process that dies after a step (SIGKILL; nothing else
 * stops it within these synchronous calls) leaves behind is said at each step.
 */
function removeStale(dir: string, staleMs: number): void {
  if (skipRemoval(dir)) throw lockBusy(dir); // not ours to remove (see vanishedLocks)
  const guard = `${dir}.takeover`;
  // 1. Take the takeover directory. Left behind: the first taker to find it staleMs old removes it; until
  //    then, and for one more try, the stale lock stays (others wait up to staleMs more).
  try {
    fs.mkdirSync(guard, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    removeAbandoned(guard, staleMs);
    throw lockBusy(dir);
  }
  const ours = identityOf(guard);
  try {
    // 2. Look again, and remove the lock if it is still stale and the takeover directory still ours (this
    //    thread did not stall past staleMs meanwhile, its takeover directory taken for an abandoned one).
    //    Left behind: the lock is gone, the takeover directory as in step 1, until the next stale lock; the
    //    next taker's mkdir takes the lock.
    const lock = fs.statSync(dir, { throwIfNoEntry: false });
    if (lock === undefined) return; // its holder released it meanwhile
    if (!isStale(lock, staleMs) || !sameDir(identityOf(guard), ours)) throw lockBusy(dir); // another took it
    removeQuietly(dir, true);
  } finally {
    // 3. Let go of the takeover directory, if it is still ours; proper-lockfile's mkdir follows.
    if (sameDir(identityOf(guard), ours)) removeQuietly(guard);
  }
}

/** A takeover directory left by a taker killed in removeStale goes once it is staleMs old. */
function removeAbandoned(guard: string, staleMs: number): void {
  const stats = fs.statSync(guard, { throwIfNoEntry: false });
  if (stats !== undefined && isStale(stats, staleMs)) removeQuietly(guard);
}

/**
 * As proper-lockfile judges a lock: not refreshed within the last staleMs; or dated more than staleMs ahead,
 * which no refresh does (proper-lockfile dates one a second ahead at most). Such a date is one a holder made
 * before the clock was set back, or another host's whose clock runs ahead: its lock would look fresh until
 * then, and nobody could rotate. (A holder alive at such a moment dates its lock anew at its next refresh,
 * within staleMs / 2; until then another process may take the lock over, as from a stalled holder.)
 */
function isStale(stats: fs.Stats, staleMs: number): boolean {
  const now = Date.now();
  const mtime = stats.mtime.getTime();
  return mtime < now - staleMs || mtime > now + staleMs;
}

/**
 * rmdir; already gone (ENOENT: another process removed it) is fine. `orFile`: a stale file that is no
 * directory (put under the lock's name by hand) goes too; no holder makes one, and left there it would keep
 * every process from the lock for good.
 */
function removeQuietly(dir: string, orFile = false): void {
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    const { code } = err as NodeJS.ErrnoException;
    if (code === 'ENOTDIR' && orFile) fs.rmSync(dir, { force: true });
    else if (code !== 'ENOENT') throw err;
  }
}

/** The error proper-lockfile throws for a lock that is held. */
function lockBusy(dir: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`Lock file ${dir} is already being held, or being taken over`), { code: 'ELOCKED', file: dir });
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
  /** The release of the hold under way (lockOnce's). */
  let releaseHold: (() => void) | null = null;
  // A refresh (a synchronous stat and utimes on proper-lockfile's timer) that finds the lock gone or
  // re-dated by someone else reports it compromised; proper-lockfile then forgets it.
  const options = {
    lockfilePath: lockPath,
    realpath: false,
    stale: staleMs,
    retries: 0,
    fs: lockFileSystem,
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
        // A release that finds the lock taken over tells `onCompromised` itself (held is false by then).
        releaseHold = lockOnce(target, options, onCompromised);
      } catch (err) {
        return busy(err);
      }
      held = true;
      return true;
    },
    release() {
      if (!held) return;
      held = false;
      const release = releaseHold;
      releaseHold = null;
      try {
        release?.();
      } catch (err) {
        releasedAlready(err);
      }
    },
  };
}
