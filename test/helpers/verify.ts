/**
 * Verifier of a directory written by test/fixtures/stress-writer.mjs processes.
 *
 * It reads every file of the directory (plain, and `.gz` through gunzip), parses every line
 * `<writer> <seq> <t> <payload>`, regenerates the payload from (writer, seq) and compares it byte for
 * byte, and checks the archives against the 'rotate' events the writers reported. It only reads.
 *
 * What it checks:
 * - every expected (writer, seq) is present exactly once (missing, duplicated, unexpected);
 * - every line is whole: it parses, its payload matches, it does not contain a second header (torn);
 * - archivesNeverOverwritten: every archive named by an event exists, no archive is named by two events,
 *   every archive on disk was named by exactly one event;
 * - misplaced: lines whose t lies outside the period of the file that holds them (a figure, not a failure:
 *   a line handed to write() just before a boundary may legitimately be flushed into the new file).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { prng } from './prng.js';

/** Payload of the 'rotate' event as the writers report it (extra fields are ignored). */
export interface ReportedRotate {
  archive: string | null;
  periodStart: number;
  previousPeriodStart: number | null;
  /** Which writer saw the event; filled in by the test harness. */
  writer?: string;
}

export interface Expected {
  writers: string[];
  /** Lines per writer (seq 0 … n-1); a number for all writers or one number per writer. */
  linesPerWriter: number | Record<string, number>;
  /** Name of the active file. Default 'app.log'. */
  activeName?: string;
  /**
   * A first line of a file that starts with this is the file's header (the `header` option), not a
   * line: it is reported in FileReport.header. Anywhere else it is a torn line as usual. Default: none.
   */
  headerPrefix?: string;
}

/** One line that is not a whole, correct line. */
export interface TornLine {
  file: string;
  lineNo: number;
  reason: 'unparseable' | 'payload-mismatch' | 'merged' | 'no-final-newline';
  /** The first 120 characters of the line. */
  head: string;
  length: number;
}

export interface FileReport {
  name: string;
  kind: 'active' | 'archive' | 'other';
  gz: boolean;
  bytes: number;
  lines: number;
  /** Start of the period the file belongs to, when known (event for archives, last period for the active file). */
  periodStart: number | null;
  /** Where periodStart came from. */
  periodSource: 'event' | 'name' | 'last-event' | 'state' | null;
  /** Lines per writer in this file. */
  writers: Record<string, number>;
  /** Lines with t before the file's period (buffered across a boundary, flushed into the new file). */
  misplacedEarly: number;
  /** Lines with t at or after the end of the file's period (appended to an ended period's file). */
  misplacedLate: number;
  /** How far (ms) the earliest early line lies before the period, and the latest late line after its end. */
  misplacedMaxMs: { early: number; late: number };
  /** Lines of one writer that come after a later line of the same writer in this file. */
  reordered: number;
  /** The file's first line without its newline when it starts with Expected.headerPrefix, else null. */
  header: string | null;
  /** Per writer: the largest t (time of the write() call) among its lines in this file. */
  maxT: Record<string, number>;
}

export interface VerifyReport {
  dir: string;
  filesRead: number;
  files: FileReport[];
  linesFound: number;
  /** Number of lines expected (sum over writers). */
  expected: number;
  missing: { count: number; examples: string[] };
  duplicated: { count: number; examples: string[] };
  /** Whole lines from an unknown writer or with a seq out of range. */
  unexpected: { count: number; examples: string[] };
  torn: { count: number; examples: TornLine[] };
  /** Archive file names named by rotate events (archive !== null), one entry per event. */
  archivesFromEvents: string[];
  /** Archive file names found on disk. */
  archivesOnDisk: string[];
  archivesNeverOverwritten: boolean;
  /** Why archivesNeverOverwritten is false, one sentence per problem. */
  archiveProblems: string[];
  /** Archives that hold no line (an empty period should produce no archive). */
  emptyArchives: string[];
  /** Periods (ISO start) that have more than one archive, e.g. `2026-11-25T10:00:00.200Z: a.log, a.1.log`. */
  periodsWithSeveralArchives: string[];
  /** Archives whose name does not encode the previousPeriodStart of the event that created them. */
  archiveNameMismatches: string[];
  /** Start of the period of the active file, when known. */
  activePeriodStart: number | null;
  /** misplacedEarly + misplacedLate over all files; null when periodMs was not given. */
  misplaced: number | null;
  misplacedEarly: number | null;
  misplacedLate: number | null;
  /** Largest distance (ms) of a misplaced line from its file's period, early and late; null without periodMs. */
  misplacedMaxMs: { early: number; late: number } | null;
  /** Files whose period is unknown, so their lines were not checked for placement. */
  unplacedFiles: string[];
  reordered: number;
  /** Hidden files other than the state file and the lock directory (temp files left behind). */
  tempFiles: string[];
  /** Whether the lock directory is still present. */
  lockDirPresent: boolean;
  /** Non-hidden files that are neither the active file nor an archive of it. */
  foreignFiles: string[];
  /** No line missing, duplicated, unexpected or torn, archives never overwritten, no temp file left. */
  ok: boolean;
}

const EXAMPLES = 10;
const NEWLINE = 0x0a;
const HASH = 0x23;
const SPACE = 0x20;

// ---- payload generator: MUST stay identical to test/fixtures/stress-writer.mjs (prng: ./prng.ts) ---

/** FNV-1a 32-bit hash of a string. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}


const payloadScratch = Buffer.allocUnsafe(2000);

/** Whether bytes equal the payload of (writer, seq): 10–2000 letters a–z. */
function payloadMatches(writer: string, seq: number, bytes: Buffer): boolean {
  const next = prng(hash32(`${writer}:${seq}`));
  const length = 10 + (next() % 1991);
  if (bytes.length !== length) return false;
  for (let i = 0; i < length; i++) payloadScratch[i] = 97 + (next() % 26);
  return bytes.equals(payloadScratch.subarray(0, length));
}

/** The payload of (writer, seq) as a string, for tests that write known lines themselves. */
export function payloadOf(writer: string, seq: number): string {
  const next = prng(hash32(`${writer}:${seq}`));
  const length = 10 + (next() % 1991);
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = 97 + (next() % 26);
  return bytes.toString('latin1');
}

/** A whole line in the stress format, newline included. */
export function lineOf(writer: string, seq: number, t: number): string {
  return `${writer} ${seq} ${t} ${payloadOf(writer, seq)}\n`;
}

// ---- names -----------------------------------------------------------------------------------------

/** `yyyy-MM-dd` or `yyyy-MM-dd'T'HH-mm-ss-SSSxx`, then an optional `.<n>` collision index. */
const ARCHIVE_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})-(\d{2})-(\d{2})-(\d{3})([+-])(\d{2})(\d{2}))?(?:\.(\d+))?$/;

interface ArchiveName {
  /** Period start encoded in the name (UTC when the name has no offset). */
  periodStart: number;
  gz: boolean;
  /** The name without '.gz'. */
  plain: string;
}

/**
 * Parses `<stem>.<date>[.<n>]<ext>[.gz]` where date is `yyyy-MM-dd` or `yyyy-MM-dd'T'HH-mm-ss-SSSxx`
 * (the formats of 'daily' and of a period in ms). Returns null for any other name.
 */
function parseArchiveName(name: string, activeName: string): ArchiveName | null {
  const ext = path.extname(activeName);
  const stem = activeName.slice(0, activeName.length - ext.length);
  if (!name.startsWith(`${stem}.`)) return null;
  const gz = name.endsWith('.gz');
  const plain = gz ? name.slice(0, -3) : name;
  if (!plain.endsWith(ext)) return null;
  const middle = plain.slice(stem.length + 1, plain.length - ext.length);
  const m = ARCHIVE_DATE.exec(middle);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', ms = '0', sign = '+', oh = '0', om = '0'] = m;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms));
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return { periodStart: local - offsetMs, gz, plain };
}

/** Period start stored in the state file, if the file exists and has a numeric periodStart. */
function readStatePeriodStart(dir: string, activeName: string): number | null {
  try {
    const state: unknown = JSON.parse(fs.readFileSync(path.join(dir, `.${activeName}.state`), 'utf8'));
    if (state && typeof state === 'object' && 'periodStart' in state && typeof state.periodStart === 'number') {
      return state.periodStart;
    }
    return null;
  } catch {
    // No state file or another shape: the active file's period is then taken from the events only.
    return null;
  }
}

// ---- lines ------------------------------------------------------------------------------------------

function parseUint(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n;
}

/** The ` <seq> <t> ` part of a header. Payloads are letters only, so each match is one header. */
const HEADER_CORE = / \d+ \d{13} /g;

/** How many headers a piece of a line contains: more than belong there means lines were merged. */
function countHeaders(buf: Buffer, start: number, end: number): number {
  return buf.toString('latin1', start, end).match(HEADER_CORE)?.length ?? 0;
}

interface ParsedLine {
  writer: string;
  seq: number;
  t: number;
}

/**
 * Parses one line (without its newline). Returns the header, or the reason it is not a whole line.
 */
function parseLine(buf: Buffer, start: number, end: number): ParsedLine | TornLine['reason'] {
  const header = parseHeader(buf, start, end);
  if (header === null) {
    // A line that does not start with a header but holds one: the head of a line was cut off and glued.
    return countHeaders(buf, start, end) > 0 ? 'merged' : 'unparseable';
  }
  const { writer, seq, t, payloadStart } = header;
  if (payloadMatches(writer, seq, buf.subarray(payloadStart, end))) return { writer, seq, t };
  return countHeaders(buf, payloadStart - 1, end) > 0 ? 'merged' : 'payload-mismatch';
}

/** `<writer> <seq> <t> ` at the start of a line, or null. */
function parseHeader(buf: Buffer, start: number, end: number): (ParsedLine & { payloadStart: number }) | null {
  const s1 = buf.indexOf(SPACE, start);
  if (s1 < 0 || s1 >= end || s1 === start) return null;
  const s2 = buf.indexOf(SPACE, s1 + 1);
  if (s2 < 0 || s2 >= end) return null;
  const s3 = buf.indexOf(SPACE, s2 + 1);
  if (s3 < 0 || s3 >= end) return null;
  const seq = parseUint(buf, s1 + 1, s2);
  const t = parseUint(buf, s2 + 1, s3);
  if (seq < 0 || t < 0) return null;
  return { writer: buf.toString('latin1', start, s1), seq, t, payloadStart: s3 + 1 };
}

// ---- the verifier -------------------------------------------------------------------------------------

/**
 * Reads every file of dir and checks it against the expected lines and the reported rotate events.
 * periodMs (for a frequency in ms, or 86_400_000 for 'daily' in UTC) enables the placement check.
 */
export function verifyDir(
  dir: string,
  expected: Expected,
  rotateEvents: readonly ReportedRotate[],
  periodMs?: number,
): VerifyReport {
  const activeName = expected.activeName ?? 'app.log';
  const expectedLines = (writer: string): number =>
    typeof expected.linesPerWriter === 'number' ? expected.linesPerWriter : (expected.linesPerWriter[writer] ?? 0);
  const expectedTotal = expected.writers.reduce((sum, w) => sum + expectedLines(w), 0);

  // Archives named by events, keyed by plain file name.
  const archivesFromEvents: string[] = [];
  const eventsByArchive = new Map<string, ReportedRotate[]>();
  for (const e of rotateEvents) {
    if (e.archive === null) continue;
    const base = path.basename(e.archive);
    const name = base.endsWith('.gz') ? base.slice(0, -3) : base;
    archivesFromEvents.push(name);
    const list = eventsByArchive.get(name) ?? [];
    list.push(e);
    eventsByArchive.set(name, list);
  }
  const lastPeriodFromEvents = rotateEvents.reduce<number | null>(
    (max, e) => (max === null || e.periodStart > max ? e.periodStart : max),
    null,
  );
  let activePeriodStart = lastPeriodFromEvents;
  let activePeriodSource: FileReport['periodSource'] = activePeriodStart === null ? null : 'last-event';
  if (activePeriodStart === null) {
    activePeriodStart = readStatePeriodStart(dir, activeName);
    activePeriodSource = activePeriodStart === null ? null : 'state';
  }

  const seen = new Map<string, Uint8Array>(); // writer -> count per seq (saturating at 255)
  for (const w of expected.writers) seen.set(w, new Uint8Array(expectedLines(w)));
  const duplicated = { count: 0, examples: [] as string[] };
  const unexpected = { count: 0, examples: [] as string[] };
  const torn = { count: 0, examples: [] as TornLine[] };
  const files: FileReport[] = [];
  const tempFiles: string[] = [];
  const foreignFiles: string[] = [];
  const archivesOnDisk: string[] = [];
  let lockDirPresent = false;
  let linesFound = 0;

  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) {
      if (entry.name === `.${activeName}.lock`) lockDirPresent = true;
      else if (entry.name !== `.${activeName}.state`) tempFiles.push(entry.name);
      continue;
    }
    if (!entry.isFile()) {
      foreignFiles.push(entry.name);
      continue;
    }
    const archiveName = parseArchiveName(entry.name, activeName);
    const kind: FileReport['kind'] = entry.name === activeName ? 'active' : archiveName ? 'archive' : 'other';
    if (kind === 'other') foreignFiles.push(entry.name);
    if (kind === 'archive') archivesOnDisk.push(entry.name);

    const raw = fs.readFileSync(path.join(dir, entry.name));
    const gz = entry.name.endsWith('.gz');
    const buf = gz ? zlib.gunzipSync(raw) : raw;

    let periodStart: number | null = null;
    let periodSource: FileReport['periodSource'] = null;
    if (kind === 'active') {
      periodStart = activePeriodStart;
      periodSource = activePeriodSource;
    } else if (archiveName) {
      const event = eventsByArchive.get(archiveName.plain)?.[0];
      if (event && event.previousPeriodStart !== null) {
        periodStart = event.previousPeriodStart;
        periodSource = 'event';
      } else {
        periodStart = archiveName.periodStart;
        periodSource = 'name';
      }
    }

    const report: FileReport = {
      name: entry.name,
      kind,
      gz,
      bytes: buf.length,
      lines: 0,
      periodStart,
      periodSource,
      writers: {},
      misplacedEarly: 0,
      misplacedLate: 0,
      misplacedMaxMs: { early: 0, late: 0 },
      reordered: 0,
      header: null,
      maxT: {},
    };
    const lastSeqOf = new Map<string, number>();

    let start = 0;
    let lineNo = 0;
    while (start < buf.length) {
      let end = buf.indexOf(NEWLINE, start);
      const finalNewline = end >= 0;
      if (!finalNewline) end = buf.length;
      lineNo++;
      if (lineNo === 1 && finalNewline && expected.headerPrefix !== undefined) {
        const first = buf.toString('latin1', start, end);
        if (first.startsWith(expected.headerPrefix)) {
          report.header = first;
          start = end + 1;
          continue;
        }
      }
      const parsed = finalNewline ? parseLine(buf, start, end) : 'no-final-newline';
      if (typeof parsed === 'string') {
        torn.count++;
        if (torn.examples.length < EXAMPLES) {
          torn.examples.push({
            file: entry.name,
            lineNo,
            reason: parsed,
            head: buf.toString('latin1', start, Math.min(end, start + 120)),
            length: end - start,
          });
        }
      } else {
        linesFound++;
        report.lines++;
        report.writers[parsed.writer] = (report.writers[parsed.writer] ?? 0) + 1;
        report.maxT[parsed.writer] = Math.max(report.maxT[parsed.writer] ?? 0, parsed.t);
        const counts = seen.get(parsed.writer);
        const id = `${parsed.writer}#${parsed.seq}`;
        if (!counts || parsed.seq >= counts.length) {
          unexpected.count++;
          if (unexpected.examples.length < EXAMPLES) unexpected.examples.push(`${id} in ${entry.name}:${lineNo}`);
        } else {
          if (counts[parsed.seq]! >= 1) {
            duplicated.count++;
            if (duplicated.examples.length < EXAMPLES) {
              duplicated.examples.push(`${id} again in ${entry.name}:${lineNo}`);
            }
          }
          if (counts[parsed.seq]! < 255) counts[parsed.seq]!++;
        }
        const lastSeq = lastSeqOf.get(parsed.writer);
        if (lastSeq !== undefined && parsed.seq < lastSeq) report.reordered++;
        lastSeqOf.set(parsed.writer, parsed.seq);
        if (periodMs !== undefined && periodStart !== null) {
          if (parsed.t < periodStart) {
            report.misplacedEarly++;
            report.misplacedMaxMs.early = Math.max(report.misplacedMaxMs.early, periodStart - parsed.t);
          } else if (parsed.t >= periodStart + periodMs) {
            report.misplacedLate++;
            report.misplacedMaxMs.late = Math.max(report.misplacedMaxMs.late, parsed.t - (periodStart + periodMs) + 1);
          }
        }
      }
      start = end + 1;
    }
    files.push(report);
  }

  const missing = { count: 0, examples: [] as string[] };
  for (const [writer, counts] of seen) {
    for (let seq = 0; seq < counts.length; seq++) {
      if (counts[seq] === 0) {
        missing.count++;
        if (missing.examples.length < EXAMPLES) missing.examples.push(`${writer}#${seq}`);
      }
    }
  }

  // Archives: one event per archive, one archive per event.
  const archiveProblems: string[] = [];
  const onDiskPlain = new Map<string, string[]>(); // plain name -> names on disk (name and/or name.gz)
  for (const name of archivesOnDisk) {
    const plain = name.endsWith('.gz') ? name.slice(0, -3) : name;
    onDiskPlain.set(plain, [...(onDiskPlain.get(plain) ?? []), name]);
  }
  for (const [name, events] of eventsByArchive) {
    if (events.length > 1) {
      const by = events.map((e) => e.writer ?? '?').join(', ');
      archiveProblems.push(`${name} was reported by ${events.length} rotate events (writers ${by})`);
    }
    if (!onDiskPlain.has(name)) archiveProblems.push(`${name} was reported by a rotate event but is not on disk`);
  }
  for (const [plain, names] of onDiskPlain) {
    if (!eventsByArchive.has(plain)) {
      archiveProblems.push(`${names.join(' + ')} is on disk but no rotate event reported it`);
    }
    if (names.length > 1) archiveProblems.push(`${names.join(' and ')} both exist (compressed and plain copy)`);
  }

  const archiveNameMismatches: string[] = [];
  for (const [name, events] of eventsByArchive) {
    const parsedName = parseArchiveName(name, activeName);
    const prev = events[0]?.previousPeriodStart ?? null;
    if (parsedName && prev !== null && parsedName.periodStart !== prev) {
      const encoded = new Date(parsedName.periodStart).toISOString();
      archiveNameMismatches.push(`${name} encodes ${encoded}, event says ${new Date(prev).toISOString()}`);
    }
  }

  const archivesByPeriod = new Map<number, string[]>();
  for (const f of files) {
    if (f.kind !== 'archive' || f.periodStart === null) continue;
    archivesByPeriod.set(f.periodStart, [...(archivesByPeriod.get(f.periodStart) ?? []), f.name]);
  }
  const periodsWithSeveralArchives = [...archivesByPeriod]
    .filter(([, names]) => names.length > 1)
    .map(([start, names]) => `${new Date(start).toISOString()}: ${names.join(', ')}`);

  const placed = periodMs !== undefined;
  const misplacedEarly = placed ? files.reduce((n, f) => n + f.misplacedEarly, 0) : null;
  const misplacedLate = placed ? files.reduce((n, f) => n + f.misplacedLate, 0) : null;
  const archivesNeverOverwritten = archiveProblems.length === 0;

  return {
    dir,
    filesRead: files.length,
    files,
    linesFound,
    expected: expectedTotal,
    missing,
    duplicated,
    unexpected,
    torn,
    archivesFromEvents,
    archivesOnDisk,
    archivesNeverOverwritten,
    archiveProblems,
    emptyArchives: files.filter((f) => f.kind === 'archive' && f.lines === 0).map((f) => f.name),
    periodsWithSeveralArchives,
    archiveNameMismatches,
    activePeriodStart,
    misplaced: placed ? misplacedEarly! + misplacedLate! : null,
    misplacedEarly,
    misplacedLate,
    misplacedMaxMs: placed
      ? {
          early: Math.max(0, ...files.map((f) => f.misplacedMaxMs.early)),
          late: Math.max(0, ...files.map((f) => f.misplacedMaxMs.late)),
        }
      : null,
    unplacedFiles: placed ? files.filter((f) => f.periodStart === null).map((f) => f.name) : [],
    reordered: files.reduce((n, f) => n + f.reordered, 0),
    tempFiles,
    lockDirPresent,
    foreignFiles,
    ok:
      missing.count === 0 &&
      duplicated.count === 0 &&
      unexpected.count === 0 &&
      torn.count === 0 &&
      archivesNeverOverwritten &&
      tempFiles.length === 0,
  };
}

/** One line for logs: the figures of a report, and the first problems when it is not ok. */
export function formatReport(r: VerifyReport): string {
  const parts = [
    r.ok ? 'OK' : 'NOT OK',
    `files=${r.filesRead}`,
    `lines=${r.linesFound}/${r.expected}`,
    `missing=${r.missing.count}`,
    `duplicated=${r.duplicated.count}`,
    `unexpected=${r.unexpected.count}`,
    `torn=${r.torn.count}`,
    `archives=${r.archivesOnDisk.length} (events ${r.archivesFromEvents.length})`,
    `neverOverwritten=${r.archivesNeverOverwritten}`,
    r.misplacedMaxMs
      ? `misplaced=${r.misplaced} (early ${r.misplacedEarly} by ≤${r.misplacedMaxMs.early} ms, ` +
        `late ${r.misplacedLate} by ≤${r.misplacedMaxMs.late} ms)`
      : 'misplaced=n/a',
    `reordered=${r.reordered}`,
    `emptyArchives=${r.emptyArchives.length}`,
    `tempFiles=${r.tempFiles.length}`,
    `lockDir=${r.lockDirPresent ? 'present' : 'gone'}`,
  ];
  if (r.missing.count > 0) parts.push(`missing e.g. ${r.missing.examples.slice(0, 3).join(' ')}`);
  if (r.duplicated.count > 0) parts.push(`duplicated e.g. ${r.duplicated.examples.slice(0, 3).join('; ')}`);
  if (r.unexpected.count > 0) parts.push(`unexpected e.g. ${r.unexpected.examples.slice(0, 3).join('; ')}`);
  if (r.torn.count > 0) {
    const t = r.torn.examples[0]!;
    parts.push(`torn e.g. ${t.file}:${t.lineNo} ${t.reason} len=${t.length} ${JSON.stringify(t.head.slice(0, 60))}`);
  }
  if (r.archiveProblems.length > 0) parts.push(`archive problems: ${r.archiveProblems.slice(0, 3).join('; ')}`);
  if (r.periodsWithSeveralArchives.length > 0) {
    parts.push(`several archives for ${r.periodsWithSeveralArchives.slice(0, 2).join('; ')}`);
  }
  if (r.archiveNameMismatches.length > 0) {
    parts.push(`name mismatches: ${r.archiveNameMismatches.slice(0, 2).join('; ')}`);
  }
  if (r.tempFiles.length > 0) parts.push(`temp files: ${r.tempFiles.slice(0, 5).join(' ')}`);
  if (r.foreignFiles.length > 0) parts.push(`foreign files: ${r.foreignFiles.slice(0, 5).join(' ')}`);
  return parts.join(' | ');
}

/** Where the lines of one directory's files are that a follower's copy lacks. */
export interface UnshippedFile {
  name: string;
  lines: number;
  /** Lines of this file absent from the copy. */
  missing: number;
  /** How many of those are the file's last lines (a tail the follower never read). */
  missingAtEnd: number;
}

/**
 * For every non-hidden file of dir: how many of its lines (`<writer> <seq> …`) are absent from `copy`
 * (a follower's output), and how many of those form the file's tail. Only reads.
 */
export function unshippedByFile(dir: string, copy: string): UnshippedFile[] {
  // A line is known by its `<writer> <seq>`; a header line (`# …`, distinct per file) by all of it.
  const key = (line: string): string => (line.startsWith('#') ? line : line.slice(0, line.indexOf(' ', line.indexOf(' ') + 1)));
  const shipped = new Set<string>();
  for (const line of fs.readFileSync(copy, 'latin1').split('\n')) if (line) shipped.add(key(line));
  const result: UnshippedFile[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || !entry.isFile()) continue;
    const lines = fs.readFileSync(path.join(dir, entry.name), 'latin1').split('\n').filter(Boolean);
    const absent = lines.map((line) => !shipped.has(key(line)));
    let missingAtEnd = 0;
    while (missingAtEnd < absent.length && absent[absent.length - 1 - missingAtEnd]) missingAtEnd++;
    result.push({ name: entry.name, lines: lines.length, missing: absent.filter(Boolean).length, missingAtEnd });
  }
  return result;
}

/** What a follower's copy holds, judged against the files it followed. */
export interface CopyReport {
  /** Lines in the copy. */
  linesFound: number;
  /** Lines on disk (the reference: check it with verifyDir). */
  expected: number;
  /** Lines on disk that the copy lacks. */
  missing: { count: number; examples: string[] };
  /** Lines the copy holds more than once. */
  duplicated: { count: number; examples: string[] };
  /** Lines of the copy that are on disk under no such `<writer> <seq>`, or whose bytes differ from the disk's. */
  unexpected: { count: number; examples: string[] };
  /** A last line without its newline. */
  unterminated: boolean;
  ok: boolean;
}

/**
 * Compares a follower's copy (one file, lines in any order) with the lines of every non-hidden file of
 * dir, byte for byte: every disk line must be in the copy exactly once and the copy must hold nothing
 * else. Cheaper than verifyDir on the copy (no payload regeneration); the disk itself is checked by
 * verifyDir. Only reads.
 */
export function verifyCopy(dir: string, copy: string): CopyReport {
  // A line is known by its `<writer> <seq>`; a header line (`# …`, distinct per file) by all of it.
  const keyEnd = (buf: Buffer, start: number, end: number): number => {
    if (buf[start] === HASH) return end;
    const s1 = buf.indexOf(SPACE, start);
    const s2 = s1 < 0 || s1 >= end ? -1 : buf.indexOf(SPACE, s1 + 1);
    return s2 < 0 || s2 >= end ? end : s2;
  };
  const onDisk = new Map<string, { line: Buffer; seen: number }>();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || !entry.isFile()) continue;
    const buf = fs.readFileSync(path.join(dir, entry.name));
    for (let start = 0; start < buf.length; ) {
      let end = buf.indexOf(NEWLINE, start);
      if (end < 0) end = buf.length;
      onDisk.set(buf.toString('latin1', start, keyEnd(buf, start, end)), { line: buf.subarray(start, end), seen: 0 });
      start = end + 1;
    }
  }
  const buf = fs.readFileSync(copy);
  const duplicated = { count: 0, examples: [] as string[] };
  const unexpected = { count: 0, examples: [] as string[] };
  let linesFound = 0;
  for (let start = 0; start < buf.length; ) {
    let end = buf.indexOf(NEWLINE, start);
    if (end < 0) end = buf.length;
    linesFound++;
    const key = buf.toString('latin1', start, keyEnd(buf, start, end));
    const known = onDisk.get(key);
    if (!known || !known.line.equals(buf.subarray(start, end))) {
      unexpected.count++;
      if (unexpected.examples.length < EXAMPLES) unexpected.examples.push(`${key.slice(0, 60)} (line ${linesFound})`);
    } else if (++known.seen > 1) {
      duplicated.count++;
      if (duplicated.examples.length < EXAMPLES) duplicated.examples.push(`${key} (line ${linesFound})`);
    }
    start = end + 1;
  }
  const missing = { count: 0, examples: [] as string[] };
  for (const [key, known] of onDisk) {
    if (known.seen > 0) continue;
    missing.count++;
    if (missing.examples.length < EXAMPLES) missing.examples.push(key);
  }
  const unterminated = buf.length > 0 && buf[buf.length - 1] !== NEWLINE;
  return {
    linesFound,
    expected: onDisk.size,
    missing,
    duplicated,
    unexpected,
    unterminated,
    ok: missing.count === 0 && duplicated.count === 0 && unexpected.count === 0 && !unterminated,
  };
}

/** One line for logs: the figures of a copy report. */
export function formatCopyReport(r: CopyReport): string {
  const parts = [
    r.ok ? 'OK' : 'NOT OK',
    `lines=${r.linesFound}/${r.expected}`,
    `missing=${r.missing.count}`,
    `duplicated=${r.duplicated.count}`,
    `unexpected=${r.unexpected.count}`,
    `unterminated=${r.unterminated}`,
  ];
  if (r.missing.count > 0) parts.push(`missing e.g. ${r.missing.examples.slice(0, 3).join(' ')}`);
  if (r.duplicated.count > 0) parts.push(`duplicated e.g. ${r.duplicated.examples.slice(0, 3).join('; ')}`);
  if (r.unexpected.count > 0) parts.push(`unexpected e.g. ${r.unexpected.examples.slice(0, 3).join('; ')}`);
  return parts.join(' | ');
}
