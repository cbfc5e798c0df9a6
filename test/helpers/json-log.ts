/**
 * Checks a directory written by JSON loggers (winston's json(), pino) through timberlock.
 *
 * Each expected line is a JSON object with `writer` (string) and `seq` (0 … n-1) fields, and `t` or
 * `time` (epoch ms at the log call). The checker reads the active file and every archive, and reports
 * lines missing, duplicated, unexpected or torn (not parseable JSON), the archives per period, and
 * lines that sit in a file whose period had already ended when they were logged (`late`). It only reads.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface JsonLogFile {
  name: string;
  kind: 'active' | 'archive' | 'other';
  /** Period start encoded in an archive name (ms-period or daily format, UTC offset), else null. */
  periodStart: number | null;
  lines: number;
}

export interface JsonLogReport {
  files: JsonLogFile[];
  /** Whole JSON lines found, expected or not. */
  linesFound: number;
  expected: number;
  missing: number;
  duplicated: number;
  unexpected: number;
  torn: number;
  /** Examples of problems, at most 10. */
  examples: string[];
  /** Archives per period start (ISO), for periods that have more than one. */
  periodsWithSeveralArchives: string[];
  /** Lines logged at or after the end of the period of the archive that holds them. */
  late: number;
  /** Lines logged before the period of the archive that holds them (flushed just after a boundary). */
  early: number;
  /** Number of distinct periods (of periodMs) in which expected lines were logged; 0 without periodMs. */
  periodsWithLines: number;
  /** Lines that are not expected ones (other JSON objects), kept for tests that look for them. */
  others: Record<string, unknown>[];
  ok: boolean;
}

const ARCHIVE_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})-(\d{2})-(\d{2})-(\d{3})([+-])(\d{2})(\d{2}))?(?:\.(\d+))?$/;

/** Period start of `<stem>.<date>[.<n>]<ext>`, or null when the name is not an archive of activeName. */
export function archivePeriodStart(name: string, activeName: string): number | null {
  const ext = path.extname(activeName);
  const stem = activeName.slice(0, activeName.length - ext.length);
  if (!name.startsWith(`${stem}.`) || !name.endsWith(ext) || name === activeName) return null;
  const m = ARCHIVE_DATE.exec(name.slice(stem.length + 1, name.length - ext.length));
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', ms = '0', sign = '+', oh = '0', om = '0'] = m;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms));
  return local - (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
}

/**
 * Read every file of dir. `writers` maps each writer to its number of lines; `periodMs` enables the
 * placement check for archives.
 */
export function checkJsonLog(
  dir: string,
  writers: Record<string, number>,
  options: { activeName?: string; periodMs?: number } = {},
): JsonLogReport {
  const activeName = options.activeName ?? 'app.log';
  const seen = new Map<string, Uint8Array>();
  for (const [writer, n] of Object.entries(writers)) seen.set(writer, new Uint8Array(n));
  const report: JsonLogReport = {
    files: [],
    linesFound: 0,
    expected: Object.values(writers).reduce((a, b) => a + b, 0),
    missing: 0,
    duplicated: 0,
    unexpected: 0,
    torn: 0,
    examples: [],
    periodsWithSeveralArchives: [],
    late: 0,
    early: 0,
    periodsWithLines: 0,
    others: [],
    ok: false,
  };
  const note = (text: string): void => {
    if (report.examples.length < 10) report.examples.push(text);
  };
  const byPeriod = new Map<number, string[]>();
  const loggedPeriods = new Set<number>();

  for (const name of fs.readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue; // the state file and the lock directory
    const periodStart = archivePeriodStart(name, activeName);
    const kind: JsonLogFile['kind'] = name === activeName ? 'active' : periodStart !== null ? 'archive' : 'other';
    const file: JsonLogFile = { name, kind, periodStart, lines: 0 };
    report.files.push(file);
    if (kind === 'other') continue;
    if (periodStart !== null) byPeriod.set(periodStart, [...(byPeriod.get(periodStart) ?? []), name]);
    const text = fs.readFileSync(path.join(dir, name), 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) {
      report.torn++;
      note(`${name} does not end with a newline`);
    }
    const lines = text.split('\n');
    lines.pop();
    for (const [index, line] of lines.entries()) {
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(line) as Record<string, unknown>;
      } catch {
        // Not JSON: a torn or merged line, which is exactly what this checker exists to find.
        report.torn++;
        note(`${name}:${index + 1} is not JSON: ${line.slice(0, 80)}`);
        continue;
      }
      report.linesFound++;
      file.lines++;
      const { writer, seq } = value;
      const counts = typeof writer === 'string' ? seen.get(writer) : undefined;
      if (!counts || typeof seq !== 'number' || seq < 0 || seq >= counts.length) {
        report.others.push(value);
        if (typeof writer === 'string' && writer in writers) {
          report.unexpected++;
          note(`${name}:${index + 1} unexpected ${writer}#${String(seq)}`);
        }
        continue;
      }
      if (counts[seq]! > 0) {
        report.duplicated++;
        note(`${writer}#${seq} again in ${name}:${index + 1}`);
      }
      counts[seq] = Math.min(255, counts[seq]! + 1);
      const t = typeof value.t === 'number' ? value.t : typeof value.time === 'number' ? value.time : null;
      if (options.periodMs !== undefined && t !== null) loggedPeriods.add(Math.floor(t / options.periodMs));
      if (options.periodMs !== undefined && periodStart !== null && t !== null) {
        if (t >= periodStart + options.periodMs) report.late++;
        else if (t < periodStart) report.early++;
      }
    }
  }
  for (const [writer, counts] of seen) {
    for (let seq = 0; seq < counts.length; seq++) {
      if (counts[seq] === 0) {
        report.missing++;
        note(`${writer}#${seq} missing`);
      }
    }
  }
  for (const [start, names] of byPeriod) {
    if (names.length > 1) report.periodsWithSeveralArchives.push(`${new Date(start).toISOString()}: ${names.join(', ')}`);
  }
  report.periodsWithLines = loggedPeriods.size;
  report.ok = report.missing === 0 && report.duplicated === 0 && report.unexpected === 0 && report.torn === 0;
  return report;
}

/** One line for assertion messages. */
export function formatJsonLogReport(r: JsonLogReport): string {
  const files = r.files.map((f) => `${f.name}(${f.lines})`).join(' ');
  return (
    `${r.ok ? 'OK' : 'NOT OK'} lines=${r.linesFound}/${r.expected} missing=${r.missing} duplicated=${r.duplicated} ` +
    `unexpected=${r.unexpected} torn=${r.torn} late=${r.late} early=${r.early} periodsWithLines=${r.periodsWithLines} files: ${files}` +
    (r.examples.length ? ` | ${r.examples.slice(0, 5).join('; ')}` : '')
  );
}
