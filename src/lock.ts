/**
 * The rotation lock: a try-once wrapper over proper-lockfile. Nothing in timberlock ever waits for it.
 */
import lockfile from 'proper-lockfile';

/** A lock that is tried once and never waited for. */
export interface RotationLock {
  /** Absolute path of the lock directory. */
  readonly lockPath: string;
  /**
   * Try to take the lock once, synchronously (one mkdir; a stale lock is removed and retaken).
   * Returns false when another holder has it. Throws on I/O errors other than "held".
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
        if ((err as NodeJS.ErrnoException).code === 'ELOCKED') return false;
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
