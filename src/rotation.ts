/**
 * The rotation protocol: how a process makes its descriptor point at the active file of the current
 * period, either by following what another process did (no lock) or by doing the rotation itself
 * (under the lock). Every step re-checks the disk before it changes anything, because proper-lockfile
 * can let a second process take the lock from a holder that stalled longer than staleMs.
 *
 * The steps are generators of system calls (io.ts): the writer runs them off the event loop with
 * runAsync, and synchronously with runSync where nothing may wait (process exit, start-up).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as io from './io.js';
import type { Io } from './io.js';
import { archiveIndexesOf, archiveNamesOf, parseArchiveName, type NameScheme } from './naming.js';
import { periodOf } from './schedule.js';
import { parseState, stateText, stateTempPath, type RotationState, type StagedFile } from './state.js';
import type { Frequency } from './types.js';

const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** How many files that appear under the active name publishStaged archives before it gives up (see there). */
const PUBLISH_ROUNDS = 3;

/** Everything the protocol needs to know about one log path. */
export interface RotationTarget {
  path: string;
  dir: string;
  statePath: string;
  /** Where the next period's file is made at its boundary, before it gets the active name (see stageNext). */
  stagedPath: string;
  /** Where a new active file gets its header, before it gets the active name (see prepareActive). */
  newPath: string;
  /** Set while a file found deleted is made again: its inode, which the new file's state records (see RotationState). */
  deletedIno?: number | null;
  mode: number;
  frequency: Frequency;
  timeZone: string;
  scheme: NameScheme;
  /** First line of every file this process creates (with its newline), or null. */
  header: ((periodStart: number) => string) | null;
  /**
   * Where this process expects the next free archive index of a period (it used the one before): probing
   * starts there, so the n-th size roll of a period does not cost n failed links. With retention the
   * directory decides instead (see deletesArchives): another process's rolls can make this hint stale.
   */
  archiveHint: { periodStart: number; next: number };
  /**
   * Retention (maxFiles, maxAge) deletes archives, which frees their names: the next index is then taken
   * from the directory, one past the highest of the period, never a freed lower one (see nextIndexOnDisk).
   */
  deletesArchives: boolean;
  /**
   * The clock, and how far ahead of it a state's period may start before it counts as written by a clock
   * that was ahead (see fromTheFuture). Absent: no state counts as such.
   */
  clock?: { now: () => number; aheadMs: number };
}

/**
 * Whether a file's period starts more than `clock.aheadMs` after now: a clock that was ahead when it was
 * made (a host that booted with a wrong clock, which NTP then set back). Nothing would rotate until the
 * clock caught up, a year for a year's error; such a file belongs to the period of now instead. Within the
 * margin (minutes) the file is kept in its period: a clock set back a little (or a clock a little ahead
 * where processes do not share one) would otherwise take a newer state back to an earlier period, and the
 * processes with the later clock would rotate again.
 * A holder that stalled past staleMs reads the clock again here: it never takes the state of the process
 * that took over from it for one from the future.
 */
function fromTheFuture(target: RotationTarget, periodStart: number): boolean {
  return target.clock !== undefined && periodStart > target.clock.now() + target.clock.aheadMs;
}

/** The descriptor a process ends up with, and what was done to get it. */
export interface ActiveFile {
  fd: number;
  ino: number;
  /** Start of the period the active file belongs to. */
  periodStart: number;
  /** 'followed': another process had rotated; 'adopted': the file already belonged to the period;
   *  'relabelled': an empty file was moved into the new period; 'created': there was no file;
   *  'archived': this process moved the previous period's file to `archive`. */
  action: 'followed' | 'adopted' | 'relabelled' | 'created' | 'archived';
  /** The file's size while it holds no lines (its header's), as the state records it; 0 if unknown. */
  emptySize: number;
  archive: string | null;
  previousPeriodStart: number | null;
  /** True: the file is the next period's, still under the staged name; the active name gets it settleMs after its boundary. */
  staged?: boolean;
  /** This call gave a staged file the active name first (see publishStaged): that was a rotation too. */
  published?: Publication;
  /** The file belonged to this period, which had not begun: the clock was set back (see fromTheFuture). */
  setBackFrom?: number;
}

/** A staged file given the active name, and the archive this made of the file that had it. */
export interface Publication {
  ino: number;
  periodStart: number;
  archive: string | null;
  previousPeriodStart: number;
}

/** Test-only pause points inside the critical section (see test/fixtures). Not public API. */
export type RotationStep = 'locked' | 'before-publish' | 'before-link' | 'before-unlink' | 'before-create' | 'before-header' | 'before-state' | 'state-written';

interface TestHooks {
  at?: (step: RotationStep, target: string) => void;
}

function testHook(step: RotationStep, target: string): void {
  const hooks = (globalThis as Record<symbol, TestHooks | undefined>)[Symbol.for('timberlock.testHooks')];
  hooks?.at?.(step, target);
}

/** stat() that answers null for a missing file (synchronous: the writer's cheap checks). */
export function statOrNull(file: string): fs.Stats | null {
  return fs.statSync(file, { throwIfNoEntry: false }) ?? null;
}

/** The state file's contents, or null when it is missing or not a state (see state.ts). */
function* readState(statePath: string): Io<RotationState | null> {
  const text = yield* io.readText(statePath);
  return text === null ? null : parseState(text);
}

/** Write the state atomically: a temp file of this thread, renamed over the old state. */
function* writeState(target: RotationTarget, state: RotationState): Io<void> {
  const temp = stateTempPath(target.statePath);
  try {
    yield* io.writeFile(temp, stateText(state), target.mode);
  } catch (err) {
    // A full disk: the temp file was made, its text did not fit. Nothing else would remove it.
    yield* removeQuietly(temp);
    throw err;
  }
  testHook('state-written', target.path);
  try {
    yield* io.rename(temp, target.statePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      yield* removeQuietly(temp);
      throw err;
    }
    // Bare, ENOENT would not say which file, nor how it can go missing under the lock.
    throw Object.assign(
      new Error(
        `${temp}, the new state this process wrote, was removed before it became ${target.statePath}: archive maintenance removes such a ` +
          'file once it is staleMs old (this process held the rotation lock that long, and another process may have taken it over), ' +
          'or the directory was removed; the rotation is tried again',
      ),
      { code: 'ENOENT', path: temp },
    );
  }
}

/**
 * Open the active name for appending, without creating it. Null if it is missing or not `expectedIno`.
 * A symbolic link there is never followed: ELOOP is thrown (it becomes an 'error', see prepareDirectory).
 * Nor is anything but a regular file taken: EINVAL (a FIFO put there is not waited on: see APPEND_ONLY).
 */
export function* openExisting(file: string, expectedIno?: number): Io<{ fd: number; ino: number } | null> {
  let fd: number;
  try {
    fd = yield* io.open(file, APPEND_ONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const stats = yield* closingOnError(fd, io.fstat(fd));
  if (!stats.isFile()) {
    yield* io.close(fd);
    throw Object.assign(new Error(`${file} is not a regular file; no line is written to it (remove it)`), { code: 'EINVAL' });
  }
  const { ino } = stats;
  if (expectedIno !== undefined && ino !== expectedIno) {
    // Rotated again between our stat and open: let the caller look again.
    yield* io.close(fd);
    return null;
  }
  return { fd, ino };
}

/**
 * Flags to append to a file that exists. O_NONBLOCK: a FIFO put under the name (mkfifo) fails with ENXIO
 * rather than block open(2), and the whole thread with it, until some reader comes; on a regular file it
 * changes nothing.
 */
export const APPEND_ONLY = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK;

/** Run `steps` for the descriptor `fd` just opened; if they fail, close it before the error goes on. */
function* closingOnError<T>(fd: number, steps: Io<T>): Io<T> {
  try {
    return yield* steps;
  } catch (err) {
    yield* io.close(fd);
    throw err;
  }
}

/**
 * Without the lock: if the state says the active file already belongs to a period starting at or
 * after `periodStart` and the active name still holds that inode, open it; else, if it names a staged file
 * of such a period, open that (under whichever name it has by now). Null otherwise.
 */
export function* followActive(target: RotationTarget, periodStart: number): Io<ActiveFile | null> {
  const state = yield* readState(target.statePath);
  if (!state) return null;
  if (state.periodStart < periodStart) {
    return state.next && state.next.periodStart >= periodStart && !fromTheFuture(target, state.next.periodStart) ? yield* followStaged(target, state.next) : null;
  }
  if (fromTheFuture(target, state.periodStart)) return null; // the rotator makes it the file of now's period
  const current = yield* io.stat(target.path);
  if (!current || current.ino !== state.ino) return null;
  const opened = yield* openExisting(target.path, state.ino);
  if (!opened) return null;
  return { ...opened, periodStart: state.periodStart, emptySize: state.emptySize ?? 0, action: 'followed', archive: null, previousPeriodStart: null };
}

/** Open the staged file `next`: under the staged name, or under the active name if it was published meanwhile. */
function* followStaged(target: RotationTarget, next: StagedFile): Io<ActiveFile | null> {
  const followed = { periodStart: next.periodStart, emptySize: next.emptySize, action: 'followed', archive: null, previousPeriodStart: null } as const;
  const staged = yield* openExisting(target.stagedPath, next.ino);
  if (staged) return { ...staged, ...followed, staged: true };
  const published = yield* openExisting(target.path, next.ino);
  return published && { ...published, ...followed };
}

/**
 * Under the lock, between a boundary and settleMs after it: make the file of the period starting at
 * `periodStart` under the staged name, with its header, and a state naming it, so that every process can
 * write the new period's lines at once while the old file keeps the active name (writes issued before the
 * boundary land in it before its rename; publishStaged does the rest). Null when there is nothing to
 * stage: the state does not describe the active file, the file has no lines (it is relabelled, not
 * archived), or an earlier staged file is still waiting for its publication.
 * The writer stages only within settleMs of the boundary, and only with settleMs < staleMs: a holder can
 * lose the lock only staleMs after it took it, so two processes never stage at once. A stager that
 * stalls past staleMs can still write its state in the middle of the rotation of the holder that took
 * over, which then writes its own over it: the staged file is then a stray (see setAsideStray).
 */
export function* stageNext(target: RotationTarget, periodStart: number): Io<ActiveFile | null> {
  const followed = yield* followActive(target, periodStart);
  if (followed) return followed;
  const state = yield* readState(target.statePath);
  const current = yield* io.stat(target.path);
  if (!state || state.next || !current || current.ino !== state.ino || state.periodStart >= periodStart) return null;
  if (holdsNoLines(current.size, state.emptySize ?? 0)) return null;
  const stray = yield* io.stat(target.stagedPath);
  if (stray) yield* setAsideStray(target, stray);
  let fd: number;
  try {
    fd = yield* io.open(target.stagedPath, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, target.mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null; // a holder that took over made one
    throw err;
  }
  const ino = (yield* closingOnError(fd, io.fstat(fd))).ino;
  const emptySize = yield* closingOnError(fd, headerIfEmpty(target, fd, periodStart));
  testHook('before-state', target.path);
  const next = { periodStart, ino, emptySize };
  if (!(yield* closingOnError(fd, recordStaged(target, state, next)))) {
    // The state changed meanwhile (this holder stalled past staleMs): nobody knows this file; it goes.
    yield* io.close(fd);
    if ((yield* io.stat(target.stagedPath))?.ino === ino) yield* unlinkQuietly(target.stagedPath);
    return null;
  }
  if ((yield* closingOnError(fd, io.fstat(fd))).nlink === 0) {
    // This holder stalled past staleMs between its look at the state and the state's rename: the holder
    // that took over found the file unnamed in the state, and empty, and removed it. Lines written to it
    // would be in no file. The state now names a file that is gone; the next rotation forgets it.
    yield* io.close(fd);
    return null;
  }
  return { fd, ino, periodStart, emptySize, action: 'created', archive: null, previousPeriodStart: state.periodStart, staged: true };
}

/** Add `next` to the state, if the state and the active name are still what stageNext found. */
function* recordStaged(target: RotationTarget, found: RotationState, next: StagedFile): Io<boolean> {
  const state = yield* readState(target.statePath);
  if (!state || state.next || state.periodStart !== found.periodStart || state.ino !== found.ino) return false;
  if ((yield* io.stat(target.path))?.ino !== found.ino) return false;
  yield* writeState(target, { ...state, next });
  return true;
}

/**
 * Under the lock: give the staged file the state names the active name, archiving the file that holds it
 * (whatever it is: the previous period's file, or one that logrotate or an operator put there). Every
 * rotation starts with this, so that a staged file is published even if the process that made it stopped.
 * Returns the archive made, or null when there was nothing to publish.
 */
export function* publishStaged(target: RotationTarget): Io<Publication | null> {
  const state = yield* readState(target.statePath);
  const staged = yield* io.stat(target.stagedPath);
  if (!state?.next) {
    if (staged) yield* setAsideStray(target, staged);
    return null;
  }
  const { next } = state;
  const published: RotationState = { periodStart: next.periodStart, ino: next.ino, emptySize: next.emptySize };
  let current = yield* io.stat(target.path);
  if (staged?.ino !== next.ino) {
    // Published already by a holder that stopped before its state, or gone (deleted by hand): the state
    // forgets it. Which file the active name holds is then decided as if nothing had been staged.
    if (staged) yield* setAsideStray(target, staged);
    yield* writeState(target, current?.ino === next.ino ? published : { periodStart: state.periodStart, ino: state.ino, emptySize: state.emptySize ?? 0 });
    return null;
  }
  let archive: string | null = null;
  // More than one round only when a file appears under the active name between the archiving and the link
  // (a holder that took over from this one, logrotate's create): that file is archived in turn.
  for (let round = 0; current?.ino !== next.ino; round++) {
    if (round === PUBLISH_ROUNDS) throw new Error(`${target.path} kept getting new files while ${target.stagedPath} was being given its name`);
    if (current) archive = (yield* archiveActive(target, current, periodOfFile(target, state, current))) ?? archive;
    testHook('before-publish', target.path);
    try {
      yield* io.link(target.stagedPath, target.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (io.noHardLinks(code)) {
        // No hard links on this file system: rename, after checking the name is free (we hold the lock).
        if (!(yield* io.stat(target.path))) yield* io.rename(target.stagedPath, target.path);
      } else if (code === 'ENOENT') {
        // The staged name is gone: a holder that took over published the file (and may have rolled it away
        // since). The state says the rest; the archive made here is still this call's to report (that
        // holder found no file to archive).
        return archive === null ? null : { ino: next.ino, periodStart: next.periodStart, archive, previousPeriodStart: state.periodStart };
      } else if (code !== 'EEXIST') {
        throw err;
      }
    }
    current = yield* io.stat(target.path);
  }
  yield* unlinkExtraName(target.stagedPath, next.ino);
  yield* recordState(target, published);
  return { ino: next.ino, periodStart: next.periodStart, archive, previousPeriodStart: state.periodStart };
}

/**
 * A file under the staged name that the state does not name. Its maker stopped before writing the state
 * (it holds a header at most), or stalled past staleMs and wrote its state in the middle of the rotation
 * of the holder that took over, which then wrote its own over it: processes may have written lines to it.
 * It is archived under the period its mtime falls in, like a file without state; only an empty one goes.
 */
function* setAsideStray(target: RotationTarget, stray: fs.Stats): Io<void> {
  if (!stray.isFile()) return; // a directory or the like under the staged name is nobody's file: left alone
  if ((yield* io.stat(target.path))?.ino === stray.ino) {
    // A publication stopped between its link and the removal of the staged name: only that name goes.
    yield* unlinkExtraName(target.stagedPath, stray.ino);
  } else if (stray.size > 0) {
    yield* archiveActive({ ...target, path: target.stagedPath }, stray, periodOf(stray.mtimeMs, target.frequency, target.timeZone).start);
  } else {
    // Not if the state names it by now: its maker, stalled past staleMs, has just recorded it (and checks
    // that it still has its name before it writes there, see stageNext).
    const again = yield* io.stat(target.stagedPath);
    if (again?.ino !== stray.ino || again.size !== 0) return;
    if ((yield* readState(target.statePath))?.next?.ino === stray.ino) return;
    yield* unlinkQuietly(target.stagedPath);
  }
}

/** Unlink `file`, which is this process's own, on the way out of a step that failed: the failure is what is told. */
function* removeQuietly(file: string): Io<void> {
  try {
    yield* io.unlink(file);
  } catch {
    // Gone already, or the disk fails this too: the step's own error is reported, and maintenance removes a stale temp file.
  }
}

/** Unlink `file`; already gone (ENOENT: another holder did it) is fine. */
function* unlinkQuietly(file: string): Io<void> {
  try {
    yield* io.unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // ENOENT: another holder did it
  }
}

/**
 * Why a file of the current period should be archived anyway: 'force' (rotate(): if not empty), or
 * `{ minSize }` (a size roll: only if the file, re-checked under the lock, is still that large — so N
 * processes that saw it grow produce one roll, not N). null: only a period boundary rotates.
 */
export type RollRequest = null | 'force' | { minSize: number; ino: number };

function wantsRoll(roll: RollRequest, current: fs.Stats): boolean {
  if (roll === null) return false;
  if (roll === 'force') return current.size > 0;
  return current.ino === roll.ino && current.size >= roll.minSize;
}

/**
 * Under the lock: make the active name hold a file of the period starting at `periodStart` and
 * return a descriptor for it. With a roll request, a file of the current period is archived too
 * (rotate(), size rolls); its archive gets the next free index of that period.
 */
export function* rotateUnderLock(target: RotationTarget, periodStart: number, roll: RollRequest = null): Io<ActiveFile> {
  testHook('locked', target.path);
  const published = yield* publishStaged(target);
  const active = yield* rotateOnDisk(target, periodStart, roll);
  return published ? { ...active, published } : active;
}

/** rotateUnderLock, once no staged file waits for its publication. */
function* rotateOnDisk(target: RotationTarget, periodStart: number, roll: RollRequest): Io<ActiveFile> {
  // Step 1: re-read state and inode; the decision is made from the disk, never from memory.
  const state = yield* readState(target.statePath);
  const current = yield* io.stat(target.path);
  if (!current) return yield* createActive(target, periodStart, null, null);

  let filePeriodStart = periodOfFile(target, state, current);
  let setBackFrom: number | null = null;
  if (fromTheFuture(target, filePeriodStart)) {
    setBackFrom = filePeriodStart;
    filePeriodStart = periodStart;
  }
  if (filePeriodStart >= periodStart && !wantsRoll(roll, current)) {
    const adopted = yield* adoptActive(target, state, current, filePeriodStart);
    return setBackFrom === null ? adopted : { ...adopted, setBackFrom };
  }
  const described = state !== null && state.ino === current.ino;
  const emptySize = described ? (state.emptySize ?? 0) : 0;
  if (holdsNoLines(current.size, emptySize)) {
    // A file without lines is not worth an archive: it simply belongs to the new period now (with the
    // header, unless it holds it already: an empty one may be a truncated file the state knew).
    const opened = yield* openExisting(target.path, current.ino);
    if (!opened) return yield* rotateUnderLock(target, periodStart, roll);
    const size = described && current.size === emptySize ? emptySize : yield* closingOnError(opened.fd, headerIfEmpty(target, opened.fd, periodStart));
    testHook('before-state', target.path);
    yield* closingOnError(opened.fd, recordState(target, { periodStart, ino: opened.ino, emptySize: size }));
    return { ...opened, periodStart, emptySize: size, action: 'relabelled', archive: null, previousPeriodStart: filePeriodStart };
  }
  // The new file, with its header, before the old one lets go of the active name (see prepareActive).
  const newPeriodStart = Math.max(periodStart, filePeriodStart);
  const prepared = yield* prepareActive(target, newPeriodStart);
  // Step 2: give the file its archive name (never overwriting), then free the active name.
  const archive = yield* droppingOnError(target, prepared, archiveActive(target, current, filePeriodStart));
  // Step 3 and 4: new active file, then the state that tells everyone about it.
  return yield* createActive(target, newPeriodStart, archive, filePeriodStart, prepared);
}

/**
 * Whether a file of `size` bytes holds no lines, the state saying that it holds `emptySize` bytes then (its
 * header's). Smaller but not empty, it was truncated (logrotate's copytruncate, `: > app.log`) and written
 * to since: it holds lines, and no header.
 */
export function holdsNoLines(size: number, emptySize: number): boolean {
  return size === 0 || size === emptySize;
}

/**
 * Write the state unless a newer one already describes the active file: a holder that stalled past
 * staleMs must not turn the clock back for the process that took over from it, nor drop the staged file
 * a later one named. Nor is a state rewritten that already says the same about this file, knowing a
 * header at least as long (the process that took over wrote the header of the file the stalled one had
 * created).
 */
function* recordState(target: RotationTarget, state: RotationState): Io<void> {
  const existing = yield* readState(target.statePath);
  if (existing && existing.periodStart > state.periodStart && !fromTheFuture(target, existing.periodStart) && (yield* io.stat(target.path))?.ino === existing.ino) {
    return;
  }
  // A staged file of a later period, staged while this holder stalled past staleMs: the state keeps naming
  // it, so that it is published (see publishStaged), not set aside as a stray. (Even when this holder found
  // it under the active name already: a publication stopped half-way, which publishStaged completes.)
  const next = existing?.next;
  if (next && !state.next && next.periodStart > state.periodStart && (yield* io.stat(target.stagedPath))?.ino === next.ino) {
    state = { ...state, next };
  }
  const sameFile = existing !== null && existing.ino === state.ino && existing.periodStart === state.periodStart;
  if (sameFile && (existing.emptySize ?? 0) >= (state.emptySize ?? 0)) return;
  yield* writeState(target, state);
}

/** The period the file on disk belongs to: from the state when it describes this inode, else from its mtime. */
function periodOfFile(target: RotationTarget, state: RotationState | null, current: fs.Stats): number {
  if (state && state.ino === current.ino) return state.periodStart;
  return periodOf(current.mtimeMs, target.frequency, target.timeZone).start;
}

/** Keep the file on disk as the active file of its period (see takeActive for a file the state does not describe). */
function* adoptActive(target: RotationTarget, state: RotationState | null, current: fs.Stats, filePeriodStart: number): Io<ActiveFile> {
  const opened = yield* openExisting(target.path, current.ino);
  if (!opened) return yield* rotateUnderLock(target, filePeriodStart);
  const emptySize =
    !state || state.ino !== opened.ino || state.periodStart !== filePeriodStart
      ? yield* nameInState(target, opened, filePeriodStart)
      : (state.emptySize ?? 0);
  return { ...opened, periodStart: filePeriodStart, emptySize, action: 'adopted', archive: null, previousPeriodStart: null };
}

/**
 * Make the state name the file just opened as the active file of `periodStart`, its header first if it is
 * still empty. Returns the size it records for the file without lines (the header's, or 0).
 */
function* nameInState(target: RotationTarget, opened: { fd: number; ino: number }, periodStart: number): Io<number> {
  const emptySize = yield* closingOnError(opened.fd, headerIfEmpty(target, opened.fd, periodStart));
  testHook('before-state', target.path);
  const deleted = target.deletedIno ? { deleted: target.deletedIno } : {};
  yield* closingOnError(opened.fd, recordState(target, { periodStart, ino: opened.ino, emptySize, ...deleted }));
  return emptySize;
}

/**
 * The header, if the file is still empty: for a file this process just created, and for one the state
 * does not describe, which someone else put under the active name (logrotate's `create`, an operator's
 * `touch`). Returns the header's size (0 without one).
 */
function* headerIfEmpty(target: RotationTarget, fd: number, periodStart: number): Io<number> {
  if (!target.header || (yield* io.fstat(fd)).size > 0) return 0;
  return yield* io.write(fd, target.header(periodStart));
}

/**
 * Under the lock, after the active name changed hands outside the protocol (logrotate, an operator,
 * reopen()): make it this process's active file as it is — never archived here; the next boundary does
 * that. A file the state does not describe gets the header if it is empty, and a state naming it, so
 * that the other processes follow it as they follow a rotation. A missing file is created.
 */
export function* takeActive(target: RotationTarget, periodStart: number): Io<ActiveFile> {
  // Lines of the new period are in a staged file: it gets the active name, whatever file holds it is archived.
  const published = yield* publishStaged(target);
  const active = yield* takeAsItIs(target, periodStart);
  return published ? { ...active, published } : active;
}

function* takeAsItIs(target: RotationTarget, periodStart: number): Io<ActiveFile> {
  // A file the state describes keeps its period; any other belongs to `periodStart`, the period of now.
  const state = yield* readState(target.statePath);
  const current = yield* io.stat(target.path);
  if (!current) return yield* createActive(target, periodStart, null, null);
  const opened = yield* openExisting(target.path, current.ino);
  if (!opened) return yield* takeAsItIs(target, periodStart);
  const taken = { ...opened, action: 'adopted', archive: null, previousPeriodStart: null } as const;
  if (state && state.ino === opened.ino) return { ...taken, periodStart: state.periodStart, emptySize: state.emptySize ?? 0 };
  return { ...taken, periodStart, emptySize: yield* nameInState(target, opened, periodStart) };
}

/**
 * Link the active file's inode to the first free archive name of its period, then unlink the active
 * name if it still holds that inode. A crash after the link leaves both names on one inode: the next
 * rotator finds the archive name taken by the same inode and only unlinks. Returns the archive path,
 * or null when another holder archived this inode meanwhile.
 */
function* archiveActive(target: RotationTarget, active: fs.Stats, filePeriodStart: number): Io<string | null> {
  if (!active.isFile()) {
    // A directory (or a FIFO …) someone put under the active name is no log: never given an archive name (a
    // link fails with EPERM, which reads as "no hard links here", and the rename after it would succeed).
    throw Object.assign(new Error(`${target.path} is not a regular file; it is not archived (remove it)`), { code: active.isDirectory() ? 'EISDIR' : 'EINVAL' });
  }
  const { ino } = active;
  let archive: string | null = null;
  const nameOf = archiveNamesOf(target.scheme, filePeriodStart);
  const hint = target.archiveHint;
  let index = hint.periodStart === filePeriodStart ? hint.next : 0;
  if (target.deletesArchives) {
    const onDisk = yield* nextIndexOnDisk(target, filePeriodStart, active);
    if (onDisk === 'linked') return yield* unlinkActive(target, ino, null); // a holder stopped after its link
    index = Math.max(index, onDisk);
  }
  for (; archive === null; index++) {
    const candidate = path.join(target.dir, nameOf(index));
    if (yield* io.stat(`${candidate}.gz`)) {
      // Taken by a compressed archive. A plain name beside it that holds the active file is the extra name
      // a holder gave it before it found the `.gz` (below) and stopped: it goes, it is no archive.
      if (active.nlink > 1) yield* unlinkExtraName(candidate, ino);
      continue;
    }
    testHook('before-link', target.path);
    // Once more right before the link: a holder that stalled past staleMs since its look (the hook above
    // is one place) finds the active name moved on. Linking now would give a newer file an archive name of
    // this period, and a process that ended before the check after the link would leave it there.
    if ((yield* io.stat(target.path))?.ino !== ino) return null;
    try {
      yield* io.link(target.path, candidate);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        // The name holds our file already: a second holder linked it, unless a `.gz` of the index sits beside
        // it, which makes it an extra name (see below) for that holder to take away, not the archive.
        if ((yield* io.stat(candidate))?.ino === ino && !(yield* io.stat(`${candidate}.gz`))) return yield* unlinkActive(target, ino, null);
        continue;
      }
      if (code === 'ENOENT') return null; // the active name vanished: another holder moved it
      if (io.noHardLinks(code)) {
        // No hard links on this file system: rename, after checking the name is free (we hold the lock).
        if (yield* io.stat(candidate)) continue;
        if ((yield* io.stat(target.path))?.ino !== ino) return null;
        yield* io.rename(target.path, candidate);
        return candidate;
      }
      throw err;
    }
    const linked = yield* io.stat(candidate);
    if (linked === null) continue; // our link is gone already (a holder that took over saw a `.gz` beside it)
    if (linked.ino !== ino) {
      // The active name held a newer file by the time we linked: someone rotated (this holder stalled and
      // lost the lock). Undo our link while it is an extra name of that file; once the active name has
      // moved on, another holder may have taken this name for that file's archive: it stays.
      if ((yield* io.stat(target.path))?.ino === linked.ino) yield* unlinkExtraName(candidate, linked.ino);
      return null;
    }
    if (yield* io.stat(`${candidate}.gz`)) {
      // Archive maintenance finished compressing the archive of this index between our look and our link
      // (its plain name was free again): that index is taken. Our extra name goes, the next index is tried.
      yield* unlinkExtraName(candidate, ino);
      continue;
    }
    archive = candidate;
  }
  target.archiveHint = { periodStart: filePeriodStart, next: index };
  return yield* unlinkActive(target, ino, archive);
}

/**
 * One past the highest archive index of the period on disk (plain or compressed), 0 without any, or
 * 'linked' when an archive name of the period already holds the active file: never
 * a lower index that retention (maxFiles, maxAge) freed. Retention keeps the newest archives by period
 * and index, so an archive given a freed index would look like the oldest of its period and be the next
 * one deleted. (Another process's rolls make this process's hint stale too: it is no guide here.)
 */
function* nextIndexOnDisk(target: RotationTarget, periodStart: number, active: fs.Stats): Io<number | 'linked'> {
  const indexOf = archiveIndexesOf(target.scheme, periodStart);
  let next = 0;
  const plainNames: string[] = [];
  for (const name of yield* io.readdir(target.dir)) {
    const index = indexOf(name);
    if (index === null) continue;
    if (index >= next) next = index + 1;
    if (!name.endsWith('.gz')) plainNames.push(name);
  }
  // A second name on the active file: a holder that crashed or stalled between its link and its unlink
  // gave it an archive name already (probing from a lower index finds that as EEXIST on the same inode).
  // Beside a `.gz` of its own index, that name is no archive (see archiveActive): it goes.
  if (active.nlink > 1) {
    for (const name of plainNames) {
      const file = path.join(target.dir, name);
      if ((yield* io.stat(file))?.ino !== active.ino) continue;
      if (!(yield* io.stat(`${file}.gz`))) return 'linked';
      yield* unlinkExtraName(file, active.ino);
    }
  }
  return next;
}

/**
 * Unlink `file` if it is an extra name of inode `ino`: it still holds that inode, and the inode has another
 * name (the active name, or its archive's). Never the last name of anything.
 */
function* unlinkExtraName(file: string, ino: number): Io<void> {
  const stats = yield* io.stat(file);
  if (stats?.ino === ino && stats.nlink >= 2) yield* unlinkQuietly(file);
}

function* unlinkActive(target: RotationTarget, ino: number, archive: string | null): Io<string | null> {
  testHook('before-unlink', target.path);
  // Re-check right before the destructive step: never unlink a newer active file.
  if ((yield* io.stat(target.path))?.ino === ino) {
    yield* unlinkQuietly(target.path);
    return archive;
  }
  // The active name moved on without us. A holder that took over from this one archived the file under
  // this same name (its only name now: it stays), or under another (two archive names); or a program
  // outside the protocol renamed it (logrotate: `app.log.1`), and its lines would be on disk twice under
  // our name too. With two names or more, one is kept, the same one whoever looks (two stalled holders
  // may look at once, each with a name of its own: each removing its own would leave none).
  if (archive !== null) {
    const linked = yield* io.stat(archive);
    if (linked?.ino === ino && linked.nlink >= 2) {
      const kept = yield* keptName(target, ino);
      if (kept !== null && kept !== path.basename(archive)) {
        yield* unlinkQuietly(archive);
        return null;
      }
    }
  }
  return archive;
}

/**
 * Of the visible names that file `ino` has in the log directory, the one that stays when it has more than
 * one: a name outside the protocol (logrotate's, the file is that program's now; the first in code-unit
 * order) before an archive name of ours (the lowest index). An archive name beside its own `.gz` is never
 * kept: it is an extra name, which other holders remove (see archiveActive). Removing names is only ever
 * done for the others, so every holder keeps the same one. Null when it cannot tell: no such name, or a
 * name went while it looked (a rename: the listing is looked at again, twice at most); the caller then
 * keeps its own.
 */
function* keptName(target: RotationTarget, ino: number): Io<string | null> {
  for (let look = 0; look < KEPT_NAME_LOOKS; look++) {
    const ours: Array<{ name: string; index: number }> = [];
    const foreign: string[] = [];
    let vanished = false;
    for (const name of (yield* io.readdir(target.dir)).sort()) {
      if (name.startsWith('.') || name === target.scheme.activeName) continue;
      const stats = yield* io.stat(path.join(target.dir, name));
      if (stats === null) vanished = true;
      if (stats?.ino !== ino) continue;
      const parsed = parseArchiveName(target.scheme, name);
      if (parsed === null) foreign.push(name);
      else if (!(yield* io.stat(path.join(target.dir, `${name}.gz`)))) ours.push({ name, index: parsed.index });
    }
    if (!vanished) return foreign[0] ?? ours.sort((a, b) => a.index - b.index)[0]?.name ?? null;
  }
  return null;
}

/** How often keptName lists the directory when names keep going while it looks. */
const KEPT_NAME_LOOKS = 3;

/** A new active file holding its header, under this process's temp name `newPath` (see prepareActive). */
interface PreparedFile {
  fd: number;
  ino: number;
  /** The header's size. */
  emptySize: number;
  /** Its descriptor is closed (dropPrepared). */
  dropped: boolean;
}

/**
 * With `header`: the new active file, made under this process's temp name with its header, so that it gets
 * the active name with the header as its first line. Made under the active name, a file is found empty by
 * any process that appends there without the lock (a process ending, see the writer's fallback), and the
 * header lands after their lines. Null without `header`. A file already under the temp name is this
 * process's own, left by a rotation that failed: it goes.
 */
function* prepareActive(target: RotationTarget, periodStart: number): Io<PreparedFile | null> {
  if (!target.header) return null;
  yield* unlinkQuietly(target.newPath);
  const fd = yield* io.open(target.newPath, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, target.mode);
  const prepared: PreparedFile = { fd, ino: -1, emptySize: 0, dropped: false };
  yield* droppingOnError(target, prepared, writeHeader(target, prepared, periodStart));
  return prepared;
}

function* writeHeader(target: RotationTarget, prepared: PreparedFile, periodStart: number): Io<void> {
  prepared.ino = (yield* io.fstat(prepared.fd)).ino;
  testHook('before-header', target.path);
  prepared.emptySize = yield* io.write(prepared.fd, (target.header as (periodStart: number) => string)(periodStart));
}

/**
 * Give the prepared file the active name, if the name is free (we hold the lock). False when the name holds
 * another file by then (a process ending created it, see the writer's fallback; logrotate's `create`; a
 * holder that took the lock over from this one, stalled past staleMs), or when archive maintenance removed
 * the temp name as stale meanwhile: the prepared file is dropped. 'no-hard-links': dropped too, the caller
 * creates the file under the active name (a rename could replace a file someone created meanwhile).
 */
function* linkPrepared(target: RotationTarget, prepared: PreparedFile): Io<boolean | 'no-hard-links'> {
  return yield* droppingOnError(target, prepared, linkPreparedSteps(target, prepared));
}

function* linkPreparedSteps(target: RotationTarget, prepared: PreparedFile): Io<boolean | 'no-hard-links'> {
  try {
    yield* io.link(target.newPath, target.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (io.noHardLinks(code)) {
      yield* dropPrepared(target, prepared);
      return 'no-hard-links';
    }
    if (code !== 'EEXIST' && code !== 'ENOENT') throw err;
  }
  if ((yield* io.stat(target.path))?.ino === prepared.ino) {
    yield* unlinkExtraName(target.newPath, prepared.ino);
    return true;
  }
  yield* dropPrepared(target, prepared);
  return false;
}

/** Close the prepared file (once) and remove it, unless the active name holds it. */
function* dropPrepared(target: RotationTarget, prepared: PreparedFile): Io<void> {
  if (prepared.dropped) return;
  prepared.dropped = true;
  yield* io.close(prepared.fd);
  // Its inode unknown (the fstat after its creation failed): it never got the active name, and the temp
  // name is this file object's own.
  if (prepared.ino === -1) return yield* unlinkQuietly(target.newPath);
  if ((yield* io.stat(target.newPath))?.ino !== prepared.ino) return;
  if ((yield* io.stat(target.path))?.ino === prepared.ino) yield* unlinkExtraName(target.newPath, prepared.ino);
  else yield* unlinkQuietly(target.newPath);
}

/** Run `steps` with a prepared file open (or none); if they fail, drop it before the error goes on. */
function* droppingOnError<T>(target: RotationTarget, prepared: PreparedFile | null, steps: Io<T>): Io<T> {
  try {
    return yield* steps;
  } catch (err) {
    if (prepared) yield* dropPrepared(target, prepared);
    throw err;
  }
}

/**
 * Give the new active file the active name: the prepared one (with `header`), else one created exclusively
 * under that name; or open the one a second holder just made. Then write the state. A crash before the
 * state is written leaves a state naming the old inode: the next process adopts the new file by its mtime.
 */
function* createActive(
  target: RotationTarget,
  periodStart: number,
  archive: string | null,
  previousPeriodStart: number | null,
  prepared: PreparedFile | null = null,
): Io<ActiveFile> {
  testHook('before-create', target.path);
  let made = prepared;
  if (!made) made = yield* prepareActive(target, periodStart);
  let fd: number | null = null;
  let emptySize = 0;
  const linked = made ? yield* linkPrepared(target, made) : false;
  if (made && linked === true) {
    fd = made.fd;
    emptySize = made.emptySize;
  } else if (!made || linked === 'no-hard-links') {
    fd = yield* createExclusive(target);
    // Without hard links, the header follows the file's creation (a process ending can append first).
    if (fd !== null) emptySize = yield* closingOnError(fd, headerIfEmpty(target, fd, periodStart));
  }
  if (fd === null) {
    // Made by someone else (for a file a second holder made, the state it wrote says its header's size).
    const opened = yield* openExisting(target.path);
    if (!opened) return yield* createActive(target, periodStart, archive, previousPeriodStart);
    fd = opened.fd;
  }
  const ino = (yield* closingOnError(fd, recordNewActive(target, fd, periodStart, emptySize))).ino;
  return { fd, ino, periodStart, emptySize, action: archive ? 'archived' : 'created', archive, previousPeriodStart };
}

/** The active file, created exclusively under the active name; null if the name is taken. */
function* createExclusive(target: RotationTarget): Io<number | null> {
  try {
    return yield* io.open(target.path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, target.mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return null;
  }
}

/** The state naming the new active file. Returns its inode. */
function* recordNewActive(target: RotationTarget, fd: number, periodStart: number, emptySize: number): Io<{ ino: number }> {
  const ino = (yield* io.fstat(fd)).ino;
  testHook('before-state', target.path);
  yield* recordState(target, target.deletedIno ? { periodStart, ino, emptySize, deleted: target.deletedIno } : { periodStart, ino, emptySize });
  return { ino };
}
