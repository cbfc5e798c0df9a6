/**
 * Safety of names and modes: no name timberlock makes can leave the log directory, every bad name is refused
 * at construction with a TimberlockOptionError, the files and directories it creates get `mode` (or less)
 * and are never world-writable whatever the umask, a symbolic link as `path` is refused, and so is a path
 * that lies under a file or names something other than a regular file.
 */
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RotatingFile, TimberlockOptionError, createRotatingFile, type ArchiveEvent, type RotatingFileOptions } from '../src/index.js';
import { archiveName, defaultDateFormat } from '../src/naming.js';
import { normalizeOptions } from '../src/options.js';
import { compressionTempName } from '../src/retention.js';
import { stateTempPath } from '../src/state.js';
import type { Frequency } from '../src/types.js';

const HOOKS = Symbol.for('timberlock.testHooks');
const dirs: string[] = [];
const files: RotatingFile[] = [];
const readers: number[] = [];

afterEach(async () => {
  delete (globalThis as Record<symbol, unknown>)[HOOKS];
  await Promise.all(files.splice(0).map((file) => file.close()));
  for (const fd of readers.splice(0)) fs.closeSync(fd);
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-names-'));
  dirs.push(dir);
  return dir;
}

function track(file: RotatingFile): RotatingFile {
  files.push(file);
  return file;
}

/** Every entry under dir, as relative paths, sorted. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** The TimberlockOptionError that `create` throws; fails the test if it throws nothing or something else. */
function optionError(create: () => unknown): TimberlockOptionError {
  try {
    const made = create();
    if (made instanceof RotatingFile) track(made); // not refused after all: close it after the test
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(TimberlockOptionError);
    return err as TimberlockOptionError;
  }
  throw new Error('expected a TimberlockOptionError, but the file was created');
}

/** Run fn with the process umask set to `mask`, restoring it afterwards. */
async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;
const octal = (mode: number): string => `0o${mode.toString(8)}`;

describe('names that could leave the log directory', () => {
  const badDateFormats: Array<[string, string]> = [
    ["'/'", 'yyyy/MM/dd'],
    ["'\\'", "yyyy'\\'MM'\\'dd"],
    ["'..'", "'..'yyyy-MM-dd"],
    ["'..' between tokens", "yyyy'..'MM"],
    ["a path that climbs out", "'../../etc/'yyyy"],
    ['a NUL byte', "yyyy-MM-dd'\u0000'"],
    ["'/' from a localized token (P)", 'P'],
    ['nothing (an empty format)', ''],
    ['an empty text', "''"],
  ];
  it.each(badDateFormats)('refuses a dateFormat that produces %s, and creates nothing', (_what, dateFormat) => {
    const dir = tempDir();
    const error = optionError(() => createRotatingFile({ path: path.join(dir, 'logs', 'app.log'), timeZone: 'UTC', dateFormat }));
    expect(error.option).toBe('dateFormat');
    expect(error.message).toContain('Expected');
    expect(tree(dir)).toEqual([]);
  });

  const badPaths: Array<[string, string]> = [
    ['a NUL byte', 'logs/app\0.log'],
    ["a trailing '/'", 'logs/'],
    ["a last part '..'", 'logs/..'],
    ["a last part '.'", 'logs/.'],
  ];
  it.each(badPaths)('refuses a path with %s, and creates nothing', (_what, relative) => {
    const dir = tempDir();
    const error = optionError(() => createRotatingFile({ path: `${dir}/${relative}` }));
    expect(error.option).toBe('path');
    expect(tree(dir)).toEqual([]);
  });

  it.each([
    ['a host name with a /', 'web/../..'],
    ["a host name '..'", '..'],
    ["a host name '.'", '.'],
  ])('refuses a {hostname} token that expands to %s, instead of writing elsewhere', (_what, hostname) => {
    const error = optionError(() => normalizeOptions({ path: '/var/log/{hostname}/app.log' }, { hostname, pid: 42 }));
    expect(error.option).toBe('path');
    expect(error.message).toContain(JSON.stringify(hostname));
  });

  it('keeps the name of every archive, the state, the lock and every temp file inside the log directory', () => {
    const dir = '/var/log/svc';
    const activeNames = ['app.log', '.app.log', 'app', 'a..b.log', 'my app.log', 'ünïcödé.log', 'app.2026-11-25.log', '...'];
    const frequencies: Frequency[] = ['minutely', 'hourly', 'daily', 'weekly', 'monthly', 200];
    const formats = [...frequencies.map((f) => defaultDateFormat(f)), 'yyyy.MM.dd', "'x'yyyyMMdd", 't'];
    const periods = [Date.UTC(2026, 10, 25), Date.UTC(2026, 0, 1, 23, 59, 59, 999), Date.UTC(1999, 11, 31, 12)];
    const inside = (name: string): void => {
      expect(name).not.toMatch(/[/\\\0]/);
      expect(path.dirname(path.join(dir, name)), name).toBe(dir);
      expect(['.', '..', '']).not.toContain(name);
    };
    let checked = 0;
    for (const activeName of activeNames) {
      const options = normalizeOptions({ path: path.join(dir, activeName) });
      expect(options.dir).toBe(dir);
      inside(options.name);
      inside(`.${options.name}.state`);
      inside(`.${options.name}.lock`);
      inside(path.basename(stateTempPath(path.join(dir, `.${options.name}.state`))));
      inside(`.${options.name}.archive-lock`);
      for (const dateFormat of formats) {
        for (const timeZone of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) {
          const scheme = { activeName, dateFormat, timeZone, frequency: 'daily' as const }; // archiveName writes any instant
          for (const periodStart of periods) {
            for (const index of [0, 1, 12]) {
              const name = archiveName(scheme, periodStart, index);
              inside(name);
              inside(`${name}.gz`);
              inside(compressionTempName(name, 4_194_304, '0123abcd'));
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBe(activeNames.length * formats.length * 3 * periods.length * 3);
  });

  it('creates nothing outside the log directory while it writes, rotates, rolls by size, compresses and deletes', async () => {
    const dir = tempDir();
    const file = track(
      createRotatingFile({ path: path.join(dir, 'logs', 'app.log'), timeZone: 'UTC', maxSize: 1024, compress: { delayMs: 0 }, maxFiles: 2 }),
    );
    const events: ArchiveEvent[] = [];
    file.on('archive', (event: ArchiveEvent) => events.push(event));
    for (let batch = 0; batch < 5; batch++) {
      for (let i = 0; i < 20; i++) file.write(`line ${batch} ${i} ${'x'.repeat(60)}`);
      await file.flush(); // the size is checked before each batch: one roll per batch from the second on
    }
    expect(await file.rotate()).toBe(true);
    // Compression and retention run off the write path: wait for both to have acted.
    while (!(events.some((e) => e.type === 'compressed') && events.some((e) => e.type === 'removed'))) await once(file, 'archive');
    await file.close();
    expect(fs.readdirSync(dir)).toEqual(['logs']);
    const made = tree(path.join(dir, 'logs'));
    expect(made.every((name) => name === '.app.log.state' || name.startsWith('app.')), made.join(' ')).toBe(true);
  });
});

describe('modes of what timberlock creates', () => {
  // Under umask 0 the mode given is exactly what the files get, so nothing hides a world-writable mode.
  for (const mode of [0o640, 0o600, 0o660]) {
    it(`creates the active file, its archives and the state with mode ${octal(mode)} under umask 0`, async () => {
      const dir = tempDir();
      const log = path.join(dir, 'logs', 'app.log');
      let now = Date.UTC(2026, 10, 25, 10);
      await withUmask(0, async () => {
        const file = track(new RotatingFile({ path: log, frequency: 'hourly', timeZone: 'UTC', mode }, { now: () => now }));
        file.write('one');
        file.flushSync();
        now += 3_600_000;
        file.write('two');
        file.flushSync();
        await file.close();
      });
      const made = tree(path.join(dir, 'logs'));
      expect(made).toEqual(['.app.log.state', 'app.2026-11-25T10+0000.log', 'app.log']);
      for (const name of made) expect(octal(modeOf(path.join(dir, 'logs', name))), name).toBe(octal(mode));
      expect(modeOf(path.join(dir, 'logs')) & 0o002, 'the log directory it made').toBe(0);
    });
  }

  it('never makes the rotation lock directory world-writable, even under umask 0', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let lockMode: number | null = null;
    (globalThis as Record<symbol, unknown>)[HOOKS] = {
      at(step: string) {
        if (step === 'locked' && lockMode === null) lockMode = modeOf(path.join(dir, '.app.log.lock'));
      },
    };
    let now = Date.UTC(2026, 10, 25, 10);
    await withUmask(0, async () => {
      const file = track(new RotatingFile({ path: log, frequency: 'hourly', timeZone: 'UTC' }, { now: () => now }));
      file.write('one');
      file.flushSync();
      now += 3_600_000;
      file.write('two'); // the rotation takes the lock
      file.flushSync();
      await file.close();
    });
    expect(lockMode, 'the hook saw the lock').not.toBeNull();
    expect(octal((lockMode as unknown as number) & 0o002)).toBe(octal(0));
  });

  it('creates compressed archives, their temp files and the archive lock with mode, never world-writable, under umask 0', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const seen: Record<string, number> = {};
    (globalThis as Record<symbol, unknown>)[HOOKS] = {
      at(step: string) {
        if (step === 'archive-locked') seen.archiveLock = modeOf(path.join(dir, '.app.log.archive-lock'));
        if (step === 'gzip-start') {
          const temp = fs.readdirSync(dir).find((name) => name.endsWith('.tmp'));
          if (temp) seen.temp = modeOf(path.join(dir, temp));
        }
      },
    };
    await withUmask(0, async () => {
      const file = track(createRotatingFile({ path: log, frequency: 'daily', timeZone: 'UTC', mode: 0o640, compress: { delayMs: 0 } }));
      file.write('one');
      await file.flush();
      const compressed = once(file, 'archive') as Promise<[ArchiveEvent]>;
      expect(await file.rotate()).toBe(true);
      const [event] = await compressed;
      expect(event.type).toBe('compressed');
      seen.gz = modeOf(event.path);
      await file.close();
    });
    expect(Object.keys(seen).sort()).toEqual(['archiveLock', 'gz', 'temp']);
    expect(octal(seen.gz as number)).toBe(octal(0o640));
    expect(octal(seen.temp as number)).toBe(octal(0o640));
    expect(octal((seen.archiveLock as number) & 0o002), 'archive lock directory').toBe(octal(0));
  });

  it('uses 0o640 by default (umask 022)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    await withUmask(0o022, async () => {
      const file = track(createRotatingFile({ path: log, timeZone: 'UTC' }));
      file.write('one');
      await file.close();
    });
    expect(octal(modeOf(log))).toBe(octal(0o640));
  });
});

describe('a path that is a symbolic link', () => {
  // Decision: refused. Following it would write through the link until the first rotation, which then
  // archives the link itself (link(2) does not follow it) and leaves the target behind, never rotated again;
  // and a link planted by someone who can write the directory would redirect a root process's lines.
  it('is refused at construction when it points to a file, and the file is not touched', () => {
    const dir = tempDir();
    const target = path.join(dir, 'real.log');
    fs.writeFileSync(target, 'before\n');
    fs.symlinkSync('real.log', path.join(dir, 'app.log'));
    const error = optionError(() => createRotatingFile({ path: path.join(dir, 'app.log') }));
    expect(error.option).toBe('path');
    expect(error.message).toMatch(/symbolic link/);
    expect(error.message).toContain('real.log');
    expect(fs.readFileSync(target, 'utf8')).toBe('before\n');
    expect(tree(dir)).toEqual(['app.log', 'real.log']);
  });

  it('is refused when it dangles', () => {
    const dir = tempDir();
    fs.symlinkSync('missing.log', path.join(dir, 'app.log'));
    const error = optionError(() => createRotatingFile({ path: path.join(dir, 'app.log') }));
    expect(error.message).toMatch(/symbolic link/);
    expect(tree(dir)).toEqual(['app.log']);
  });

  it('is not followed when planted at the active name later: reopen() reports an error, the target gets nothing, and the lines are counted', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const target = path.join(dir, 'elsewhere.txt');
    fs.writeFileSync(target, '');
    const file = track(createRotatingFile({ path: log, timeZone: 'UTC', fallbackMs: 500 }));
    const errors: Array<{ code?: string }> = [];
    file.on('error', (err: { code?: string }) => errors.push(err));
    file.write('before');
    await file.flush();
    fs.unlinkSync(log);
    fs.symlinkSync('elsewhere.txt', log);
    file.reopen();
    file.write('after');
    await file.close();
    expect(fs.readFileSync(target, 'utf8')).toBe('');
    // reopen()'s, then the last write's at close(): 'before' went with the deleted file, 'after' had no file.
    expect(errors.map((e) => e.code)).toEqual(['ELOOP', 'ELOOP']);
    expect(file.stats().droppedLines).toBe(2);
  });

  it('is fine for a directory on the way: archives land beside the file, in the real directory', () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'real'));
    fs.symlinkSync('real', path.join(dir, 'logs'));
    let now = Date.UTC(2026, 10, 25, 10);
    const file = track(new RotatingFile({ path: path.join(dir, 'logs', 'app.log'), frequency: 'hourly', timeZone: 'UTC' }, { now: () => now }));
    file.write('one');
    file.flushSync();
    now += 3_600_000;
    file.write('two');
    file.flushSync();
    expect(tree(path.join(dir, 'real'))).toEqual(['.app.log.state', 'app.2026-11-25T10+0000.log', 'app.log']);
  });
});

describe('a path that is not a regular file in a directory', () => {
  for (const mkdir of [true, false]) {
    it(`is refused when its parent is a file (mkdir: ${mkdir}), naming the parent`, () => {
      const dir = tempDir();
      const parent = path.join(dir, 'plain');
      fs.writeFileSync(parent, 'not a directory\n');
      const error = optionError(() => createRotatingFile({ path: path.join(parent, 'app.log'), mkdir }));
      expect(error.option).toBe('path');
      expect(error.message).toContain(parent);
      expect(fs.readFileSync(parent, 'utf8')).toBe('not a directory\n');
    });

    it(`is refused when a directory further up is a file (mkdir: ${mkdir})`, () => {
      const dir = tempDir();
      fs.writeFileSync(path.join(dir, 'plain'), '');
      const error = optionError(() => createRotatingFile({ path: path.join(dir, 'plain', 'sub', 'app.log'), mkdir }));
      expect(error.option).toBe('path');
      expect(error.message).toContain(path.join(dir, 'plain'));
    });
  }

  for (const mkdir of [true, false]) {
    it(`is refused, as an option error naming it, when a name in it is too long (mkdir: ${mkdir})`, () => {
      const dir = tempDir();
      for (const file of [path.join(dir, 'd'.repeat(300), 'app.log'), path.join(dir, `${'f'.repeat(300)}.log`)]) {
        const error = optionError(() => createRotatingFile({ path: file, mkdir }));
        expect(error.option).toBe('path');
        expect(error.message).toContain(file);
        expect(error.message).toMatch(/at most \d+ bytes/);
      }
    });
  }

  /** The longest file name (in bytes, with `.log`) that these options accept, as the refusal of a longer one says. */
  function longestAccepted(dir: string, options: Partial<RotatingFileOptions>): number {
    const error = optionError(() => createRotatingFile({ ...options, path: path.join(dir, `${'n'.repeat(250)}.log`) }));
    expect(error.option).toBe('path');
    expect(error.message).toMatch(/must fit in 255 bytes, and the longest, ".+", has \d+/);
    const most = Number(/a file name of at most (\d+) bytes/.exec(error.message)?.[1]);
    expect(() => createRotatingFile({ ...options, path: path.join(dir, `${'n'.repeat(most - 3)}.log`) })).toThrow(/a file name of at most/);
    return most;
  }

  // Without compression, a long dateFormat makes the archive's name the longest (a rotation looks for its
  // .gz even so); with it, the name of the .gz on its way.
  for (const [compress, dateFormat] of [
    [false, "yyyy-MM-dd'T'HH-mm-ss-SSSxx"],
    [true, undefined],
  ] as const) {
    it(`is refused when the names made from its file name would be too long, and works up to that length (compress: ${compress})`, async () => {
      const dir = tempDir();
      const most = longestAccepted(dir, { compress, dateFormat });
      expect(most).toBeLessThan(240);
      // The longest accepted name: its state, lock, archives (101 in one period: 3-digit indexes) and .gz are made.
      const file = track(createRotatingFile({ path: path.join(dir, `${'n'.repeat(most - 4)}.log`), dateFormat, compress: compress && { delayMs: 0 }, checkIntervalMs: 100, sync: true }));
      for (let i = 0; i <= 100; i++) {
        file.write(`line ${i}`);
        expect(await file.rotate()).toBe(true);
      }
      if (compress) await vi.waitFor(() => expect(fs.readdirSync(dir).some((name) => name.endsWith('.gz'))).toBe(true), { timeout: 10_000, interval: 20 });
      expect(file.stats()).toMatchObject({ errors: 0, lateLines: 0, rotations: 101 });
    });
  }

  it('leaves room for the longest month and weekday names and day periods of a word format, in its zone', () => {
    const dir = tempDir();
    const options = { timeZone: 'Europe/Berlin', frequency: 'hourly', dateFormat: 'yyyy-MMMM-dd-EEEE-HH-BBBB' } as const;
    const most = longestAccepted(dir, options);
    let now = Date.UTC(2026, 8, 30, 12, 30); // Wednesday, 30 September 2026, 14:30 in Berlin: "in the afternoon"
    const file = track(new RotatingFile({ ...options, path: path.join(dir, `${'n'.repeat(most - 4)}.log`), sync: true }, { now: () => now }));
    file.write('wednesday');
    now = Date.UTC(2026, 8, 30, 13, 0, 1); // the next hour: the 14:00 file is archived
    file.write('still wednesday');
    expect(file.stats()).toMatchObject({ errors: 0, rotations: 1 });
    expect(fs.readdirSync(dir).filter((name) => name.includes('September-30-Wednesday-14-in the afternoon'))).toHaveLength(1);
  });

  it('is refused when its directory is a loop of symbolic links', () => {
    const dir = tempDir();
    fs.symlinkSync(path.join(dir, 'b'), path.join(dir, 'a'));
    fs.symlinkSync(path.join(dir, 'a'), path.join(dir, 'b'));
    for (const mkdir of [true, false]) {
      const error = optionError(() => createRotatingFile({ path: path.join(dir, 'a', 'app.log'), mkdir }));
      expect(error.option).toBe('path');
      expect(error.message).toContain('loop of symbolic links');
    }
  });

  it('is refused when it names a directory', () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'app.log'));
    expect(optionError(() => createRotatingFile({ path: path.join(dir, 'app.log') })).message).toMatch(/directory/);
  });

  it('is refused when it names a FIFO (a rotation would link and unlink it like a file)', () => {
    const dir = tempDir();
    const fifo = path.join(dir, 'app.log');
    execFileSync('mkfifo', [fifo]);
    // A reader, so that a writer opening the FIFO does not block this process if it is not refused.
    readers.push(fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
    const error = optionError(() => createRotatingFile({ path: fifo }));
    expect(error.option).toBe('path');
    expect(error.message).toMatch(/regular file/);
  });
});
