/**
 * Archive maintenance: gzip and delete the archives of one log file, as {@link planMaintenance} decides,
 * crash-safely and off the write path.
 *
 * Any process may call {@link maintainArchives} at any time; a try-lock (`.<activeName>.archive-lock`,
 * separate from the rotation lock) lets one of them work while the others skip, so maintenance never
 * blocks a rotation and never waits. Everything is decided from the directory listing: a restarted
 * process catches up on what was missed, and a run repairs what a crashed run left behind.
 *
 * Compressing `app.<date>.log`, step by step (what a crash right there leaves, and who repairs it):
 * 1. `gzip-start` — create `.app.<date>.log.gz.<pid>-<random>.tmp` exclusively. Leaves an empty temp
 *    file: a later run removes it once it is older than staleMs.
 * 2. `gzip-chunk` — stream the original through node:zlib into the temp file, chunk by chunk. Leaves a
 *    partial temp file: removed the same way. The original is untouched.
 * 3. fsync the temp file; if the original grew meanwhile (a straggler wrote after the grace delay), discard
 *    the temp file and try again in a later run. `gzip-before-rename` — leaves a complete temp file and the
 *    original: the temp file is removed once stale and the original compressed again.
 * 4. Link the temp file to `app.<date>.log.gz` (which fails if that name is taken: it is never
 *    overwritten), remove the temp name, fsync the directory. `gzip-linked` — the temp name is a second
 *    name of the `.gz`: the archive is left alone until a later run removes that name once it is older than
 *    staleMs. `gzip-before-unlink` — leaves the original and its complete `.gz`: a later run gunzips the
 *    `.gz`, compares it with the original byte for byte, and only then removes the original.
 * 5. Unlink the original, if it is still the same inode with the size that was compressed (otherwise both
 *    are kept and reported).
 * At no point is a `.gz` incomplete under its final name, and at no point is a line only in a temp file.
 *
 * Names starting with '.' are invisible to tailers and to globs such as `app.*.log*`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import zlib from 'node:zlib';
import { TimberlockError } from './errors.js';
import { noHardLinks } from './io.js';
import { lockOnce } from './lock.js';
import type { NameScheme } from './naming.js';
import {
  CLOCK_AHEAD_MS,
  compressionTempName,
  planMaintenance,
  recognizeListing,
  type ArchiveFile,
  type RecognizedListing,
  type RetentionPolicy,
} from './retention.js';

const fsp = fs.promises;

/** Which log file's archives to maintain, and how. */
export interface ArchiveTarget {
  /** Directory of the active file; archives, locks and temp files live here. */
  dir: string;
  /** Base name of the active file, e.g. `'app.log'`. Never touched. */
  activeName: string;
  /** How archive names are made; only names it recognises are ever compressed or deleted. */
  scheme: NameScheme;
  /** Permission bits of the `.gz` files created (before umask). */
  mode: number;
  /** A holder of the archive lock that stops refreshing it for this long loses it; temp files this old are leftovers. */
  staleMs: number;
  /** What to keep and what to compress. */
  policy: RetentionPolicy;
}

/** What one {@link maintainArchives} run did. Names are base names within `target.dir`. */
export interface MaintenanceResult {
  /** Archives gzipped in this run: `from` no longer exists, `to` is complete. */
  compressed: Array<{ from: string; to: string }>;
  /** Archives deleted by retention. */
  removed: string[];
  /**
   * Leftovers of an interrupted run or rotation that were removed: stale temp files, originals whose `.gz`
   * was verified, `.gz` names that held only the beginning of their original, and extra names beside a `.gz`.
   */
  repaired: string[];
  /**
   * When an archive this run left because it changed too recently will have settled, or a temp file it left
   * because it may still be written will be `staleMs` old (epoch ms); null if none.
   */
  settlesAt: number | null;
  /** 'locked': another process (or another call in this one) holds the archive lock; nothing was done. */
  skipped: 'locked' | null;
  /** True when `signal` stopped the run before it had done everything it planned. */
  aborted: boolean;
  /** Problems met on the way; the run went on with what it could still do safely. Never thrown. */
  errors: ArchiveError[];
}

/** What went wrong in a maintenance run. */
export type ArchiveErrorCode =
  /** A file system call failed; `cause` is the Node error (ENOSPC, EACCES, EIO …). */
  | 'ERR_TIMBERLOCK_ARCHIVE_IO'
  /** A `.gz` exists beside its original but does not gunzip to the same bytes: both are kept. */
  | 'ERR_TIMBERLOCK_ARCHIVE_MISMATCH'
  /**
   * An archive was written to while or after it was compressed (a process still had it open after the grace
   * delay): the original is kept; if its `.gz` was already complete, both are kept.
   */
  | 'ERR_TIMBERLOCK_ARCHIVE_CHANGED'
  /** The archive lock was taken over (this process stalled longer than staleMs): the run stopped. */
  | 'ERR_TIMBERLOCK_ARCHIVE_LOCK_COMPROMISED';

/** A problem met during archive maintenance, reported in {@link MaintenanceResult.errors}. */
export class ArchiveError extends TimberlockError {
  declare readonly code: ArchiveErrorCode;
  /** What the run was doing: 'lock', 'list', 'repair', 'compress', 'remove' or 'unlock'. */
  readonly step: string;
  /** The file concerned (absolute path). */
  readonly path: string;

  constructor(code: ArchiveErrorCode, step: string, file: string, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.step = step;
    this.path = file;
  }
}

/** Test-only pause points (see test/fixtures/archive-child.mjs). Not public API. */
export type ArchiveStep = 'archive-locked' | 'gzip-start' | 'gzip-chunk' | 'gzip-before-rename' | 'gzip-linked' | 'gzip-before-unlink';

/**
 * Test-only points where nothing is left half-done: before an expired archive is looked at again, and
 * before a verified pair is looked at again (`target` is the original).
 */
type QuietStep = 'before-remove' | 'pair-verified';

interface TestHooks {
  at?: (step: ArchiveStep | QuietStep, target: string) => void;
}

function testHook(step: ArchiveStep | QuietStep, target: string): void {
  const hooks = (globalThis as Record<symbol, TestHooks | undefined>)[Symbol.for('timberlock.testHooks')];
  hooks?.at?.(step, target);
}

/**
 * Path of the archive lock directory for an active file: `<dir>/.<activeName>.archive-lock`. Not a name
 * ending in `.lock`: that would be the rotation lock (`.<name>.lock`) of another active file, `<activeName>.archive`.
 */
export function archiveLockPath(dir: string, activeName: string): string {
  return path.join(dir, `.${activeName}.archive-lock`);
}

/** Bytes read from an archive per chunk while compressing or verifying. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Bring the archives of `target` in line with its policy, once:
 * 1. take the archive lock (one try; held → `{ skipped: 'locked' }`, nothing touched);
 * 2. list the directory and keep only regular files that `parseArchiveName` recognises (never the active
 *    file, the locks, the state file, or anything else);
 * 3. repair what an interrupted run left: delete our temp files older than `staleMs`, delete an original
 *    whose `.gz` gunzips to exactly its bytes, delete an extra name a stopped rotation left beside a `.gz`;
 * 4. delete, then gzip, what {@link planMaintenance} says (oldest first);
 * 5. release the lock.
 *
 * `now` is the clock compared with the files' times (default `Date.now`). `signal` stops the run between
 * chunks and between files: the compression in progress deletes its temp file and no `.gz` appears.
 *
 * Never rejects for I/O problems: they are collected in `errors`, and each failed file is left as it was
 * (an original is only deleted after its `.gz` is complete under its final name). Rejects only with the
 * RangeError of {@link planMaintenance} for a malformed policy, which validated options never produce.
 */
export async function maintainArchives(
  target: ArchiveTarget,
  now: () => number = Date.now,
  signal?: AbortSignal,
  atExit: ExitStep = { finish: null },
): Promise<MaintenanceResult> {
  const run = new MaintenanceRun(target, now, signal, atExit);
  await run.execute();
  return run.result;
}

/**
 * What a run must still do, synchronously, if the process ends now: `finish` is set while a compression
 * is between its rename to the `.gz` and the removal of its original (see finishCompressionSync).
 */
export interface ExitStep {
  finish: (() => void) | null;
}

/** One maintenance run: the lock it holds and what it has done so far. */
class MaintenanceRun {
  readonly result: MaintenanceResult = { compressed: [], removed: [], repaired: [], settlesAt: null, skipped: null, aborted: false, errors: [] };
  /** When the youngest temp file repair() left will be staleMs old; null if it left none. */
  private tempsStaleAt: number | null = null;
  /**
   * When the archives that this run found written to since its listing (which a plan may be made from, see
   * execute) will have settled; null if none.
   */
  private youngUntil: number | null = null;
  /**
   * Plain archives and `.gz` names this run said it keeps (a `.gz` that does not gunzip to its original's
   * bytes, or an original that changed while it was compressed): left out of every plan of this run.
   */
  private readonly kept = new Set<string>();
  private compromised = false;
  /** Archives this run could not delete (an error says why): the plans after each gzip leave them alone. */
  private readonly failedRemovals = new Set<string>();

  constructor(
    private readonly target: ArchiveTarget,
    private readonly now: () => number,
    private readonly signal: AbortSignal | undefined,
    private readonly atExit: ExitStep,
  ) {}

  async execute(): Promise<void> {
    if (this.shouldStop()) return;
    const release = this.acquireLock();
    if (!release) return;
    try {
      testHook('archive-locked', path.join(this.target.dir, this.target.activeName));
      // Plan again after each gzip: archives that settled or fell out of maxFiles meanwhile are deleted before
      // the next one, so retention never waits behind a backlog of compressions (seconds under load, during
      // which every other process's run is skipped). The directory is listed again once a second at most
      // (a listing stats every archive); in between, the plan starts from the last listing and what this run
      // did since. Each archive is tried at most once per run, and only the first listing is repaired (later
      // ones would take this run's own kept pairs for leftovers).
      const tried = new Set<string>();
      let files: ArchiveFile[] | null = null;
      let listedAt = 0;
      for (;;) {
        if (files === null || this.now() - listedAt >= RELIST_MS) {
          let listing = await this.listArchives();
          if (listing && files === null && (await this.removeExtraNames(listing))) listing = await this.listArchives();
          if (!listing) return;
          files = (files === null ? await this.repair(listing) : listing.archives).filter((file) => !this.kept.has(file.name));
          listedAt = this.now();
        }
        const plan = planMaintenance(files, this.target.policy, this.now());
        this.result.settlesAt = earliest(earliest(plan.settlesAt, this.tempsStaleAt), this.youngUntil);
        const byName = new Map(files.map((file) => [file.name, file]));
        for (const name of plan.remove) {
          if (this.shouldStop()) return;
          if (this.failedRemovals.has(name)) continue; // reported once per run, not once per plan
          await this.removeArchive(byName.get(name) as ArchiveFile);
        }
        const next = plan.compress.find((name) => !tried.has(name));
        if (next === undefined || this.shouldStop()) return;
        tried.add(next);
        await this.compressArchive(next);
        files = this.doneSoFar(files);
      }
    } finally {
      this.releaseLock(release);
    }
  }

  /** `files` as they are after what this run removed and compressed. */
  private doneSoFar(files: readonly ArchiveFile[]): ArchiveFile[] {
    const removed = new Set(this.result.removed);
    const compressed = new Map(this.result.compressed.map(({ from, to }) => [from, to]));
    return files
      .filter((file) => !removed.has(file.name))
      .map((file) => {
        const to = compressed.get(file.name);
        return to === undefined ? file : { ...file, name: to, compressed: true };
      });
  }

  /** True when the run must not start another step; records why. */
  private shouldStop(): boolean {
    if (this.signal?.aborted) this.result.aborted = true;
    return this.result.aborted || this.compromised;
  }

  private file(name: string): string {
    return path.join(this.target.dir, name);
  }

  private fail(code: ArchiveErrorCode, step: string, file: string, message: string, cause?: unknown): void {
    this.result.errors.push(new ArchiveError(code, step, file, message, cause));
  }

  private failIo(step: string, file: string, doing: string, cause: unknown): void {
    const detail = cause instanceof Error ? cause.message : String(cause);
    this.fail('ERR_TIMBERLOCK_ARCHIVE_IO', step, file, `Could not ${doing} ${file}: ${detail}`, cause);
  }

  /**
   * Step 1: one try at the archive lock. Returns its release function, or null (skipped or failed).
   * Taken and released synchronously, as the rotation lock is (see RotationLock.tryAcquire), so that a
   * process ending at any moment leaves no lock directory behind.
   */
  private acquireLock(): (() => void) | null {
    const lockPath = archiveLockPath(this.target.dir, this.target.activeName);
    try {
      // The locked "file" names the archive lock, not the active path (proper-lockfile's registry key; each
      // hold gets its own, see lockOnce).
      return lockOnce(path.join(this.target.dir, `.${this.target.activeName}.archive`), {
        lockfilePath: lockPath,
        realpath: false,
        stale: this.target.staleMs,
        onCompromised: (err: Error) => {
          this.compromised = true;
          this.fail(
            'ERR_TIMBERLOCK_ARCHIVE_LOCK_COMPROMISED',
            'lock',
            lockPath,
            `The archive lock ${lockPath} was taken over while this process held it (it did not refresh it for ` +
              `${this.target.staleMs} ms); archive maintenance stopped and will resume in a later run.`,
            err,
          );
        },
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') this.result.skipped = 'locked';
      else this.failIo('lock', lockPath, 'take the archive lock', err);
      return null;
    }
  }

  private releaseLock(release: () => void): void {
    try {
      release();
    } catch (err) {
      // ERELEASED: the lock was compromised meanwhile; that is already in `errors`.
      if ((err as NodeJS.ErrnoException).code !== 'ERELEASED') {
        this.failIo('unlock', archiveLockPath(this.target.dir, this.target.activeName), 'release the archive lock', err);
      }
    }
  }

  /** Step 2: the archives and our temp files in the directory, with their mtimes. Null if unreadable. */
  private async listArchives(): Promise<Listing | null> {
    let names: string[];
    try {
      names = await fsp.readdir(this.target.dir);
    } catch (err) {
      this.failIo('list', this.target.dir, 'list the directory', err);
      return null;
    }
    // close(), the exit and a graceful shutdown stop a run: a listing of tens of thousands of archives takes seconds.
    const recognized = await recognizeCached(this.target, names, () => this.shouldStop());
    if (recognized === null) return null;
    const listing: Listing = { archives: [], temps: [], extraNames: [] };
    const compressedNames = new Set(recognized.archives.filter((archive) => archive.compressed).map((archive) => archive.name));
    /** Plain archive names of files with more than one name, by inode. */
    const namesOf = new Map<number, string[]>();
    // A few stats at a time: thousands issued at once cost the event loop hundreds of ms in one turn.
    await runLimited(STATS_IN_FLIGHT, () => this.shouldStop(), [
      ...recognized.archives.map((archive) => async () => {
        const stats = await this.regularFile(archive.name);
        // An archive that has another name too is the active file of a rotation that stopped between its
        // link and its unlink (the process ended there). The next rotation finishes it: compressed or
        // deleted now, while the active name still grows, its lines would be archived twice.
        if (stats === null) return;
        if (stats.nlink !== 1) {
          if (!archive.compressed) namesOf.set(stats.ino, [...(namesOf.get(stats.ino) ?? []), archive.name]);
          // A `.gz` whose temp name a killed run left (see giveFinalName): its original is not compressed again.
          else this.kept.add(archive.name).add(archive.name.slice(0, -'.gz'.length));
          return;
        }
        listing.archives.push({ ...archive, changedMs: this.changedMs(archive, stats), size: stats.size });
      }),
      ...recognized.temps.map((name) => async () => {
        const stats = await this.regularFile(name);
        if (stats !== null) listing.temps.push({ name, mtimeMs: stats.mtimeMs });
      }),
    ]);
    if (this.shouldStop()) return null;
    // A plain name beside a `.gz` of its own index is no archive: a rotation that found the index compressed
    // after its link stopped before taking the link away (rotation.ts). When the same file also has an
    // archive name without a `.gz`, that one is its archive and this one an extra name, removed by
    // removeExtraNames(). (A name whose other name is a backup's, or the active name, stays.)
    for (const [ino, names] of namesOf) {
      const kept = names.find((name) => !compressedNames.has(`${name}.gz`));
      if (kept === undefined) continue;
      for (const name of names) if (compressedNames.has(`${name}.gz`)) listing.extraNames.push({ name, ino, other: kept });
    }
    return listing;
  }

  /**
   * The stats of a regular file, or null for anything else: a directory or symlink that happens to have an
   * archive's name is not ours, and a name removed since readdir is gone.
   */
  private async regularFile(name: string): Promise<fs.Stats | null> {
    try {
      const stats = await fsp.lstat(this.file(name));
      return stats.isFile() ? stats : null;
    } catch (err) {
      // ENOENT: removed between readdir and lstat (by hand, or by a run that lost its lock to us).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.failIo('list', this.file(name), 'stat', err);
      return null;
    }
  }

  /**
   * Step 3a: remove the extra names a stopped rotation left beside a `.gz` (see listArchives). True if it
   * removed one: the archive under the other name is then a plain archive of its own, to be listed again.
   */
  private async removeExtraNames(listing: Listing): Promise<boolean> {
    let removed = false;
    for (const { name, ino, other } of listing.extraNames) {
      if (this.shouldStop()) break;
      // As listed still: the file's archive name holds it, and the `.gz` is there.
      const [stats, archive, compressed] = await Promise.all([this.regularFile(name), this.regularFile(other), this.regularFile(`${name}.gz`)]);
      if (stats?.ino !== ino || archive?.ino !== ino || compressed === null) continue;
      if (!(await this.unlinkIfPresent('repair', name, 'remove the extra name'))) continue;
      this.result.repaired.push(name);
      removed = true;
    }
    return removed;
  }

  /**
   * Step 3b: remove temp files older than staleMs (their writer is dead or lost the lock), and originals
   * whose `.gz` is verified to hold exactly their bytes. Returns the archives still on disk.
   */
  private async repair(listing: Listing): Promise<ArchiveFile[]> {
    for (const temp of listing.temps) {
      if (this.now() - temp.mtimeMs < this.target.staleMs) {
        // May still be written by a live holder; one killed just now leaves it too, until it is stale.
        this.tempsStaleAt = earliest(this.tempsStaleAt, temp.mtimeMs + this.target.staleMs);
        continue;
      }
      if (await this.unlinkIfPresent('repair', temp.name, 'remove the stale temp file')) this.result.repaired.push(temp.name);
    }
    const names = new Set(listing.archives.map((file) => file.name));
    const removed = new Set<string>();
    for (const file of listing.archives) {
      if (file.compressed || !names.has(`${file.name}.gz`) || this.shouldStop()) continue;
      const outcome = await this.repairPair(file.name);
      if (outcome === null) {
        // A pair whose .gz could not be shown to hold the original's bytes is kept (the next run looks again).
        this.kept.add(file.name).add(`${file.name}.gz`);
        continue;
      }
      removed.add(outcome);
      this.result.repaired.push(outcome);
    }
    return listing.archives.filter((file) => !removed.has(file.name));
  }

  /**
   * An original beside its `.gz`. A run died at `gzip-before-unlink`: the `.gz` holds the same bytes, and the
   * original goes. Or a straggler wrote to the original after its `.gz` was made: the `.gz` holds the
   * beginning of the original only, a stale copy, and goes (the original is compressed again once it has
   * settled). Returns the name removed, or null when neither can be shown (both are kept and reported), or
   * when either name holds another file by the time it would be removed (both are kept for this run).
   */
  private async repairPair(name: string): Promise<string | null> {
    const original = this.file(name);
    // The files verified, so that a name is removed only while it still holds the same one: a holder that
    // stalled past staleMs after its verification may find the pair repaired and the original compressed
    // again by the holder that took over (or a straggler wrote to the original meanwhile).
    const verified = { original: await this.regularFile(name), gzip: await this.regularFile(`${name}.gz`) };
    if (verified.original === null || verified.gzip === null) return null;
    let holds: 'same' | 'beginning' | 'other';
    try {
      holds = await gunzipsTo(`${original}.gz`, original, this.signal);
    } catch (err) {
      if (this.signal?.aborted) return null;
      if (isZlibError(err)) {
        holds = 'other';
      } else {
        this.failIo('repair', `${original}.gz`, 'verify', err);
        return null;
      }
    }
    testHook('pair-verified', original);
    if (holds === 'same') {
      if (!(await this.stillHolds(name, verified.original))) return null;
      return (await this.unlinkIfPresent('repair', name, 'remove the already compressed original')) ? name : null;
    }
    if (holds === 'beginning') {
      if (!(await this.stillHolds(`${name}.gz`, verified.gzip))) return null;
      return (await this.unlinkIfPresent('repair', `${name}.gz`, 'remove the stale compressed copy')) ? `${name}.gz` : null;
    }
    this.fail(
      'ERR_TIMBERLOCK_ARCHIVE_MISMATCH',
      'repair',
      original,
      `${original}.gz does not gunzip to the bytes of ${original}, nor to their beginning; both are kept. ` +
        'Check them and delete the one that is wrong.',
    );
    return null;
  }

  /**
   * Whether the run may go on to remove `name`: its lock is still its own, and the name holds the file seen
   * as `seen` (same inode, size and modification time). Else a later run looks at the name again.
   */
  private async stillHolds(name: string, seen: fs.Stats): Promise<boolean> {
    if (this.shouldStop()) return false;
    const now = await this.regularFile(name);
    return now !== null && now.ino === seen.ino && now.size === seen.size && now.mtimeMs === seen.mtimeMs;
  }

  /**
   * Step 4a: delete one archive. ENOENT counts as done (someone else deleted it). The plan may come from a
   * listing up to RELIST_MS old: an archive that changed since (a straggler wrote to it) waits for the delay.
   */
  private async removeArchive(file: ArchiveFile): Promise<void> {
    testHook('before-remove', this.file(file.name));
    const stats = await this.regularFile(file.name);
    if (stats === null) return;
    if (this.stillYoung(file, stats)) return;
    // Planned because it held nothing (retention.ts, rule 6), it holds lines by now: the next plan decides.
    if (!file.compressed && file.size === 0 && stats.size > 0) return;
    const errors = this.result.errors.length;
    if (await this.unlinkIfPresent('remove', file.name, 'delete the expired archive')) this.result.removed.push(file.name);
    else if (this.result.errors.length > errors) this.failedRemovals.add(file.name);
  }

  /**
   * When `file` last changed, for rule 1 of retention.ts. A change dated more than CLOCK_AHEAD_MS after now
   * was made while the clock was ahead (it was set back since), or by a clock that is ahead: its grace delay
   * counts from when this process first saw it so, not from a time the clock may take a year to reach.
   */
  private changedMs(file: { name: string; compressed: boolean }, stats: fs.Stats): number {
    const changed = changedMsOf(file, stats);
    const now = this.now();
    if (changed - now <= CLOCK_AHEAD_MS) return changed;
    const key = `${this.file(file.name)}\0${stats.ino}`;
    let seen = aheadFirstSeen.get(key);
    if (seen === undefined) {
      if (aheadFirstSeen.size >= MAX_AHEAD_SEEN) aheadFirstSeen.clear();
      seen = now;
      aheadFirstSeen.set(key, seen);
    }
    return seen;
  }

  /**
   * Whether `file` (its `stats` just now) changed less than the grace delay ago: a straggler wrote to it
   * since the listing the plan was made from. The run then comes back once it has settled.
   */
  private stillYoung(file: { name: string; compressed: boolean }, stats: fs.Stats): boolean {
    const settlesAt = this.changedMs(file, stats) + this.target.policy.delayMs;
    if (this.now() >= settlesAt) return false;
    this.youngUntil = earliest(this.youngUntil, settlesAt);
    this.result.settlesAt = earliest(this.result.settlesAt, settlesAt);
    return true;
  }

  /** unlink that treats ENOENT as "someone else did it" (returns false) and reports other errors. */
  private async unlinkIfPresent(step: string, name: string, doing: string): Promise<boolean> {
    try {
      await fsp.unlink(this.file(name));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.failIo(step, this.file(name), doing, err);
      return false;
    }
  }

  /** Step 4b: gzip one archive, in the steps listed in the module comment. */
  private async compressArchive(name: string): Promise<void> {
    const original = this.file(name);
    const finalName = `${name}.gz`;
    const final = this.file(finalName);
    const temp = this.file(compressionTempName(name, process.pid, randomBytes(4).toString('hex')));
    let copy: CompressedCopy;
    // The process ending meanwhile (process.exit(), a death by signal) removes the temp file on the way out,
    // rather than leave it for a later run to remove once it is staleMs old.
    this.atExit.finish = () => unlinkSyncQuietly(temp);
    try {
      // Steps 1-3: a complete, fsynced temp file, or an exception (the temp file is then discarded).
      copy = await this.writeCompressedCopy(original, temp);
      if (this.shouldStop()) throw new StopRun();
      if (copy.grew) {
        this.fail(
          'ERR_TIMBERLOCK_ARCHIVE_CHANGED',
          'compress',
          original,
          `${original} was written to while it was being compressed (a process still had it open after the ` +
            `grace delay of ${this.target.policy.delayMs} ms); it was left as it is and will be compressed later.`,
        );
        throw new StopRun();
      }
      testHook('gzip-before-rename', original);
      if (this.shouldStop()) throw new StopRun();
      // Removed or renamed meanwhile (an operator, a backup job): a `.gz` would outlive it, or hold its lines
      // a second time beside its new name.
      if ((await lstatOrNull(original))?.ino !== copy.ino) {
        this.fail(
          'ERR_TIMBERLOCK_ARCHIVE_CHANGED',
          'compress',
          original,
          `${original} was removed or renamed while it was being compressed; no .gz was made of it.`,
        );
        throw new StopRun();
      }
      // Between the link and the removal of the temp name, a process that ends removes the temp name, and
      // finishes the compression if the `.gz` name holds the temp file.
      const compressed = copy;
      this.atExit.finish = () => {
        // The `.gz` name holds the temp file (linked, or renamed where there are no hard links), whether or not
        // the temp name is gone already.
        const linked = fs.lstatSync(final, { throwIfNoEntry: false })?.ino === compressed.tempIno;
        unlinkSyncQuietly(temp);
        if (linked) this.finishCompressionSync(name, compressed);
      };
      await this.giveFinalName(temp, final, original);
    } catch (err) {
      await this.discardTemp(temp);
      this.atExit.finish = null;
      if (!(err instanceof StopRun) && !this.signal?.aborted) this.failIo('compress', original, 'compress', err);
      return;
    }
    // Step 4: the .gz is complete under its final name; from here on the original is only a duplicate.
    this.atExit.finish = () => this.finishCompressionSync(name, copy);
    try {
      await this.finishCompression(name, copy);
    } finally {
      this.atExit.finish = null;
    }
  }

  /**
   * Step 3b: the complete temp file gets the `.gz` name, which is never overwritten: a link, which fails if
   * the name is taken (by hand, or by the holder that took the lock over from this one while it stalled, and
   * compressed the original again, maybe with lines a straggler added since), then the temp name goes.
   * Without hard links, a rename after a look that the name is free.
   */
  private async giveFinalName(temp: string, final: string, original: string): Promise<void> {
    const taken = (): never => {
      this.fail('ERR_TIMBERLOCK_ARCHIVE_IO', 'compress', final, `Could not compress ${original}: ${final} appeared meanwhile; it is left as it is.`);
      throw new StopRun();
    };
    try {
      await fsp.link(temp, final);
      testHook('gzip-linked', original);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') taken();
      if (!noHardLinks(code)) throw err;
      if (await exists(final)) taken();
      await fsp.rename(temp, final);
      return;
    }
    await fsp.unlink(temp);
  }

  /**
   * Steps 4-5 at once, for a process that ends between them (process.exit(), a death by signal): otherwise
   * the original would stay beside its `.gz` until a later run verifies the pair.
   */
  private finishCompressionSync(name: string, copy: CompressedCopy): void {
    if (this.compromised) return; // the next holder verifies the pair
    const original = this.file(name);
    try {
      fs.utimesSync(`${original}.gz`, copy.atime, copy.mtime);
      fsyncDirectorySync(this.target.dir);
      const current = fs.lstatSync(original);
      if (current.ino === copy.ino && current.size === copy.size) fs.unlinkSync(original);
    } catch {
      // Left as a pair, which the next run verifies and repairs.
    }
  }

  /** Steps 4-5: make the new `.gz` name durable, then remove the original (if it is still the file compressed). */
  private async finishCompression(name: string, copy: CompressedCopy): Promise<void> {
    const original = this.file(name);
    const final = `${original}.gz`;
    try {
      await fsp.utimes(final, copy.atime, copy.mtime); // like gzip(1): the .gz shows when the log was last written
    } catch (err) {
      this.failIo('compress', final, 'set the modification time of', err); // cosmetic: go on
    }
    try {
      await fsyncDirectory(this.target.dir);
      testHook('gzip-before-unlink', original);
      // Lost lock: the next holder verifies the .gz against the original before removing it.
      if (this.compromised) return;
      const current = await fsp.lstat(original);
      if (current.ino !== copy.ino || current.size !== copy.size) {
        this.kept.add(name).add(`${name}.gz`);
        this.fail(
          'ERR_TIMBERLOCK_ARCHIVE_CHANGED',
          'compress',
          original,
          `${original} changed after it was compressed to ${final}; both are kept.`,
        );
        return;
      }
      await fsp.unlink(original);
    } catch (err) {
      // ENOENT: a holder that took over the lock verified the .gz and removed the original already.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.failIo('compress', original, 'remove the compressed original', err);
        return;
      }
    }
    this.result.compressed.push({ from: name, to: `${name}.gz` });
  }

  /**
   * Steps 1–3: gzip `original` into `temp` (created exclusively) and fsync it. Checks the signal and the
   * lock between chunks. Returns what was compressed, and whether the original grew meanwhile.
   */
  private async writeCompressedCopy(original: string, temp: string): Promise<CompressedCopy> {
    const source = await fsp.open(original, 'r');
    try {
      const stats = await source.stat();
      // Planned from a listing up to RELIST_MS old, after the compressions before it: an archive written to
      // since then waits for the grace delay (the straggler may write again, and that line would go with
      // the original), and one that got a second name meanwhile is left alone (see listArchives).
      if (stats.nlink !== 1 || this.stillYoung({ name: path.basename(original), compressed: false }, stats)) throw new StopRun();
      const { atime, mtime, ino } = stats;
      let size = 0;
      const sink = await fsp.open(temp, 'wx', this.target.mode);
      let tempIno = 0;
      try {
        testHook('gzip-start', original);
        const chunks = Readable.from(readChunks(source, () => this.shouldStop(), (bytes) => (size += bytes)), { highWaterMark: 1 });
        // An error thrown here reaches pipeline()'s caller as an AbortError (it aborts the source first):
        // the caller gets the error itself (ENOSPC, EIO …), or StopRun.
        let failure: unknown = null;
        await pipeline(chunks, zlib.createGzip(), async (compressed: AsyncIterable<Buffer>) => {
          try {
            for await (const chunk of compressed) {
              await writeAll(sink, chunk);
              testHook('gzip-chunk', original);
              if (this.shouldStop()) throw new StopRun();
            }
          } catch (err) {
            failure = err;
            throw err;
          }
        }).catch((err: unknown) => {
          throw failure ?? err;
        });
        await sink.sync();
        tempIno = (await sink.stat()).ino;
      } finally {
        await sink.close();
      }
      const grew = (await source.stat()).size !== size;
      return { atime, mtime, ino, size, grew, tempIno };
    } finally {
      await source.close();
    }
  }

  /** Remove this run's own unfinished temp file; if that fails, a later run removes it once stale. */
  private async discardTemp(temp: string): Promise<void> {
    try {
      await fsp.unlink(temp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.failIo('compress', temp, 'remove the unfinished temp file', err);
    }
  }
}

/** What a name in the directory is, as {@link recognizeListing} found. */
type Recognition = RecognizedListing['archives'][number] | 'temp' | 'other';

/**
 * Names recognised by earlier runs, per directory and scheme. Recognising a name costs date-fns parsing
 * (up to ~0.3 ms per archive name with an IANA zone), so a periodic run over thousands of archives parses
 * only the names that are new since the last run. Holds only the names of the latest listing, and only
 * while a file of that directory and scheme is open (see useRecognitionCache).
 */
const recognitionCache = new Map<string, Map<string, Recognition>>();
/** How many open files (their archive schedulers) use each entry of recognitionCache. */
const recognitionUsers = new Map<string, number>();

function recognitionKey(target: ArchiveTarget): string {
  const { activeName, dateFormat, timeZone, frequency } = target.scheme;
  return JSON.stringify([target.dir, activeName, dateFormat, timeZone, frequency]);
}

/**
 * Keep the names recognised for `target`'s directory and scheme between runs, until the function returned is
 * called (the file is closed). An app that opens a log per job would otherwise keep the listing of every
 * directory and scheme it ever used: 500 jobs' files in one directory held 252,003 names.
 */
export function useRecognitionCache(target: ArchiveTarget): () => void {
  const key = recognitionKey(target);
  recognitionUsers.set(key, (recognitionUsers.get(key) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const users = (recognitionUsers.get(key) ?? 1) - 1;
    if (users > 0) {
      recognitionUsers.set(key, users);
    } else {
      recognitionUsers.delete(key);
      recognitionCache.delete(key);
    }
  };
}

/** How many directory and scheme pairs have names kept (for tests). */
export function recognitionCacheSize(): number {
  return recognitionCache.size;
}

/**
 * How long names are parsed in one turn of the event loop before the run lets other callbacks run, so that
 * a first run over a large directory does not stall writes (one name can take a millisecond).
 */
const PARSE_BUDGET_MS = 2;
/** Names parsed between two looks at the clock. */
const NAMES_PER_SLICE = 4;

/** {@link recognizeListing} over `names`, from the cache where possible. Null once `stop()` says so. */
async function recognizeCached(target: ArchiveTarget, names: readonly string[], stop: () => boolean): Promise<RecognizedListing | null> {
  const key = recognitionKey(target);
  const previous = recognitionCache.get(key);
  const current = new Map<string, Recognition>();
  const unknown = names.filter((name) => {
    const known = previous?.get(name);
    if (known !== undefined) current.set(name, known);
    return known === undefined;
  });
  let turnStart = performance.now();
  for (let start = 0; start < unknown.length; start += NAMES_PER_SLICE) {
    if (performance.now() - turnStart >= PARSE_BUDGET_MS) {
      await yieldToEventLoop();
      if (stop()) return null; // what was parsed is not cached: a later run parses it again
      turnStart = performance.now();
    }
    const slice = unknown.slice(start, start + NAMES_PER_SLICE);
    const found = recognizeListing(target.scheme, slice);
    for (const name of slice) current.set(name, 'other');
    for (const name of found.temps) current.set(name, 'temp');
    for (const archive of found.archives) current.set(archive.name, archive);
  }
  if (recognitionUsers.has(key)) recognitionCache.set(key, current);
  const listing: RecognizedListing = { archives: [], temps: [] };
  for (const [name, recognition] of current) {
    if (recognition === 'temp') listing.temps.push(name);
    else if (recognition !== 'other') listing.archives.push(recognition);
  }
  return listing;
}

/**
 * When an archive last changed (see rule 1 in retention.ts): for a plain one the later of its mtime and its
 * ctime, which tells when it got its archive name; nobody writes to a `.gz`, which has its original's mtime.
 */
function changedMsOf(archive: { compressed: boolean }, stats: fs.Stats): number {
  return archive.compressed ? stats.mtimeMs : Math.max(stats.mtimeMs, stats.ctimeMs);
}

/**
 * Files whose change this process found dated more than CLOCK_AHEAD_MS ahead of its clock, by path and inode:
 * when it first saw them so. Bounded: past MAX_AHEAD_SEEN entries it starts again (a file then waits its
 * grace delay once more).
 */
const aheadFirstSeen = new Map<string, number>();
const MAX_AHEAD_SEEN = 10_000;

/** The earlier of two times, either of which may be null (none). */
function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

/** A run compressing a backlog lists the directory again after this long at the earliest. */
const RELIST_MS = 1000;

/** How many stats of a listing are in flight at once. */
const STATS_IN_FLIGHT = 8;

/** Run `tasks`, at most `limit` at a time; none is started once `stop()` says so. */
async function runLimited(limit: number, stop: () => boolean, tasks: ReadonlyArray<() => Promise<void>>): Promise<void> {
  let next = 0;
  const runNext = async (): Promise<void> => {
    for (let task = tasks[next++]; task !== undefined && !stop(); task = tasks[next++]) await task();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, runNext));
}

/** Thrown inside a compression to stop it (abort or lost lock); never leaves the run. */
class StopRun extends Error {}

/** What {@link MaintenanceRun.writeCompressedCopy} compressed. */
interface CompressedCopy {
  atime: Date;
  mtime: Date;
  ino: number;
  /** Bytes of the original that are in the .gz. */
  size: number;
  /** The original was longer once the copy was complete: it was written to meanwhile. */
  grew: boolean;
  /** The temp file's inode: the `.gz`'s once it has its name. */
  tempIno: number;
}

interface Listing {
  archives: ArchiveFile[];
  temps: Array<{ name: string; mtimeMs: number }>;
  /**
   * Plain names beside a `.gz` of their own whose file has another archive name here (see listArchives),
   * with that name.
   */
  extraNames: Array<{ name: string; ino: number; other: string }>;
}

/** The file's bytes in chunks, stopping (by throwing) between chunks when `stop()` says so. */
async function* readChunks(file: FileHandle, stop: () => boolean, counted: (bytes: number) => void): AsyncGenerator<Buffer> {
  for (let position = 0; ; ) {
    if (stop()) throw new StopRun();
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await file.read(buffer, 0, CHUNK_BYTES, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    counted(bytesRead);
    yield buffer.subarray(0, bytesRead);
  }
}

async function writeAll(file: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/**
 * What `gzipped` gunzips to (completely: CRC and length checked by zlib), next to the bytes of `original`:
 * the same bytes, a strict beginning of them, or other bytes. Throws zlib errors for a damaged `.gz` and
 * I/O errors as they come.
 */
async function gunzipsTo(gzipped: string, original: string, signal?: AbortSignal): Promise<'same' | 'beginning' | 'other'> {
  const expected = await fsp.open(original, 'r');
  try {
    const { size } = await expected.stat();
    let position = 0;
    let same = true;
    const compare = Buffer.allocUnsafe(CHUNK_BYTES);
    await pipeline(
      fs.createReadStream(gzipped, { highWaterMark: CHUNK_BYTES }),
      zlib.createGunzip(),
      async (plain: AsyncIterable<Buffer>) => {
        for await (const chunk of plain) {
          if (signal?.aborted) throw new StopRun();
          for (let offset = 0; same && offset < chunk.length; ) {
            const length = Math.min(chunk.length - offset, compare.length);
            const { bytesRead } = await expected.read(compare, 0, length, position);
            if (bytesRead === 0 || !compare.subarray(0, bytesRead).equals(chunk.subarray(offset, offset + bytesRead))) same = false;
            offset += bytesRead;
            position += bytesRead;
          }
        }
      },
    );
    if (!same) return 'other';
    if (position === size) return 'same';
    // A strict beginning; not an empty one (a .gz of nothing says nothing about the original).
    return position > 0 && position < size ? 'beginning' : 'other';
  } finally {
    await expected.close();
  }
}

function isZlibError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

async function exists(file: string): Promise<boolean> {
  return (await lstatOrNull(file)) !== null;
}

/** lstat, or null when there is no such file. */
async function lstatOrNull(file: string): Promise<fs.Stats | null> {
  try {
    return await fsp.lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** unlink, synchronously (a process that ends), of a file that may be gone already. */
function unlinkSyncQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Gone (renamed to its final name, or removed), or not ours to remove: a later run looks at it.
  }
}

/** fsyncDirectory, synchronously (a process that ends). */
function fsyncDirectorySync(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch (err) {
    if (process.platform === 'win32') return;
    throw err;
  }
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Make a rename in `dir` durable before the step that depends on it (unlinking the original). */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await fsp.open(dir, 'r');
  } catch (err) {
    // Windows cannot open a directory (EISDIR/EPERM); its renames are durable without it.
    if (process.platform === 'win32') return;
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
