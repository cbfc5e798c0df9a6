import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import zlib from 'node:zlib';
import lockfile from 'proper-lockfile';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { archiveLockPath, maintainArchives, type ArchiveStep, type ArchiveTarget, type MaintenanceResult } from '../src/archive.js';
import { archiveName, type NameScheme } from '../src/naming.js';
import { compressionTempName, recognizeListing, type RetentionPolicy } from '../src/retention.js';
import { useInternalModule } from './helpers/internal-module.js';

const fixture = path.join(import.meta.dirname, 'fixtures', 'archive-child.mjs');
const scheme: NameScheme = { activeName: 'app.log', dateFormat: 'yyyy-MM-dd', timeZone: 'UTC', frequency: 'daily' };
const DAY = 86_400_000;
const today = Math.floor(Date.now() / DAY) * DAY;
const HOOKS = Symbol.for('timberlock.testHooks');

const dirs: string[] = [];
const children: ChildProcess[] = [];
// The children run the compiled src/archive.ts (an internal module until the writer uses it).
const archiveModule = useInternalModule('archive');

afterEach(() => {
  vi.restoreAllMocks();
  delete (globalThis as Record<symbol, unknown>)[HOOKS];
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-archive-'));
  dirs.push(dir);
  return dir;
}

function target(dir: string, policy: Partial<RetentionPolicy> = {}, staleMs = 2000): ArchiveTarget {
  return {
    dir,
    activeName: 'app.log',
    scheme,
    mode: 0o640,
    staleMs,
    policy: { maxFiles: null, maxAgeMs: null, delayMs: 0, compress: true, ...policy },
  };
}

/** A line that does not compress away: `<tag> <seq> <64 hex digits derived from both>`. */
function line(tag: string, seq: number): string {
  return `${tag} ${seq} ${createHash('sha256').update(`${tag}/${seq}`).digest('hex')}`;
}

interface Written {
  name: string;
  lines: string[];
}

/** Write the archive of the day `daysAgo` days before today with `count` lines, last modified `ageMs` ago. */
function writeArchive(
  dir: string,
  daysAgo: number,
  count: number,
  { index = 0, ageMs = 60_000, tag = `d${daysAgo}i${index}` }: { index?: number; ageMs?: number; tag?: string } = {},
): Written {
  const name = archiveName(scheme, today - daysAgo * DAY, index);
  const lines = Array.from({ length: count }, (_, seq) => line(tag, seq));
  fs.writeFileSync(path.join(dir, name), lines.map((l) => `${l}\n`).join(''), { mode: 0o640 });
  setAge(path.join(dir, name), ageMs);
  return { name, lines };
}

/**
 * A run's clock 3 s ahead, once `file` (written last, so both archives of a test qualify) got its name more
 * than 2.1 s ago: with a delay of 5 s the archive is settled when the run lists it, and a line appended
 * during the run makes it young again.
 */
async function clockWhereSettled(file: string): Promise<() => number> {
  const named = fs.statSync(file).ctimeMs;
  await vi.waitFor(() => expect(Date.now() - named).toBeGreaterThan(2100), { timeout: 5000, interval: 50 });
  return () => Date.now() + 3000;
}

/** An archive of yesterday beside a `.gz` of its beginning only (lines were appended after that `.gz` was made). */
function withStaleCopy(dir: string): { written: Written; original: string; bytes: Buffer } {
  const written = writeArchive(dir, 1, 1000, { ageMs: 3_600_000 });
  const original = path.join(dir, written.name);
  const bytes = fs.readFileSync(original);
  fs.writeFileSync(`${original}.gz`, zlib.gzipSync(bytes.subarray(0, bytes.length - 100)));
  return { written, original, bytes };
}

/** At the test hook `step` for `target`, a straggler appends a line to `file`. */
function appendAt(step: string, target: string, file: string): void {
  (globalThis as Record<symbol, unknown>)[HOOKS] = {
    at(reached: string, at: string) {
      if (reached === step && at === target) fs.appendFileSync(file, 'straggler\n');
    },
  };
}

/**
 * The clock of the runs in this process. Every archive here got its name just now (its ctime, which the
 * grace delay counts from, as it does from the mtime): it may lie within the current millisecond, which
 * Date.now() rounds down. With the tests' delayMs of 0, a millisecond later it is settled.
 */
const justAfter = (): number => Date.now() + 1;

function setAge(file: string, ageMs: number): void {
  const time = new Date(Date.now() - ageMs);
  fs.utimesSync(file, time, time);
}

/** Every line of every archive (plain and .gz) of the scheme in `dir`, with how often it occurs. */
function linesOnDisk(dir: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { name, compressed } of recognizeListing(scheme, fs.readdirSync(dir)).archives) {
    if (!fs.lstatSync(path.join(dir, name)).isFile()) continue;
    const bytes = fs.readFileSync(path.join(dir, name));
    const text = (compressed ? zlib.gunzipSync(bytes) : bytes).toString('utf8');
    for (const l of text.split('\n')) if (l !== '') counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  return counts;
}

/** Every expected line is present exactly once across plain and .gz archives, and nothing else is. */
function expectEveryLineOnce(dir: string, written: Written[]): void {
  const counts = linesOnDisk(dir);
  const expected = written.flatMap((w) => w.lines);
  const missing = expected.filter((l) => !counts.has(l));
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([l]) => l);
  expect({ missing: missing.length, duplicated: duplicated.length, found: counts.size }).toEqual({
    missing: 0,
    duplicated: 0,
    found: expected.length,
  });
}

/**
 * No line is lost: every expected line is in some archive and nothing else is. Between a crash at
 * 'gzip-before-unlink' and the repair, an archive exists as both original and .gz, so lines may be there twice.
 */
function expectNothingLost(dir: string, written: Written[]): void {
  const counts = linesOnDisk(dir);
  const expected = new Set(written.flatMap((w) => w.lines));
  expect([...expected].filter((l) => !counts.has(l))).toEqual([]);
  expect([...counts.keys()].filter((l) => !expected.has(l))).toEqual([]);
}

/** Every name ending in .gz (a final name, not hidden) gunzips completely. */
function expectNoIncompleteGzip(dir: string): void {
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.gz') && !n.startsWith('.'))) {
    expect(() => zlib.gunzipSync(fs.readFileSync(path.join(dir, name))), `${name} is complete`).not.toThrow();
  }
}

const tempsIn = (dir: string): string[] => recognizeListing(scheme, fs.readdirSync(dir)).temps;
const plainIn = (dir: string): string[] => recognizeListing(scheme, fs.readdirSync(dir)).archives.filter((a) => !a.compressed).map((a) => a.name);

/** Snapshot of names and contents, to show that a run touched nothing. */
function snapshot(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    const stats = fs.lstatSync(file);
    result[name] = stats.isFile() ? createHash('sha1').update(fs.readFileSync(file)).digest('hex') : stats.isDirectory() ? 'dir' : 'other';
  }
  return result;
}

describe('compression', () => {
  it('gzips every settled archive: the .gz holds exactly the original bytes, the original is gone', async () => {
    const dir = tempDir();
    const originals = new Map<string, Buffer>();
    const write = (daysAgo: number, bytes: Buffer): string => {
      const name = archiveName(scheme, today - daysAgo * DAY, 0);
      fs.writeFileSync(path.join(dir, name), bytes);
      setAge(path.join(dir, name), 3_600_000);
      return name;
    };
    const add = (daysAgo: number, bytes: Buffer): void => {
      originals.set(write(daysAgo, bytes), bytes);
    };
    const empty = write(1, Buffer.alloc(0)); // holds nothing: deleted, not compressed
    add(5, Buffer.from('one line\n'));
    add(2, Buffer.from(Array.from({ length: 256 * 1000 }, (_, i) => i % 256))); // every byte value
    add(3, Buffer.from(Array.from({ length: 30_000 }, (_, i) => `${line('big', i)}\n`).join(''))); // ~2.2 MB, many chunks
    add(4, Buffer.from('no final newline'));
    const mtimes = new Map([...originals.keys()].map((name) => [name, fs.statSync(path.join(dir, name)).mtimeMs]));

    const result = await maintainArchives(target(dir), justAfter);

    expect(result.errors).toEqual([]);
    expect(result.skipped).toBeNull();
    expect(result.removed).toEqual([empty]);
    expect(result.compressed.map((c) => c.from).sort()).toEqual([...originals.keys()].sort());
    for (const [name, bytes] of originals) {
      expect(result.compressed).toContainEqual({ from: name, to: `${name}.gz` });
      expect(fs.existsSync(path.join(dir, name))).toBe(false);
      const gz = path.join(dir, `${name}.gz`);
      expect(zlib.gunzipSync(fs.readFileSync(gz)).equals(bytes)).toBe(true);
      const stats = fs.statSync(gz);
      expect(stats.mode & 0o777).toBe(0o640 & ~process.umask());
      expect(Math.abs(stats.mtimeMs - (mtimes.get(name) ?? 0))).toBeLessThan(1); // like gzip(1)
    }
    expect(fs.readdirSync(dir).sort()).toEqual([...originals.keys()].map((n) => `${n}.gz`).sort()); // no temp, no lock left
  });

  it('touches nothing it did not name: young archives, the active file, locks, state, foreign files, look-alikes', async () => {
    const dir = tempDir();
    // The run's clock is 6 s ahead, so that every archive got its name longer than the 5 s delay before it.
    const sixSecondsLater = (): number => Date.now() + 6000;
    const young = writeArchive(dir, 1, 10, { ageMs: -4500 }); // written 1.5 s before the run's clock
    const old = writeArchive(dir, 2, 10, { ageMs: 3_600_000 });
    for (const name of ['app.log', '.app.log.state', 'other.2026-01-01.log', 'app.2026-01-01.log.bak', 'notes.txt', '.app.2026-01-01.log.gz.tmp']) {
      fs.writeFileSync(path.join(dir, name), `${name}\n`);
      setAge(path.join(dir, name), 100 * DAY);
    }
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // the rotation lock, held
    fs.mkdirSync(path.join(dir, archiveName(scheme, today - 3 * DAY, 0))); // a directory with an archive's name
    fs.writeFileSync(path.join(dir, 'elsewhere.txt'), 'not a log\n');
    fs.symlinkSync(path.join(dir, 'elsewhere.txt'), path.join(dir, archiveName(scheme, today - 4 * DAY, 0))); // a symlink with one
    const before = snapshot(dir);

    const result = await maintainArchives(target(dir, { maxFiles: 0, maxAgeMs: 1000, delayMs: 5000 }), sixSecondsLater);

    expect(result.errors).toEqual([]);
    expect(result.removed).toEqual([old.name]); // the only settled file of ours
    expect(result.compressed).toEqual([]);
    const after = snapshot(dir);
    delete before[old.name];
    expect(after).toEqual(before);
    expect(after[young.name]).toBeDefined();
  });

  it('leaves an archive that just got its name for the delay, however long ago it was written (a straggler may append)', async () => {
    const dir = tempDir();
    const idle = writeArchive(dir, 1, 10, { ageMs: 3_600_000 }); // written an hour ago, renamed just now
    const policy = { maxFiles: 0, delayMs: 5000 };

    expect(await maintainArchives(target(dir, policy), justAfter)).toMatchObject({ errors: [], compressed: [], removed: [] });
    const sixSecondsLater = (): number => Date.now() + 6000;
    expect(await maintainArchives(target(dir, policy), sixSecondsLater)).toMatchObject({ errors: [], removed: [idle.name] });
  });

  it('looks at an expired archive again before deleting it: one a straggler wrote to after the listing waits for the delay', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const file = path.join(dir, written.name);
    // A line appended just before the deletion makes the archive young again.
    const threeSecondsLater = await clockWhereSettled(file);
    appendAt('before-remove', file, file);
    const result = await maintainArchives(target(dir, { maxFiles: 0, compress: false, delayMs: 5000 }), threeSecondsLater);

    expect(result).toMatchObject({ errors: [], removed: [] });
    expect(fs.readFileSync(file, 'utf8').endsWith('straggler\n')).toBe(true);
    expect((result.settlesAt ?? 0) - fs.statSync(file).mtimeMs).toBeCloseTo(5000, 0);
  });

  it('leaves alone an archive that is also the active file (a rotation stopped between its link and unlink)', async () => {
    const dir = tempDir();
    const halfWay = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    fs.linkSync(path.join(dir, halfWay.name), path.join(dir, 'app.log'));
    const settled = writeArchive(dir, 2, 10, { ageMs: 3_600_000 });

    // Compressed or deleted now, its lines would be archived again by the rotation that finishes it.
    const compressing = await maintainArchives(target(dir), justAfter);
    expect(compressing.errors).toEqual([]);
    expect(compressing.compressed).toEqual([{ from: settled.name, to: `${settled.name}.gz` }]);
    const deleting = await maintainArchives(target(dir, { maxFiles: 0 }), justAfter);
    expect(deleting.errors).toEqual([]);
    expect(deleting.removed).toEqual([`${settled.name}.gz`]);
    expect(fs.readdirSync(dir).sort()).toEqual(['app.log', halfWay.name].sort());
    expect(fs.statSync(path.join(dir, halfWay.name)).nlink).toBe(2);
  });

  it('stops between chunks when aborted: no .gz appears, the temp file is removed, the original is intact', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 20_000, { ageMs: 3_600_000 });
    const before = snapshot(dir);
    const controller = new AbortController();
    let chunks = 0;
    (globalThis as Record<symbol, unknown>)[HOOKS] = {
      at(step: ArchiveStep) {
        if (step === 'gzip-chunk' && ++chunks === 2) controller.abort();
      },
    };

    const result = await maintainArchives(target(dir), justAfter, controller.signal);

    expect(chunks).toBe(2); // it went no further than the chunk after the abort
    expect(result).toMatchObject({ aborted: true, compressed: [], errors: [] });
    expect(snapshot(dir)).toEqual(before);

    delete (globalThis as Record<symbol, unknown>)[HOOKS];
    const again = await maintainArchives(target(dir), justAfter);
    expect(again.compressed).toEqual([{ from: written.name, to: `${written.name}.gz` }]);
    expectEveryLineOnce(dir, [written]);
  });

  it('stops listing a large directory when aborted (close(), the exit): it does not stat every archive first', async () => {
    const dir = tempDir();
    for (let day = 1; day <= 2000; day++) fs.writeFileSync(path.join(dir, archiveName(scheme, today - day * DAY, 0)), 'x\n');
    const controller = new AbortController();
    const realLstat = fs.promises.lstat.bind(fs.promises);
    let stats = 0;
    vi.spyOn(fs.promises, 'lstat').mockImplementation(((file: string) => {
      if (++stats === 100) controller.abort();
      return realLstat(file);
    }) as typeof fs.promises.lstat);
    const result = await maintainArchives(target(dir), justAfter, controller.signal);
    expect(result.aborted).toBe(true);
    expect(stats).toBeLessThan(120); // the stats in flight when it was aborted, not the 2,000
    expect(fs.readdirSync(dir).filter((name) => !name.endsWith('.log'))).toEqual([]); // nothing compressed, no lock left
  });

  it('gives an archive modified a day in the future (written while the clock was ahead) its grace delay from when it is first seen, not a day', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: -DAY });
    const seenAt = Date.now();
    const first = await maintainArchives(target(dir, { delayMs: 60_000 }), () => seenAt);
    expect(first.compressed).toEqual([]);
    expect(first.settlesAt).toBe(seenAt + 60_000); // not a day ahead plus the delay
    const settled = await maintainArchives(target(dir, { delayMs: 60_000 }), () => seenAt + 60_000);
    expect(settled.compressed).toEqual([{ from: written.name, to: `${written.name}.gz` }]);
    expect(zlib.gunzipSync(fs.readFileSync(path.join(dir, `${written.name}.gz`))).toString()).toBe(`${written.lines.join('\n')}\n`);
  });

  it('does nothing when the signal is already aborted, and takes no lock', async () => {
    const dir = tempDir();
    writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const before = snapshot(dir);
    const result = await maintainArchives(target(dir), justAfter, AbortSignal.abort());
    expect(result).toMatchObject({ aborted: true, skipped: null, compressed: [], removed: [], repaired: [], errors: [] });
    expect(snapshot(dir)).toEqual(before);
  });

  it('abandons the compression of an archive that is written to meanwhile, and keeps it whole', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const original = path.join(dir, written.name);
    let chunks = 0;
    (globalThis as Record<symbol, unknown>)[HOOKS] = {
      at(step: ArchiveStep) {
        // The output of a small file is written after the whole original was read: a straggler's line now.
        if (step === 'gzip-chunk' && ++chunks === 1) fs.appendFileSync(original, 'late line\n');
      },
    };
    const result = await maintainArchives(target(dir), justAfter);
    expect(result.compressed).toEqual([]);
    expect(result.errors.map((e) => [e.code, e.path])).toEqual([['ERR_TIMBERLOCK_ARCHIVE_CHANGED', original]]);
    expect(fs.readdirSync(dir)).toEqual([written.name]); // no .gz, no temp file
    expect(fs.readFileSync(original, 'utf8')).toBe(`${written.lines.join('\n')}\nlate line\n`);
  });

  it.each([
    ['removed', (original: string) => fs.rmSync(original)],
    ['renamed', (original: string) => fs.renameSync(original, original.replace(/\.log$/, '.kept.log'))],
  ])('makes no .gz of an archive an operator %s while it was compressed, and says so', async (what, change) => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const original = path.join(dir, written.name);
    (globalThis as Record<symbol, unknown>)[HOOKS] = {
      at(step: ArchiveStep) {
        if (step === 'gzip-before-rename') change(original);
      },
    };
    const result = await maintainArchives(target(dir), justAfter);
    expect(result.compressed).toEqual([]);
    expect(result.errors.map((e) => [e.code, e.path])).toEqual([['ERR_TIMBERLOCK_ARCHIVE_CHANGED', original]]);
    expect(fs.readdirSync(dir).filter((name) => name.endsWith('.gz') || name.endsWith('.tmp'))).toEqual([]);
    if (what === 'renamed') expect(fs.readFileSync(original.replace(/\.log$/, '.kept.log'), 'utf8')).toBe(`${written.lines.join('\n')}\n`);
  });

  it('keeps both names when the archive is written to after its .gz is complete', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const original = path.join(dir, written.name);
    (globalThis as Record<symbol, unknown>)[HOOKS] = {
      at(step: ArchiveStep) {
        if (step === 'gzip-before-unlink') fs.appendFileSync(original, 'late line\n');
      },
    };
    const result = await maintainArchives(target(dir), justAfter);
    expect(result.compressed).toEqual([]);
    expect(result.errors.map((e) => e.code)).toEqual(['ERR_TIMBERLOCK_ARCHIVE_CHANGED']);
    expect(fs.readFileSync(original, 'utf8')).toContain('late line\n');
    expect(zlib.gunzipSync(fs.readFileSync(`${original}.gz`)).toString()).toBe(`${written.lines.join('\n')}\n`);
    // The next run does not take the .gz for a finished compression: the original has more. The .gz holds
    // its beginning only, a stale copy: it goes, and the original is compressed again.
    delete (globalThis as Record<symbol, unknown>)[HOOKS];
    const next = await maintainArchives(target(dir), justAfter);
    expect(next.errors).toEqual([]);
    expect(next.repaired).toEqual([`${written.name}.gz`]);
    expect(next.compressed).toEqual([{ from: written.name, to: `${written.name}.gz` }]);
    expect(fs.existsSync(original)).toBe(false);
    expect(zlib.gunzipSync(fs.readFileSync(`${original}.gz`)).toString()).toBe(`${written.lines.join('\n')}\nlate line\n`);
  });

  it('does not compress an archive written to after the listing: it waits for the delay, and the straggler keeps its file', async () => {
    const dir = tempDir();
    const first = writeArchive(dir, 2, 10, { ageMs: 3_600_000 });
    const second = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const file = path.join(dir, second.name);
    // A straggler's line in the second archive while the first is compressed makes it young again.
    const threeSecondsLater = await clockWhereSettled(file);
    appendAt('gzip-start', path.join(dir, first.name), file);

    const result = await maintainArchives(target(dir, { delayMs: 5000 }), threeSecondsLater);

    expect(result).toMatchObject({ errors: [], compressed: [{ from: first.name, to: `${first.name}.gz` }] });
    expect(fs.readFileSync(file, 'utf8').endsWith('straggler\n')).toBe(true);
    expect((result.settlesAt ?? 0) - fs.statSync(file).mtimeMs).toBeCloseTo(5000, 0);
  });

  for (const code of ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV']) {
    it(`gives the .gz its name by a rename where link(2) is refused with ${code} (vfat and exfat say EPERM), leaving no temp file`, async () => {
      const dir = tempDir();
      const written = writeArchive(dir, 1, 100, { ageMs: 3_600_000 });
      const link = vi.spyOn(fs.promises, 'link').mockRejectedValue(Object.assign(new Error(`${code}: link`), { code }));

      const result = await maintainArchives(target(dir), justAfter);

      expect(link).toHaveBeenCalled();
      expect(result).toMatchObject({ errors: [], compressed: [{ from: written.name, to: `${written.name}.gz` }] });
      expect(fs.readdirSync(dir)).toEqual([`${written.name}.gz`]);
      expectEveryLineOnce(dir, [written]);
    });
  }

  it('never replaces a .gz that another holder put in place right before its own gets the name', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const final = path.join(dir, `${written.name}.gz`);
    const theirs = zlib.gzipSync('the other holder\n');
    // Right before the temp file gets the `.gz` name (this holder stalled past staleMs after its look, and the
    // holder that took over compressed the archive, with a line a straggler added since).
    for (const call of ['link', 'rename'] as const) {
      const real = fs.promises[call];
      vi.spyOn(fs.promises, call).mockImplementation(async (from, to) => {
        if (to === final) fs.writeFileSync(final, theirs);
        return real(from, to);
      });
    }

    const result = await maintainArchives(target(dir), justAfter);

    expect(result.errors.map((e) => e.code)).toEqual(['ERR_TIMBERLOCK_ARCHIVE_IO']);
    expect(fs.readFileSync(final).equals(theirs)).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual([written.name, `${written.name}.gz`].sort()); // no temp file left
  });

  it('never overwrites a name that is taken: the original stays and the problem is reported', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    fs.mkdirSync(path.join(dir, `${written.name}.gz`)); // not a regular file, so not "ours", but the name is taken
    const result = await maintainArchives(target(dir), justAfter);
    expect(result.compressed).toEqual([]);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ code: 'ERR_TIMBERLOCK_ARCHIVE_IO', step: 'compress', path: path.join(dir, `${written.name}.gz`) });
    expect(result.errors[0]?.message).toContain('appeared meanwhile');
    expect(fs.statSync(path.join(dir, `${written.name}.gz`)).isDirectory()).toBe(true);
    expect(tempsIn(dir)).toEqual([]);
    expectEveryLineOnce(dir, [written]);
  });
});

describe('retention on disk', () => {
  it('keeps the newest maxFiles archives, plain and .gz alike, and compresses the rest of the kept ones', async () => {
    const dir = tempDir();
    const kept = [writeArchive(dir, 1, 5, { index: 1 }), writeArchive(dir, 1, 5)];
    const old = [writeArchive(dir, 2, 5), writeArchive(dir, 3, 5)];
    const oldGz = archiveName(scheme, today - 4 * DAY, 0, true);
    fs.writeFileSync(path.join(dir, oldGz), zlib.gzipSync('gone\n'));
    setAge(path.join(dir, oldGz), 60_000);

    const result = await maintainArchives(target(dir, { maxFiles: 2 }), justAfter);

    expect(result.errors).toEqual([]);
    expect(result.removed).toEqual([oldGz, old[1]?.name, old[0]?.name]); // oldest first
    expect(result.compressed.map((c) => c.from)).toEqual([kept[1]?.name, kept[0]?.name]);
    expect(fs.readdirSync(dir).sort()).toEqual(kept.map((k) => `${k.name}.gz`).sort());
    expectEveryLineOnce(dir, kept);
  });

  it('deletes an archive of 0 bytes (logrotate created the file right after a boundary) without counting it towards maxFiles', async () => {
    const dir = tempDir();
    const empty = writeArchive(dir, 0, 0);
    const kept = [writeArchive(dir, 0, 5, { index: 1 }), writeArchive(dir, 1, 5)];
    const old = writeArchive(dir, 2, 5);

    const result = await maintainArchives(target(dir, { maxFiles: 2, compress: false }), justAfter);

    expect(result.errors).toEqual([]);
    expect(result.removed).toEqual([old.name, empty.name]);
    expect(fs.readdirSync(dir).sort()).toEqual(kept.map((k) => k.name).sort());
  });

  it('keeps an archive of 0 bytes that a straggler wrote to after the listing', async () => {
    const dir = tempDir();
    const empty = writeArchive(dir, 1, 0, { ageMs: 3_600_000 });
    const file = path.join(dir, empty.name);
    appendAt('before-remove', file, file);
    // delayMs 0: the line does not make the archive young; what it holds now does keep it.
    const result = await maintainArchives(target(dir, { compress: false }), justAfter);

    expect(result).toMatchObject({ errors: [], removed: [] });
    expect(fs.readFileSync(file, 'utf8')).toBe('straggler\n');
  });

  it('deletes archives whose period started before now - maxAge, using the clock it is given', async () => {
    const dir = tempDir();
    const recent = writeArchive(dir, 0, 5);
    const old = writeArchive(dir, 2, 5);
    const policy = { maxAgeMs: 3 * DAY, compress: false };
    // Real clock: the cutoff is 3 days back, both periods started after it.
    expect((await maintainArchives(target(dir, policy))).removed).toEqual([]);
    // Two days later: the cutoff is yesterday, the period of two days ago started before it.
    const later = (): number => Date.now() + 2 * DAY;
    expect((await maintainArchives(target(dir, policy), later)).removed).toEqual([old.name]);
    expect(fs.readdirSync(dir)).toEqual([recent.name]);
  });
});

describe('repair of an interrupted run', () => {
  it('removes compression temp files older than staleMs and keeps younger ones', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const staleTemp = compressionTempName(written.name, 999_999, '00000001');
    const freshTemp = compressionTempName(written.name, 999_999, '00000002');
    const lookAlike = '.app.2026-01-01.log.gz.tmp';
    for (const name of [staleTemp, freshTemp, lookAlike]) fs.writeFileSync(path.join(dir, name), 'partial');
    setAge(path.join(dir, staleTemp), 2001);
    setAge(path.join(dir, lookAlike), 10 * DAY);

    const result = await maintainArchives(target(dir, { compress: false }, 2000), justAfter);

    expect(result.errors).toEqual([]);
    expect(result.repaired).toEqual([staleTemp]);
    expect(fs.readdirSync(dir).sort()).toEqual([freshTemp, lookAlike, written.name].sort());
    // The run says when to come back for the temp file it kept (its writer may have died just now).
    expect(result.settlesAt).toBe(fs.statSync(path.join(dir, freshTemp)).mtimeMs + 2000);
  });

  it('reports an expired archive it cannot delete once per run, not again after each compression', async () => {
    const dir = tempDir();
    const expired = writeArchive(dir, 10, 10, { ageMs: 3_600_000 });
    const fresh = [0, 1, 2].map((index) => writeArchive(dir, 1, 10, { index, ageMs: 3_600_000 }));
    const unlink = fs.promises.unlink.bind(fs.promises);
    const refused = vi.spyOn(fs.promises, 'unlink').mockImplementation(async (file) => {
      if (path.basename(String(file)) === expired.name) throw Object.assign(new Error(`EPERM: operation not permitted, unlink '${String(file)}'`), { code: 'EPERM' });
      return unlink(file);
    });
    try {
      const result = await maintainArchives(target(dir, { compress: true, maxAgeMs: 3 * DAY }), justAfter);
      expect(result.compressed.map((c) => c.from).sort()).toEqual(fresh.map((f) => f.name).sort());
      expect(result.errors.map((e) => e.message)).toEqual([expect.stringContaining(`delete the expired archive ${path.join(dir, expired.name)}: EPERM`)]);
      expect(refused.mock.calls.filter(([file]) => path.basename(String(file)) === expired.name)).toHaveLength(1);
    } finally {
      refused.mockRestore();
    }
  });

  it('removes a state temp file a killed process left once it is older than staleMs, and never the state', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    const stale = '.app.log.state.999999-0a1b2c3d.tmp';
    const fresh = '.app.log.state.999998-0a1b2c3d.tmp';
    for (const name of [stale, fresh, '.app.log.state']) fs.writeFileSync(path.join(dir, name), '{"periodStart":0,"ino":1}\n');
    for (const name of [stale, '.app.log.state']) setAge(path.join(dir, name), 10 * DAY);

    const result = await maintainArchives(target(dir, { compress: false }, 2000), justAfter);

    expect(result.errors).toEqual([]);
    expect(result.repaired).toEqual([stale]);
    expect(fs.readdirSync(dir).sort()).toEqual(['.app.log.state', fresh, written.name].sort());
  });

  it("removes the new active files a stopped rotation left under its temp name once older than staleMs: a header-only one, and a second name of an archive, which is then compressed", async () => {
    const dir = tempDir();
    // One process stopped before giving its new file the active name; another after, before removing the
    // temp name: that file went on as the active file and is an archive by now, with two names.
    const headerOnly = '.app.log.new.999999-0a1b2c3d.tmp';
    const secondName = '.app.log.new.999998-0a1b2c3d.tmp';
    const fresh = '.app.log.new.999997-0a1b2c3d.tmp';
    const written = writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    fs.writeFileSync(path.join(dir, headerOnly), '# timberlock app.log\n');
    fs.linkSync(path.join(dir, written.name), path.join(dir, secondName));
    fs.writeFileSync(path.join(dir, fresh), '# timberlock app.log\n');
    setAge(path.join(dir, headerOnly), 10 * DAY);

    const first = await maintainArchives(target(dir, { compress: true }, 2000), justAfter);
    expect(first.errors).toEqual([]);
    expect(first.repaired.sort()).toEqual([headerOnly, secondName].sort());
    expect(first.compressed).toEqual([]); // listed with two names: left for the next run
    const second = await maintainArchives(target(dir, { compress: true }, 2000), justAfter);
    expect(second.errors).toEqual([]);
    expect(second.compressed).toEqual([{ from: written.name, to: `${written.name}.gz` }]);
    expect(fs.readdirSync(dir).sort()).toEqual([fresh, `${written.name}.gz`].sort());
  });

  it('removes the extra name a stopped rotation left beside a .gz, then handles the archive under its other name', async () => {
    const dir = tempDir();
    const compressed = writeArchive(dir, 1, 10, { ageMs: 3_600_000, tag: 'old' });
    fs.writeFileSync(path.join(dir, `${compressed.name}.gz`), zlib.gzipSync(fs.readFileSync(path.join(dir, compressed.name))));
    fs.unlinkSync(path.join(dir, compressed.name));
    // A rotation linked the next archive to the compressed index's plain name, found the .gz, and stopped;
    // the next rotator archived the file under index 1.
    const next = writeArchive(dir, 1, 10, { index: 1, ageMs: 3_600_000, tag: 'next' });
    fs.linkSync(path.join(dir, next.name), path.join(dir, compressed.name));

    const result = await maintainArchives(target(dir), justAfter);

    expect(result.errors).toEqual([]);
    expect(result.repaired).toEqual([compressed.name]);
    expect(result.compressed).toEqual([{ from: next.name, to: `${next.name}.gz` }]);
    expect(fs.readdirSync(dir).sort()).toEqual([`${compressed.name}.gz`, `${next.name}.gz`].sort());
    expect(zlib.gunzipSync(fs.readFileSync(path.join(dir, `${next.name}.gz`))).toString()).toBe(next.lines.map((l) => `${l}\n`).join(''));
    expect(zlib.gunzipSync(fs.readFileSync(path.join(dir, `${compressed.name}.gz`))).toString()).toBe(compressed.lines.map((l) => `${l}\n`).join(''));
  });

  it('removes an original whose .gz gunzips to exactly its bytes', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 1000, { ageMs: 3_600_000 });
    const original = path.join(dir, written.name);
    fs.writeFileSync(`${original}.gz`, zlib.gzipSync(fs.readFileSync(original)));

    const result = await maintainArchives(target(dir, { compress: false }), justAfter);

    expect(result.errors).toEqual([]);
    expect(result.repaired).toEqual([written.name]);
    expect(fs.readdirSync(dir)).toEqual([`${written.name}.gz`]);
    expectEveryLineOnce(dir, [written]);
  });

  it('removes a .gz that holds only the beginning of the original beside it (lines appended to the original later), and compresses the original again', async () => {
    const dir = tempDir();
    const { written, original, bytes } = withStaleCopy(dir);
    const result = await maintainArchives(target(dir), justAfter);
    expect(result.errors).toEqual([]);
    expect(result.repaired).toEqual([`${written.name}.gz`]);
    expect(result.compressed).toEqual([{ from: written.name, to: `${written.name}.gz` }]);
    expect(fs.readdirSync(dir)).toEqual([`${written.name}.gz`]);
    expect(zlib.gunzipSync(fs.readFileSync(`${original}.gz`)).equals(bytes)).toBe(true);
  });

  it('keeps a pair whose original a straggler wrote to after it was verified: the line stays', async () => {
    const dir = tempDir();
    const written = writeArchive(dir, 1, 1000, { ageMs: 3_600_000 });
    const original = path.join(dir, written.name);
    fs.writeFileSync(`${original}.gz`, zlib.gzipSync(fs.readFileSync(original)));
    appendAt('pair-verified', original, original);

    const result = await maintainArchives(target(dir, { compress: false }), justAfter);

    expect(result).toMatchObject({ errors: [], repaired: [] });
    expect(fs.readFileSync(original, 'utf8').endsWith('straggler\n')).toBe(true);
  });

  it('keeps a .gz that another holder put in place of the stale copy it verified (it stalled past staleMs meanwhile)', async () => {
    const dir = tempDir();
    const { written, original, bytes } = withStaleCopy(dir);
    (globalThis as Record<symbol, unknown>)[HOOKS] = {
      at(step: string, at: string) {
        // What the holder that took over did meanwhile: removed the stale copy, compressed the original
        // again, and removed the original.
        if (step !== 'pair-verified' || at !== original) return;
        fs.unlinkSync(`${original}.gz`);
        fs.writeFileSync(`${original}.gz`, zlib.gzipSync(bytes));
        fs.unlinkSync(original);
      },
    };

    const result = await maintainArchives(target(dir), justAfter);

    expect(result).toMatchObject({ errors: [], repaired: [] });
    expect(fs.readdirSync(dir)).toEqual([`${written.name}.gz`]);
    expect(zlib.gunzipSync(fs.readFileSync(`${original}.gz`)).equals(bytes)).toBe(true);
  });

  for (const [what, damage] of [
    ['holds more bytes than the original', (bytes: Buffer) => zlib.gzipSync(Buffer.concat([bytes, Buffer.from('more\n')]))],
    ['holds nothing', () => zlib.gzipSync(Buffer.alloc(0))],
    ['holds different bytes of the same length', (bytes: Buffer) => zlib.gzipSync(Buffer.from(bytes).fill(0x41, 10, 20))],
    ['is truncated', (bytes: Buffer) => zlib.gzipSync(bytes).subarray(0, 200)],
    ['is not gzip at all', () => Buffer.from('plain text, not gzip\n')],
  ] as const) {
    it(`keeps both names and reports ERR_TIMBERLOCK_ARCHIVE_MISMATCH when the .gz ${what}`, async () => {
      const dir = tempDir();
      const written = writeArchive(dir, 1, 1000, { ageMs: 3_600_000 });
      const original = path.join(dir, written.name);
      fs.writeFileSync(`${original}.gz`, damage(fs.readFileSync(original)));
      const before = snapshot(dir);

      for (let run = 0; run < 2; run++) {
        const result = await maintainArchives(target(dir), justAfter);
        expect(result.errors.map((e) => e.code)).toEqual(['ERR_TIMBERLOCK_ARCHIVE_MISMATCH']);
        expect(result.errors[0]?.path).toBe(original);
        expect(result).toMatchObject({ repaired: [], compressed: [] }); // and never compressed over the .gz
        expect(snapshot(dir)).toEqual(before);
      }
    });
  }

  it('leaves a mismatched pair to retention neither: both names stay, as the warning says, beyond maxFiles', async () => {
    const dir = tempDir();
    const pair = writeArchive(dir, 2, 1000, { ageMs: 3_600_000 });
    writeArchive(dir, 1, 10, { ageMs: 3_600_000 }); // newer: with maxFiles 1 the pair is the one to delete
    const original = path.join(dir, pair.name);
    fs.writeFileSync(`${original}.gz`, Buffer.from('plain text, not gzip\n'));
    const before = snapshot(dir);
    const result = await maintainArchives(target(dir, { maxFiles: 1, compress: false }), justAfter);
    expect(result.errors.map((e) => e.code)).toEqual(['ERR_TIMBERLOCK_ARCHIVE_MISMATCH']);
    expect(result.removed).toEqual([]);
    expect(snapshot(dir)).toEqual(before);
  });

  it('leaves a mismatched pair out of every plan of a run, also after the run lists the directory again', async () => {
    const dir = tempDir();
    const pair = writeArchive(dir, 10, 1000, { ageMs: 3_600_000 }); // the oldest: beyond maxFiles
    fs.writeFileSync(path.join(dir, `${pair.name}.gz`), 'plain text, not gzip\n');
    for (let daysAgo = 1; daysAgo <= 3; daysAgo++) writeArchive(dir, daysAgo, 1000, { ageMs: 3_600_000 }); // a backlog to gzip
    let now = Date.now() + 1;
    const result = await maintainArchives(target(dir, { maxFiles: 3 }), () => (now += 400)); // relists after each gzip
    expect(result.errors.map((e) => e.code)).toContain('ERR_TIMBERLOCK_ARCHIVE_MISMATCH');
    expect(result.compressed).toHaveLength(3);
    expect(fs.existsSync(path.join(dir, pair.name))).toBe(true);
    expect(fs.existsSync(path.join(dir, `${pair.name}.gz`))).toBe(true);
  });
});

describe('locking and errors', () => {
  it('returns skipped while another holder has the archive lock, and touches nothing', async () => {
    const dir = tempDir();
    writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    writeArchive(dir, 2, 10, { ageMs: 3_600_000 });
    const release = await lockfile.lock(path.join(dir, 'holder'), { lockfilePath: archiveLockPath(dir, 'app.log'), realpath: false, retries: 0 });
    try {
      const before = snapshot(dir);
      const result = await maintainArchives(target(dir, { maxFiles: 1 }), justAfter);
      expect(result).toEqual({ compressed: [], removed: [], repaired: [], settlesAt: null, skipped: 'locked', aborted: false, errors: [] });
      expect(snapshot(dir)).toEqual(before);
    } finally {
      await release();
    }
    const result = await maintainArchives(target(dir, { maxFiles: 1 }), justAfter);
    expect(result).toMatchObject({ skipped: null, removed: [archiveName(scheme, today - 2 * DAY, 0)] });
  });

  it('holds its own lock, not the rotation lock, and releases it', async () => {
    const dir = tempDir();
    writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // a rotation in progress does not stop maintenance
    const result = await maintainArchives(target(dir), justAfter);
    expect(result.compressed).toHaveLength(1);
    expect(fs.existsSync(archiveLockPath(dir, 'app.log'))).toBe(false);
    expect(fs.existsSync(path.join(dir, '.app.log.lock'))).toBe(true);
  });

  it('does not share its lock with the rotation of app.log.archive in the same directory', async () => {
    const dir = tempDir();
    writeArchive(dir, 1, 10, { ageMs: 3_600_000 });
    fs.mkdirSync(path.join(dir, '.app.log.archive.lock')); // the rotation lock of app.log.archive, held
    const result = await maintainArchives(target(dir), justAfter);
    expect(result.skipped).toBeNull();
    expect(result.compressed.map((c) => c.from)).toEqual([archiveName(scheme, today - DAY, 0)]);
    expect(fs.existsSync(path.join(dir, '.app.log.archive.lock'))).toBe(true);
  });

  it('reports a missing directory as an error with a code, and does not throw', async () => {
    const dir = path.join(tempDir(), 'missing');
    const result = await maintainArchives(target(dir), justAfter);
    expect(result.skipped).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatchObject({ code: 'ERR_TIMBERLOCK_ARCHIVE_IO', step: 'lock', path: archiveLockPath(dir, 'app.log') });
    expect((result.errors[0]?.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(result.errors[0]?.message).toContain(archiveLockPath(dir, 'app.log'));
  });
});

// Real processes on a real disk: a child runs maintainArchives() and is SIGKILLed while paused at a step.
describe('a maintenance process killed at each step', () => {
  interface Child {
    process: ChildProcess;
    /** Resolves with the first stdout line starting with `prefix` (rejects after `ms`). */
    line(prefix: string, ms: number): Promise<string>;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  }

  /** The child runs with `fileSizeLimitKiB` as its file size limit (`ulimit -f`), if given. */
  function startChild(config: Record<string, unknown>, fileSizeLimitKiB?: number): Child {
    const args = [fixture, JSON.stringify({ module: archiveModule.url, ...config })];
    const child =
      fileSizeLimitKiB === undefined
        ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
        : spawn('bash', ['-c', `ulimit -f ${fileSizeLimitKiB} && exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    readline.createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      for (const wake of waiters.splice(0)) wake();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const line = async (prefix: string, ms: number): Promise<string> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = lines.find((l) => l.startsWith(prefix));
        if (found !== undefined) return found;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`child printed no '${prefix}' line within ${ms} ms (lines: ${lines.join(' | ')})`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100); // wake up to check the deadline and the exit code
        });
      }
    };
    return { process: child, line, exited };
  }

  /** Run maintenance until the directory holds only complete .gz archives (or the deadline passes). */
  async function finishJob(dir: string, ms: number): Promise<MaintenanceResult[]> {
    const results: MaintenanceResult[] = [];
    const deadline = Date.now() + ms;
    for (;;) {
      const result = await maintainArchives(target(dir), justAfter);
      results.push(result);
      expect(result.errors).toEqual([]);
      if (result.skipped === null && plainIn(dir).length === 0 && tempsIn(dir).length === 0) return results;
      if (Date.now() > deadline) throw new Error(`not finished after ${ms} ms: ${JSON.stringify(fs.readdirSync(dir))}`);
      await new Promise((resolve) => setTimeout(resolve, 100)); // poll interval
    }
  }

  function setup(): { dir: string; written: Written[] } {
    const dir = tempDir();
    // ~400 KB each; their .gz span many 16 KiB zlib chunks, so 'gzip-chunk' leaves a partial temp file.
    const written = [writeArchive(dir, 3, 4000), writeArchive(dir, 2, 4000), writeArchive(dir, 1, 4000, { index: 1 })];
    fs.writeFileSync(path.join(dir, 'app.log'), 'active\n');
    return { dir, written };
  }

  it('reports a write that fails while gzipping as its own error (EFBIG under ulimit -f), not as an aborted operation', async () => {
    const { dir } = setup();
    const child = startChild({ target: target(dir) }, 64); // each .gz would be larger than 64 KiB
    const result = JSON.parse((await child.line('result ', 20_000)).slice('result '.length)) as { compressed: unknown[]; errors: Array<{ code: string; step: string; message: string }> };
    expect(result.compressed).toEqual([]);
    expect(result.errors).toHaveLength(3);
    for (const error of result.errors) {
      expect(error).toMatchObject({ code: 'ERR_TIMBERLOCK_ARCHIVE_IO', step: 'compress' });
      expect(error.message).toContain('EFBIG');
    }
    expect(tempsIn(dir)).toEqual([]);
    expect(plainIn(dir)).toHaveLength(3);
  });

  /** The archive a run handles first: the oldest. */
  const first = (written: Written[]): string => written[0]?.name ?? '';

  const leftovers: Record<ArchiveStep, (dir: string, written: Written[]) => void> = {
    'archive-locked': (dir) => {
      expect(fs.existsSync(archiveLockPath(dir, 'app.log'))).toBe(true);
      expect(tempsIn(dir)).toEqual([]);
      expect(plainIn(dir)).toHaveLength(3);
    },
    'gzip-start': (dir) => {
      const [temp] = tempsIn(dir);
      expect(temp).toBeDefined();
      expect(fs.statSync(path.join(dir, temp ?? '')).size).toBe(0);
    },
    'gzip-chunk': (dir) => {
      const [temp] = tempsIn(dir);
      const bytes = fs.readFileSync(path.join(dir, temp ?? ''));
      expect(bytes.length).toBeGreaterThan(0);
      expect(() => zlib.gunzipSync(bytes)).toThrow(); // partial
    },
    'gzip-before-rename': (dir, written) => {
      const [temp] = tempsIn(dir);
      expect(temp?.startsWith(`.${first(written)}.gz.`)).toBe(true);
      const original = fs.readFileSync(path.join(dir, first(written)));
      expect(zlib.gunzipSync(fs.readFileSync(path.join(dir, temp ?? ''))).equals(original)).toBe(true); // complete, fsynced
      expect(fs.existsSync(path.join(dir, `${first(written)}.gz`))).toBe(false);
    },
    'gzip-linked': (dir, written) => {
      // The temp name and the `.gz` name hold the complete copy; the original is intact.
      const [temp] = tempsIn(dir);
      const gz = path.join(dir, `${first(written)}.gz`);
      expect(fs.statSync(path.join(dir, temp ?? '')).ino).toBe(fs.statSync(gz).ino);
      expect(zlib.gunzipSync(fs.readFileSync(gz)).equals(fs.readFileSync(path.join(dir, first(written))))).toBe(true);
    },
    'gzip-before-unlink': (dir, written) => {
      expect(tempsIn(dir)).toEqual([]);
      expect(fs.existsSync(path.join(dir, first(written)))).toBe(true);
      expect(fs.existsSync(path.join(dir, `${first(written)}.gz`))).toBe(true);
    },
  };

  for (const step of Object.keys(leftovers) as ArchiveStep[]) {
    it(`at '${step}': a later run finishes the job, every line once, no incomplete .gz, no temp file`, async () => {
      const { dir, written } = setup();
      const child = startChild({ target: target(dir), pauseAt: step });
      const paused = await child.line('paused ', 20_000);
      expect(paused.split(' ')[1]).toBe(step);

      leftovers[step](dir, written);
      expectNoIncompleteGzip(dir);
      if (step === 'archive-locked') {
        // A second process meanwhile: the held lock makes it skip, without touching anything.
        const before = snapshot(dir);
        expect(await maintainArchives(target(dir), justAfter)).toMatchObject({ skipped: 'locked', compressed: [], removed: [], repaired: [] });
        expect(snapshot(dir)).toEqual(before);
      }

      child.process.kill('SIGKILL');
      expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // The holder died with its lock fresh: as if it had refreshed it just now (the checks above can
      // outlast staleMs on a slow machine, and the paused child refreshes nothing).
      const now = new Date();
      fs.utimesSync(path.join(dir, '.app.log.archive-lock'), now, now);
      expectNoIncompleteGzip(dir);
      expectNothingLost(dir, written);

      const started = Date.now();
      const results = await finishJob(dir, 15_000);
      // The dead holder kept others out until its lock went stale (staleMs 2000); its temp file needs as long again at most.
      expect(Date.now() - started).toBeLessThan(2000 + 2000 + 4000);
      expect(results[0]?.skipped).toBe('locked'); // the lock was still fresh right after the kill
      expectNoIncompleteGzip(dir);
      expectEveryLineOnce(dir, written);
      expect(fs.readdirSync(dir).sort()).toEqual(['app.log', ...written.map((w) => `${w.name}.gz`)].sort());
      const repaired = results.flatMap((r) => r.repaired);
      if (step === 'gzip-before-unlink') expect(repaired).toContain(first(written));
      if (step === 'gzip-start' || step === 'gzip-chunk' || step === 'gzip-before-rename') expect(repaired.some((n) => n.endsWith('.tmp'))).toBe(true);
    });
  }

  it('a holder that stalls past staleMs and then resumes does no harm to the run that took over', async () => {
    const { dir, written } = setup();
    const child = startChild({ target: target(dir), pauseAt: 'gzip-chunk', pauseMs: 4000 });
    await child.line('paused ', 20_000);

    await finishJob(dir, 15_000); // takes the lock over once stale, compresses everything
    const report = JSON.parse((await child.line('result ', 20_000)).slice('result '.length)) as {
      compressed: unknown[];
      errors: Array<{ code: string }>;
    };
    expect(await child.exited).toEqual({ code: 0, signal: null });

    // The stalled process noticed (lost lock, or a .gz that appeared meanwhile) and stopped.
    expect(report.compressed).toEqual([]);
    expect(report.errors.length).toBeGreaterThan(0);
    for (const error of report.errors) expect(['ERR_TIMBERLOCK_ARCHIVE_LOCK_COMPROMISED', 'ERR_TIMBERLOCK_ARCHIVE_IO']).toContain(error.code);
    expectNoIncompleteGzip(dir);
    expectEveryLineOnce(dir, written);
    expect(tempsIn(dir)).toEqual([]);
    expect(plainIn(dir)).toEqual([]);
  });
});

describe('a writer process that ends in the middle of a compression', () => {
  const LINES = Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join('');

  /** Run the fixture to its process.exit(0) at `step`; the archive it was compressing. */
  async function exitAt(dir: string, step: ArchiveStep, afterTempRemoved = false): Promise<string> {
    const config = { path: path.join(dir, 'app.log'), step, afterTempRemoved };
    const child = spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures', 'exit-mid-compression.mjs'), JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let stdout = '';
    child.stdout!.on('data', (data: Buffer) => (stdout += data));
    const [code] = (await Promise.race([
      new Promise((resolve) => child.once('exit', (...args) => resolve(args))),
      new Promise((_, reject) => setTimeout(() => reject(new Error('the child did not exit within 30 s')), 30_000)),
    ])) as [number | null];
    expect(code).toBe(0);
    const { exiting } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { exiting?: string };
    expect(exiting).toMatch(/app\.\d{4}-\d\d-\d\d\.log$/);
    return path.basename(exiting as string);
  }

  /** After an exit once the `.gz` had its name: the `.gz` alone holds the lines, under that one name (no temp name, no original). */
  function expectCompressedAlone(dir: string, archive: string): void {
    expect(tempsIn(dir)).toEqual([]);
    expect(plainIn(dir)).toEqual([]); // the original is gone
    const gz = path.join(dir, `${archive}.gz`);
    expect(fs.statSync(gz).nlink).toBe(1);
    expect(zlib.gunzipSync(fs.readFileSync(gz)).toString()).toBe(LINES);
  }

  it('removes the original on process.exit() once its .gz is in place, so no pair is left for a later run to verify', async () => {
    const dir = tempDir();
    expectCompressedAlone(dir, await exitAt(dir, 'gzip-before-unlink'));
  }, 40_000);

  it('removes the temp name and the original on process.exit() right after the .gz name was linked to the temp file', async () => {
    const dir = tempDir();
    expectCompressedAlone(dir, await exitAt(dir, 'gzip-linked'));
  }, 40_000);

  it('removes the original on process.exit() once the temp name is gone, before the code that removed it has gone on', async () => {
    const dir = tempDir();
    expectCompressedAlone(dir, await exitAt(dir, 'gzip-linked', true));
  }, 40_000);

  it('removes its temp file on process.exit() while it writes it, leaving the original to compress later', async () => {
    const dir = tempDir();
    const archive = await exitAt(dir, 'gzip-chunk');
    expect(tempsIn(dir)).toEqual([]);
    expect(plainIn(dir)).toEqual([archive]);
    expect(fs.readFileSync(path.join(dir, archive), 'utf8')).toBe(LINES);
    expect(fs.existsSync(path.join(dir, `${archive}.gz`))).toBe(false);
  }, 40_000);
});
