/**
 * Archive file names: how the file of an ended period is named, and how such a name is recognised again.
 *
 * Pure: no I/O. For the active file `app.log` (stem `app`, extension `.log`) the archives are
 *
 *     app.<date>.log          the file of the period that starts at <date>
 *     app.<date>.<n>.log      n >= 1: a size roll within the period, or a name that was already taken
 *     ... .gz                 the same, compressed
 *
 * `<date>` is the period's start formatted with date-fns tokens in the configured time zone. An active file
 * without an extension (`app`) gives `app.<date>`, `app.<date>.<n>`, `app.<date>.gz`; so does one whose
 * extension is a number (`app.1` gives `app.1.<date>`: see splitActiveName).
 *
 * Limitations, by design of the format rather than of this module:
 * - A format without an offset token (`xx`) gives two different hours the same name in a fall-back hour
 *   (Europe/Berlin `2026-10-25T02`); the rotator then adds an index, and both archives read back as one
 *   of the two hours (which one depends on the zone: the later in Berlin, the earlier in New York).
 *   {@link dateFormatProblem} samples no DST change, so it accepts such formats (the README says so). The
 *   default hourly and minutely formats carry the offset and are unique.
 * - Tokens date-fns can format but not parse (time zone names `z`, `O`) make names unrecognisable;
 *   {@link dateFormatProblem} refuses such formats. ISO week tokens (`RRRR`, `II`) parse and round-trip.
 */
import path from 'node:path';
import { tz } from '@date-fns/tz';
// Subpath imports: the 'date-fns' root pulls in every function, which costs seconds of start-up as ESM on Node 22/24.
import { format } from 'date-fns/format';
import { parse } from 'date-fns/parse';
import { isValidTimeZone, periodOf, zoneOffsetMinutes } from './schedule.js';
import type { Frequency } from './types.js';

/** Suffix of a compressed archive. */
const GZIP_SUFFIX = '.gz';

/**
 * The default date-fns format of the `<date>` part of archive names for a frequency. It names every period
 * of a year uniquely in every zone: hourly and shorter formats carry the UTC offset (`xx`, e.g. `+0200`),
 * so the two 02 hours of a fall-back night get different names.
 *
 * monthly `yyyy-MM`, weekly `RRRR-'W'II` (ISO week, e.g. `2026-W53`), daily `yyyy-MM-dd`, hourly
 * `yyyy-MM-dd'T'HHxx`, minutely `yyyy-MM-dd'T'HH-mmxx`, a period in ms `yyyy-MM-dd'T'HH-mm-ss-SSSxx`.
 */
export function defaultDateFormat(frequency: Frequency): string {
  if (typeof frequency === 'number') return "yyyy-MM-dd'T'HH-mm-ss-SSSxx";
  switch (frequency) {
    case 'monthly':
      return 'yyyy-MM';
    case 'weekly':
      return "RRRR-'W'II";
    case 'daily':
      return 'yyyy-MM-dd';
    case 'hourly':
      return "yyyy-MM-dd'T'HHxx";
    case 'minutely':
      return "yyyy-MM-dd'T'HH-mmxx";
    default:
      throw Object.assign(new RangeError(`Invalid frequency: ${JSON.stringify(frequency)}.`), {
        code: 'ERR_INVALID_ARG_VALUE',
      });
  }
}

/**
 * `periodStart` formatted with date-fns tokens `dateFormat` in `timeZone` (`'local'` = the process time
 * zone). Throws date-fns' RangeError for an unusable format (check it once with {@link dateFormatProblem})
 * or a non-finite instant. Touches no file.
 */
export function formatPeriod(periodStart: number, dateFormat: string, timeZone: string): string {
  return timeZone === 'local' ? format(periodStart, dateFormat) : format(periodStart, dateFormat, { in: tz(timeZone) });
}

/** What archive names are made of: the active file's base name, the date format and the time zone. */
export interface NameScheme {
  /** Base name of the active file, e.g. `'app.log'`. Its extension (`path.extname`) ends every archive name. */
  activeName: string;
  /** date-fns format tokens of the `<date>` part, e.g. `'yyyy-MM-dd'`. */
  dateFormat: string;
  /** `'local'`, `'UTC'` or an IANA name; the zone `<date>` is written in. */
  timeZone: string;
  /** The periods the archives belong to: a name is ours only if its date is the start of one. */
  frequency: Frequency;
}

/**
 * The base name (no directory) of the archive of the period starting at `periodStart`:
 * `app.<date>.log`, or `app.<date>.<index>.log` for `index >= 1`, followed by `.gz` if `compressed`.
 * Only computes a name; whether it is free on disk is the caller's business. Throws a RangeError (code
 * `ERR_INVALID_ARG_VALUE`) if `index` is not a non-negative safe integer.
 */
export function archiveName(scheme: NameScheme, periodStart: number, index: number, compressed = false): string {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw Object.assign(new RangeError(`Invalid index: ${String(index)}. Expected an integer >= 0.`), {
      code: 'ERR_INVALID_ARG_VALUE',
    });
  }
  const { stem, ext } = splitActiveName(scheme.activeName);
  const date = formatPeriod(periodStart, scheme.dateFormat, scheme.timeZone);
  return `${stem}.${date}${index > 0 ? `.${index}` : ''}${ext}${compressed ? GZIP_SUFFIX : ''}`;
}

/**
 * Among the archive names `scheme` gives its periods, one of the longest, for `index` and `compressed`: the
 * date formatted at instants that give each token its longest text (two-digit days and hours, December's
 * day 362; with word tokens, every month and weekday, night and afternoon).
 */
export function longestArchiveName(scheme: NameScheme, index: number, compressed: boolean): string {
  const samples = hasWordToken(scheme.dateFormat) ? WORD_SAMPLES : NUMBER_SAMPLES;
  let longest = '';
  for (const sample of samples) {
    const name = archiveName(scheme, sample, index, compressed);
    if (Buffer.byteLength(name) > Buffer.byteLength(longest)) longest = name;
  }
  return longest;
}

/**
 * Instants at which number tokens are at their widest in any zone: December 28, 23:59:59.999 UTC and every
 * three hours before it (one of them shows a two-digit hour on a 12- and on a 24-hour clock, whatever the
 * offset; 59 minutes stay two digits with a half-hour or 45-minute offset).
 */
const NUMBER_SAMPLES = Array.from({ length: 8 }, (_, i) => Date.UTC(2026, 11, 28, 2 + 3 * i, 59, 59, 999));
/** Every month, on seven days in a row (every weekday), at night and in the afternoon. */
const WORD_SAMPLES = Array.from({ length: 12 * 7 * 2 }, (_, i) => Date.UTC(2026, Math.floor(i / 14), 21 + (Math.floor(i / 2) % 7), i % 2 === 0 ? 3 : 15, 59, 59, 999));

/** Whether the format has a token that writes words, whose length varies (month and weekday names, AM/PM …). */
function hasWordToken(dateFormat: string): boolean {
  for (const [token] of dateFormat.matchAll(FORMAT_TOKEN)) {
    if (/^(M{3,}|L{3,}|E+|e{3,}|c{3,}|i{3,}|a+|b+|B+|G+|Q{3,}|q{3,}|P+|p+)$/.test(token)) return true;
  }
  return false;
}

/**
 * The archive names of one period, index by index, with the date formatted once (formatting in a zone
 * costs tens of µs; a rotation may probe several indexes).
 */
export function archiveNamesOf(scheme: NameScheme, periodStart: number): (index: number) => string {
  const { stem, ext } = splitActiveName(scheme.activeName);
  const date = formatPeriod(periodStart, scheme.dateFormat, scheme.timeZone);
  return (index) => `${stem}.${date}${index > 0 ? `.${index}` : ''}${ext}`;
}

/**
 * The index of `name` if it is an archive of the period starting at `periodStart` (plain or compressed),
 * else null: a cheap test by the period's own date text, for scanning a directory listing.
 */
export function archiveIndexesOf(scheme: NameScheme, periodStart: number): (name: string) => number | null {
  const { stem, ext } = splitActiveName(scheme.activeName);
  const prefix = `${stem}.${formatPeriod(periodStart, scheme.dateFormat, scheme.timeZone)}`;
  return (name) => {
    const plain = name.endsWith(GZIP_SUFFIX) ? name.slice(0, -GZIP_SUFFIX.length) : name;
    if (!plain.startsWith(prefix) || !plain.endsWith(ext)) return null;
    const middle = plain.slice(prefix.length, plain.length - ext.length);
    if (middle === '') return 0;
    // At most 15 digits: an index stays a safe integer that counting up from it can pass.
    return /^\.[1-9]\d{0,14}$/.test(middle) ? Number(middle.slice(1)) : null;
  };
}

/** What {@link parseArchiveName} reads from an archive name. */
export interface ParsedArchive {
  /** Start (epoch ms) of the period the archive belongs to. */
  periodStart: number;
  /** 0 for `app.<date>.log`, n for `app.<date>.<n>.log`. */
  index: number;
  /** Whether the name ends in `.gz`. */
  compressed: boolean;
}

/**
 * Recognise a base name that {@link archiveName} produces for this scheme, or return null for anything else:
 * the active file, the lock, state and temporary files, archives of another active file, and names whose
 * date part is not exactly what the format produces. A name is accepted only if `archiveName` gives that
 * very name back for the result, so `parseArchiveName(s, archiveName(s, p, i, c))` is `{ p, i, c }` for
 * every period start p (see the limitation on offset-less formats in the module comment).
 *
 * Hours cut short by an offset change that is not a whole hour (Australia/Lord_Howe's 30-minute shifts)
 * start at the change, not at the full hour their name shows; such names read back as the change instant.
 * Never throws.
 */
export function parseArchiveName(scheme: NameScheme, fileName: string): ParsedArchive | null {
  const { stem, ext } = splitActiveName(scheme.activeName);
  const prefix = `${stem}.`;
  if (!fileName.startsWith(prefix)) return null;
  // date-fns would console.warn (and maybe throw) on every parse with such a token; none of these names is ours.
  if (findProtectedToken(scheme.dateFormat) !== null) return null;
  for (const compressed of [false, true]) {
    if (compressed && !fileName.endsWith(GZIP_SUFFIX)) continue;
    const withoutGzip = compressed ? fileName.slice(0, -GZIP_SUFFIX.length) : fileName;
    if (!withoutGzip.endsWith(ext)) continue;
    const middle = withoutGzip.slice(prefix.length, withoutGzip.length - ext.length);
    if (withoutGzip.length - ext.length <= prefix.length) continue;
    for (const { dateText, index } of dateAndIndexCandidates(middle)) {
      let periodStart: number | null;
      try {
        // Non-null only if the period start formats back to exactly dateText, so archiveName(scheme,
        // periodStart, index, compressed) is fileName: the candidates are cut from fileName that way.
        periodStart = periodNamed(dateText, scheme);
      } catch {
        // date-fns refuses the scheme's format or zone (dateFormatProblem reports why): no name is ours.
        return null;
      }
      if (periodStart !== null) return { periodStart, index, compressed };
    }
  }
  return null;
}

/**
 * The start of the period of the scheme's frequency whose name has the date `dateText`, or null. Only the
 * start of a period is ever named, so another date in the format is not ours (with `t`, a file such as
 * `app.1.log`, one second after the epoch). The instant the text reads as is the start of the span it
 * names, which need not be the period's own start: periods given in ms are aligned to the epoch, not to
 * the zone's midnight or hour (a UTC day is named by its start's date in Berlin, where it starts at 01:00).
 * So the period that contains that instant, or the next one, is the one named.
 */
function periodNamed(dateText: string, scheme: NameScheme): number | null {
  const read = readPeriodStart(dateText, scheme);
  if (read === null) return null;
  let period: { start: number; next: number };
  try {
    period = periodOf(read, scheme.frequency, scheme.timeZone);
  } catch {
    return null; // an instant the zone's data cannot place in a period (ERR_TIMBERLOCK_PERIOD): not ours
  }
  for (const start of [period.start, period.next]) {
    if (formatPeriod(start, scheme.dateFormat, scheme.timeZone) === dateText) return start;
  }
  return null;
}

/**
 * Why `dateFormat` cannot be used for archive names in `timeZone`, or null if it can. Refused: week-numbering
 * year (`YYYY`) and day-of-year (`DD`) tokens, which are almost always typos for `yyyy` and `dd`; and, tried
 * on a few sample instants, a format date-fns cannot format (unescaped letters that are not tokens), text
 * that is empty or contains `/`, `\`, `..` or NUL, text date-fns `parse` cannot read back to the same text
 * (time zone names `z`, `O`), and text that reads back as an instant later than the sample or more than a
 * year before it (a format without the year would make every archive look decades old to retention).
 * The reason is a short lower-case phrase meant to follow "this one: ". Never throws.
 */
export function dateFormatProblem(dateFormat: string, timeZone: string, frequency?: Frequency): string | null {
  if (typeof dateFormat !== 'string') return 'it is not a string';
  if (dateFormat === '') return 'it is empty';
  if (!isValidTimeZone(timeZone)) return `the time zone ${JSON.stringify(timeZone)} is not valid`;
  const protectedToken = findProtectedToken(dateFormat);
  if (protectedToken !== null) return protectedToken;
  const problem = sampleProblem(dateFormat, timeZone);
  if (problem !== null || frequency === undefined) return problem;
  return periodProblem(dateFormat, timeZone, frequency);
}

/** The checks of {@link dateFormatProblem} on the sample instants. */
function sampleProblem(dateFormat: string, timeZone: string): string | null {
  for (const sample of SAMPLE_INSTANTS) {
    let text: string;
    try {
      text = formatPeriod(sample, dateFormat, timeZone);
    } catch (error) {
      return `date-fns cannot format it: ${error instanceof Error ? error.message : String(error)}`;
    }
    const problem = textProblem(text);
    if (problem !== null) return `${problem} (e.g. ${JSON.stringify(text)})`;
    let readBack: number | null;
    try {
      readBack = readPeriodStart(text, { dateFormat, timeZone });
    } catch (error) {
      return `date-fns cannot parse it back: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (readBack === null) return `date-fns cannot parse ${JSON.stringify(text)} back to the same text`;
    if (readBack > sample || readBack < sample - MAX_PERIOD_MS) {
      const readAs = new Date(readBack).toISOString();
      return `${JSON.stringify(text)} does not identify the period it names (it reads back as ${readAs})`;
    }
  }
  return null;
}

/**
 * Why names in `dateFormat` do not tell the periods of `frequency` apart, or null: the name of each sample
 * instant's period must be read back as that period (see periodNamed). `yyyy-mm-dd` (minutes for months)
 * gives the days of every month one name, `yyyy-MM-dd` gives every hour of a day one name: such names would
 * also tell retention (maxAge, maxFiles) that a new archive started long ago, and it would be deleted.
 */
function periodProblem(dateFormat: string, timeZone: string, frequency: Frequency): string | null {
  const every = typeof frequency === 'number' ? `${frequency} ms` : frequency;
  // From each sample, that period and the ones after it: two periods that share a name are found as the
  // second reading back as the first. A period in ms need not line up with the format's units (45 s periods
  // named by the minute share a name only where two starts fall in one minute): more of them are tried.
  const periods = typeof frequency === 'number' ? CONSECUTIVE_PERIODS_MS : CONSECUTIVE_PERIODS_NAMED;
  for (const sample of SAMPLE_INSTANTS) {
    let period = periodOf(sample, frequency, timeZone);
    for (let i = 0; i < periods; i++, period = periodOf(period.next, frequency, timeZone)) {
      const { start } = period;
      const text = formatPeriod(start, dateFormat, timeZone);
      const readBack = periodNamed(text, { activeName: '', dateFormat, timeZone, frequency });
      if (readBack !== start) {
        const readAs = readBack === null ? 'no period' : `the period starting ${new Date(readBack).toISOString()}`;
        return (
          `it does not tell ${every} periods apart: ${JSON.stringify(text)} names the period starting ` +
          `${new Date(start).toISOString()} but reads back as ${readAs}`
        );
      }
    }
  }
  return null;
}

/** Consecutive periods periodProblem tries from each sample instant. */
const CONSECUTIVE_PERIODS_NAMED = 2;
const CONSECUTIVE_PERIODS_MS = 16;

/**
 * date-fns' tokenizer for format strings: an ordinal token, a run of one letter, an escaped quote, a quoted
 * literal, or any other single character (the same pattern date-fns' `format` uses).
 */
const FORMAT_TOKEN = /[yYQqMLwIdDecihHKkms]o|(\w)\1*|''|'(''|[^'])+('|$)|./g;

/**
 * The reason for refusing a week-numbering year (`Y`, `YYYY`) or day-of-year (`D`, `DD`) token, which are
 * almost always typos for `y`/`d`. date-fns throws for some of them and `console.warn`s for all of them on
 * every call, so they are refused here before date-fns sees them.
 */
function findProtectedToken(dateFormat: string): string | null {
  for (const [token] of dateFormat.matchAll(FORMAT_TOKEN)) {
    if (/^Y+$/.test(token)) {
      return `it uses ${token} (week-numbering year); use ${'y'.repeat(token.length)} for the calendar year`;
    }
    if (/^D+$/.test(token)) {
      return `it uses ${token} (day of the year); use ${'d'.repeat(Math.min(token.length, 2))} for the day of the month`;
    }
  }
  return null;
}

/** Instants the date format is tried on: ordinary ones and both ends of a year, with odd fields. */
const SAMPLE_INSTANTS: readonly number[] = [
  Date.UTC(2026, 10, 25, 13, 45, 30, 123),
  Date.UTC(2026, 0, 1, 0, 0, 0, 0),
  Date.UTC(2027, 11, 31, 23, 59, 59, 999),
  Date.UTC(2026, 6, 4, 7, 8, 9, 10),
];

/** Longer than any calendar period a format can name (a year, plus slack for a leap year and offsets). */
const MAX_PERIOD_MS = 368 * 86_400_000;

/** Why formatted date text cannot be part of a file name, or null. */
function textProblem(text: string): string | null {
  if (text === '') return 'it produces an empty string';
  if (text.includes('/')) return "it produces '/'";
  if (text.includes('\\')) return "it produces '\\'";
  if (text.includes('..')) return "it produces '..'";
  if (text.includes('\0')) return 'it produces a NUL character';
  // A newline or tab in a file name breaks every tool that reads names line by line (ls, find, shippers' globs).
  if (/[\x01-\x1f\x7f]/.test(text)) return 'it produces a control character (a newline, a tab …)';
  return null;
}

/**
 * `app.log` → stem `app`, ext `.log`; `app` → stem `app`, ext `''`. A numeric extension is part of the
 * stem: `app.1` → stem `app.1`, ext `''`. Split, the archives of `app.1` (`app.<date>.1`) would read as
 * archives of an `app` in the same directory (index 1), and its retention would delete them.
 */
function splitActiveName(activeName: string): { stem: string; ext: string } {
  const ext = path.extname(activeName);
  if (/^\.[0-9]+$/.test(ext)) return { stem: activeName, ext: '' };
  return { stem: activeName.slice(0, activeName.length - ext.length), ext };
}

/**
 * The ways the part between `stem.` and the extension can be read, in the order they are tried: all of it is
 * the date (index 0), or a trailing `.<n>` (n >= 1, no leading zero) is the index. The date text itself may
 * contain dots. Both readings cannot succeed for one format: a format's text has a fixed number of dots
 * (quoted literals; no date-fns token prints a dot except `aaaa`'s fixed "a.m."/"p.m.").
 */
function dateAndIndexCandidates(middle: string): Array<{ dateText: string; index: number }> {
  const candidates = [{ dateText: middle, index: 0 }];
  const indexed = /^(.+)\.([1-9][0-9]*)$/.exec(middle);
  if (indexed?.[1] !== undefined && indexed[2] !== undefined && Number.isSafeInteger(Number(indexed[2]))) {
    candidates.push({ dateText: indexed[1], index: Number(indexed[2]) });
  }
  return candidates;
}

/** Reference date of `parse` for fields a format lacks: the epoch, so a missing year shows as 1970. */
const PARSE_REFERENCE = new Date(0);

/** How far from the instant a name parses to the period it names may start because of an offset change. */
const OFFSET_CHANGE_WINDOW_MS = 3 * 3_600_000;

/**
 * The period start that `dateText` names, or null if date-fns cannot parse it or no instant near the parsed
 * one formats back to exactly `dateText`.
 *
 * - Text with an explicit UTC offset (`x`, `X` tokens) is parsed in UTC and then shifted by that offset. In
 *   the zone itself, date-fns first resolves the wall time in the zone, and a wall time that falls in a DST
 *   gap comes out an hour late (America/St_Johns `2005-04-03T01-0230`).
 * - An hour cut short by an offset change that is not a whole hour starts at the change: Lord_Howe's
 *   `2026-04-05T01+1030` starts at 15:00Z, but reads as 01:00+10:30 = 14:30Z, an instant that the zone
 *   shows as `01+1100`. So if the parsed instant does not format back, the offset changes within a few hours
 *   of it are tried instead; the same repairs a wall time without offset that date-fns moved out of a gap.
 */
function readPeriodStart(dateText: string, scheme: Pick<NameScheme, 'dateFormat' | 'timeZone'>): number | null {
  const { dateFormat, timeZone } = scheme;
  const parseZone = hasOffsetToken(dateFormat) ? 'UTC' : timeZone;
  const parsed =
    parseZone === 'local'
      ? parse(dateText, dateFormat, PARSE_REFERENCE).getTime()
      : parse(dateText, dateFormat, PARSE_REFERENCE, { in: tz(parseZone) }).getTime();
  if (!Number.isFinite(parsed)) return null;
  if (formatPeriod(parsed, dateFormat, timeZone) === dateText) return parsed;
  for (const change of offsetChangesNear(parsed, timeZone)) {
    if (formatPeriod(change, dateFormat, timeZone) === dateText) return change;
  }
  // date-fns builds the parsed wall time in the process's own zone first, whatever zone it is given: a wall
  // time in that zone's DST gap comes out shifted by the gap, half an hour in Australia/Lord_Howe
  // (`2026-10-04T02-00+0000` read as 02:30Z with TZ=Australia/Lord_Howe).
  for (const shift of PROCESS_GAP_SHIFTS_MS) {
    if (formatPeriod(parsed + shift, dateFormat, timeZone) === dateText) return parsed + shift;
  }
  return parseZone === 'UTC' ? null : readAsWallTime(dateText, dateFormat, timeZone);
}

/**
 * The last resort of readPeriodStart, without date-fns' zone arithmetic (which goes through the process's
 * zone, and can be a day off near an offset change of both zones: Santiago's `2026-04-05` under
 * TZ=Australia/Sydney): the text read as a UTC wall time, less each offset the zone has within half a day
 * of it, give or take a DST gap of the process's zone; the first instant that formats back to the text.
 */
function readAsWallTime(dateText: string, dateFormat: string, timeZone: string): number | null {
  const wall = parse(dateText, dateFormat, PARSE_REFERENCE, { in: tz('UTC') }).getTime();
  if (!Number.isFinite(wall)) return null;
  const offsets = new Set<number>();
  for (let hours = -14; hours <= 14; hours++) offsets.add(zoneOffsetMinutes(wall + hours * 3_600_000, timeZone) * 60_000);
  for (const offset of offsets) {
    for (const shift of [0, ...PROCESS_GAP_SHIFTS_MS]) {
      const candidate = wall - offset + shift;
      if (formatPeriod(candidate, dateFormat, timeZone) === dateText) return candidate;
    }
  }
  return null;
}

/** What a DST gap of the process's zone can shift a parsed instant by: half an hour or an hour, either way. */
const PROCESS_GAP_SHIFTS_MS = [-1_800_000, 1_800_000, -3_600_000, 3_600_000];

/** Whether the format writes the UTC offset (`x`, `xx`, `xxx`, `X` ...), which makes its text an exact instant. */
function hasOffsetToken(dateFormat: string): boolean {
  for (const [token] of dateFormat.matchAll(FORMAT_TOKEN)) {
    if (/^[xX]+$/.test(token)) return true;
  }
  return false;
}

/**
 * The instants within OFFSET_CHANGE_WINDOW_MS before and after `t` at which the zone's UTC offset changes
 * (at most one on each side: offsets do not change twice within a few hours).
 */
function offsetChangesNear(t: number, timeZone: string): number[] {
  const changes: number[] = [];
  const offset = zoneOffsetMinutes(t, timeZone);
  const before = t - OFFSET_CHANGE_WINDOW_MS;
  const after = t + OFFSET_CHANGE_WINDOW_MS;
  if (zoneOffsetMinutes(before, timeZone) !== offset) changes.push(firstChange(before, t, timeZone));
  if (zoneOffsetMinutes(after, timeZone) !== offset) changes.push(firstChange(t, after, timeZone));
  return changes;
}

/** Binary search for the first instant in (lo, hi] whose offset differs from lo's, given that hi's does. */
function firstChange(lo: number, hi: number, timeZone: string): number {
  const offset = zoneOffsetMinutes(lo, timeZone);
  while (hi - lo > 1) {
    const mid = Math.floor(lo + (hi - lo) / 2);
    if (zoneOffsetMinutes(mid, timeZone) === offset) lo = mid;
    else hi = mid;
  }
  return hi;
}
