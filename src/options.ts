/**
 * Option validation and defaults. `normalizeOptions` runs once, when a rotating file is created, and
 * turns whatever the caller passed into a complete {@link NormalizedOptions}; nothing after it checks an
 * option again. It is pure: no file system access, no clock.
 */
import * as nodePath from 'node:path';

import { TimberlockOptionError } from './errors.js';
import { dateFormatProblem, defaultDateFormat, longestArchiveName, type NameScheme } from './naming.js';
import { compressionTempName } from './retention.js';
import { isValidTimeZone } from './schedule.js';
import type { Frequency, HeaderInfo } from './types.js';

/** Every option with its default filled in and its value checked. Produced only by {@link normalizeOptions}. */
export interface NormalizedOptions {
  /** Absolute path of the active file, resolved against the working directory at construction. */
  path: string;
  /** Directory of the active file: archives, the lock and the state file live here. */
  dir: string;
  /** File name of the active file (never '.', '..' or empty). */
  name: string;
  frequency: Frequency;
  /** 'local', 'UTC' or a valid IANA name, exactly as given. */
  timeZone: string;
  dateFormat: string;
  sync: boolean;
  mkdir: boolean;
  /** 0..0o777, owner can read and write, not world-writable. */
  mode: number;
  /** lock.staleMs. */
  staleMs: number;
  settleMs: number;
  /** Always >= settleMs + 100. */
  fallbackMs: number;
  checkIntervalMs: number;
  highWaterMark: number;
  /** Always >= highWaterMark. */
  maxBufferBytes: number;
  /** Size in bytes at which the active file is rolled within its period; null = no size rolls. */
  maxSize: number | null;
  /** Archives kept (newest first); null = no count limit. */
  maxFiles: number | null;
  /** Archives whose period started more than this many ms ago are deleted; null = no age limit. */
  maxAgeMs: number | null;
  /** gzip archives. */
  compress: boolean;
  /** Archives younger than this (by mtime) are neither compressed nor deleted. */
  archiveDelayMs: number;
  /** header: false, true (the default line) or the user's function. */
  header: boolean | ((info: HeaderInfo) => string);
}

/** What the `{hostname}` and `{pid}` tokens of `path` stand for. */
export interface ProcessIdentity {
  hostname: string;
  pid: number;
}

/** Named rotation frequencies, in the order they are listed in error messages. */
const FREQUENCY_NAMES = ['minutely', 'hourly', 'daily', 'weekly', 'monthly'] as const;

/** Top-level option names, in the order of RotatingFileOptions. */
export const KNOWN_OPTIONS = [
  'path',
  'frequency',
  'timeZone',
  'dateFormat',
  'sync',
  'mkdir',
  'mode',
  'lock',
  'settleMs',
  'fallbackMs',
  'checkIntervalMs',
  'highWaterMark',
  'maxBufferBytes',
  'maxSize',
  'maxFiles',
  'maxAge',
  'compress',
  'header',
] as const;

/** Option names accepted inside `compress` when it is an object. */
const KNOWN_COMPRESS_OPTIONS = ['delayMs'] as const;

/** Default delay before an archive may be compressed or deleted. */
const DEFAULT_ARCHIVE_DELAY_MS = 5000;
const MIN_MAX_SIZE = 1024;
const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };
const AGE_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Option names accepted inside `lock`. */
const KNOWN_LOCK_OPTIONS = ['staleMs'] as const;

/** Shortest and longest numeric rotation period. */
const MIN_PERIOD_MS = 100;
const MAX_PERIOD_MS = 366 * 24 * 60 * 60 * 1000;

/** Longest delay a Node.js timer supports; a longer one fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** proper-lockfile raises any smaller stale time to this. */
const MIN_STALE_MS = 2000;
/** fallbackMs defaults to staleMs + this. */
const FALLBACK_AFTER_STALE_MS = 2000;
/** fallbackMs must exceed settleMs by at least this. */
const FALLBACK_AFTER_SETTLE_MS = 100;

const MAX_SETTLE_MS = 10_000;
const MIN_CHECK_INTERVAL_MS = 50;
const MAX_CHECK_INTERVAL_MS = 60 * 60 * 1000;
const MIN_HIGH_WATER_MARK = 1024;

const DEFAULT_FREQUENCY: Frequency = 'daily';
const DEFAULT_TIME_ZONE = 'local';
const DEFAULT_MODE = 0o640;
const DEFAULT_STALE_MS = 5000;
/**
 * Default settle margin. Measured on a 2-core host at load 20: a write issued before a boundary returned
 * up to 192 ms after it, so 25 ms let a follower of the active name miss a batch; 100 ms is the default,
 * a quarter of the period for periods under 400 ms.
 */
const DEFAULT_SETTLE_MS = 100;
const DEFAULT_CHECK_INTERVAL_MS = 1000;
const DEFAULT_HIGH_WATER_MARK = 1024 * 1024;
export const DEFAULT_MAX_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * Validate the options given to `createRotatingFile` and fill in every default, once, at the entrance.
 *
 * - `path` is resolved against `process.cwd()` now, so a later `process.chdir()` does not move the log.
 * - `undefined` values count as absent (so `{ frequency: undefined }` gets the default).
 * - Only the object's own enumerable properties are read, each exactly once.
 * - Defaults that depend on other options follow them: `fallbackMs` is `lock.staleMs + 2000` (raised to
 *   `settleMs + 100` if that is larger), `maxBufferBytes` is 16 MiB (raised to `highWaterMark` if that is
 *   larger), `dateFormat` follows `frequency`.
 *
 * Pure: touches no file and no clock; `identity` supplies what `{hostname}` and `{pid}` in `path` stand
 * for. The result is frozen.
 *
 * @throws TimberlockOptionError naming the first invalid option (unknown names are reported first, so a
 *   misspelt `pth` is reported as unknown rather than as a missing `path`).
 */
export function normalizeOptions(input: unknown, identity: ProcessIdentity = { hostname: 'localhost', pid: 0 }): NormalizedOptions {
  const options = ownProperties('options', input, PLAIN_OPTIONS);
  rejectUnknownKeys(options, KNOWN_OPTIONS, '');
  const lock =
    options.lock === undefined
      ? {}
      : ownProperties('lock', options.lock, 'a plain object such as { staleMs: 5000 }');
  rejectUnknownKeys(lock, KNOWN_LOCK_OPTIONS, 'lock.');

  const path = checkPath(options.path, identity);
  const frequency = checkFrequency(options.frequency);
  const timeZone = checkTimeZone(options.timeZone);
  const dateFormat = checkDateFormat(options.dateFormat, frequency, timeZone);
  const sync = checkBoolean('sync', options.sync, false);
  const mkdir = checkBoolean('mkdir', options.mkdir, true);
  const mode = checkMode(options.mode);

  const staleMs = optionalInteger(
    'lock.staleMs',
    lock.staleMs,
    DEFAULT_STALE_MS,
    MIN_STALE_MS,
    MAX_TIMER_MS - FALLBACK_AFTER_STALE_MS,
    `an integer number of milliseconds from ${MIN_STALE_MS} to ${MAX_TIMER_MS - FALLBACK_AFTER_STALE_MS} ` +
      `(proper-lockfile silently raises anything below ${MIN_STALE_MS} to ${MIN_STALE_MS}; the upper bound keeps ` +
      `the default fallbackMs, staleMs + ${FALLBACK_AFTER_STALE_MS}, within the longest Node.js timer delay)`,
  );
  // The old file is renamed settleMs after a boundary: at or after the next one, it never would be.
  const maxSettleMs = typeof frequency === 'number' ? Math.min(MAX_SETTLE_MS, frequency - 1) : MAX_SETTLE_MS;
  const settleMs = optionalInteger(
    'settleMs',
    options.settleMs,
    typeof frequency === 'number' ? Math.min(DEFAULT_SETTLE_MS, Math.floor(frequency / 4)) : DEFAULT_SETTLE_MS,
    0,
    maxSettleMs,
    `an integer number of milliseconds from 0 to ${maxSettleMs}` +
      (maxSettleMs < MAX_SETTLE_MS ? ` (less than the period, frequency ${String(frequency)} ms)` : ''),
  );
  const minFallbackMs = settleMs + FALLBACK_AFTER_SETTLE_MS;
  const fallbackMs = optionalInteger(
    'fallbackMs',
    options.fallbackMs,
    Math.max(staleMs + FALLBACK_AFTER_STALE_MS, minFallbackMs),
    minFallbackMs,
    MAX_TIMER_MS,
    `an integer number of milliseconds from ${minFallbackMs} (settleMs + ${FALLBACK_AFTER_SETTLE_MS}) ` +
      `to ${MAX_TIMER_MS} (the longest Node.js timer delay)`,
  );
  const checkIntervalMs = optionalInteger(
    'checkIntervalMs',
    options.checkIntervalMs,
    DEFAULT_CHECK_INTERVAL_MS,
    MIN_CHECK_INTERVAL_MS,
    MAX_CHECK_INTERVAL_MS,
    `an integer number of milliseconds from ${MIN_CHECK_INTERVAL_MS} to ${MAX_CHECK_INTERVAL_MS} (1 hour)`,
  );
  const highWaterMark = optionalInteger(
    'highWaterMark',
    options.highWaterMark,
    DEFAULT_HIGH_WATER_MARK,
    MIN_HIGH_WATER_MARK,
    Number.MAX_SAFE_INTEGER,
    `an integer number of bytes from ${MIN_HIGH_WATER_MARK} to 2^53 - 1`,
  );
  const maxBufferBytes = optionalInteger(
    'maxBufferBytes',
    options.maxBufferBytes,
    Math.max(DEFAULT_MAX_BUFFER_BYTES, highWaterMark),
    highWaterMark,
    Number.MAX_SAFE_INTEGER,
    `an integer number of bytes from highWaterMark (${highWaterMark}) to 2^53 - 1`,
  );

  const maxSize = checkSize(options.maxSize);
  const maxFiles = checkMaxFiles(options.maxFiles);
  const maxAgeMs = checkAge(options.maxAge, frequency);
  const { compress, archiveDelayMs } = checkCompress(options.compress);
  const header = options.header === undefined ? false : options.header;
  if (typeof header !== 'boolean' && typeof header !== 'function') {
    throw new TimberlockOptionError('header', header, 'true, false or a function (info) => string returning the first line of each new file');
  }

  const name = nodePath.basename(path);
  checkDerivedNames(path, { activeName: name, dateFormat, timeZone, frequency }, compress);

  return Object.freeze({
    maxSize,
    maxFiles,
    maxAgeMs,
    compress,
    archiveDelayMs,
    header: header as boolean | ((info: HeaderInfo) => string),
    path,
    dir: nodePath.dirname(path),
    name,
    frequency,
    timeZone,
    dateFormat,
    sync,
    mkdir,
    mode,
    staleMs,
    settleMs,
    fallbackMs,
    checkIntervalMs,
    highWaterMark,
    maxBufferBytes,
  });
}

/** A snapshot of a plain object's own enumerable properties; anything else (null, array, class instance) is refused. */
/** What the options of createRotatingFile and of the transports must be. */
export const PLAIN_OPTIONS = "a plain object such as { path: 'logs/app.log' } (not a class instance: options on its prototype would be missed)";

/**
 * The own enumerable properties of a plain object (an object literal, or one without prototype), each read
 * once, in a record that a polluted Object.prototype cannot add to. Anything else throws for `option`.
 */
export function ownProperties(option: string, value: unknown, allowed: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TimberlockOptionError(option, value, allowed);
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TimberlockOptionError(option, value, allowed);
  }
  // Reading into a null-prototype record means a polluted Object.prototype cannot supply an option.
  return Object.assign(Object.create(null) as Record<string, unknown>, value);
}

/** Throws for the first key that is not a known option, suggesting the closest known name. */
export function rejectUnknownKeys(options: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const suggestion = closestName(key, known);
    const otherName = prefix === '' && Object.hasOwn(OTHER_LIBRARIES_NAMES, key) ? OTHER_LIBRARIES_NAMES[key] : undefined;
    const hint =
      otherName !== undefined ? ` (here: ${otherName})` : suggestion === undefined ? '' : ` (did you mean ${prefix}${suggestion}?)`;
    const list = known.map((name) => prefix + name).join(', ');
    const allowed =
      known.length === 1
        ? `the only ${prefix.slice(0, -1)} option, ${list}`
        : `one of the known option names${hint}: ${list}`;
    throw new TimberlockOptionError(prefix + key, options[key], allowed);
  }
}

/**
 * Option names of the file destinations people come from (winston-daily-rotate-file, winston's File,
 * rotating-file-stream, pino-roll, log4js) and what does their job here.
 */
const OTHER_LIBRARIES_NAMES: Record<string, string> = {
  filename: 'path, the whole file path',
  dirname: 'path, whose directory is part of it',
  file: 'path',
  datePattern: "dateFormat, in date-fns tokens such as 'yyyy-MM-dd'",
  pattern: "dateFormat, in date-fns tokens such as 'yyyy-MM-dd'",
  zippedArchive: 'compress',
  maxsize: 'maxSize',
  size: 'maxSize',
  maxLogSize: 'maxSize',
  interval: 'frequency',
  utc: "timeZone: 'UTC'",
  tz: 'timeZone',
  numBackups: 'maxFiles',
  limit: 'maxFiles, a number of archives',
  daysToKeep: "maxAge, such as '14d'",
};

/** The known name a typo most likely meant: same name ignoring case, or at most 2 edits away. */
function closestName(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of known) {
    const distance = name.toLowerCase() === lower ? 0 : editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance; the names compared are short, so the quadratic table is fine. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** `path`: a non-empty string naming a file (not a directory), resolved to an absolute path. */
function checkPath(value: unknown, identity: ProcessIdentity): string {
  if (typeof value !== 'string' || value === '') {
    throw new TimberlockOptionError(
      'path',
      value,
      "a non-empty string: the path of the active log file, e.g. 'logs/app.log' (path is required)",
    );
  }
  if (value.includes('\0')) {
    throw new TimberlockOptionError('path', value, 'a path without NUL bytes');
  }
  if (value.endsWith('/') || value.endsWith(nodePath.sep)) {
    throw new TimberlockOptionError(
      'path',
      value,
      `the path of a file, not of a directory: it must not end with '${value.slice(-1)}'`,
    );
  }
  const unknownToken = /\{(?!hostname\}|pid\})[^}]*\}/.exec(value);
  if (unknownToken) {
    throw new TimberlockOptionError('path', value, `a path whose only {tokens} are {hostname} and {pid}, not ${unknownToken[0]}`);
  }
  if (value.includes('{hostname}') && !isPlainName(identity.hostname)) {
    throw new TimberlockOptionError(
      'path',
      value,
      `a path whose {hostname} stands for a plain file name, but this host's name ${JSON.stringify(identity.hostname)} ` +
        "contains '/', '\\' or NUL, or is '.' or '..'; put the name in the path yourself",
    );
  }
  const expanded = value.replaceAll('{hostname}', identity.hostname).replaceAll('{pid}', String(identity.pid));
  // Checked before resolving: resolve('logs/..') would silently turn into a different file name.
  const name = nodePath.basename(expanded);
  if (name === '.' || name === '..') {
    throw new TimberlockOptionError('path', value, `a path whose last part is a file name, not '${name}'`);
  }
  // `app.gz` would archive to `app.2026-11-25.gz`, the name of `app`'s compressed archive (retention of `app`
  // in the same directory would count and delete it as its own).
  if (/\.gz$/i.test(name)) {
    throw new TimberlockOptionError('path', value, 'a file name that does not end in .gz (its archives would read as compressed archives)');
  }
  return nodePath.resolve(expanded);
}

/** A name that stays one path component: not empty, '.' or '..', without '/', '\\' or NUL. */
function isPlainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

/** `frequency`: one of the named periods or a period in milliseconds. */
function checkFrequency(value: unknown): Frequency {
  if (value === undefined) return DEFAULT_FREQUENCY;
  if (typeof value === 'string' && (FREQUENCY_NAMES as readonly string[]).includes(value)) {
    return value as Frequency;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= MIN_PERIOD_MS && value <= MAX_PERIOD_MS) {
    return value;
  }
  const names = FREQUENCY_NAMES.map((name) => `'${name}'`).join(', ');
  const allowed = `${names} or a period as an integer number of milliseconds from ${MIN_PERIOD_MS} to ${MAX_PERIOD_MS} (366 days)`;
  const named = typeof value === 'string' ? FREQUENCY_NAMES.find((name) => name === value.trim().toLowerCase()) : undefined;
  throw new TimberlockOptionError('frequency', value, named ? `${allowed}; did you mean '${named}'?` : withNumberHint(allowed, value));
}

/** `timeZone`: 'local', 'UTC' or an IANA name the runtime knows. */
function checkTimeZone(value: unknown): string {
  if (value === undefined) return DEFAULT_TIME_ZONE;
  if (value === 'local' || value === 'UTC') return value;
  if (typeof value === 'string' && value !== '' && isValidTimeZone(value)) return value;
  throw new TimberlockOptionError(
    'timeZone',
    value,
    "'local' (the process time zone), 'UTC' or an IANA time zone name such as 'Europe/Berlin'",
  );
}

/** `dateFormat`: date-fns tokens whose output can be part of an archive file name. */
function checkDateFormat(value: unknown, frequency: Frequency, timeZone: string): string {
  if (value === undefined) return defaultDateFormat(frequency);
  if (typeof value !== 'string' || value === '') {
    throw new TimberlockOptionError(
      'dateFormat',
      value,
      "a non-empty string of date-fns format tokens, e.g. 'yyyy-MM-dd'",
    );
  }
  const problem = dateFormatProblem(value, timeZone, frequency);
  if (problem !== null) {
    throw new TimberlockOptionError(
      'dateFormat',
      value,
      `date-fns format tokens whose output can be part of a file name and names each period apart, e.g. '${defaultDateFormat(frequency)}' (this one: ${problem})`,
    );
  }
  return value;
}

/** Bytes in one file name on Linux file systems (NAME_MAX: ext4, xfs, tmpfs …). */
const MAX_NAME_BYTES = 255;
/** The longest pid (Linux allows up to 4194304) of the `<pid>-<8 hex digits>` in temp file names. */
const LONGEST_PID = 4_194_304;
/** The highest archive index a period is assumed to reach (size rolls, names taken). */
const HIGHEST_INDEX = 99_999;

/**
 * The active file's name must leave room for the names made from it, which are longer: the state file's
 * temp name (`.<name>.state.<pid>-<token>.tmp`, state.ts), a new active file's (`.<name>.new.<pid>-<token>.tmp`), the archive lock's takeover directory and the
 * archives (`<stem>.<date>.<index><ext>`, whose `.gz` name a rotation looks for even without compression;
 * with it, `.<archive>.gz.<pid>-<token>.tmp` while the `.gz` is made). A name too long for them was
 * accepted, and then no file could be opened, archived or compressed.
 */
function checkDerivedNames(path: string, scheme: NameScheme, compress: boolean): void {
  const archive = longestArchiveName(scheme, HIGHEST_INDEX, false);
  const derived = [
    `.${scheme.activeName}.state.${LONGEST_PID}-ffffffff.tmp`,
    `.${scheme.activeName}.new.${LONGEST_PID}-ffffffff.tmp`,
    `.${scheme.activeName}.archive-lock.takeover`,
    compress ? compressionTempName(archive, LONGEST_PID, 'ffffffff') : `${archive}.gz`,
  ];
  const bytes = (text: string): number => Buffer.byteLength(text);
  const longest = derived.reduce((a, b) => (bytes(b) > bytes(a) ? b : a));
  const excess = bytes(longest) - MAX_NAME_BYTES;
  if (excess <= 0) return;
  throw new TimberlockOptionError(
    'path',
    path,
    `a file name of at most ${bytes(scheme.activeName) - excess} bytes with these options: the names made from it must fit in ` +
      `${MAX_NAME_BYTES} bytes, and the longest, ${JSON.stringify(longest)}, has ${bytes(longest)}`,
  );
}

/** `sync`, `mkdir`: true or false. */
function checkBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw new TimberlockOptionError(option, value, 'true or false');
}

/**
 * `mode`: permission bits for created files. The owner must be able to read and write (every process of
 * the service reopens the file and reads the state file), and world-writable modes are refused.
 */
function checkMode(value: unknown): number {
  if (value === undefined) return DEFAULT_MODE;
  const allowed =
    'an integer file mode up to 0o777 that lets the owner read and write (0o600) and is not world-writable (0o002), ' +
    'e.g. 0o640 or 0o660';
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0o777) {
    throw new TimberlockOptionError('mode', value, withNumberHint(allowed, value));
  }
  const octal = `0o${value.toString(8)}`;
  if ((value & 0o002) !== 0) {
    throw new TimberlockOptionError(
      'mode',
      value,
      `${allowed}; ${value} is ${octal}, which lets every local user write to the log`,
    );
  }
  if ((value & 0o600) !== 0o600) {
    throw new TimberlockOptionError(
      'mode',
      value,
      `${allowed}; ${value} is ${octal}, so the service's other processes could not open the files it creates`,
    );
  }
  return value;
}

/** maxFiles: a count of archives. A duration ('14d', as winston-daily-rotate-file takes it) is maxAge's. */
function checkMaxFiles(value: unknown): number | null {
  if (value === undefined) return null;
  const allowed = 'an integer from 1 to 1000000 (archives to keep)';
  if (typeof value === 'string' && /^\s*\d+(?:\.\d+)?\s*[a-z]+\s*$/i.test(value)) {
    throw new TimberlockOptionError('maxFiles', value, `${allowed}; for archives younger than a duration, use maxAge: ${JSON.stringify(value.trim())}`);
  }
  return optionalInteger('maxFiles', value, 0, 1, 1_000_000, allowed);
}

/** maxSize: bytes as a number, or a string such as '100MB', '512k', '1g'. */
function checkSize(value: unknown): number | null {
  if (value === undefined) return null;
  const allowed = `a size from ${MIN_MAX_SIZE} bytes to 2^53 - 1: a number of bytes or a string of a number and a unit (b, k, kb, m, mb, g, gb; powers of 1024) such as '100MB', '512k', '1g'`;
  let bytes = Number.NaN;
  if (typeof value === 'number') bytes = value;
  else if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
    const unit = SIZE_UNITS[(match?.[2] || 'b').toLowerCase()];
    if (match && unit) bytes = Math.floor(Number(match[1]) * unit);
  }
  if (!Number.isSafeInteger(bytes) || bytes < MIN_MAX_SIZE) throw new TimberlockOptionError('maxSize', value, allowed);
  return bytes;
}

/**
 * The longest period of each named frequency (a day with a fall-back of 3 hours, Antarctica/Casey's in
 * 2010, 2020 and 2023; a month of 31 days with one): an archive is dated by its period's start, so it is
 * at least that old once it is made.
 */
const LONGEST_PERIOD_MS = {
  minutely: 60_000,
  hourly: 3_600_000,
  daily: 27 * 3_600_000,
  weekly: 7 * 86_400_000 + 3 * 3_600_000,
  monthly: 31 * 86_400_000 + 3 * 3_600_000,
} as const;

/**
 * maxAge: milliseconds as a number, or a string such as '14d', '12h', '30m', '90s'; longer than a period of
 * `frequency`, or every archive would be deleted as soon as it is made.
 */
function checkAge(value: unknown, frequency: Frequency): number | null {
  if (value === undefined) return null;
  const allowed = "a duration from 1000 ms to 2^53 - 1 ms: a number of ms or a string of a number and a unit (ms, s, m, h, d, w) such as '14d', '12h', '30m', '90s', '2w'";
  let ms = Number.NaN;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/i.exec(value);
    // 'M' alone is taken for months as often as for minutes: with minutes, '6M' would delete all but the
    // last six minutes of archives.
    if (match?.[2] === 'M') {
      throw new TimberlockOptionError('maxAge', value, `${allowed}; 'M' is ambiguous: write 'm' for minutes, or days for months ('180d')`);
    }
    const unit = match ? AGE_UNITS[(match[2] as string).toLowerCase()] : undefined;
    if (match && unit) ms = Math.floor(Number(match[1]) * unit);
  }
  if (!Number.isSafeInteger(ms) || ms < 1000) throw new TimberlockOptionError('maxAge', value, allowed);
  const longest = typeof frequency === 'number' ? frequency : LONGEST_PERIOD_MS[frequency];
  if (ms <= longest) {
    const every = typeof frequency === 'number' ? `a period of ${frequency} ms` : `a ${frequency} period (up to ${describeMs(longest)})`;
    throw new TimberlockOptionError(
      'maxAge',
      value,
      `longer than ${every}: archives are dated by their period's start, so every archive would be deleted as soon as it is made`,
    );
  }
  return ms;
}

/** A period's longest length for people: '60 s', '1 h', '25 h', '7 d 1 h', '31 d 1 h'. */
function describeMs(ms: number): string {
  const days = Math.floor(ms / 86_400_000);
  const hours = (ms % 86_400_000) / 3_600_000;
  if (days >= 2) return hours === 0 ? `${days} d` : `${days} d ${hours} h`;
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${ms / 1000} s`;
}

/** compress: boolean, or { delayMs } to gzip archives only once they are that old. */
function checkCompress(value: unknown): { compress: boolean; archiveDelayMs: number } {
  if (value === undefined || typeof value === 'boolean') {
    return { compress: value === true, archiveDelayMs: DEFAULT_ARCHIVE_DELAY_MS };
  }
  const compress = ownProperties('compress', value, 'true, false or an object such as { delayMs: 5000 }');
  rejectUnknownKeys(compress, KNOWN_COMPRESS_OPTIONS, 'compress.');
  const archiveDelayMs = optionalInteger(
    'compress.delayMs',
    compress.delayMs,
    DEFAULT_ARCHIVE_DELAY_MS,
    0,
    MAX_TIMER_MS,
    `an integer number of milliseconds from 0 to ${MAX_TIMER_MS}`,
  );
  return { compress: true, archiveDelayMs };
}

/** An optional integer option within [min, max]; `undefined` gives the default. */
function optionalInteger(
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  allowed: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw new TimberlockOptionError(option, value, withNumberHint(allowed, value));
}

/** Says plainly that a string such as '5000' is not accepted where a number is expected. */
function withNumberHint(allowed: string, value: unknown): string {
  return typeof value === 'string' && /^\s*[-+]?(\d|\.\d)/.test(value) ? `${allowed}; a number, not a string` : allowed;
}
