/**
 * Retention selection: given the archives of one log file and a policy, decide which of them to gzip and
 * which to delete.
 *
 * Pure: no I/O, no clock. The caller lists the directory, lets {@link recognizeListing} pick out the names
 * that are ours, stats those, passes the time, and carries out the plan (see archive.ts). Because the plan
 * is made from the directory listing alone — there is no audit file — it gives the same answer after a
 * restart, after a gap, and in whichever process runs it.
 *
 * Rules, in the order they apply:
 * 1. **Grace delay.** A file that changed less than `delayMs` before `now` (or in the future) is never
 *    touched: a straggler that still holds the old descriptor may append to it. A change is a write
 *    (mtime) or the link or rename that gave the file its archive name (ctime): a file that had been idle
 *    for a day is just as exposed right after its rotation. (For a change dated more than
 *    {@link CLOCK_AHEAD_MS} ahead, the caller passes when it first saw it so: see archive.ts.)
 * 2. **One archive, one or two names.** `app.<date>.<n>.log` and `app.<date>.<n>.log.gz` are the same
 *    archive; both names exist at once only when a compression was interrupted and could not be repaired.
 *    Such an archive counts once and is never compressed again (its `.gz` name is taken).
 * 3. **maxFiles** keeps the newest `maxFiles` archives by (periodStart, index); older ones are deleted.
 *    Young archives count towards the limit even though they are not deleted yet.
 * 4. **maxAge** deletes archives whose period started before `now - maxAgeMs`.
 * 5. **compress** gzips every remaining plain archive that is past the grace delay.
 * 6. **Empty archives.** A plain archive of 0 bytes without a `.gz` holds no line: timberlock never archives
 *    an empty file of its own (it keeps it for the next period), so it is a file another program put under
 *    the active name (logrotate's `create` right after a boundary, a `touch`). It counts towards neither
 *    limit, and is deleted once past the grace delay instead of being compressed.
 */

import { parseArchiveName, type NameScheme, type ParsedArchive } from './naming.js';
import { isNewFileTempName, isStateTempName } from './state.js';

/**
 * How far ahead of the clock a file's period or change may be dated before the clock counts as set back
 * since (or as another machine's, far ahead): see rotating-file.ts (clockSetBack) and archive.ts (changedMs).
 */
export const CLOCK_AHEAD_MS = 5 * 60_000;

/** One archive on disk, as the caller read it from the directory. */
export interface ArchiveFile {
  /** Base name, e.g. `app.2026-11-25.1.log.gz`. */
  name: string;
  /** Start (epoch ms) of the period the archive belongs to, from its name. */
  periodStart: number;
  /** 0 for `app.<date>.log`, n for `app.<date>.<n>.log`. */
  index: number;
  /** Whether the name ends in `.gz`. */
  compressed: boolean;
  /** Last change (epoch ms): the later of its mtime and its ctime, from stat (see rule 1). */
  changedMs: number;
  /** Its size in bytes, from stat (see rule 6). */
  size: number;
}

/** What to keep and what to compress. */
export interface RetentionPolicy {
  /** Keep at most this many archives (newest by period start, then index); null = no count limit. */
  maxFiles: number | null;
  /** Delete archives whose period started more than this many ms before now; null = no age limit. */
  maxAgeMs: number | null;
  /** Files changed less than this many ms ago are neither compressed nor deleted. */
  delayMs: number;
  /** gzip plain archives. */
  compress: boolean;
}

/** The plan: base names to gzip and base names to delete, each oldest first. Disjoint. */
export interface MaintenancePlan {
  compress: string[];
  remove: string[];
  /** When the first file left only because it changed too recently will have settled (epoch ms); null if none. */
  settlesAt: number | null;
}

/**
 * Which archives to gzip and which to delete at time `now` (epoch ms). Never plans anything for a file
 * that changed less than `policy.delayMs` ago; `maxFiles` keeps the newest archives by (periodStart, index);
 * `maxAgeMs` deletes archives whose period started before `now - maxAgeMs`; a plain archive of 0 bytes counts
 * towards neither and is deleted; a file planned for deletion is not also compressed, and a plain file whose
 * `.gz` is in the listing is never compressed. Names appear in the order they should be handled: oldest
 * archive first.
 *
 * Touches no file. Throws a RangeError (code `ERR_INVALID_ARG_VALUE`) for a policy with a negative or
 * non-integer limit, or a non-finite `now`.
 */
export function planMaintenance(files: readonly ArchiveFile[], policy: RetentionPolicy, now: number): MaintenancePlan {
  checkPolicy(policy, now);
  const archives = groupByArchive(files);
  const expired = new Set<Archive>();
  let position = 0;
  for (const archive of archives) {
    if (holdsNothing(archive)) {
      expired.add(archive);
      continue;
    }
    if (policy.maxFiles !== null && position >= policy.maxFiles) expired.add(archive);
    if (policy.maxAgeMs !== null && archive.periodStart < now - policy.maxAgeMs) expired.add(archive);
    position++;
  }

  const plan: MaintenancePlan = { compress: [], remove: [], settlesAt: null };
  const isSettled = (file: ArchiveFile): boolean => {
    if (!Number.isFinite(file.changedMs)) return false;
    if (now - file.changedMs >= policy.delayMs) return true;
    plan.settlesAt = Math.min(plan.settlesAt ?? Infinity, file.changedMs + policy.delayMs);
    return false;
  };
  // Oldest first: deleting frees space before compressing uses some, and an interrupted run has done
  // the work that matters most.
  for (const archive of [...archives].reverse()) {
    if (expired.has(archive)) {
      for (const file of [archive.plain, archive.gzip]) if (file && isSettled(file)) plan.remove.push(file.name);
    } else if (policy.compress && archive.plain && !archive.gzip && isSettled(archive.plain)) {
      plan.compress.push(archive.plain.name);
    }
  }
  return plan;
}

/** The names on disk of one archive (period start and index). */
interface Archive {
  periodStart: number;
  index: number;
  plain: ArchiveFile | null;
  gzip: ArchiveFile | null;
}

/** Rule 6: a plain archive of 0 bytes, without a `.gz`. */
function holdsNothing(archive: { plain: ArchiveFile | null; gzip: ArchiveFile | null }): boolean {
  return archive.gzip === null && archive.plain?.size === 0;
}

/** Archives, newest first by (periodStart, index). Later duplicates of the same name/kind are ignored. */
function groupByArchive(files: readonly ArchiveFile[]): Archive[] {
  const byKey = new Map<string, Archive>();
  for (const file of files) {
    const key = `${file.periodStart}:${file.index}`;
    let archive = byKey.get(key);
    if (!archive) {
      archive = { periodStart: file.periodStart, index: file.index, plain: null, gzip: null };
      byKey.set(key, archive);
    }
    if (file.compressed) archive.gzip ??= file;
    else archive.plain ??= file;
  }
  return [...byKey.values()].sort((a, b) => b.periodStart - a.periodStart || b.index - a.index);
}

function checkPolicy(policy: RetentionPolicy, now: number): void {
  const problems: string[] = [];
  if (policy.maxFiles !== null && !(Number.isSafeInteger(policy.maxFiles) && policy.maxFiles >= 0)) {
    problems.push(`maxFiles ${String(policy.maxFiles)} (expected null or an integer >= 0)`);
  }
  if (policy.maxAgeMs !== null && !(Number.isFinite(policy.maxAgeMs) && policy.maxAgeMs >= 0)) {
    problems.push(`maxAgeMs ${String(policy.maxAgeMs)} (expected null or a number >= 0)`);
  }
  if (!(Number.isFinite(policy.delayMs) && policy.delayMs >= 0)) {
    problems.push(`delayMs ${String(policy.delayMs)} (expected a number >= 0)`);
  }
  if (!Number.isFinite(now)) problems.push(`now ${String(now)} (expected epoch milliseconds)`);
  if (problems.length > 0) {
    throw Object.assign(new RangeError(`Invalid retention input: ${problems.join('; ')}.`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
}

/** The names in a directory listing that archive maintenance may touch. */
export interface RecognizedListing {
  /** Names that `parseArchiveName` recognises for the scheme, with what they say. */
  archives: Array<ParsedArchive & { name: string }>;
  /**
   * Temp files an interrupted writer left: of a compression of one of our archives ({@link
   * compressionTempName}), of the state file (a process killed between writing and renaming it), or of a new
   * active file (a process stopped in the middle of a rotation, see newFileTempPath).
   */
  temps: string[];
}

/**
 * Pick the archives and temp files of `scheme` out of a directory listing (base names).
 * Everything else is left out and so never touched: the active file, its lock and state, archives of
 * another active file or another date format, and any other name. Names only; whether an entry is a
 * regular file is the caller's check.
 */
export function recognizeListing(scheme: NameScheme, names: readonly string[]): RecognizedListing {
  const listing: RecognizedListing = { archives: [], temps: [] };
  for (const name of names) {
    const parsed = parseArchiveName(scheme, name);
    if (parsed) listing.archives.push({ name, ...parsed });
    else if (isCompressionTempName(scheme, name) || isStateTempName(scheme.activeName, name) || isNewFileTempName(scheme.activeName, name)) {
      listing.temps.push(name);
    }
  }
  return listing;
}

/**
 * The hidden name an archive is gzipped into before it gets its `.gz` name:
 * `.<archive>.gz.<pid>-<token>.tmp`, `token` being 8 lower-case hex digits (random, so that processes of
 * several hosts on a shared directory, or a reused pid, never share one). The leading '.' keeps it out of
 * tailers and globs. Throws a RangeError (code `ERR_INVALID_ARG_VALUE`) for a malformed pid or token.
 */
export function compressionTempName(archive: string, pid: number, token: string): string {
  if (!Number.isSafeInteger(pid) || pid < 0 || !/^[0-9a-f]{8}$/.test(token)) {
    throw Object.assign(new RangeError(`Invalid temp name parts: pid ${String(pid)}, token ${JSON.stringify(token)}. Expected an integer pid >= 0 and 8 hex digits.`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  return `.${archive}.gz.${pid}-${token}.tmp`;
}

/** Whether `name` is {@link compressionTempName} of a plain archive of this scheme. */
function isCompressionTempName(scheme: NameScheme, name: string): boolean {
  const match = /^\.(.+)\.gz\.\d+-[0-9a-f]{8}\.tmp$/.exec(name);
  if (!match?.[1]) return false;
  return parseArchiveName(scheme, match[1])?.compressed === false;
}
