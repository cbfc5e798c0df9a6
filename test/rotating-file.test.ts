import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RotatingFile, createRotatingFile, type RotateEvent, type RotatingFileOptions, type RotatingFileStats, type WarningEvent } from '../src/index.js';
import { runInSignalContext } from '../src/signal-context.js';
import { rotateFailingUnderLock } from './helpers/test-hooks.js';
import { stateTempPath } from '../src/state.js';

const dirs: string[] = [];
const files: RotatingFile[] = [];

/**
 * A file on the injected clock `clock.now` (starting `at`, checking its name every 100 ms) that wrote one line
 * ('before midnight') and is idle now: the flush that line queued has run.
 */
async function idleBeforeMidnight(at: number, options: Partial<RotatingFileOptions> = {}): Promise<{ dir: string; file: RotatingFile; clock: { now: number } }> {
  const dir = tempDir();
  const clock = { now: at };
  const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', checkIntervalMs: 100, ...options }, { now: () => clock.now }));
  file.write('before midnight');
  await file.flush();
  await new Promise((resolve) => setImmediate(resolve));
  return { dir, file, clock };
}

/** The delays every setTimeout() asks for from now on (the timers still run). */
function recordTimeoutDelays(): number[] {
  const delays: number[] = [];
  const realSetTimeout = globalThis.setTimeout;
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return realSetTimeout(fn, ms);
  }) as typeof setTimeout);
  return delays;
}

/**
 * Make fs.writeSync throw ENOSPC while `refusing()` says so; returns what puts it back. Not a vi.spyOn: a spy
 * keeps every call it answers.
 */
function refuseWrites(refusing: () => boolean = () => true): () => void {
  const { writeSync } = fs;
  fs.writeSync = ((fd: number, ...rest: unknown[]) => {
    if (refusing()) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (writeSync as (...args: unknown[]) => number)(fd, ...rest);
  }) as typeof fs.writeSync;
  return () => {
    fs.writeSync = writeSync;
  };
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-rf-'));
  dirs.push(dir);
  return dir;
}

function toBufferForTest(data: Buffer | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data) : data;
}

/**
 * Run `action` once, the first time a rotation of this process reaches `step` (rotation.ts's test hook).
 * Returns what removes the hook if that never happened.
 */
function onceAtStep(step: string, action: () => void): () => void {
  const key = Symbol.for('timberlock.testHooks');
  const hooks = globalThis as Record<symbol, unknown>;
  hooks[key] = {
    at(reached: string) {
      if (reached !== step) return;
      hooks[key] = undefined;
      action();
    },
  };
  return () => {
    hooks[key] = undefined;
  };
}

function track(file: RotatingFile): RotatingFile {
  files.push(file);
  return file;
}

function visible(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => !name.startsWith('.')).sort();
}

function partIndex(name: string): number {
  return Number(/\.(\d+)\.log$/.exec(name)?.[1] ?? 0);
}

function readLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** Two files on one path with maxSize, as two processes (sync: true): one writes, the other rolls. */
function writerAndRoller(): { dir: string; log: string; writer: RotatingFile; roller: RotatingFile } {
  const dir = tempDir();
  const log = path.join(dir, 'app.log');
  const now = Date.UTC(2026, 10, 25, 12);
  const options = { path: log, timeZone: 'UTC', maxSize: 1024, sync: true } as const;
  return { dir, log, writer: track(new RotatingFile(options, { now: () => now })), roller: track(new RotatingFile(options, { now: () => now })) };
}

/**
 * A file (sync: true) whose `waiting` lines wait past a boundary behind a rotation lock "another process"
 * holds, whose old file that process then archives and compresses (no name left), and whose LATE_LINES
 * listener lets that lock go and rotates. `giveUp()` moves past fallbackMs and flushes: the lines go to
 * the active name, and the listener rotates in the middle of that.
 */
function lateLinesWhileRotating(dir: string, waiting: string[]): { file: RotatingFile; log: string; giveUp: () => void } {
  const log = path.join(dir, 'app.log');
  let now = Date.UTC(2026, 10, 25, 23, 59, 59);
  const file = track(new RotatingFile({ path: log, timeZone: 'UTC', fallbackMs: 1000, sync: true }, { now: () => now }));
  const lock = path.join(dir, '.app.log.lock');
  file.on('warning', (w: { code: string }) => {
    if (w.code !== 'LATE_LINES') return;
    fs.rmdirSync(lock); // the other process is done with the lock
    void file.rotate(); // sync: true, so it rotates now, on this thread
  });
  file.write('old');
  fs.mkdirSync(lock); // another process holds the lock (and is alive: fresh mtime)
  now = Date.UTC(2026, 10, 26, 0, 0, 0, 500);
  for (const line of waiting) file.write(line);
  fs.renameSync(log, path.join(dir, 'app.2026-11-25.log'));
  fs.rmSync(path.join(dir, 'app.2026-11-25.log'));
  const giveUp = (): void => {
    now += 1000;
    (file as unknown as { flushNow(): void }).flushNow();
  };
  return { file, log, giveUp };
}

afterEach(async () => {
  vi.restoreAllMocks(); // a test that failed midway leaves no spy behind
  await Promise.all(files.splice(0).map((file) => file.close()));
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('RotatingFile, one process', () => {
  it('appends every line whole, adding a missing newline, and flushes on close', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log') }));
    file.write('first');
    file.write('second\n');
    file.write(Buffer.from('third'));
    await file.close();
    expect(fs.readFileSync(path.join(dir, 'app.log'), 'utf8')).toBe('first\nsecond\nthird\n');
    expect(file.stats()).toMatchObject({ lines: 3, bytes: 19, bufferedLines: 0 });
  });

  it("end(chunk, encoding, callback) as a Writable's: the chunk in its encoding, 'finish' then 'close', then the callback", async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log }));
    const events: string[] = [];
    file.on('finish', () => events.push(`finish ${fs.readFileSync(log, 'utf8').length}`));
    file.on('close', () => events.push('close'));
    file.write('first');
    const called = new Promise<void>((resolve) => file.end('6c617374', 'hex', () => resolve()));
    await called;
    expect(events).toEqual(['finish 11', 'close']);
    expect(fs.readFileSync(log, 'utf8')).toBe('first\nlast\n');
  });

  it("end(callback): a callback that throws is an uncaught exception, as a Writable's is, not an unhandled rejection", () => {
    const log = path.join(tempDir(), 'app.log');
    const dist = pathToFileURL(path.join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const script = `
      process.on('uncaughtException', (err) => console.log('uncaught: ' + err.message));
      process.on('unhandledRejection', (err) => console.log('rejection: ' + err.message));
      const { createRotatingFile } = await import(${JSON.stringify(dist)});
      createRotatingFile({ path: ${JSON.stringify(log)} }).end('last', () => { throw new Error('end callback failed'); });`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(out.stdout.trim(), out.stderr).toBe('uncaught: end callback failed');
    expect(readLines(log)).toEqual(['last']);
  });

  it('flush(callback) calls back with the error once writes fail, as sonic-boom does; the lines stay and are written once the disk takes them', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const lock = path.join(dir, '.app.log.lock');
    const { writeSync } = fs;
    let failing = false;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: unknown, ...rest: unknown[]) => {
      if (failing && String(data).includes('new')) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      return (writeSync as (...args: unknown[]) => number)(fd, data, ...rest);
    }) as typeof fs.writeSync);
    let now = Date.UTC(2026, 10, 25, 23, 59, 59);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => now }));
    const errors: Error[] = [];
    file.on('error', (err: Error) => errors.push(err));
    file.write('old');
    await file.flush();
    fs.mkdirSync(lock); // another process holds the lock at the boundary: the next line waits for its file
    now = Date.UTC(2026, 10, 26, 0, 0, 0, 500);
    file.write('new');
    let settled = false;
    const flushed = file.flush().then(() => (settled = true));
    const waiting = new Promise((resolve) => file.flush(resolve));
    failing = true; // the disk fails just as the lock is let go: the waiting line cannot be written
    fs.rmdirSync(lock);
    const first = await waiting;
    expect(first).toMatchObject({ code: 'EIO' });
    expect(first).toBe(errors[0]);
    // While the writes still fail: called back with that error at once.
    expect(await new Promise((resolve) => file.flush(resolve))).toBe(first);
    expect(settled).toBe(false);
    failing = false;
    await flushed; // a retry wrote the line
    expect(readLines(log)).toEqual(['new']);
    expect(await new Promise((resolve) => file.flush(resolve))).toBeNull();
  });

  it('keeps its buffer bounded in slots too while the disk refuses every write: the dropped lines leave no trace in memory', async () => {
    const dir = tempDir();
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', highWaterMark: 1024, maxBufferBytes: 4096 }));
    file.on('error', () => {});
    await once(file, 'open');
    const full = vi.spyOn(fs, 'writeSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    try {
      for (let i = 0; i < 200_000; i++) file.write(`line ${i}`);
      const slots = (file as unknown as { pending: unknown[] }).pending.length;
      expect(file.stats().droppedLines).toBeGreaterThan(190_000);
      expect(slots).toBeLessThan(20_000);
    } finally {
      full.mockRestore();
    }
  });

  it('keeps nothing in memory for each flush(callback) answered with the error while the disk refuses every write', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const file = track(new RotatingFile({ path: path.join(tempDir(), 'app.log'), timeZone: 'UTC' }));
    file.on('error', () => {});
    await once(file, 'open');
    const restore = refuseWrites(); // each flush() tries a write
    try {
      file.write('waits for the disk');
      expect(await new Promise((resolve) => file.flush(resolve))).toMatchObject({ code: 'ENOSPC' });
      gc();
      const before = process.memoryUsage().heapUsed;
      const calls = 50_000;
      let answered = 0;
      await new Promise<void>((resolve) => {
        for (let i = 0; i < calls; i++) file.flush((err) => err && ++answered === calls && resolve());
      });
      gc();
      const grown = process.memoryUsage().heapUsed - before;
      expect(grown).toBeLessThan(4 * 1024 * 1024); // each call kept about 0.5 KB: 25 MB
    } finally {
      restore();
    }
  });

  it('after close(), finishes a line a short write cut, and ends a line a full disk cut before the next one (counted as dropped)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }));
    await file.close();
    const writeSync = fs.writeSync.bind(fs) as (fd: number, data: Buffer, offset: number) => number;
    const noSpace = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    let calls = 0;
    // The first line: 100 bytes go in, then the disk takes the rest. The second: 100 bytes, then the disk is full.
    const disk = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: Buffer, at?: number | null) => {
      const offset = at ?? 0;
      calls++;
      if (calls === 1 || calls === 3) return writeSync(fd, data.subarray(offset, offset + 100), 0);
      if (calls === 4) throw noSpace;
      return writeSync(fd, data, offset);
    }) as typeof fs.writeSync);
    try {
      file.on('error', () => {});
      file.write('a'.repeat(300));
      file.write('b'.repeat(300));
    } finally {
      disk.mockRestore();
    }
    file.write('third');
    expect(readLines(log)).toEqual(['a'.repeat(300), 'b'.repeat(100), 'third']);
    expect(file.stats()).toMatchObject({ droppedLines: 1, bytes: 301 + 100 + 7 });
  });

  it('after close(), a line of which only the newline ending the cut one got in leaves no empty line behind', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }));
    await file.close();
    file.on('error', () => {});
    const writeSync = fs.writeSync.bind(fs) as (fd: number, data: Buffer, offset: number) => number;
    let calls = 0;
    // The first line: 5 bytes, then the disk is full. The second: only the newline ending the first, then full.
    const disk = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: Buffer, at?: number | null) => {
      const offset = at ?? 0;
      calls++;
      if (calls === 1) return writeSync(fd, data.subarray(offset, offset + 5), 0);
      if (calls === 3) return writeSync(fd, data.subarray(offset, offset + 1), 0);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as typeof fs.writeSync);
    try {
      file.write('a'.repeat(20));
      file.write('second');
    } finally {
      disk.mockRestore();
    }
    file.write('third');
    expect(fs.readFileSync(log, 'utf8')).toBe(`${'a'.repeat(5)}\nthird\n`);
    expect(file.stats().droppedLines).toBe(2);
  });

  it('ends a line a short write cut before the disk filled up and close() dropped its rest, before the next line written after close()', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { closeWaitMs: 0 }));
    file.on('error', () => {});
    await once(file, 'open');
    const writeSync = fs.writeSync.bind(fs) as (fd: number, data: Buffer | string) => number;
    let calls = 0;
    const disk = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: Buffer | string) => {
      if (++calls === 1) return writeSync(fd, toBufferForTest(data).subarray(0, 100)); // then the disk is full
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as typeof fs.writeSync);
    try {
      file.write('a'.repeat(300));
      await file.close(); // its rest cannot be written: dropped, counted
    } finally {
      disk.mockRestore();
    }
    file.write('after close');
    expect(readLines(log)).toEqual(['a'.repeat(100), 'after close']);
    expect(file.stats().droppedLines).toBe(1);
  });

  it('tells WRITE_AFTER_CLOSE once when lines come after close(), and appends them', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log }));
    const warnings: string[] = [];
    file.on('warning', (w: { code: string }) => warnings.push(w.code));
    file.write('before');
    await file.close();
    file.write('after one');
    file.write('after two');
    expect(warnings).toEqual(['WRITE_AFTER_CLOSE']);
    expect(readLines(log)).toEqual(['before', 'after one', 'after two']);
  });

  it('counts the lines written after close() that cannot be appended as dropped, and tells each failing spell once (an error and a DROPPED_LINES warning)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log }));
    const errors: string[] = [];
    const drops: unknown[] = [];
    file.on('error', (err: Error) => errors.push(err.message));
    file.on('warning', (w: { code: string; details?: unknown }) => {
      if (w.code !== 'DROPPED_LINES') return;
      drops.push(w.details);
      file.write('logged by the warning listener'); // dropped too, and told no more: no end of warnings
    });
    await file.close();
    // A directory under the active name: every append fails (EISDIR).
    fs.rmSync(log);
    fs.mkdirSync(log);
    file.write('lost one');
    file.write('lost two');
    fs.rmdirSync(log);
    file.write('kept');
    expect(readLines(log)).toEqual(['kept']);
    fs.rmSync(log);
    fs.mkdirSync(log);
    file.write('lost three');
    expect(drops).toEqual([{ lines: 1 }, { lines: 1 }]);
    // 'lost one', the listener's line, 'lost two'; 'lost three', the listener's line.
    expect(file.stats().droppedLines).toBe(5);
    expect(errors).toHaveLength(2);
    for (const message of errors) {
      expect(message).toMatch(/write after close failed on .*EISDIR.*; the line is dropped$/);
      expect(message).not.toContain('retried');
    }
  });

  it("takes write(chunk, [encoding], [callback]) as a Writable does: the string's encoding, and the callback once the line is in the file", async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log }));
    const calls: string[] = [];
    // Each callback notes its error and whether its line was in the file by then.
    file.write('68656c6c6f', 'hex', (err) => calls.push(`hex ${String(err ?? null)} ${readLines(log).includes('hello')}`));
    file.write('plain', (err) => calls.push(`plain ${String(err ?? null)} ${readLines(log).includes('plain')}`));
    await promisify(file.write).call(file, 'promisified');
    expect(readLines(log)).toEqual(['hello', 'plain', 'promisified']);
    expect(calls).toEqual(['hex null true', 'plain null true']);
    expect(() => file.write('x', 'no-such-encoding' as BufferEncoding)).toThrow(TypeError);
    expect(() => file.write('x', 'utf8', 'not a function' as never)).toThrow(/callback must be a function, got string/);
    expect(readLines(log)).toHaveLength(3);
    await new Promise<void>((resolve) => file.end(null, resolve));
    expect(readLines(log)).toHaveLength(3);
  });

  it("refuses a string in UTF-16 (utf16le, ucs2), whose bytes hold 0x0A inside characters, naming the encoding and those allowed", async () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(createRotatingFile({ path: log }));
    for (const encoding of ['utf16le', 'ucs2', 'UTF-16LE'] as BufferEncoding[]) {
      expect(() => file.write('\u010a', encoding)).toThrow(new RegExp(`encoding '${encoding}' is not supported: .*Allowed: utf8, ascii, latin1`));
    }
    file.write('686921', 'hex');
    await file.close();
    expect(fs.readFileSync(log, 'utf8')).toBe('hi!\n');
  });

  it('writes a line longer than a batch from the Buffer it was given, not from a copy of it', () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(createRotatingFile({ path: log, sync: true }));
    const line = Buffer.alloc(200_000, 'x');
    line[line.length - 1] = 0x0a;
    const written: unknown[] = [];
    const writeSync = fs.writeSync.bind(fs) as (fd: number, data: Buffer | string) => number;
    const spy = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: Buffer | string) => {
      written.push(data);
      return writeSync(fd, data);
    }) as typeof fs.writeSync);
    try {
      file.write(line);
    } finally {
      spy.mockRestore();
    }
    expect(written).toHaveLength(1);
    expect(written[0]).toBe(line);
    expect(fs.statSync(log).size).toBe(200_000);
  });

  it("has a Writable's state: writableLength and writableNeedDrain while lines wait, writableEnded once ending, writableFinished, closed and destroyed once closed", async () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(createRotatingFile({ path: log, highWaterMark: 1024 }));
    expect([file.writableEnded, file.writableFinished, file.destroyed, file.closed, file.writableObjectMode]).toEqual([false, false, false, false, false]);
    expect(file.writableHighWaterMark).toBe(1024);
    expect(file.write('x'.repeat(599))).toBe(true);
    expect([file.writableLength, file.writableNeedDrain]).toEqual([600, false]);
    expect(file.write('x'.repeat(599))).toBe(false);
    expect([file.writableLength, file.writableNeedDrain]).toEqual([1200, true]);
    await once(file, 'drain');
    expect([file.writableLength, file.writableNeedDrain]).toEqual([0, false]);
    file.end('last');
    expect([file.writableEnded, file.writableFinished, file.destroyed]).toEqual([true, false, false]);
    await once(file, 'close');
    expect([file.writableEnded, file.writableFinished, file.closed, file.destroyed]).toEqual([true, true, true, true]);
  });

  it("destroy() as sonic-boom's: closes without close()'s wait, the lines waiting for the next period's file written to the previous one (late), then 'close' without 'finish'", async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 23, 59, 59);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', fallbackMs: 600_000 }, { now: () => now }));
    file.write('old');
    await file.flush();
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process holds the lock past midnight, for good
    now = Date.UTC(2026, 10, 26, 0, 0, 0, 500);
    file.write('waiting');
    const events: string[] = [];
    file.on('finish', () => events.push('finish'));
    const closed = once(file, 'close');
    const closing = file.close(); // would wait 600 s for the new file
    expect(file.destroy()).toBe(file);
    expect(file.destroyed).toBe(true);
    await closed; // within the test's timeout: close() no longer waits
    await closing;
    expect(events).toEqual([]);
    expect(readLines(log)).toEqual(['old', 'waiting']);
    expect(file.stats()).toMatchObject({ lateLines: 1, droppedLines: 0, bufferedLines: 0 });
    fs.rmdirSync(path.join(dir, '.app.log.lock'));
  });

  it("destroy(error), as stream.pipeline() calls it with the file's own I/O error, closes as close() does: the lines a short outage held are written, none dropped", async () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(createRotatingFile({ path: log }));
    await once(file, 'open');
    let failUntil = 0;
    const restore = refuseWrites(() => Date.now() < failUntil);
    try {
      let i = 0;
      const source = new Readable({
        read() {
          if (i === 50) failUntil = Date.now() + 300; // the disk refuses writes for 300 ms
          this.push(i < 200 ? `line ${i++}\n` : null);
        },
      });
      const ended = new Promise<NodeJS.ErrnoException | null>((resolve) => pipeline(source, file, (err) => resolve(err ?? null)));
      expect((await ended)?.code).toBe('ENOSPC'); // the pipeline ends with the file's 'error', and destroys it with it
      await once(file, 'close');
    } finally {
      restore();
    }
    expect(readLines(log)).toEqual(Array.from({ length: 200 }, (_, i) => `line ${i}`));
    expect(file.stats().droppedLines).toBe(0);
  });

  it("takes a stream piped in after close() while a write() that returned false got no 'drain': writableNeedDrain is false once it closes, so the lines are appended", async () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(new RotatingFile({ path: log, highWaterMark: 1024 }, { closeWaitMs: 50 }));
    file.on('error', () => {});
    file.on('warning', () => {}); // DROPPED_LINES, WRITE_AFTER_CLOSE
    await once(file, 'open');
    const restore = refuseWrites();
    try {
      expect(file.write('x'.repeat(2000))).toBe(false);
      expect(file.writableNeedDrain).toBe(true);
      await file.close(); // the line is dropped, and no 'drain' comes after 'close'
    } finally {
      restore();
    }
    expect(file.stats().droppedLines).toBe(1);
    expect(file.writableNeedDrain).toBe(false);
    Readable.from(['after 1\n', 'after 2\n']).pipe(file);
    await vi.waitFor(() => expect(readLines(log)).toEqual(['after 1', 'after 2']), { timeout: 5000, interval: 10 });
  });

  it('answers write() callbacks with the error as soon as writes fail, at once while they fail (none kept), and with null once writes work', async () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(createRotatingFile({ path: log }));
    file.on('error', () => {});
    const { writeSync } = fs;
    let failing = true;
    const disk = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: unknown, ...rest: unknown[]) => {
      if (failing) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return (writeSync as (...args: unknown[]) => number)(fd, data, ...rest);
    }) as typeof fs.writeSync);
    const answers: string[] = [];
    const answer = (name: string) => (err?: Error | null) => answers.push(`${name} ${err ? (err as NodeJS.ErrnoException).code : 'null'}`);
    try {
      file.write('one', answer('one'));
      await vi.waitFor(() => expect(answers).toEqual(['one ENOSPC']), { timeout: 5000, interval: 5 });
      for (let i = 0; i < 1000; i++) file.write(`more ${i}`, answer('more'));
      await vi.waitFor(() => expect(answers).toHaveLength(1001), { timeout: 5000, interval: 5 });
      expect(new Set(answers.slice(1))).toEqual(new Set(['more ENOSPC']));
      // Nothing kept for them: callbacks piled up in memory while the disk stayed full (1.9 GB in 4 s).
      const held = file as unknown as { writeCallbacks: unknown[]; flushWaiter: unknown };
      expect(held.writeCallbacks).toHaveLength(0);
      expect(held.flushWaiter).toBeNull();
      failing = false;
      await vi.waitFor(() => expect(file.stats().bufferedLines).toBe(0), { timeout: 10_000, interval: 10 });
    } finally {
      disk.mockRestore();
    }
    file.write('later', answer('later'));
    await vi.waitFor(() => expect(answers.at(-1)).toBe('later null'), { timeout: 5000, interval: 5 });
    expect(readLines(log)).toEqual(['one', ...Array.from({ length: 1000 }, (_, i) => `more ${i}`), 'later']);
  });

  it("answers a write() callback with null when only a rotation failed: the line is written all the same", async () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(createRotatingFile({ path: log }));
    file.on('error', () => {});
    expect(await rotateFailingUnderLock(file)).toBe(false); // an error episode, begun by the rotation
    const answers: Array<Error | null | undefined> = [];
    file.write('after the failed rotation', (err) => answers.push(err));
    await vi.waitFor(() => expect(answers).toHaveLength(1), { timeout: 5000, interval: 5 });
    expect(answers[0]).toBeNull();
    expect(readLines(log)).toEqual(['after the failed rotation']);
  });

  it('answers the callback of a line dropped at once with an error: an append after close() that fails, a line the signal buffer has no room for', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log }));
    file.on('error', () => {});
    file.on('warning', () => {});
    const answers: string[] = [];
    const answer = (name: string) => (err?: Error | null) => answers.push(`${name} ${err ? (err as NodeJS.ErrnoException).code : 'null'}`);
    runInSignalContext(() => file.write('x'.repeat(2 * 1024 * 1024), answer('too long for the signal buffer')));
    runInSignalContext(() => file.write('fits', answer('fits')));
    await file.close();
    file.write('after close', answer('after close'));
    fs.rmSync(log);
    fs.mkdirSync(log); // every append fails (EISDIR)
    file.write('after close, failing', answer('after close, failing'));
    await vi.waitFor(() => expect(answers).toHaveLength(4), { timeout: 5000, interval: 5 });
    expect(answers).toEqual(['too long for the signal buffer DROPPED_LINES', 'fits null', 'after close null', 'after close, failing EISDIR']);
  });

  it('answers write() callbacks after the turn of the event loop: one that logs again when told of an error does not keep timers from running', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log }));
    file.on('error', () => {});
    file.on('warning', () => {});
    await file.close();
    fs.rmSync(log);
    fs.mkdirSync(log); // every append after close() fails (EISDIR)
    let answered = 0;
    let answeredWhenTimerRan = -1;
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        answeredWhenTimerRan = answered;
        resolve();
      }, 20),
    );
    const logAgain = (err?: Error | null): void => {
      if (err && ++answered < 100_000) file.write('could not log', logAgain);
    };
    file.write('first', logAgain);
    await timer;
    // Answered on the next tick, the loop ran all its 100,000 rounds before the timer could.
    expect(answeredWhenTimerRan).toBeGreaterThan(0);
    expect(answeredWhenTimerRan).toBeLessThan(100_000);
    answered = 100_000; // stops the loop
  });

  it("answers the callbacks of lines logged in the signal context in the order of the lines, with the append's error for a closed file's", async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log }));
    const answers: string[] = [];
    const answer = (name: string) => (err?: Error | null) => answers.push(`${name} ${err ? (err as NodeJS.ErrnoException).code : 'null'}`);
    runInSignalContext(() => file.write('in the signal context', answer('in the signal context')));
    file.write('after it', answer('after it'));
    await vi.waitFor(() => expect(answers).toHaveLength(2), { timeout: 5000, interval: 5 });
    expect(answers).toEqual(['in the signal context null', 'after it null']);
    expect(readLines(log)).toEqual(['in the signal context', 'after it']);
    const closed = track(createRotatingFile({ path: path.join(dir, 'closed.log') }));
    closed.on('error', () => {});
    closed.on('warning', () => {});
    await closed.close();
    fs.rmSync(path.join(dir, 'closed.log'));
    fs.mkdirSync(path.join(dir, 'closed.log')); // its appends fail (EISDIR)
    runInSignalContext(() => closed.write('to a closed file', answer('to a closed file')));
    await vi.waitFor(() => expect(answers).toHaveLength(3), { timeout: 5000, interval: 5 });
    expect(answers[2]).toBe('to a closed file EISDIR');
  });

  it('tells a failing append after close() as a spell of its own, though writes were failing when the file closed', async () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(new RotatingFile({ path: log }, { closeWaitMs: 200 }));
    const errors: string[] = [];
    const drops: unknown[] = [];
    file.on('error', (err: NodeJS.ErrnoException) => errors.push(String(err.code)));
    file.on('warning', (w: { code: string; details?: unknown }) => w.code === 'DROPPED_LINES' && drops.push(w.details));
    const disk = vi.spyOn(fs, 'writeSync').mockImplementation((() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as typeof fs.writeSync);
    try {
      file.write('lost at close');
      await file.close(); // the line is dropped and counted, the disk still full
    } finally {
      disk.mockRestore();
    }
    fs.rmSync(log);
    fs.mkdirSync(log);
    const answers: Array<string | null> = [];
    file.write('after close', (err) => answers.push(err ? String((err as NodeJS.ErrnoException).code) : null));
    await vi.waitFor(() => expect(answers).toHaveLength(1), { timeout: 5000, interval: 5 });
    expect(errors).toEqual(['ENOSPC', 'EISDIR']);
    expect(drops).toHaveLength(2);
    expect(answers).toEqual(['EISDIR']);
    expect(file.stats().droppedLines).toBe(2);
  });

  it('keeps the process alive for an awaited flush() only until fallbackMs after the first failure: no kept-alive retry is set later', async () => {
    const log = path.join(tempDir(), 'app.log');
    const file = track(new RotatingFile({ path: log }, { closeWaitMs: 700 }));
    file.on('error', () => {});
    const disk = vi.spyOn(fs, 'writeSync').mockImplementation((() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as typeof fs.writeSync);
    const internals = file as unknown as { retryTimer: NodeJS.Timeout | null; retryAt: number; writesFailingSince: number };
    let latestKeptAlive = 0;
    try {
      file.write('waits for the disk');
      const flushed = file.flush();
      // Retries 100, 200, 400 and 800 ms apart: the fourth would be kept alive past the 700 ms.
      const until = Date.now() + 1600;
      while (Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (internals.retryTimer?.hasRef()) latestKeptAlive = Math.max(latestKeptAlive, internals.retryAt - internals.writesFailingSince);
      }
      expect(latestKeptAlive).toBeGreaterThan(0);
      expect(latestKeptAlive).toBeLessThanOrEqual(700);
      disk.mockRestore();
      await flushed;
    } finally {
      disk.mockRestore();
    }
    expect(readLines(log)).toEqual(['waits for the disk']);
  });

  it('writes through before write() returns with sync: true', () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), sync: true }));
    file.write('now');
    expect(fs.readFileSync(path.join(dir, 'app.log'), 'utf8')).toBe('now\n');
  });

  it('returns false above the high-water mark and emits drain once written', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), highWaterMark: 1024 }));
    const results = Array.from({ length: 30 }, () => file.write('x'.repeat(99)));
    expect(results.at(-1)).toBe(false);
    await once(file, 'drain');
    expect(file.stats().bufferedBytes).toBe(0);
    expect(readLines(path.join(dir, 'app.log'))).toHaveLength(30);
  });

  it('returns false when a write goes over maxBufferBytes, though its lines are written at once, and emits drain after each such false', async () => {
    const dir = tempDir();
    // maxBufferBytes equal to highWaterMark: a write over it is written at once, and the buffer is empty again.
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), highWaterMark: 1024, maxBufferBytes: 1024 }));
    let drains = 0;
    file.on('drain', () => drains++);
    const results = Array.from({ length: 20 }, () => file.write('y'.repeat(299)));
    const falses = results.filter((result) => !result).length;
    expect(falses).toBe(5); // every fourth line takes the buffer over 1024 bytes
    await new Promise((resolve) => setImmediate(resolve));
    expect(drains).toBe(falses);
    await file.close();
    expect(readLines(path.join(dir, 'app.log'))).toHaveLength(20);
  });

  it('emits nothing after close, not even a drain it owed from a write that returned false', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), highWaterMark: 1024 }));
    file.on('error', () => {});
    const events: string[] = [];
    for (const name of ['drain', 'close'] as const) file.on(name, () => events.push(name));
    const disk = vi.spyOn(fs, 'writeSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    expect(file.write('x'.repeat(2000))).toBe(false);
    file.flushSync(); // the disk is full: the line stays in memory
    disk.mockRestore();
    await file.close(); // space again: close() writes it
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.at(-1)).toBe('close');
    expect(events.filter((name) => name === 'close')).toHaveLength(1);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['x'.repeat(2000)]);
  });

  it('writes no batch over 64 KiB, whatever the characters (multi-byte lines count their bytes)', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log') }));
    const sizes: number[] = [];
    const writeSync = fs.writeSync.bind(fs) as (fd: number, data: string | Buffer) => number;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: string | Buffer) => {
      sizes.push(Buffer.byteLength(data));
      return writeSync(fd, data);
    }) as typeof fs.writeSync);
    // 20,001 UTF-16 code units a line, 60,001 bytes: three fit in a batch by length, one by bytes.
    for (let i = 0; i < 12; i++) file.write('€'.repeat(20_000));
    file.flushSync();
    vi.restoreAllMocks();
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 * 1024);
    expect(readLines(path.join(dir, 'app.log'))).toHaveLength(12);
  });

  it('moves the file of an ended period to its archive name at the boundary (injected clock)', async () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 23, 59, 59, 0);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }, { now: () => now }));
    const rotations: RotateEvent[] = [];
    file.on('rotate', (event) => rotations.push(event));
    file.write('monday');
    file.flushSync();
    now = Date.UTC(2026, 10, 26, 0, 0, 1, 0);
    file.write('tuesday');
    file.flushSync();
    expect(visible(dir)).toEqual(['app.2026-11-25.log', 'app.log']);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['monday']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['tuesday']);
    expect(rotations).toEqual([
      { archive: path.join(dir, 'app.2026-11-25.log'), periodStart: Date.UTC(2026, 10, 26), previousPeriodStart: Date.UTC(2026, 10, 25) },
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, '.app.log.state'), 'utf8'))).toMatchObject({
      periodStart: Date.UTC(2026, 10, 26),
      ino: fs.statSync(path.join(dir, 'app.log')).ino,
    });
  });

  it('keeps lines of the new period in memory during the settle margin, never in the old file', () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 23, 59, 59, 990);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', settleMs: 50 }, { now: () => now }));
    file.write('old');
    file.flushSync();
    now = Date.UTC(2026, 10, 26, 0, 0, 0, 10); // 10 ms after the boundary, inside the 50 ms margin
    file.write('new');
    expect(file.stats().bufferedLines).toBe(1);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['old']);
    now += 50;
    file.write('newer');
    file.flushSync();
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['old']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['new', 'newer']);
    expect(file.stats().lateLines).toBe(0);
  });

  for (const oldFile of ['kept', 'gone'] as const) {
    const name =
      oldFile === 'kept'
        ? 'writes to the old file after fallbackMs when no new file can be had, counting each late line once'
        : 'after fallbackMs, writes the waiting lines to the active name when the old file has lost its last name (compressed or deleted)';
    it(name, () => {
      const dir = tempDir();
      let now = Date.UTC(2026, 10, 25, 23, 59, 59);
      const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', fallbackMs: 1000 }, { now: () => now }));
      const warnings: string[] = [];
      file.on('warning', (w) => warnings.push(w.code));
      file.write('old');
      file.flushSync();
      fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process holds the lock (and is alive: fresh mtime)
      now = Date.UTC(2026, 10, 26, 0, 0, 0, 500);
      const waiting = Array.from({ length: 300 }, (_, i) => `waiting ${i}`);
      for (const line of waiting) file.write(line);
      (file as unknown as { flushNow(): void }).flushNow();
      expect(file.stats()).toMatchObject({ bufferedLines: 300, lateLines: 0 });
      if (oldFile === 'gone') {
        // Another process archives the old file, and its maintenance compresses the archive (removes the plain file).
        fs.renameSync(path.join(dir, 'app.log'), path.join(dir, 'app.2026-11-25.log'));
        fs.rmSync(path.join(dir, 'app.2026-11-25.log'));
      }
      now += 1000;
      (file as unknown as { flushNow(): void }).flushNow();
      expect(file.stats()).toMatchObject({ bufferedLines: 0, lateLines: 300 });
      expect(readLines(path.join(dir, 'app.log'))).toEqual(oldFile === 'kept' ? ['old', ...waiting] : waiting);
      expect(warnings.filter((w) => w === 'LATE_LINES')).toHaveLength(1);
      fs.rmdirSync(path.join(dir, '.app.log.lock'));
    });
  }

  it('counts each late line once when a short write cuts the late batch', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 23, 59, 59);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', sync: true }, { now: () => now }));
    file.write('old');
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process holds the lock past midnight
    now = Date.UTC(2026, 10, 26, 0, 0, 0, 500);
    const lines = Array.from({ length: 10 }, (_, i) => `late line ${i}`);
    for (const line of lines) file.write(line); // they wait for the new file
    const writeSync = fs.writeSync.bind(fs) as (fd: number, data: Buffer | string) => number;
    let calls = 0;
    const short = vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: Buffer | string) => {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      return writeSync(fd, ++calls === 1 ? bytes.subarray(0, 30) : bytes); // the first write takes 30 bytes only
    }) as typeof fs.writeSync);
    try {
      file.flushSync(); // they cannot wait: to the old file, late
    } finally {
      short.mockRestore();
      fs.rmdirSync(path.join(dir, '.app.log.lock'));
    }
    expect(readLines(log)).toEqual(['old', ...lines]);
    expect(file.stats().lateLines).toBe(10);
  });

  it('loses no later line when a LATE_LINES listener rotates while late lines go to the active name', async () => {
    const dir = tempDir();
    const { file, giveUp } = lateLinesWhileRotating(dir, ['waiting']);
    giveUp();
    file.write('after the rotation');
    await file.close();
    const lines = visible(dir).flatMap((name) => readLines(path.join(dir, name)));
    expect(lines.sort()).toEqual(['after the rotation', 'waiting']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['after the rotation']);
  });

  it("follows another process's rotate() before writing when its check timer is overdue (its event loop was blocked), so no line goes to an archive compressed meanwhile", () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let writerNow = Date.UTC(2026, 10, 25, 12);
    const options = { path: log, timeZone: 'UTC', sync: true, checkIntervalMs: 60_000 } as const;
    const writer = track(new RotatingFile(options, { now: () => writerNow }));
    const rotator = track(new RotatingFile(options, { now: () => Date.UTC(2026, 10, 25, 12) }));
    writer.write('before');
    void rotator.rotate(); // sync: true, so the archive is made now
    const [archive] = visible(dir).filter((name) => name !== 'app.log');
    expect(readLines(path.join(dir, archive as string))).toEqual(['before']);
    fs.rmSync(path.join(dir, archive as string)); // the rotator's maintenance compressed it: the plain name is gone
    writerNow += 61_000; // the writer's loop was blocked for longer than checkIntervalMs: its check did not run
    writer.write('after the block');
    expect(readLines(log)).toEqual(['after the block']);
    expect(writer.stats()).toMatchObject({ lateLines: 0, bufferedLines: 0 });
  });

  it('completes a line a short write cut in the active name there, when a LATE_LINES listener rotates while late lines go to it', async () => {
    const dir = tempDir();
    const waiting = ['waiting-one-xxxxxxxxxxxxxxxxxxxx', 'waiting-two-xxxxxxxxxxxxxxxxxxxx'];
    const { file, log, giveUp } = lateLinesWhileRotating(dir, waiting);
    // The first write to the active name, opened for these late lines, is short (a disk nearly full): 10 bytes.
    const { openSync, writeSync } = fs;
    let activeFd = -1;
    vi.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      const fd = (openSync as (...args: unknown[]) => number)(file, ...rest);
      if (String(file) === log && activeFd === -1) activeFd = fd;
      return fd;
    }) as typeof fs.openSync);
    let cut = false;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]) => {
      if (fd !== activeFd || cut) return (writeSync as (...args: unknown[]) => number)(fd, data, ...rest);
      cut = true;
      return writeSync(fd, Buffer.from(data as string).subarray(0, 10));
    }) as typeof fs.writeSync);
    try {
      giveUp();
    } finally {
      vi.restoreAllMocks();
    }
    expect(cut).toBe(true);
    await file.close();
    const lines = visible(dir).flatMap((name) => readLines(path.join(dir, name)));
    expect(lines.sort()).toEqual(waiting);
  });

  it('never overwrites an archive: a name that is taken gets the next index', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'app.2026-11-25.log'), 'precious\n');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }, { now: () => now }));
    file.write('a');
    file.flushSync();
    now = Date.UTC(2026, 10, 26, 12);
    file.write('b');
    file.flushSync();
    expect(fs.readFileSync(path.join(dir, 'app.2026-11-25.log'), 'utf8')).toBe('precious\n');
    expect(readLines(path.join(dir, 'app.2026-11-25.1.log'))).toEqual(['a']);
  });

  it('with retention, archives a file one past the highest index of its period on disk, never under an index retention freed', () => {
    const dir = tempDir();
    // What retention (maxFiles: 3) left of a period's earlier size rolls: .0 to .6 are gone.
    for (const name of ['app.2026-11-25.7.log', 'app.2026-11-25.8.log.gz', 'app.2026-11-25.9.log', 'app.2026-11-24.12.log']) {
      fs.writeFileSync(path.join(dir, name), 'older\n');
    }
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', maxFiles: 3 }, { now: () => now }));
    file.write('newest');
    file.flushSync();
    now = Date.UTC(2026, 10, 26, 12);
    file.write('next day');
    file.flushSync();
    expect(readLines(path.join(dir, 'app.2026-11-25.10.log'))).toEqual(['newest']);
    expect(fs.existsSync(path.join(dir, 'app.2026-11-25.log'))).toBe(false);
  });

  it('with retention, a rotation that finds the active file already linked to an archive name only unlinks it (no second archive)', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', maxFiles: 3 }, { now: () => now }));
    file.write('a');
    file.flushSync();
    fs.linkSync(log, path.join(dir, 'app.2026-11-25.log')); // a holder that stopped between its link and its unlink
    now = Date.UTC(2026, 10, 26, 12);
    file.write('b');
    file.flushSync();
    expect(visible(dir)).toEqual(['app.2026-11-25.log', 'app.log']);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['a']);
    expect(readLines(log)).toEqual(['b']);
  });

  it('with retention, a stray name with an index too large to count from does not stop the rotation', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'app.2026-11-25.1764115200000000000.log'), 'stray\n');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', maxFiles: 3 }, { now: () => now }));
    file.write('a');
    file.flushSync();
    now = Date.UTC(2026, 10, 26, 12);
    file.write('b');
    file.flushSync();
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['a']);
  });

  it('with maxSize, a batch written while another process rolls the file (between its unlink and its create) waits for the new file', async () => {
    const { dir, log, writer, roller } = writerAndRoller();
    writer.write('before the roll');
    const unhook = onceAtStep('before-create', () => writer.write('during the roll')); // sync: true, so it is written now, unless it waits
    try {
      expect(await roller.rotate()).toBe(true);
    } finally {
      unhook();
    }
    await vi.waitFor(() => expect(readLines(log)).toEqual(['during the roll']), { timeout: 5000, interval: 5 });
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['before the roll']);
    expect(writer.stats().lateLines).toBe(0);
  });

  it("with maxSize, a roll of another process that cannot be followed (EMFILE) is one 'error', and the batches go to the rolled file counted as late", async () => {
    const { dir, writer, roller } = writerAndRoller();
    const errors: string[] = [];
    writer.on('error', (err) => errors.push(err.code));
    writer.write('before the roll');
    expect(await roller.rotate()).toBe(true);
    const spy = vi.spyOn(fs, 'openSync').mockImplementation(() => {
      throw Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' });
    });
    try {
      for (let i = 0; i < 5; i++) writer.write(`line ${i}`); // sync: true, a batch each
    } finally {
      spy.mockRestore();
    }
    expect(errors).toEqual(['EMFILE']);
    expect(writer.stats().lateLines).toBe(5);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['before the roll', 'line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  });

  it("with maxSize, counts as late a batch that another process's roll overtook between the batch's size check and its write", async () => {
    const { dir, log, writer, roller } = writerAndRoller();
    const warnings: unknown[] = [];
    writer.on('warning', (w: { code: string; details?: unknown }) => warnings.push([w.code, w.details]));
    writer.write('before the roll');
    const statSync = fs.statSync;
    let rolled = false;
    const spy = vi.spyOn(fs, 'statSync').mockImplementation(((file: fs.PathLike, opts?: fs.StatSyncOptions) => {
      const stats = statSync(file, opts);
      if (!rolled && file === log) {
        rolled = true; // the writer has checked the file's size: the roller rolls it now (sync: true)
        void roller.rotate();
      }
      return stats;
    }) as typeof fs.statSync);
    try {
      writer.write('overtaken'); // sync: true, so it is written now
    } finally {
      spy.mockRestore();
    }
    expect(rolled).toBe(true);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['before the roll', 'overtaken']);
    expect(writer.stats().lateLines).toBe(1);
    expect(warnings).toEqual([['LATE_LINES', { lines: 1, why: 'after-rename' }]]);
  });

  it('rotate() takes the next index when archive maintenance compresses the archive of its index under it', async () => {
    const dir = tempDir();
    const now = Date.UTC(2026, 10, 25, 12);
    const old = path.join(dir, 'app.2026-11-25.log');
    fs.writeFileSync(old, 'old\n');
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', sync: true }, { now: () => now }));
    file.write('new');
    const unhook = onceAtStep('before-link', () => {
      // Between the rotation's look for `.gz` and its link: maintenance renames its gzip of the old
      // archive into place and removes the original, freeing the plain name.
      fs.writeFileSync(`${old}.gz`, zlib.gzipSync(fs.readFileSync(old)));
      fs.unlinkSync(old);
    });
    const rotated = once(file, 'rotate') as Promise<[RotateEvent]>;
    try {
      expect(await file.rotate()).toBe(true);
    } finally {
      unhook();
    }
    expect((await rotated)[0].archive).toBe(path.join(dir, 'app.2026-11-25.1.log'));
    expect(visible(dir)).toEqual(['app.2026-11-25.1.log', 'app.2026-11-25.log.gz', 'app.log']);
    expect(zlib.gunzipSync(fs.readFileSync(`${old}.gz`)).toString()).toBe('old\n');
    expect(readLines(path.join(dir, 'app.2026-11-25.1.log'))).toEqual(['new']);
  });

  for (const retention of [false, true]) {
    it(`rotate() removes the extra name a holder that stopped gave the active file beside a .gz of that index${retention ? ' (with maxFiles)' : ''}`, async () => {
      const dir = tempDir();
      const now = Date.UTC(2026, 10, 25, 12);
      const taken = path.join(dir, 'app.2026-11-25.log');
      fs.writeFileSync(`${taken}.gz`, zlib.gzipSync('old\n'));
      const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', sync: true, ...(retention ? { maxFiles: 10 } : {}) }, { now: () => now }));
      file.write('new');
      // A holder linked the active file to the name of index 0 after maintenance had compressed index 0,
      // and stopped before it took that name away again.
      fs.linkSync(path.join(dir, 'app.log'), taken);
      const rotated = once(file, 'rotate') as Promise<[RotateEvent]>;
      expect(await file.rotate()).toBe(true);
      const archive = path.join(dir, 'app.2026-11-25.1.log');
      expect((await rotated)[0].archive).toBe(archive);
      expect(visible(dir)).toEqual(['app.2026-11-25.1.log', 'app.2026-11-25.log.gz', 'app.log']);
      expect(fs.statSync(archive).nlink).toBe(1); // archive maintenance leaves a file with two names alone
      expect(readLines(archive)).toEqual(['new']);
    });
  }

  it("delivers the constructor's events before those of a rotate() in the same tick, so the last 'open' names the active file", async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log, timeZone: 'UTC', sync: true }));
    const events: string[] = [];
    file.on('open', (event) => events.push(`open ${event.ino}`));
    file.on('rotate', (event) => events.push(`rotate ${path.basename(event.archive ?? '')}`));
    const first = fs.statSync(log).ino;
    file.write('one');
    const rotated = file.rotate(); // sync: true, done and told before it returns
    const second = fs.statSync(log).ino;
    expect(events).toEqual([`open ${first}`, `open ${second}`, `rotate ${visible(dir).find((n) => n !== 'app.log')}`]);
    expect(await rotated).toBe(true);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(events).toHaveLength(3); // the constructor's 'open' is not told twice
  });

  it('rotate() archives the current file with the next free index of its period', async () => {
    const dir = tempDir();
    const now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }, { now: () => now }));
    file.write('one');
    expect(await file.rotate()).toBe(true);
    file.write('two');
    expect(await file.rotate()).toBe(true);
    file.write('three');
    file.flushSync();
    expect(visible(dir)).toEqual(['app.2026-11-25.1.log', 'app.2026-11-25.log', 'app.log']);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['one']);
    expect(readLines(path.join(dir, 'app.2026-11-25.1.log'))).toEqual(['two']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['three']);
  });

  it('a rotate listener that writes neither recurses nor loses its line', () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }, { now: () => now }));
    let calls = 0;
    file.on('rotate', () => {
      calls++;
      file.write(`rotated ${calls}`);
      file.flushSync(); // a nested flush inside the rotation must just queue
    });
    file.write('before');
    file.flushSync();
    now = Date.UTC(2026, 10, 26, 12);
    file.write('after');
    file.flushSync();
    expect(calls).toBe(1);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['before']);
    expect(readLines(path.join(dir, 'app.log')).sort()).toEqual(['after', 'rotated 1']);
  });

  it('counts no late line when a rotate listener of a background rotation writes and rotates again', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => now }));
    const warnings: string[] = [];
    file.on('warning', (warning: { code: string }) => warnings.push(warning.code));
    let calls = 0;
    let second: Promise<boolean> | null = null;
    file.on('rotate', () => {
      file.write(`from listener ${calls}`);
      if (calls++ === 0) second = file.rotate(); // flushes from inside the first rotation's listener
    });
    file.write('before');
    await file.flush();
    const first = file.rotate();
    file.write('during');
    expect(await first).toBe(true);
    expect(await second).toBe(true);
    await file.flush();
    expect(file.stats().lateLines).toBe(0);
    expect(warnings).toEqual([]);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['before']);
    expect(readLines(path.join(dir, 'app.2026-11-25.1.log'))).toEqual(['during', 'from listener 0']);
    expect(readLines(log)).toEqual(['from listener 1']);
  });

  it('delivers the events of a flush in the order they were raised, also when a listener writes', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), sync: true, maxSize: 1024 }));
    await new Promise((resolve) => setImmediate(resolve)); // the constructor's 'open' is told
    const order: string[] = [];
    file.on('open', () => {
      order.push('open, first listener');
      file.write('logged by the open listener'); // sync: true, so a flush of its own
    });
    file.on('open', () => order.push('open, second listener'));
    file.on('rotate', () => order.push('rotate'));
    for (let i = 0; i < 30; i++) file.write(`line ${String(i).padStart(3, '0')} ${'x'.repeat(40)}`);
    expect(order.slice(0, 3)).toEqual(['open, first listener', 'open, second listener', 'rotate']);
  });

  it('delivers an event a listener raises itself after the events already waiting (reopen() in an open listener)', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), frequency: 'daily', timeZone: 'UTC', sync: true, maxSize: 1024 }));
    await new Promise((resolve) => setImmediate(resolve)); // the constructor's 'open' is told
    const order: string[] = [];
    file.on('open', () => {
      order.push(`open ${order.filter((event) => event.startsWith('open')).length + 1}`);
      if (order.length === 1) file.reopen();
    });
    file.on('rotate', () => order.push('rotate'));
    for (let i = 0; i < 25; i++) file.write(`line ${String(i).padStart(3, '0')} ${'x'.repeat(40)}`);
    expect(order).toEqual(['open 1', 'rotate', 'open 2']);
  });

  it("tells the constructor's events before 'close' when the file is closed in the constructor's tick", async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    fs.writeFileSync(log, 'from an earlier day\n');
    const earlier = new Date(Date.now() - 2 * 86_400_000);
    fs.utimesSync(log, earlier, earlier);
    const file = createRotatingFile({ path: log, timeZone: 'UTC' });
    const order: string[] = [];
    for (const event of ['open', 'rotate', 'close'] as const) file.on(event, () => order.push(event));
    await file.close();
    expect(order).toEqual(['open', 'rotate', 'close']);
  });

  it("delivers the events an 'archive' listener causes after that event's other listeners", async () => {
    const dir = tempDir();
    for (const day of ['2020-01-01', '2020-01-02']) {
      const old = path.join(dir, `app.${day}.log`);
      fs.writeFileSync(old, `${day}\n`);
      fs.utimesSync(old, new Date(`${day}T12:00:00Z`), new Date(`${day}T12:00:00Z`));
    }
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', sync: true, maxSize: 1024, maxFiles: 1 }));
    const order: string[] = [];
    file.on('open', () => order.push('open'));
    file.on('rotate', () => order.push('rotate'));
    file.once('archive', () => {
      order.push('archive, first listener');
      file.write('x'.repeat(1100)); // sync: true, maxSize: written, then rolled
      file.write('after the roll');
    });
    file.on('archive', () => order.push('archive, second listener'));
    await vi.waitFor(() => expect(order).toContain('rotate'), { timeout: 10_000, interval: 10 });
    expect(order.slice(order.indexOf('archive, first listener'))).toEqual(['archive, first listener', 'archive, second listener', 'open', 'rotate']);
  });

  it('lines written after a reopen() in the middle of a background rotation wait for its new file', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log, frequency: 'daily', timeZone: 'UTC' }));
    const warnings: string[] = [];
    file.on('warning', (warning: { code: string }) => warnings.push(warning.code));
    file.write('before');
    await file.flush();
    const rotated = file.rotate();
    file.reopen();
    for (let i = 0; i < 5; i++) file.write(`after reopen ${i}`);
    expect(await rotated).toBe(true);
    await file.flush();
    expect(file.stats().lateLines).toBe(0);
    expect(warnings).toEqual([]);
    expect(readLines(log)).toEqual(['after reopen 0', 'after reopen 1', 'after reopen 2', 'after reopen 3', 'after reopen 4']);
  });

  it('reports a failing stat of the active name as an error event, not an uncaught exception (maxSize, ENOTDIR)', async () => {
    const dir = tempDir();
    const logs = path.join(dir, 'logs');
    const file = track(createRotatingFile({ path: path.join(logs, 'app.log'), maxSize: '1MB', mkdir: true }));
    file.write('one');
    await file.flush();
    fs.renameSync(logs, `${logs}.old`);
    fs.writeFileSync(logs, ''); // the directory is now a file: every stat under it fails with ENOTDIR
    const failed = once(file, 'error') as Promise<[NodeJS.ErrnoException]>;
    file.write('two');
    const [error] = await failed;
    expect(error.code).toBe('ENOTDIR');
    await new Promise((resolve) => setTimeout(resolve, 50)); // the batch's turn is over: it threw nothing
    fs.rmSync(logs);
    fs.renameSync(`${logs}.old`, logs);
  });

  it('archives a file left from an earlier period at start-up, judged by mtime when there is no state', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    fs.writeFileSync(log, 'from yesterday\n');
    const yesterday = new Date(Date.UTC(2026, 10, 25, 10));
    fs.utimesSync(log, yesterday, yesterday);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => Date.UTC(2026, 10, 26, 10) }));
    file.write('today');
    file.flushSync();
    expect(visible(dir)).toEqual(['app.2026-11-25.log', 'app.log']);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['from yesterday']);
    expect(readLines(log)).toEqual(['today']);
  });

  it('rotates an idle file on time and makes no archive for a period without lines', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), frequency: 200, timeZone: 'UTC' }));
    file.write('lonely line');
    await file.flush();
    // The line's period may begin with a rotation of the still empty file (archive null): skip that one.
    let first: RotateEvent;
    do [first] = (await once(file, 'rotate')) as [RotateEvent];
    while (first.archive === null);
    expect(readLines(first.archive as string)).toEqual(['lonely line']);
    const [second] = (await once(file, 'rotate')) as [RotateEvent];
    expect(second.archive).toBeNull(); // the empty file moved into the next period
    expect(visible(dir)).toEqual([path.basename(first.archive as string), 'app.log']);
  });

  it('with a header as long as maxSize, writes each line at once and rolls only files that hold lines', async () => {
    const dir = tempDir();
    const header = `# ${'h'.repeat(1100)}`;
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', maxSize: 1024, header: () => header }));
    file.write('line 1');
    await vi.waitFor(() => expect(readLines(path.join(dir, 'app.log'))).toEqual([header, 'line 1']), { timeout: 5000, interval: 20 });
    file.write('line 2');
    await vi.waitFor(() => expect(readLines(path.join(dir, 'app.log'))).toEqual([header, 'line 2']), { timeout: 5000, interval: 20 });
    // The file holding only its header is not rolled again and again: one roll, for the file with line 1.
    expect(file.stats()).toMatchObject({ rotations: 1, bufferedLines: 0 });
    expect(visible(dir)).toHaveLength(2);
  });

  it('rolls the active file by size within a period, numbering the parts in order', () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', maxSize: 2048, sync: true }, { now: () => now }));
    for (let i = 0; i < 100; i++) file.write(`line ${i} ${'x'.repeat(90)}`);
    now = Date.UTC(2026, 10, 26, 12);
    file.write('next day');
    const names = visible(dir);
    expect(names[0]).toBe('app.2026-11-25.1.log');
    expect(names).toContain('app.2026-11-25.log');
    const parts = names.filter((n) => n.startsWith('app.2026-11-25')).sort((a, b) => partIndex(a) - partIndex(b));
    expect(parts.length).toBeGreaterThanOrEqual(4);
    const lines = parts.flatMap((name) => readLines(path.join(dir, name)));
    expect(lines).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i} ${'x'.repeat(90)}`));
    for (const name of parts.slice(0, -1)) expect(fs.statSync(path.join(dir, name)).size).toBeGreaterThanOrEqual(2048);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['next day']);
  });

  it('gives each host its own file with a {hostname} path token, and never writes to the other', () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 12);
    const clock = { now: () => now };
    const alpha = track(new RotatingFile({ path: path.join(dir, 'app-{hostname}.log'), timeZone: 'UTC' }, { ...clock, identity: { hostname: 'alpha', pid: 1 } }));
    const beta = track(new RotatingFile({ path: path.join(dir, 'app-{hostname}.log'), timeZone: 'UTC' }, { ...clock, identity: { hostname: 'beta', pid: 2 } }));
    for (let i = 0; i < 50; i++) {
      alpha.write(`alpha ${i}`);
      beta.write(`beta ${i}`);
    }
    alpha.flushSync();
    beta.flushSync();
    now = Date.UTC(2026, 10, 26, 12);
    alpha.write('alpha next');
    beta.write('beta next');
    alpha.flushSync();
    beta.flushSync();
    expect(visible(dir)).toEqual(['app-alpha.2026-11-25.log', 'app-alpha.log', 'app-beta.2026-11-25.log', 'app-beta.log']);
    for (const host of ['alpha', 'beta']) {
      const lines = [...readLines(path.join(dir, `app-${host}.2026-11-25.log`)), ...readLines(path.join(dir, `app-${host}.log`))];
      expect(lines).toEqual([...Array.from({ length: 50 }, (_, i) => `${host} ${i}`), `${host} next`]);
    }
  });

  it('starts every new file with the header line, and makes no archive of a file that holds only its header', () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 12);
    const header = (info: { periodStart: number; pid: number }) => `# app period ${new Date(info.periodStart).toISOString()} pid ${info.pid}`;
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', header }, { now: () => now, identity: { hostname: 'h', pid: 7 } }));
    file.write('line 1');
    file.flushSync();
    now = Date.UTC(2026, 10, 26, 12);
    file.flushSync(); // boundary passed, nothing written on the 26th
    now = Date.UTC(2026, 10, 27, 12);
    file.write('line 2');
    file.flushSync();
    expect(visible(dir)).toEqual(['app.2026-11-25.log', 'app.log']);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['# app period 2026-11-25T00:00:00.000Z pid 7', 'line 1']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['# app period 2026-11-26T00:00:00.000Z pid 7', 'line 2']);
  });

  it('writes a default header naming the file, its period, the pid and the host with header: true', () => {
    const dir = tempDir();
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), header: true, sync: true }, { identity: { hostname: 'web1', pid: 42 } }));
    file.write('x');
    const [first, second] = readLines(path.join(dir, 'app.log'));
    expect(first).toMatch(/^# timberlock app\.log period=\S+ created=\S+Z pid=42 host=web1$/);
    expect(second).toBe('x');
  });

  it('writes the default header, with a HEADER_ERROR warning, when the header function throws or returns no string', async () => {
    const dir = tempDir();
    const failing: Record<string, () => unknown> = {
      throws: () => {
        throw new Error('no hostname yet');
      },
      undefined: () => undefined,
    };
    for (const [name, header] of Object.entries(failing)) {
      const file = track(new RotatingFile({ path: path.join(dir, `${name}.log`), header: header as () => string, sync: true }, { identity: { hostname: 'web1', pid: 42 } }));
      const warnings: { code: string; message: string }[] = [];
      file.on('warning', (w: { code: string; message: string }) => warnings.push(w));
      file.write('x');
      expect(readLines(path.join(dir, `${name}.log`))[0]).toMatch(/^# timberlock \S+\.log period=\S+ created=\S+Z pid=42 host=web1$/);
      await new Promise((resolve) => process.nextTick(resolve)); // the constructor's events come on the next tick
      expect(warnings.map((w) => w.code)).toEqual(['HEADER_ERROR']);
      expect(warnings[0]?.message).toContain(name === 'throws' ? 'threw: no hostname yet' : 'returned undefined, not a string');
    }
  });

  it('rotates an idle file within a check after its boundary when the wall clock jumped past it (a suspended host, a clock stepped forward)', async () => {
    const { file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 0));
    const rotated = once(file, 'rotate') as Promise<[RotateEvent]>;
    // The boundary timer waits a minute on the monotonic clock; the wall clock jumps there at once.
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 1);
    const [event] = await Promise.race([rotated, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no rotation within 5 s')), 5000))]);
    expect(path.basename(event.archive as string)).toBe('app.2026-11-25.log');
    expect(readLines(event.archive as string)).toEqual(['before midnight']);
  });

  it('makes a file of a period the clock was set back from the file of now, and rotates it at the next boundary (a clock a year ahead, corrected)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2027, 10, 28, 12); // booted a year ahead
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => now }));
    const warnings: WarningEvent[] = [];
    file.on('warning', (warning) => warnings.push(warning));
    file.write('logged while the clock was a year ahead');
    await file.flush();
    now = Date.UTC(2026, 10, 28, 12); // NTP set it right
    const relabelled = once(file, 'rotate') as Promise<[RotateEvent]>;
    file.write('logged after the correction');
    await file.flush();
    expect((await relabelled)[0]).toEqual({ archive: null, periodStart: Date.UTC(2026, 10, 28), previousPeriodStart: Date.UTC(2027, 10, 28) });
    expect(warnings.map((w) => w.code)).toEqual(['CLOCK_SET_BACK']);
    // A process started now, with the right clock, writes to the same file.
    const other = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => now }));
    other.write('from another process');
    await other.flush();
    expect(other.stats().rotations).toBe(0);
    now = Date.UTC(2026, 10, 29, 0, 0, 1);
    file.write('the next day');
    await file.flush();
    expect(visible(dir)).toEqual(['app.2026-11-28.log', 'app.log']);
    expect(readLines(path.join(dir, 'app.2026-11-28.log'))).toEqual(['logged while the clock was a year ahead', 'logged after the correction', 'from another process']);
    expect(readLines(log)).toEqual(['the next day']);
  });

  it('makes the file of a period the clock was set back from the file of now in a process started after the correction, and says so', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const ahead = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => Date.UTC(2027, 10, 28, 12) }));
    ahead.write('logged while the clock was a year ahead');
    await ahead.close();
    const now = Date.UTC(2026, 10, 28, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => now }));
    const warnings: WarningEvent[] = [];
    file.on('warning', (warning) => warnings.push(warning));
    const opened = once(file, 'open'); // the constructor's events come on the next tick, the warning first
    file.write('logged after the correction');
    await file.flush();
    await opened;
    expect(warnings.map((w) => [w.code, w.details?.periodStart])).toEqual([['CLOCK_SET_BACK', Date.UTC(2027, 10, 28)]]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, '.app.log.state'), 'utf8'))).toMatchObject({ periodStart: Date.UTC(2026, 10, 28) });
    expect(readLines(log)).toEqual(['logged while the clock was a year ahead', 'logged after the correction']);
  });

  it('keeps following the file of a process whose clock is a little ahead (within 5 minutes): no CLOCK_SET_BACK', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let ahead = Date.UTC(2026, 10, 29, 0, 0, 0, 500); // past midnight already
    const behind = { now: Date.UTC(2026, 10, 28, 23, 59, 0, 500) }; // a minute behind: more than staleMs
    const fast = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => ahead }));
    fast.write('new day');
    await fast.flush();
    const slow = track(new RotatingFile({ path: log, timeZone: 'UTC' }, { now: () => behind.now }));
    const warnings: WarningEvent[] = [];
    slow.on('warning', (warning) => warnings.push(warning));
    slow.write('still the old day here');
    await slow.flush();
    behind.now += 500;
    ahead += 500;
    slow.write('a moment later');
    await slow.flush();
    expect(warnings).toEqual([]);
    expect(slow.stats().rotations).toBe(0);
    expect(readLines(log)).toEqual(['new day', 'still the old day here', 'a moment later']);
  });

  it('rolls by size again once a busy lock is free, also when the clock was set back meanwhile (an hour: no roll for an hour)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', maxSize: 1024 }, { now: () => now }));
    file.write('x'.repeat(2000));
    await file.flush();
    const lock = path.join(dir, '.app.log.lock');
    fs.mkdirSync(lock); // another process is rolling
    file.write('y'.repeat(100));
    await file.flush(); // the roll found the lock busy: it is not tried again for a few ms
    expect(file.stats().lockAttemptsLost).toBeGreaterThan(0);
    now -= 3_600_000;
    fs.rmdirSync(lock);
    await vi.waitFor(
      async () => {
        file.write('z'.repeat(100));
        await file.flush();
        expect(visible(dir)).toContain('app.2026-11-25.log');
      },
      { timeout: 5000, interval: 20 },
    );
  });

  it('tries a busy lock again every 100 ms, not every 5 ms, while no line waits for the rotation (the holder may keep it for long)', async () => {
    const { dir, file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59));
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process rotates, and its disk stalls
    const delays = recordTimeoutDelays();
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 1);
    await vi.waitFor(() => expect(file.stats().lockAttemptsLost).toBeGreaterThanOrEqual(3), { timeout: 5000, interval: 20 });
    expect(delays.filter((ms) => ms === 5)).toEqual([]);
    expect(delays.filter((ms) => ms === 100).length).toBeGreaterThanOrEqual(2);
    // A line logged meanwhile tries it again within 5 ms, not at the end of the slow retry, and every 5 ms while it waits.
    const before = delays.length;
    file.write('after midnight');
    expect(delays.slice(before)).toEqual([5]);
    await vi.waitFor(() => expect(delays.filter((ms) => ms === 5).length).toBeGreaterThanOrEqual(2), { timeout: 5000, interval: 5 });
  });

  it('tries a busy lock for a publication every 100 ms while nothing waits for it, and within 5 ms once a flush() does', async () => {
    const { dir, file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59), { settleMs: 100, checkIntervalMs: 1000 });
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 10);
    file.write('after midnight'); // staged: the new file has the name .app.log.next until settleMs after midnight
    // Staged, and the line in it: the staging is over (its lock released).
    await vi.waitFor(() => expect(readLines(path.join(dir, '.app.log.next'))).toEqual(['after midnight']), { timeout: 5000, interval: 5 });
    await vi.waitFor(() => expect(fs.existsSync(path.join(dir, '.app.log.lock'))).toBe(false), { timeout: 5000, interval: 5 });
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process holds the lock when the name is due
    const delays = recordTimeoutDelays();
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 200);
    await vi.waitFor(() => expect(file.stats().lockAttemptsLost).toBeGreaterThanOrEqual(2), { timeout: 5000, interval: 5 });
    expect(delays.filter((ms) => ms === 5)).toEqual([]);
    const before = delays.length;
    const flushed = file.flush();
    expect(delays.slice(before)).toEqual([5]);
    fs.rmdirSync(path.join(dir, '.app.log.lock'));
    await flushed;
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['after midnight']);
  });

  it("keeps failed writes' back-off while the lock is also busy: no retry every 5 ms for the lines that cannot be written", async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', frequency: 1000, settleMs: 20, fallbackMs: 300 }));
    file.write('first');
    await file.flush();
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) - 100)); // 100 ms before a boundary
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process holds the lock past the boundary
    vi.spyOn(fs, 'writeSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const failed = once(file, 'error');
    const writer = setInterval(() => file.write('a line'), 20); // they wait for the new file, then go late, and fail
    try {
      await failed;
      const delays = recordTimeoutDelays();
      const errors = file.stats().errors;
      await vi.waitFor(() => expect(file.stats().errors).toBeGreaterThanOrEqual(errors + 2), { timeout: 5000, interval: 10 });
      expect(delays.filter((ms) => ms === 5)).toEqual([]); // the back-off's 100, 200 … ms, not the busy lock's 5
    } finally {
      clearInterval(writer);
    }
  });

  it('tries the lock for reopen() every 100 ms while nothing waits for it, and within 5 ms once a line does', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log, timeZone: 'UTC' }));
    file.write('before');
    await file.flush();
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // every process got SIGHUP: another one is taking the new file
    fs.renameSync(log, `${log}.1`);
    const delays = recordTimeoutDelays();
    file.reopen();
    expect(delays).toEqual([100]);
    file.write('after');
    expect(delays).toEqual([100, 5]);
    fs.rmdirSync(path.join(dir, '.app.log.lock'));
    await file.flush();
    expect(readLines(log)).toEqual(['after']);
  });

  it('sets the boundary timer once per boundary, not again at every rotate() of the period (Node keeps a timer list per delay until it fires)', async () => {
    const dir = tempDir();
    const now = Date.UTC(2026, 10, 25, 12);
    const delays = recordTimeoutDelays();
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }, { now: () => now }));
    for (let i = 0; i < 50; i++) {
      file.write(`line ${i}`);
      expect(await file.rotate()).toBe(true);
    }
    // Midnight is 12 hours away: those are the boundary timer's delays.
    expect(delays.filter((ms) => ms > 3_600_000)).toHaveLength(1);
    expect(file.stats().rotations).toBe(50);
  });

  it('does not fire the idle-rotation timer early for periods longer than 2^31 ms (monthly)', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1, 0, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'Date'] });
    try {
      const delays = recordTimeoutDelays();
      const dir = tempDir();
      const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), frequency: 'monthly', timeZone: 'UTC', checkIntervalMs: 3_600_000 }, { now: () => Date.now() }));
      const rotations: RotateEvent[] = [];
      file.on('rotate', (event) => rotations.push(event));
      file.write('january');
      file.flushSync();
      // Node fires a timer whose delay exceeds 2^31 - 1 ms after 1 ms: such a delay must never be asked for.
      expect(delays.filter((ms) => ms > 2 ** 31 - 1)).toEqual([]);
      expect(delays.length).toBeGreaterThan(0);
      // To one second before February: past 2^31 ms (24.9 days), where an overflowing timer would have fired.
      vi.advanceTimersByTime(Date.UTC(2026, 0, 31, 23, 59, 59) - Date.now());
      expect(rotations).toEqual([]);
      vi.advanceTimersByTime(1000 + 100);
      await vi.waitFor(() => expect(rotations).toHaveLength(1)); // the rotation runs off the event loop
      expect(rotations).toHaveLength(1);
      expect(rotations[0]).toMatchObject({ periodStart: Date.UTC(2026, 1, 1), previousPeriodStart: Date.UTC(2026, 0, 1) });
      expect(visible(dir)).toEqual(['app.2026-01.log', 'app.log']);
    } finally {
      vi.restoreAllMocks();
      vi.useRealTimers();
    }
  });

  it('keeps the number of open descriptors constant over 100 rotations', () => {
    const dir = tempDir();
    const fdCount = () => fs.readdirSync('/proc/self/fd').length;
    let now = Date.UTC(2026, 0, 1);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), frequency: 'hourly', timeZone: 'UTC' }, { now: () => now }));
    file.write('warm-up');
    file.flushSync();
    const before = fdCount();
    for (let i = 0; i < 100; i++) {
      now += 3_600_000;
      file.write(`line ${i}`);
      file.flushSync();
    }
    expect(file.stats().rotations).toBe(100);
    expect(fdCount()).toBe(before);
    expect(visible(dir)).toHaveLength(101);
  });

  it('refuses a path that is a directory or lies under a file, naming the path', () => {
    const dir = tempDir();
    expect(() => createRotatingFile({ path: dir })).toThrow(/Invalid option path: .*directory/);
    fs.writeFileSync(path.join(dir, 'plain'), '');
    expect(() => createRotatingFile({ path: path.join(dir, 'plain', 'app.log') })).toThrow(/Invalid option path: .*plain/);
  });
});

describe('RotatingFile and a file someone else put under the active name (logrotate create)', () => {
  /** logrotate's `create`: the file is renamed to app.log.1 and an empty app.log takes its place. */
  function logrotateCreate(log: string): void {
    fs.renameSync(log, `${log}.1`);
    fs.writeFileSync(log, '');
  }
  const HEADER = /^# timberlock app\.log period=\S+ created=\S+ pid=(\d+) host=h$/;

  it.each(['close', 'exit'])('the active file deleted by hand, then %s before the next check: the lines that went with it are counted, those in memory written to the file made again', (end) => {
    const log = path.join(tempDir(), 'app.log');
    const dist = pathToFileURL(path.join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const script = `
      import fs from 'node:fs';
      const { createRotatingFile } = await import(${JSON.stringify(dist)});
      const file = createRotatingFile({ path: ${JSON.stringify(log)} });
      file.on('warning', (w) => w.code === 'DROPPED_LINES' && console.log(w.code));
      process.on('exit', () => console.log(JSON.stringify(file.stats().droppedLines)));
      file.write('written');
      await file.flush();
      fs.rmSync(${JSON.stringify(log)});
      file.write('also written');
      file.flushSync();
      file.write('in memory');
      if (${JSON.stringify(end)} === 'exit') process.exit(0);
      await file.close();`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.stdout.trim().split('\n'), out.stderr).toEqual(['DROPPED_LINES', '2']);
    expect(readLines(log)).toEqual(['in memory']);
  });

  it("a log directory removed while the new period's file is staged is made again, and the next lines go to the period's file in it", async () => {
    const { dir, file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59, 900), { settleMs: 1000 });
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 10);
    file.write('staged');
    await vi.waitFor(() => expect(readLines(path.join(dir, '.app.log.next'))).toEqual(['staged']), { timeout: 5000, interval: 5 });
    await vi.waitFor(() => expect(fs.existsSync(path.join(dir, '.app.log.lock'))).toBe(false), { timeout: 5000, interval: 5 });
    fs.rmSync(dir, { recursive: true }); // the staged file and its line go with it
    (file as unknown as { checkActiveName(): void }).checkActiveName();
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 1, 100); // past the settle margin: the publication is due
    file.write('after');
    await file.flush();
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['after']);
  });

  it('a log directory removed while the file is open is made again with the mode it was made with at start-up', () => {
    const logs = path.join(tempDir(), 'logs');
    const file = track(createRotatingFile({ path: path.join(logs, 'app.log'), timeZone: 'UTC' }));
    const mode = fs.statSync(logs).mode & 0o777;
    fs.rmSync(logs, { recursive: true });
    (file as unknown as { checkActiveName(): void }).checkActiveName();
    expect((fs.statSync(logs).mode & 0o777).toString(8)).toBe(mode.toString(8));
  });

  it('the active file deleted and a symbolic link put under its name: the lines that went with it are counted, and the next ones wait for a file', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const elsewhere = path.join(dir, 'elsewhere.txt');
    fs.writeFileSync(elsewhere, '');
    const file = track(createRotatingFile({ path: log, timeZone: 'UTC' }));
    const errors: string[] = [];
    file.on('error', (err) => errors.push(err.code));
    file.write('gone 1');
    file.write('gone 2');
    await file.flush();
    fs.rmSync(log);
    fs.symlinkSync(elsewhere, log);
    (file as unknown as { checkActiveName(): void }).checkActiveName();
    expect(file.stats().droppedLines).toBe(2);
    file.write('kept'); // not to the deleted file, which has no name
    fs.rmSync(log);
    await file.flush();
    expect(readLines(log)).toEqual(['kept']);
    expect(fs.readFileSync(elsewhere, 'utf8')).toBe('');
    expect(errors).toEqual(['ELOOP']);
  });

  it('a FIFO put under the active name is reported (ENXIO: no reader), not waited on: the process goes on (open(2) waited for a reader for ever)', () => {
    const log = path.join(tempDir(), 'app.log');
    const dist = pathToFileURL(path.join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const script = `
      import { execFileSync } from 'node:child_process';
      import { once } from 'node:events';
      import fs from 'node:fs';
      const { createRotatingFile } = await import(${JSON.stringify(dist)});
      const file = createRotatingFile({ path: ${JSON.stringify(log)}, checkIntervalMs: 100 });
      file.write('before');
      await file.flush();
      fs.rmSync(${JSON.stringify(log)});
      execFileSync('mkfifo', [${JSON.stringify(log)}]);
      const alive = setInterval(() => {}, 1000); // the check timer keeps nothing alive
      const [error] = await once(file, 'error');
      console.log(error.code);
      fs.rmSync(${JSON.stringify(log)});
      file.write('after'); // the check let go of the deleted file: this line makes the file again
      await file.close();
      clearInterval(alive);`;
    // SIGKILL at the deadline: a thread blocked in open(2) runs no SIGTERM handler.
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    expect({ signal: out.signal, status: out.status, stdout: out.stdout.trim() }, out.stderr).toEqual({ signal: null, status: 0, stdout: 'ENXIO' });
    expect(fs.readFileSync(log, 'utf8')).toMatch(/(^|\n)after\n$/);
  });

  it('reopen() gives the new empty file the header once: the second process to reopen it finds it taken', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const options = { path: log, timeZone: 'UTC', header: true, sync: true } as const;
    // One instant for both: a stall of the machine between the calls would have b look at the active name
    // before it writes (after 50 ms without a write), follow a's file, then reopen it again.
    const at = Date.now();
    const a = track(new RotatingFile(options, { identity: { hostname: 'h', pid: 1 }, now: () => at }));
    const b = track(new RotatingFile(options, { identity: { hostname: 'h', pid: 2 }, now: () => at }));
    a.write('a1');
    b.write('b1');
    logrotateCreate(log);
    a.reopen();
    b.reopen();
    a.write('a2');
    b.write('b2');
    const [header, ...lines] = readLines(log);
    expect(HEADER.exec(header ?? '')?.[1]).toBe('1');
    expect(lines).toEqual(['a2', 'b2']);
    expect(readLines(`${log}.1`).slice(1)).toEqual(['a1', 'b1']);
    expect([a.stats().reopens, b.stats().reopens]).toEqual([1, 1]);
  });

  it('reopen() while another process holds the lock keeps the lines in memory, then takes the new file with its header and writes them there', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true }, { identity: { hostname: 'h', pid: 1 } }));
    file.write('before');
    logrotateCreate(log);
    const lockDir = path.join(dir, '.app.log.lock');
    fs.mkdirSync(lockDir); // another process is taking the new file
    file.reopen();
    file.write('meanwhile');
    expect(readLines(`${log}.1`).slice(1)).toEqual(['before']);
    expect(fs.readFileSync(log, 'utf8')).toBe('');
    expect(file.stats().bufferedLines).toBe(1);
    fs.rmdirSync(lockDir);
    await vi.waitFor(() => expect(file.stats().reopens).toBe(1), { timeout: 5_000, interval: 5 });
    file.write('after');
    const [header, ...lines] = readLines(log);
    expect(header).toMatch(HEADER);
    expect(lines).toEqual(['meanwhile', 'after']);
    expect(file.stats().lockAttemptsLost).toBe(0); // waiting to reopen is no lost rotation attempt
  });

  it('gives the header to an empty file whose mtime lies in an earlier period, at start-up and on reopen()', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    fs.writeFileSync(log, '');
    fs.utimesSync(log, twoDaysAgo, twoDaysAgo);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true }, { identity: { hostname: 'h', pid: 1 } }));
    file.write('first');
    expect(readLines(log)).toEqual([expect.stringMatching(HEADER), 'first']);
    logrotateCreate(log);
    fs.utimesSync(log, twoDaysAgo, twoDaysAgo);
    file.reopen();
    file.write('second');
    expect(readLines(log)).toEqual([expect.stringMatching(HEADER), 'second']);
    expect(visible(dir)).toEqual(['app.log', 'app.log.1']);
  });

  it('reopen() between a boundary and the end of its settle margin labels the new file with the new period', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 23, 59, 59, 900);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true, settleMs: 100 }, { now: () => now }));
    file.write('old');
    now = Date.UTC(2026, 10, 26, 0, 0, 0, 10);
    logrotateCreate(log);
    file.reopen();
    file.write('new');
    await file.flush(); // lines of the new period wait for the end of the settle margin (a timer)
    expect(readLines(log)).toEqual([expect.stringMatching(/^# timberlock app\.log period=2026-11-26T00:00:00/), 'new']);
    const state = JSON.parse(fs.readFileSync(path.join(dir, '.app.log.state'), 'utf8')) as { periodStart: number };
    expect(state.periodStart).toBe(Date.UTC(2026, 10, 26));
  });

  it("a holder that resumes after another process took its new file over keeps that process's header and header size", () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const statePath = path.join(dir, '.app.log.state');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true }, { now: () => now, identity: { hostname: 'h', pid: 1 } }));
    file.write('a1');
    // This process archives the file of the 25th and stalls before its new file gets the active name. Its
    // lock goes stale, and another process makes the file of the 26th: its header and a state naming it.
    const takeover = '# timberlock app.log period=2026-11-26T00:00:00.000Z created=2026-11-26T12:00:01.000Z pid=2 host=h\n';
    const unhook = onceAtStep('before-create', () => {
      fs.appendFileSync(log, takeover);
      const state = { periodStart: Date.UTC(2026, 10, 26), ino: fs.statSync(log).ino, emptySize: takeover.length };
      fs.writeFileSync(statePath, `${JSON.stringify(state)}\n`);
    });
    try {
      now = Date.UTC(2026, 10, 26, 12);
      file.write('a2');
    } finally {
      unhook();
    }
    expect(fs.readFileSync(log, 'utf8')).toBe(`${takeover}a2\n`);
    expect((JSON.parse(fs.readFileSync(statePath, 'utf8')) as { emptySize: number }).emptySize).toBe(takeover.length);
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('.app.log.new'))).toEqual([]); // its own new file went
  });

  it("says which file went missing, and how, when its new state's temp file is removed under it (a holder stalled past staleMs)", async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', sync: true }, { now: () => now }));
    const errors: NodeJS.ErrnoException[] = [];
    file.on('error', (err: NodeJS.ErrnoException) => errors.push(err));
    file.write('a1');
    // Archive maintenance of another process removes the temp file as stale.
    const unhook = onceAtStep('state-written', () => {
      for (const name of fs.readdirSync(dir)) if (name.startsWith('.app.log.state.')) fs.rmSync(path.join(dir, name));
    });
    try {
      now = Date.UTC(2026, 10, 26, 12);
      file.write('a2');
    } finally {
      unhook();
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe('ENOENT');
    expect(errors[0]?.message).toMatch(/\.app\.log\.state\.\S+, the new state this process wrote, was removed before it became \S+\.app\.log\.state: archive maintenance removes/);
    await file.flush();
    expect(readLines(log)).toEqual(['a2']);
  });

  it('gives no archive name to a file logrotate renamed between the archive link and the unlink of the active name: its lines are in one file only', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', sync: true }, { now: () => now }));
    file.write('a1');
    const unhook = onceAtStep('before-unlink', () => fs.renameSync(log, `${log}.1`)); // logrotate's rename
    try {
      now = Date.UTC(2026, 10, 26, 12);
      file.write('a2');
    } finally {
      unhook();
    }
    expect(visible(dir)).toEqual(['app.log', 'app.log.1']);
    expect(fs.statSync(`${log}.1`).nlink).toBe(1);
    expect(readLines(`${log}.1`)).toEqual(['a1']);
    expect(readLines(log)).toEqual(['a2']);
  });

  it('the header stays the first line when a process appends to the active name while the holder writes it', () => {
    // A process that ends appends what it still holds to whatever file has the active name (the writer's
    // fallback, without the lock). The new file gets that name only with its header in it.
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true }, { now: () => now, identity: { hostname: 'h', pid: 1 } }));
    file.write('old');
    const unhook = onceAtStep('before-header', () => fs.appendFileSync(log, 'ending\n'));
    try {
      now = Date.UTC(2026, 10, 26, 12);
      file.write('new');
    } finally {
      unhook();
    }
    expect(readLines(log)).toEqual([expect.stringMatching(/^# timberlock app\.log period=2026-11-26T00:00:00/), 'new']);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual([expect.stringMatching(/^# timberlock app\.log period=2026-11-25/), 'old', 'ending']);
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('.app.log.new'))).toEqual([]);
  });

  /**
   * A file with 'before' in it, on a clock of the test's, whose periodic check never comes: the look at the
   * active name before a write after a quiet spell (`quiet()` moves the clock on) does. Errors and warnings
   * are collected.
   */
  async function onTestClock(log: string, options: Partial<RotatingFileOptions> = {}, closeWaitMs?: number) {
    const clock = { now: Date.UTC(2026, 10, 25, 12) };
    const internals = closeWaitMs === undefined ? { now: () => clock.now } : { now: () => clock.now, closeWaitMs };
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', checkIntervalMs: 3_600_000, ...options }, internals));
    const errors: NodeJS.ErrnoException[] = [];
    const warnings: Array<{ code: string; details?: { lines?: number } }> = [];
    file.on('error', (err: NodeJS.ErrnoException) => errors.push(err));
    file.on('warning', (w: { code: string; details?: { lines?: number } }) => warnings.push(w));
    file.write('before');
    await file.flush();
    return { file, clock, errors, warnings, quiet: (): void => void (clock.now += 1000) };
  }

  it('creates the active file again when it finds it deleted, and counts the lines that went with it as dropped', async () => {
    const log = path.join(tempDir(), 'app.log');
    const { file, warnings, quiet } = await onTestClock(log);
    fs.rmSync(log); // an operator deletes it
    file.write('into the deleted file 1');
    file.write('into the deleted file 2');
    await file.flush();
    expect(fs.existsSync(log)).toBe(false);
    quiet();
    file.write('after');
    await file.flush();
    expect(readLines(log)).toEqual(['after']);
    expect(warnings.map((w) => w.code)).toEqual(['DROPPED_LINES', 'EXTERNAL_MOVE']);
    expect(warnings[0]?.details?.lines).toBe(3); // 'before' went with the file too
    expect(file.stats()).toMatchObject({ droppedLines: 3, lines: 4 });
  });

  it('takes a file renamed over the active one (an editor saving it, sed -i) and counts the lines that went with the old one as dropped, in every writer', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, clock, warnings, quiet } = await onTestClock(log);
    const other = track(new RotatingFile({ path: log, timeZone: 'UTC', checkIntervalMs: 3_600_000 }, { now: () => clock.now }));
    other.write('other before');
    await other.flush();
    fs.writeFileSync(path.join(dir, 'copy.tmp'), 'a copy\n');
    fs.renameSync(path.join(dir, 'copy.tmp'), log);
    file.write('into the replaced file');
    other.write('other into the replaced file');
    await Promise.all([file.flush(), other.flush()]);
    quiet();
    file.write('after');
    await file.flush();
    other.write('other after');
    await other.flush();
    expect(readLines(log)).toEqual(['a copy', 'after', 'other after']);
    expect(warnings.map((w) => w.code)).toEqual(['DROPPED_LINES', 'EXTERNAL_MOVE']);
    // 'before' went with the old file too; the other writer learns of it from the state.
    expect(file.stats().droppedLines).toBe(2);
    expect(other.stats().droppedLines).toBe(2);
  });

  it('opens the file again when other code closed its descriptor, and never writes to the file that got its number since', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, warnings, quiet } = await onTestClock(log);
    fs.closeSync((file as unknown as { fd: number }).fd); // a bug elsewhere in the app
    const other = path.join(dir, 'other.txt');
    const otherFd = fs.openSync(other, 'a'); // the lowest free number: most likely the one just closed
    try {
      file.write('into the file that got the number'); // before the next look: nothing can tell
      await file.flush();
      quiet();
      file.write('after');
      await file.flush();
      expect(readLines(log)).toEqual(['before', 'after']);
      expect(fs.readFileSync(other, 'utf8')).toBe('into the file that got the number\n');
      expect(warnings.map((w) => w.code)).toEqual(['DESCRIPTOR_LOST']);
      // Counted as dropped: every line written since the last look, 'before' too (at most that many are lost).
      expect(file.stats().droppedLines).toBe(2);
    } finally {
      fs.closeSync(otherFd);
    }
  });

  /** The app's own file `other`, open on `otherFd`, got nothing of ours, and its descriptor is still open. */
  function expectUntouched(other: string, otherFd: number): void {
    expect(fs.readFileSync(other, 'utf8')).toBe('');
    expect(fs.fstatSync(otherFd).ino).toBe(fs.statSync(other).ino);
  }

  /** Close `fd` unless it is closed already (what a test's assertions report). */
  function closeIfOpen(fd: number): void {
    try {
      fs.closeSync(fd);
    } catch {
      // Closed already.
    }
  }

  /** A disk that takes the first `bytes` bytes of the next write, then is full (until the spy is restored). */
  function diskFullAfter(bytes: number): { mockRestore(): void } {
    const writeSync = fs.writeSync.bind(fs) as (fd: number, data: Buffer) => number;
    let calls = 0;
    return vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: string | Buffer) => {
      if (++calls === 1) return writeSync(fd, Buffer.from(data).subarray(0, bytes));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as typeof fs.writeSync);
  }

  /** Write `line` with the disk taking only its first `bytes` bytes, then full (the episode's 'error' is the caller's). */
  function cutByFullDisk(file: RotatingFile, line: string, bytes: number): void {
    const disk = diskFullAfter(bytes);
    try {
      file.write(line);
      file.flushSync();
    } finally {
      disk.mockRestore();
    }
  }

  it('completes a line a short write cut in a descriptor other code then closed, through a new descriptor of the same file', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, warnings, errors, quiet } = await onTestClock(log);
    cutByFullDisk(file, 'cut in two', 4);
    expect(errors.map((e) => e.code)).toEqual(['ENOSPC']);
    fs.closeSync((file as unknown as { fd: number }).fd); // a bug elsewhere in the app
    quiet();
    file.write('after');
    await file.flush();
    expect(readLines(log)).toEqual(['before', 'cut in two', 'after']);
    expect(warnings.map((w) => w.code)).toEqual(['DESCRIPTOR_LOST']);
  });

  it('drops the end of a line a short write cut in a descriptor other code then closed, once the file is not under its name: the new file never begins with it', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, warnings, quiet } = await onTestClock(log);
    cutByFullDisk(file, 'cut in two', 4);
    fs.closeSync((file as unknown as { fd: number }).fd); // a bug elsewhere in the app
    fs.renameSync(log, path.join(dir, 'moved.log')); // and the file rotated away meanwhile
    quiet();
    file.write('after');
    await file.flush();
    expect(fs.readFileSync(path.join(dir, 'moved.log'), 'utf8')).toBe('before\ncut ');
    const lines = readLines(log);
    expect(lines[0]).toBe('after');
    expect(lines[1]).toMatch(/^timberlock: 1 line\(s\) dropped .* a short write cut a line in a descriptor closed by other code$/);
    expect(lines).toHaveLength(2);
    // The line dropped, then the episode's marker written.
    expect(warnings.map((w) => w.code)).toEqual(['DESCRIPTOR_LOST', 'DROPPED_LINES', 'DROPPED_LINES']);
    expect(file.stats().droppedLines).toBe(2); // 'before' (at most, see DESCRIPTOR_LOST) and the cut line
  });

  it('never writes the end of a line a short write cut into another file that got the descriptor number after other code closed it', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, warnings } = await onTestClock(log);
    // 4 bytes of the line go in, then the disk is full: also for the line's end after the rotation below.
    const disk = diskFullAfter(4);
    let cutIn: number;
    try {
      cutIn = (file as unknown as { fd: number }).fd;
      file.write('cut in two');
      file.flushSync();
      expect(await file.rotate()).toBe(true); // the old descriptor is kept for the line's end
    } finally {
      disk.mockRestore();
    }
    fs.closeSync(cutIn); // a bug elsewhere in the app
    const other = path.join(dir, 'other.txt');
    const otherFd = fs.openSync(other, 'a'); // the lowest free number: most likely the one just closed
    try {
      file.write('after');
      await file.flush();
      expectUntouched(other, otherFd);
      const archived = visible(dir).filter((name) => name.startsWith('app.2026'));
      expect(archived.map((name) => fs.readFileSync(path.join(dir, name), 'utf8'))).toEqual(['before\ncut ']);
      const lines = readLines(log);
      expect(lines[0]).toMatch(/^timberlock: 1 line\(s\) dropped .* a short write cut a line in a descriptor closed by other code$/);
      expect(lines.slice(1)).toEqual(['after']);
      expect(warnings.filter((w) => w.code === 'DROPPED_LINES').map((w) => w.details?.lines)).toEqual([1, 1]);
    } finally {
      closeIfOpen(otherFd);
    }
  });

  it('neither closes nor writes into another file that got the descriptor number when other code closed it before a rotation, with a line cut in it', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, warnings } = await onTestClock(log);
    const disk = diskFullAfter(4);
    const other = path.join(dir, 'other.txt');
    let otherFd = -1;
    try {
      const cutIn = (file as unknown as { fd: number }).fd;
      file.write('cut in two');
      file.flushSync();
      fs.closeSync(cutIn); // a bug elsewhere in the app, before this file looks again
      otherFd = fs.openSync(other, 'a'); // the lowest free number: most likely the one just closed
      expect(await file.rotate()).toBe(true); // lets go of the old descriptor
    } finally {
      disk.mockRestore();
    }
    try {
      file.write('after');
      await file.flush();
      expectUntouched(other, otherFd);
      expect(readLines(log).filter((line) => !line.startsWith('timberlock: '))).toEqual(['after']);
      expect(warnings.filter((w) => w.code === 'DROPPED_LINES').map((w) => w.details?.lines)).toEqual([1, 1]);
    } finally {
      closeIfOpen(otherFd);
    }
  });

  it('drops the end of a line a short write cut in a file deleted since, and counts it, rather than write it into no file', async () => {
    const log = path.join(tempDir(), 'app.log');
    const { file, warnings, quiet } = await onTestClock(log);
    cutByFullDisk(file, 'cut in two', 4);
    fs.rmSync(log); // an operator deletes it
    quiet();
    file.write('after');
    await file.flush();
    const lines = readLines(log);
    expect(lines[0]).toMatch(/^timberlock: 1 line\(s\) dropped .* the file a short write cut a line in has no name left$/);
    expect(lines[1]).toBe('after');
    expect(lines).toHaveLength(2);
    expect(warnings.map((w) => [w.code, w.details?.lines])).toEqual([
      ['DROPPED_LINES', 1], // 'before' went with the file
      ['EXTERNAL_MOVE', undefined],
      ['DROPPED_LINES', 1], // the cut line
      ['DROPPED_LINES', 1], // its marker, written
    ]);
    expect(file.stats().droppedLines).toBe(2);
  });

  it('counts a line written after close() as late when it lands in the file it had open after that period ended, and not before', async () => {
    const log = path.join(tempDir(), 'app.log');
    const { file, clock, warnings } = await onTestClock(log);
    await file.close();
    file.write('after close, same day');
    expect(file.stats().lateLines).toBe(0);
    clock.now += 86_400_000; // nobody rotated the file since
    file.write('after close, the next day');
    expect(readLines(log)).toEqual(['before', 'after close, same day', 'after close, the next day']);
    expect(file.stats().lateLines).toBe(1);
    expect(warnings.map((w) => [w.code, (w.details as { why?: string } | undefined)?.why])).toEqual([
      ['WRITE_AFTER_CLOSE', undefined],
      ['LATE_LINES', 'after-close'],
    ]);
  });

  it('does not count a line written after close() as late when the file under its inode number is the current period\'s (the number reused)', async () => {
    const log = path.join(tempDir(), 'app.log');
    const { file, clock } = await onTestClock(log);
    await file.close();
    clock.now += 3 * 86_400_000;
    // Another process's file of the current period, which got the same inode number (ext4 reuses them): its state.
    const current = Date.UTC(2026, 10, 28);
    fs.writeFileSync(path.join(path.dirname(log), '.app.log.state'), `${JSON.stringify({ periodStart: current, ino: fs.statSync(log).ino, emptySize: 0 })}\n`);
    file.write('after close');
    expect(readLines(log)).toEqual(['before', 'after close']);
    expect(file.stats().lateLines).toBe(0);
  });

  it('reports a check that fails the same way every time (a directory in the way) once, not at every check; the lines go on to the moved file', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, errors, quiet } = await onTestClock(log);
    fs.renameSync(log, path.join(dir, 'moved.log'));
    fs.mkdirSync(log); // in the way: it cannot be opened for appending
    for (let i = 0; i < 3; i++) {
      quiet();
      file.write(`line ${i}`);
      await file.flush();
    }
    expect(errors).toHaveLength(1);
    expect(file.stats().errors).toBeGreaterThanOrEqual(3);
    expect(readLines(path.join(dir, 'moved.log'))).toEqual(['before', 'line 0', 'line 1', 'line 2']);
  });

  it('never archives a directory someone put under the active name', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    // closeWaitMs 0: close() does not wait for the new period's file that cannot be had; its lines go to the old file.
    const { file, clock, errors } = await onTestClock(log, { sync: true }, 0);
    fs.renameSync(log, path.join(dir, 'moved.log'));
    fs.mkdirSync(log);
    const day = new Date(Date.UTC(2026, 10, 25, 13));
    fs.utimesSync(log, day, day); // of the day before the boundary, as the file it replaced
    clock.now = Date.UTC(2026, 10, 26, 12); // the boundary: the file under the active name would be archived
    file.write('after');
    expect(fs.statSync(log).isDirectory()).toBe(true);
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('app.2026'))).toEqual([]);
    expect(errors.map((e) => e.code)).toContain('EISDIR');
  });

  it('does not count as deleted a file that was moved away first (an archive name) and lost that name later (compressed), and writes no line there', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, warnings, quiet } = await onTestClock(log);
    fs.renameSync(log, path.join(dir, 'app.2026-11-25.log')); // a rotator that stalls before making the new file
    quiet();
    file.write('into the archive'); // the look finds the name missing, the open file still named
    await file.flush();
    fs.rmSync(path.join(dir, 'app.2026-11-25.log')); // compressed away (its lines are in the .gz)
    quiet();
    file.write('after'); // not into the file without a name: the active name is made at once
    await file.flush();
    expect(readLines(log)).toEqual(['after']);
    expect(warnings.map((w) => w.code)).not.toContain('DROPPED_LINES');
    expect(file.stats().droppedLines).toBe(0);
  });

  it('does not count as deleted a file found without a name while the rotation lock is there (archived by a stalled rotator, then compressed)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const lock = path.join(dir, '.app.log.lock');
    const { file, warnings, quiet } = await onTestClock(log);
    // While this process stalled: a rotator took the lock, gave the file its archive name and stalled before
    // making the new one; archive maintenance compressed the archive.
    fs.mkdirSync(lock);
    fs.renameSync(log, path.join(dir, 'app.2026-11-25.log'));
    fs.rmSync(path.join(dir, 'app.2026-11-25.log'));
    quiet();
    file.write('after'); // the look before it finds the file without a name, the lock there
    await vi.waitFor(() => expect(warnings.map((w) => w.code)).toContain('EXTERNAL_MOVE'), { timeout: 2000, interval: 5 });
    fs.rmdirSync(lock); // the rotator goes on (here: lets go), and the file is made
    await file.flush();
    expect(readLines(log)).toEqual(['after']);
    expect(warnings.map((w) => w.code)).not.toContain('DROPPED_LINES');
    expect(file.stats().droppedLines).toBe(0);
  });

  it('counts the lines that went with a deleted file in every process that wrote to it, not only in the one that made it again', async () => {
    const log = path.join(tempDir(), 'app.log');
    const a = await onTestClock(log);
    const b = await onTestClock(log);
    fs.rmSync(log);
    a.file.write('a lost');
    b.file.write('b lost');
    await Promise.all([a.file.flush(), b.file.flush()]);
    b.quiet();
    b.file.write('b after'); // b notices first and makes the file again
    await b.file.flush();
    a.quiet();
    a.file.write('a after'); // a finds b's file, and the state saying which file was deleted
    await a.file.flush();
    expect(readLines(log)).toEqual(['b after', 'a after']);
    expect(a.file.stats().droppedLines).toBe(2); // 'before' and 'a lost'
    expect(b.file.stats().droppedLines).toBe(2);
    expect(a.warnings.map((w) => w.code)).toEqual(['DROPPED_LINES']);
  });

  it('a busy lock during a failing check does not count as a check that got through: the same failure is still told once', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, errors, quiet } = await onTestClock(log);
    fs.renameSync(log, path.join(dir, 'moved.log'));
    fs.mkdirSync(log); // in the way
    const attempt = async (i: number): Promise<void> => {
      quiet();
      file.write(`line ${i}`);
      await file.flush();
    };
    await attempt(0);
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process holds the lock for a moment
    await attempt(1);
    fs.rmdirSync(path.join(dir, '.app.log.lock'));
    await attempt(2);
    expect(errors).toHaveLength(1);
  });

  it('leaves a directory under the staged name alone, and rotates all the same', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC' }));
    file.write('before');
    await file.flush();
    fs.mkdirSync(path.join(dir, '.app.log.next'));
    expect(await file.rotate()).toBe(true);
    expect(fs.statSync(path.join(dir, '.app.log.next')).isDirectory()).toBe(true);
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('app.2'))).toHaveLength(1);
  });

  it('makes the directory again (mkdir) when it was deleted with the active file', async () => {
    const dir = path.join(tempDir(), 'logs');
    const log = path.join(dir, 'app.log');
    const { file, errors, quiet } = await onTestClock(log);
    fs.rmSync(dir, { recursive: true });
    quiet();
    file.write('after');
    await file.flush();
    expect(readLines(log)).toEqual(['after']);
    expect(errors).toEqual([]);
  });

  it('archives a file that was truncated (copytruncate) and written to at the boundary: its lines are not taken for the header', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true }, { now: () => now, identity: { hostname: 'h', pid: 1 } }));
    for (let i = 0; i < 50; i++) file.write(`line ${i}`);
    fs.truncateSync(log, 0); // logrotate's copytruncate, or `: > app.log`
    file.write('short');
    now = Date.UTC(2026, 10, 26, 12);
    file.write('next day');
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['short']);
    expect(readLines(log)).toEqual([expect.stringMatching(/^# timberlock app\.log period=2026-11-26T00:00:00/), 'next day']);
  });

  it('reopen() appends to a file with lines an operator moved into place, however old, and archives nothing', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true }));
    const rotations: RotateEvent[] = [];
    file.on('rotate', (event) => rotations.push(event));
    file.write('ours');
    fs.renameSync(log, path.join(dir, 'ours.log'));
    const restored = path.join(dir, 'restored.log');
    fs.writeFileSync(restored, 'restored line\n');
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    fs.utimesSync(restored, twoDaysAgo, twoDaysAgo);
    fs.renameSync(restored, log);
    file.reopen();
    file.write('appended');
    expect(readLines(log)).toEqual(['restored line', 'appended']);
    expect(visible(dir)).toEqual(['app.log', 'ours.log']);
    expect(rotations).toEqual([]);
    expect(file.stats()).toMatchObject({ rotations: 0, reopens: 1 });
  });

  it('flushSync() while reopen() waits for the lock writes the waiting lines to the current file at once', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', sync: true }));
    file.write('before');
    logrotateCreate(log);
    fs.mkdirSync(path.join(dir, '.app.log.lock'));
    file.reopen();
    file.write('waiting');
    file.flushSync(); // as on process exit
    expect(readLines(`${log}.1`)).toEqual(['before', 'waiting']);
    expect(file.stats().bufferedLines).toBe(0);
    fs.rmdirSync(path.join(dir, '.app.log.lock'));
  });

  it('reopen() opens the new file without the header after fallbackMs when the lock stays busy', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true, settleMs: 0, fallbackMs: 100 }));
    file.write('before');
    logrotateCreate(log);
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // held (fresh) for the whole test
    const asked = performance.now();
    file.reopen();
    file.write('waiting');
    await vi.waitFor(() => expect(file.stats().reopens).toBe(1), { timeout: 5_000, interval: 5 });
    expect(performance.now() - asked).toBeGreaterThanOrEqual(95); // timers may fire a millisecond early
    file.write('after');
    expect(readLines(log)).toEqual(['waiting', 'after']);
  });

  it('a process that notices the new file on its own (checkIntervalMs) gives it the header and warns EXTERNAL_MOVE', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', header: true, sync: true, checkIntervalMs: 100 }, { identity: { hostname: 'h', pid: 1 } }));
    const warnings: string[] = [];
    file.on('warning', (w) => warnings.push(w.code));
    file.write('before');
    logrotateCreate(log);
    await vi.waitFor(() => expect(file.stats().reopens).toBe(1), { timeout: 5_000, interval: 10 });
    file.write('after');
    const [header, ...lines] = readLines(log);
    expect(header).toMatch(HEADER);
    expect(lines).toEqual(['after']);
    expect(warnings).toEqual(['EXTERNAL_MOVE']);
  });
});

describe('RotatingFile rotations off the event loop', () => {
  function openDescriptors(): number {
    return fs.readdirSync('/proc/self/fd').length;
  }

  it('makes no rotation system call in the callback that finds the boundary; the archive exists once the rotate event comes', async () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 23, 59, 59, 0);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }, { now: () => now }));
    file.write('monday');
    file.flushSync();
    const link = vi.spyOn(fs, 'linkSync');
    const open = vi.spyOn(fs, 'openSync');
    const rotated = once(file, 'rotate') as Promise<[RotateEvent]>;
    now = Date.UTC(2026, 10, 26, 0, 0, 1, 0); // past the boundary and the settle margin
    file.write('tuesday');
    (file as unknown as { flushNow(): void }).flushNow();
    expect(link).not.toHaveBeenCalled();
    expect(open).not.toHaveBeenCalled();
    expect(visible(dir)).toEqual(['app.log']);
    expect(file.stats().bufferedLines).toBe(1); // waits for the new file, never goes to the old one
    const [event] = await rotated;
    vi.restoreAllMocks();
    expect(event.archive).toBe(path.join(dir, 'app.2026-11-25.log'));
    await file.flush();
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['monday']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['tuesday']);
  });

  it('rotates before write() returns with sync: true', () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 23, 59, 59, 0);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', sync: true }, { now: () => now }));
    file.write('monday');
    now = Date.UTC(2026, 10, 26, 0, 0, 1, 0);
    file.write('tuesday');
    expect(visible(dir)).toEqual(['app.2026-11-25.log', 'app.log']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['tuesday']);
  });

  it('with sync: true too, holds a line written inside the settle margin for the new file, and flushSync() writes it there', () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 23, 59, 59, 990);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', sync: true, settleMs: 50 }, { now: () => now }));
    file.write('monday');
    now = Date.UTC(2026, 10, 26, 0, 0, 0, 10); // 10 ms after the boundary, inside the 50 ms margin
    file.write('tuesday');
    expect(file.stats().bufferedLines).toBe(1);
    expect(visible(dir)).toEqual(['app.log']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['monday']);
    file.flushSync();
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['monday']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['tuesday']);
    expect(file.stats().lateLines).toBe(0);
  });

  it('keeps lines written while rotate() runs for the new file: none lands in the archive', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }));
    file.write('before');
    await file.flush();
    const rotating = file.rotate();
    for (let i = 0; i < 100; i++) file.write(`during ${i}`);
    expect(await rotating).toBe(true);
    await file.flush();
    const [archive] = visible(dir).filter((name) => name !== 'app.log');
    expect(readLines(path.join(dir, archive as string))).toEqual(['before']);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(Array.from({ length: 100 }, (_, i) => `during ${i}`));
  });

  it('runs one rotation at a time: a second rotate() waits for the first and archives again', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }));
    file.write('one');
    await file.flush();
    const first = file.rotate();
    file.write('two');
    const second = file.rotate();
    expect(await Promise.all([first, second])).toEqual([true, true]);
    file.write('three');
    await file.flush();
    const archives = visible(dir).filter((name) => name !== 'app.log').sort((a, b) => partIndex(a) - partIndex(b));
    expect(archives.map((name) => readLines(path.join(dir, name)))).toEqual([['one'], ['two']]);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['three']);
  });

  it('with maxSize, a line that waited past fallbackMs for a rotation under way goes to the current file once, and no second rotation starts', async () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 12);
    const file = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', maxSize: 1024, fallbackMs: 500 }, { now: () => now }));
    file.write('x'.repeat(2000));
    await file.flush();
    const rotating = file.rotate();
    now += 1000; // the rotation has been under way for longer than fallbackMs
    file.write('late');
    (file as unknown as { flushNow(): void }).flushNow();
    expect(file.stats()).toMatchObject({ bufferedLines: 0, lateLines: 1 });
    expect(await rotating).toBe(true);
    await file.flush();
    expect(file.stats()).toMatchObject({ rotations: 1, lockAttemptsLost: 0 });
    const [archive] = visible(dir).filter((name) => name !== 'app.log');
    expect(readLines(path.join(dir, archive as string))).toEqual(['x'.repeat(2000), 'late']);
  });

  it('looks at a busy lock again every 5 ms at a boundary, not on every turn of the event loop', async () => {
    const { dir, file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59), { fallbackMs: 60_000, checkIntervalMs: 1000 });
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process holds the lock (fresh: not stale)
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 1);
    const started = performance.now();
    const writer = setInterval(() => file.write('waiting'), 1); // writes must not add attempts
    await vi.waitFor(() => expect(file.stats().lockAttemptsLost).toBeGreaterThanOrEqual(10), { timeout: 10_000, interval: 5 });
    clearInterval(writer);
    const elapsed = performance.now() - started;
    // One attempt per 5 ms retry at most (a write or a turn of the loop never starts one).
    expect(file.stats().lockAttemptsLost).toBeLessThanOrEqual(Math.ceil(elapsed / 5) + 1);
    fs.rmdirSync(path.join(dir, '.app.log.lock'));
    await file.flush();
    expect(readLines(path.join(dir, 'app.log')).every((line) => line === 'waiting')).toBe(true);
  });

  it('flushSync() during a rotation under way writes the waiting lines to the current file, counted once, and the rotation still reports once', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }));
    await once(file, 'open'); // the first file's, delivered after the constructor
    file.write('before');
    await file.flush();
    const events: string[] = [];
    file.on('open', () => events.push('open'));
    file.on('rotate', (event: RotateEvent) => events.push(`rotate ${event.archive ? 'archived' : 'none'}`));
    const rotating = file.rotate();
    file.write('during');
    file.flushSync();
    expect(file.stats()).toMatchObject({ bufferedLines: 0, lateLines: 1 });
    expect(await rotating).toBe(true);
    expect(events).toEqual(['open', 'rotate archived']);
    expect(file.stats()).toMatchObject({ rotations: 1, reopens: 0, lockAttemptsLost: 0 });
  });

  it('closes the descriptor it opened when writing the state fails, however often the rotation is retried', async () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' }));
    file.on('error', () => {});
    file.write('one');
    await file.flush();
    fs.mkdirSync(stateTempPath(path.join(dir, '.app.log.state'))); // the state's temp file cannot be written
    const before = openDescriptors();
    for (let i = 0; i < 5; i++) expect(await file.rotate()).toBe(false);
    expect(openDescriptors()).toBe(before);
    expect(file.stats().errors).toBeGreaterThan(0);
  });

  it('rotate() with sync: true is done when it returns: a line written next is in the new file at once', () => {
    const dir = tempDir();
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', sync: true }));
    file.write('before');
    void file.rotate();
    file.write('after');
    expect(visible(dir)).toHaveLength(2);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['after']);
  });

  it('close() writes the lines logged while it waits for archive maintenance to stop', async () => {
    const dir = tempDir();
    // Old archives to compress, so that a maintenance run is under way when close() stops it.
    for (let day = 1; day <= 20; day++) {
      const archive = path.join(dir, `app.2026-10-${String(day).padStart(2, '0')}.log`);
      fs.writeFileSync(archive, `${'x'.repeat(200)}\n`.repeat(2000));
      fs.utimesSync(archive, new Date(Date.UTC(2026, 9, day)), new Date(Date.UTC(2026, 9, day)));
    }
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', compress: { delayMs: 0 } }));
    await vi.waitFor(() => expect(fs.readdirSync(dir).some((name) => name.endsWith('.tmp'))).toBe(true), { timeout: 5000, interval: 1 });
    const closed = file.close();
    let written = 0;
    let writtenWhileClosing = 0;
    let done = false;
    void closed.then(() => (done = true));
    while (!done) {
      if (file.status === 'closing') writtenWhileClosing++;
      file.write(`line ${written++}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(writtenWhileClosing).toBeGreaterThan(0); // the case under test happened
    expect(file.stats().bufferedLines).toBe(0);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(Array.from({ length: written }, (_, i) => `line ${i}`));
  });

  describe('with no file yet: another process has held the lock since start-up', () => {
    function startWithLockHeld(extra: Partial<RotatingFileOptions> = {}): { dir: string; file: RotatingFile } {
      const dir = tempDir();
      fs.mkdirSync(path.join(dir, '.app.log.lock')); // fresh, and staleMs is far away
      const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', lock: { staleMs: 60_000 }, ...extra }));
      file.on('warning', () => {});
      for (let i = 0; i < 5; i++) file.write(`line ${i}`);
      expect(file.status).toBe('waiting');
      return { dir, file };
    }
    const lines = ['line 0', 'line 1', 'line 2', 'line 3', 'line 4'];

    it("keeps a process that awaits 'ready' (as for pino.destination()) alive until the file opens, though nothing else keeps it", async () => {
      const dir = tempDir();
      const lock = path.join(dir, '.app.log.lock');
      fs.mkdirSync(lock); // another process, starting at the same moment, holds it
      const dist = pathToFileURL(path.join(import.meta.dirname, '..', 'dist', 'index.js')).href;
      const script = `
        import { once } from 'node:events';
        const { createRotatingFile } = await import(${JSON.stringify(dist)});
        const file = createRotatingFile({ path: ${JSON.stringify(path.join(dir, 'app.log'))}, lock: { staleMs: 60_000 } });
        console.log(file.status);
        await once(file, 'ready');
        console.log('ready');
        await file.close();`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let release: NodeJS.Timeout | undefined;
      child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
      child.stdout.on('data', (data: Buffer) => {
        stdout += data.toString();
        // Still there 300 ms on (staying alive is what is tested: that takes a while), the other process is
        // done: the lock is free.
        if (stdout === 'waiting\n') release = setTimeout(() => fs.rmSync(lock, { recursive: true, force: true }), 300);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code] = (await once(child, 'exit')) as [number | null];
      clearTimeout(timer);
      clearTimeout(release);
      expect({ code, stdout }, stderr).toEqual({ code: 0, stdout: 'waiting\nready\n' });
    });

    it('flushSync() appends the lines to the active name as it is, counted as late', () => {
      const { dir, file } = startWithLockHeld();
      file.flushSync();
      expect(readLines(path.join(dir, 'app.log'))).toEqual(lines);
      expect(file.stats()).toMatchObject({ bufferedLines: 0, lateLines: 5, droppedLines: 0 });
      expect(file.status).toBe('waiting'); // the next lines still wait for a file of their own
    });

    it('close() writes them after fallbackMs, counted as late', async () => {
      const { dir, file } = startWithLockHeld({ fallbackMs: 300 });
      await file.close();
      expect(readLines(path.join(dir, 'app.log'))).toEqual(lines);
      expect(file.stats()).toMatchObject({ bufferedLines: 0, lateLines: 5, droppedLines: 0 });
    });
  });

  it("a 'warning' listener that logs while lines go late over maxBufferBytes drops nothing that was written", () => {
    const dir = tempDir();
    let now = Date.UTC(2026, 10, 25, 23, 59, 59, 990);
    const options = { path: path.join(dir, 'app.log'), timeZone: 'UTC', settleMs: 0, highWaterMark: 1024, maxBufferBytes: 1024 };
    const file = track(new RotatingFile(options, { now: () => now }));
    file.on('warning', (warning: { code: string }) => file.write(`warning ${warning.code}`));
    file.write('first');
    file.flushSync();
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // the boundary comes while another process holds the lock
    now = Date.UTC(2026, 10, 26, 0, 0, 0, 10);
    for (let i = 0; i < 40; i++) file.write(`line ${String(i).padStart(3, '0')} ${'y'.repeat(40)}`); // 2,000 bytes > the cap
    file.flushSync();
    const onDisk = readLines(path.join(dir, 'app.log')).filter((line) => line.startsWith('line '));
    expect(onDisk).toHaveLength(40);
    expect(file.stats().droppedLines).toBe(0);
    fs.rmdirSync(path.join(dir, '.app.log.lock'));
  });

  /**
   * A file (maxBufferBytes 1 KiB) whose rotation at a boundary fails (its state is a directory: EISDIR) while
   * its open file takes writes; resolves once that failure was told. `repair()` puts the state back.
   */
  async function rotationFailing(sync = false) {
    const dir = tempDir();
    const clock = { now: Date.UTC(2026, 10, 25, 23, 59, 59, 990) };
    const log = path.join(dir, 'app.log');
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', settleMs: 0, highWaterMark: 1024, maxBufferBytes: 1024, sync }, { now: () => clock.now }));
    file.write('first');
    file.flushSync();
    const statePath = path.join(dir, '.app.log.state');
    const state = fs.readFileSync(statePath);
    fs.rmSync(statePath);
    fs.mkdirSync(statePath);
    const repair = (): void => {
      fs.rmdirSync(statePath);
      fs.writeFileSync(statePath, state);
    };
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 10);
    const errors: string[] = [];
    const failed = once(file, 'error');
    file.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? ''));
    file.on('warning', () => {});
    file.write('after the boundary');
    expect((await failed)[0]).toMatchObject({ code: 'EISDIR' });
    return { dir, log, file, errors, repair };
  }

  /** 30 lines of 50 bytes: 1,500 bytes, over the cap. */
  function burst(file: RotatingFile, tag: string | number): void {
    for (let i = 0; i < 30; i++) file.write(`line ${tag}-${String(i).padStart(2, '0')} ${'y'.repeat(40)}`);
  }

  /** A disk that refuses every write (until the spy is restored). */
  function diskFull(): { mockRestore(): void } {
    return vi.spyOn(fs, 'writeSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
  }

  for (const sync of [false, true]) {
    it(`writes lines over maxBufferBytes to the open file, counted late, while its rotation fails but writes do not: one 'error' (sync: ${sync})`, async () => {
      const { log, file, errors, repair } = await rotationFailing(sync);
      // Bursts over the cap, far enough apart for the rotation's retries to fail in between.
      for (let i = 0; i < 10; i++) {
        burst(file, i);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      expect(file.stats().droppedLines).toBe(0);
      expect(errors).toEqual(['EISDIR']); // one episode, not one per relief of the cap
      const onDisk = readLines(log).filter((line) => line.startsWith('line '));
      expect(onDisk.length).toBeGreaterThan(200);
      expect(file.stats().lateLines).toBe(onDisk.length + 1); // and the line right after the boundary
      repair();
    });

    it(`ends the episode once the rotation works again, though every line went late: a full disk after it is told (sync: ${sync})`, async () => {
      const { file, errors, repair } = await rotationFailing(sync);
      repair();
      burst(file, 'late'); // written late at once, over the cap
      await once(file, 'rotate'); // the retry timer rotates; nothing is left to write after it
      const disk = diskFull();
      file.write('the disk is full now');
      file.flushSync();
      disk.mockRestore();
      expect(errors).toEqual(['EISDIR', 'ENOSPC']);
    });
  }

  for (const sync of [false, true]) {
    it(`backs off a size roll that keeps failing rather than try it before every batch (sync: ${sync})`, async () => {
      const dir = tempDir();
      const log = path.join(dir, 'app.log');
      const file = track(new RotatingFile({ path: log, timeZone: 'UTC', maxSize: 1024, sync }));
      file.on('error', () => {});
      file.write('first');
      file.flushSync();
      const statePath = path.join(dir, '.app.log.state');
      fs.rmSync(statePath);
      fs.mkdirSync(statePath); // every roll fails (EISDIR)
      const started = Date.now();
      let written = 1;
      while (Date.now() - started < 300) {
        for (let i = 0; i < 10; i++, written++) file.write(`line ${written} ${'y'.repeat(100)}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      file.flushSync();
      // Tries at about 0, 100 and 300 ms (fewer on a slow machine), not one per batch.
      expect(file.stats().errors).toBeLessThanOrEqual(4);
      expect(file.stats().droppedLines).toBe(0);
      expect(readLines(log)).toHaveLength(written);
      fs.rmdirSync(statePath);
    });
  }

  it("retries writes that fail within a failed rotation's episode from the shortest back-off, not the rotation's", async () => {
    const { file, repair } = await rotationFailing();
    const backOff = (): number => (file as unknown as { errorDelay: number }).errorDelay;
    await vi.waitFor(() => expect(backOff()).toBeGreaterThanOrEqual(800), { timeout: 5000, interval: 20 }); // the rotation failed again and again
    const disk = diskFull();
    file.write('the disk is full now');
    file.flushSync();
    disk.mockRestore();
    expect(backOff()).toBe(200); // 100 ms to the first retry, doubled for the next
    repair();
  });

  it("tells a disk that fills up while a failed rotation's episode is open, and gives that error to flush(callback)", async () => {
    const { dir, file, errors, repair } = await rotationFailing();
    const disk = diskFull();
    burst(file, 'lost'); // over the cap: the disk refuses them, the oldest are dropped
    const told = new Promise((resolve) => file.flush(resolve));
    disk.mockRestore();
    expect(errors).toEqual(['EISDIR', 'ENOSPC']);
    expect(await told).toMatchObject({ code: 'ENOSPC' });
    expect(file.stats().droppedLines).toBeGreaterThan(0);
    file.flushSync();
    const lines = visible(dir).flatMap((name) => readLines(path.join(dir, name)));
    expect(lines.filter((line) => line.startsWith('timberlock: '))).toHaveLength(1); // the drop marker
    repair();
  });

  it('drops lines over maxBufferBytes without trying to open the file for each write while no file can be opened', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const openSync = fs.openSync;
    let opens = 0;
    vi.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      if (!String(file).startsWith(dir)) return (openSync as (...args: unknown[]) => number)(file, ...rest);
      opens++;
      throw Object.assign(new Error(`EMFILE: too many open files, open '${String(file)}'`), { code: 'EMFILE' });
    }) as typeof fs.openSync);
    const file = track(new RotatingFile({ path: log, timeZone: 'UTC', highWaterMark: 1024, maxBufferBytes: 1024 }));
    file.on('error', () => {});
    file.on('warning', () => {});
    for (let i = 0; i < 30; i++) file.write(`fill ${'y'.repeat(90)}`); // over the cap
    const before = opens;
    for (let i = 0; i < 200; i++) file.write(`line ${i} ${'y'.repeat(90)}`);
    expect(opens - before).toBeLessThan(5); // the retry timer owns the next attempt
    expect(file.stats().droppedLines).toBeGreaterThan(150);
    vi.restoreAllMocks();
  });

  it('close() during rotate() lets it finish, writes the waiting lines to the new file and leaves no descriptor open', async () => {
    const dir = tempDir();
    const before = openDescriptors();
    const file = createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC' });
    file.write('before');
    await file.flush();
    const rotating = file.rotate();
    file.write('after');
    await file.close();
    expect(await rotating).toBe(true);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['after']);
    expect(visible(dir)).toHaveLength(2);
    expect(openDescriptors()).toBe(before);
  });

  // A synchronous loop that logs 20 MB (pino's destination ignores write()'s false): a rotation started off
  // the event loop could not move until the loop ends, and past maxBufferBytes every line went to the file
  // being rotated (a 17.8 MB file with a maxSize of 1 MB; at a boundary, late lines in the old period's file).
  const BURST_LINES = 100_000;
  const burstLine = (i: number): string => `burst ${String(i).padStart(6, '0')} ${'b'.repeat(185)}`;
  function writeBurst(file: RotatingFile): void {
    for (let i = 0; i < BURST_LINES; i++) file.write(burstLine(i));
  }
  function expectEveryBurstLineOnce(dir: string, names: string[]): void {
    const found = names.flatMap((name) => readLines(path.join(dir, name))).filter((line) => line.startsWith('burst '));
    expect(found.length).toBe(BURST_LINES);
    expect(new Set(found).size).toBe(BURST_LINES);
  }

  it('rolls at maxSize during a synchronous burst: no file grows past maxSize by more than one batch, no line goes late', async () => {
    const dir = tempDir();
    const maxSize = 1024 * 1024;
    const file = track(createRotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', maxSize }));
    await once(file, 'open');
    writeBurst(file);
    await file.close();
    const sizes = visible(dir).map((name) => fs.statSync(path.join(dir, name)).size);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxSize + 64 * 1024 + 200);
    expect(sizes.length).toBeGreaterThanOrEqual(19);
    expect(file.stats().lateLines).toBe(0);
    expectEveryBurstLineOnce(dir, visible(dir));
  });

  it('a staging that fails during a synchronous burst is retried at the settle margin\'s end, as off the event loop, not on the error back-off', async () => {
    const { file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59, 900), { settleMs: 1000 });
    const errors: string[] = [];
    file.on('error', (err) => errors.push(err.code));
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 10); // within the settle margin: 990 ms of it left
    const delays = recordTimeoutDelays();
    const unhook = onceAtStep('before-state', () => {
      throw Object.assign(new Error('EIO: i/o error (simulated)'), { code: 'EIO' });
    });
    try {
      writeBurst(file);
    } finally {
      unhook();
    }
    expect(errors).toEqual(['EIO']);
    expect(delays).toContain(990);
    expect(delays).not.toContain(100);
    vi.restoreAllMocks();
  });

  it('gives the staged file the active name at the settle margin\'s end during a synchronous burst, so that the next boundary moves on too: lines never pile up', async () => {
    const { dir, file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59, 900));
    const midnight = Date.UTC(2026, 10, 26);
    let mostBuffered = 0;
    for (let i = 0; i < BURST_LINES; i++) {
      // A loop that runs through a whole period: staged, past the settle margin, then the next boundary.
      if (i === 0) clock.now = midnight + 10;
      if (i === BURST_LINES / 4) clock.now = midnight + 500;
      if (i === BURST_LINES / 2) clock.now = midnight + 86_400_000 + 10;
      file.write(burstLine(i));
      mostBuffered = Math.max(mostBuffered, file.stats().bufferedBytes);
    }
    expect(mostBuffered).toBeLessThan(128 * 1024);
    await file.close();
    expect(file.stats().lateLines).toBe(0);
    const lines = (name: string) => readLines(path.join(dir, name)).filter((line) => line.startsWith('burst '));
    const burst = Array.from({ length: BURST_LINES }, (_, i) => burstLine(i));
    // The lines still in memory at the next boundary (less than a batch) go to the new period's file.
    const archived = lines('app.2026-11-26.log');
    expect(archived.length).toBeGreaterThan(BURST_LINES / 2 - (64 * 1024) / 190);
    expect(archived).toEqual(burst.slice(0, archived.length));
    expect(lines('app.log')).toEqual(burst.slice(archived.length));
  });

  it("follows the file another process staged during a synchronous burst that found the lock busy at the boundary: lines never pile up", async () => {
    const { dir, file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59, 900));
    const other = track(new RotatingFile({ path: path.join(dir, 'app.log'), timeZone: 'UTC', checkIntervalMs: 100 }, { now: () => clock.now }));
    await other.flush();
    const lock = path.join(dir, '.app.log.lock');
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 10); // within the settle margin
    fs.mkdirSync(lock); // the other process is staging the new file
    let mostBufferedAfter = 0;
    for (let i = 0; i < BURST_LINES; i++) {
      if (i === BURST_LINES / 4) {
        fs.rmdirSync(lock);
        // The other process's own burst stages the file (its timers cannot run either).
        for (let j = 0; j < 400; j++) other.write(`other ${j} ${'o'.repeat(190)}`);
      }
      file.write(burstLine(i));
      // The lines logged while the lock was held wait for the file; within the next 64 KiB they follow it.
      if (i >= BURST_LINES / 4 + 400) mostBufferedAfter = Math.max(mostBufferedAfter, file.stats().bufferedBytes);
    }
    expect(mostBufferedAfter).toBeLessThan(128 * 1024);
    await file.close();
    await other.close();
    expect(file.stats()).toMatchObject({ lateLines: 0, droppedLines: 0 });
    const archive = visible(dir).find((name) => name !== 'app.log') as string;
    expect(readLines(path.join(dir, archive))).toEqual(['before midnight']);
    expectEveryBurstLineOnce(dir, ['app.log']);
  });

  it('with sync: true, rotates on the thread in a loop that runs past the settle margin: the lines that waited for it do not pile up behind its timer', async () => {
    const { dir, file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59, 900), { sync: true });
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 10); // within the settle margin: a sync file's lines wait for the new file
    for (let i = 0; i < 100; i++) file.write(burstLine(i));
    expect(file.stats().bufferedLines).toBe(100);
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 500); // the settle margin is over, but the loop goes on
    let mostBuffered = 0;
    for (let i = 100; i < BURST_LINES; i++) {
      file.write(burstLine(i));
      mostBuffered = Math.max(mostBuffered, file.stats().bufferedBytes);
    }
    expect(mostBuffered).toBe(0);
    await file.close();
    expect(file.stats().lateLines).toBe(0);
    expect(readLines(path.join(dir, 'app.2026-11-25.log'))).toEqual(['before midnight']);
    expectEveryBurstLineOnce(dir, ['app.log']);
  });

  it('moves to the new period at a boundary during a synchronous burst: no line goes late to the old period\'s file', async () => {
    const { dir, file, clock } = await idleBeforeMidnight(Date.UTC(2026, 10, 25, 23, 59, 59, 900));
    clock.now = Date.UTC(2026, 10, 26, 0, 0, 0, 10); // within the settle margin: the new file is staged
    writeBurst(file);
    await file.close();
    expect(file.stats().lateLines).toBe(0);
    const archive = visible(dir).find((name) => name !== 'app.log') as string;
    expect(readLines(path.join(dir, archive))).toEqual(['before midnight']);
    expectEveryBurstLineOnce(dir, ['app.log']);
  });
});

const fixture = path.join(import.meta.dirname, 'fixtures', 'exit-writer.mjs');
const throwingListenerFixture = path.join(import.meta.dirname, 'fixtures', 'throwing-listener.mjs');

/** The exit-writer fixture writing 200 lines of 100 bytes under `ulimit -f 8` (8 KiB), then reporting. */
/**
 * Every one of the 200 lines writeUnderFileSizeLimit wrote is in `log` whole, or counted as dropped (the
 * line the limit cut short among them), and none is left in memory.
 */
function expectWrittenOrDropped(log: string, stats: RotatingFileStats): void {
  expect(stats.bufferedLines).toBe(0);
  const wholeLines = fs.readFileSync(log, 'utf8').split('\n').length - 1;
  expect(stats.droppedLines).toBeGreaterThan(0);
  expect(wholeLines + stats.droppedLines).toBe(200);
}

function writeUnderFileSizeLimit(
  log: string,
  listen: boolean,
  then: 'report' | 'close' | 'rotate' | 'exit-failing' = 'report',
  more: Record<string, unknown> = {},
  env: Record<string, string> = {},
): SpawnSyncReturns<string> {
  // close() waits at most fallbackMs for lines that cannot be written.
  const config = JSON.stringify({ path: log, lines: 200, lineBytes: 100, then, listen, fallbackMs: then === 'close' ? 300 : undefined, ...more });
  return spawnSync('bash', ['-c', `ulimit -f 8 && exec "${process.execPath}" "${fixture}" '${config}'`], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...env },
  });
}

describe('RotatingFile listeners while the process ends', () => {
  const listenerExit = path.join(import.meta.dirname, 'fixtures', 'listener-exit.mjs');
  const run = (dir: string, mode: string, prefix = ''): SpawnSyncReturns<string> =>
    spawnSync('bash', ['-c', `${prefix}exec "${process.execPath}" "${listenerExit}" '${JSON.stringify({ dir, mode })}'`], {
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL', // SIGTERM would run the very exit flush under test
    });
  const linesIn = (dir: string): string[] =>
    fs
      .readdirSync(dir)
      .filter((name) => name.startsWith('app'))
      .flatMap((name) => readLines(path.join(dir, name)));
  type Report = { stats: RotatingFileStats; warnings: string[]; events: string[]; written?: number; caught?: boolean };
  const reportOf = (out: SpawnSyncReturns<string>): Report => JSON.parse(out.stdout.trim().split('\n').at(-1) as string);
  /** Run `mode`, which ends with process.exit(0), and read its report. */
  const exited = (dir: string, mode: string): Report => {
    const out = run(dir, mode);
    expect(out.status, out.stderr).toBe(0);
    return reportOf(out);
  };

  it('writes what a rotate listener logs during the flush before a death by SIGTERM without a handler', () => {
    const dir = tempDir();
    const out = run(dir, 'death');
    expect(out.signal, out.stderr).toBe('SIGTERM');
    const lines = linesIn(dir);
    expect(lines.filter((line) => line.startsWith('fill '))).toHaveLength(25);
    expect(lines.filter((line) => line.startsWith('pending '))).toHaveLength(5);
    expect(lines).toContain('from the rotate listener');
  });

  it('counts as late the lines an exit writes to the file a rotation is archiving, after a reopen() in the middle of it', () => {
    const dir = tempDir();
    const report = exited(dir, 'reopen');
    expect(report.caught, 'exit between the archive link and the adoption of the new file').toBe(true);
    expect(report.stats.lateLines).toBe(5);
    expect(report.warnings.some((warning) => warning.startsWith('LATE_LINES'))).toBe(true);
    expect(linesIn(dir).sort()).toEqual(['before', 'exit line 0', 'exit line 1', 'exit line 2', 'exit line 3', 'exit line 4']);
  });

  it("writes every line when a rotate listener exits on an event the constructor kept for the next tick", () => {
    const dir = tempDir();
    const report = exited(dir, 'deferred');
    expect(report.stats.droppedLines).toBe(0);
    const lines = linesIn(dir).filter((line) => line.startsWith('line '));
    // The line being written when the listener exited is on disk too.
    expect(lines).toHaveLength((report.written as number) + 1);
    expect(lines).toEqual(lines.map((_, i) => `line ${String(i).padStart(3, '0')} ${'x'.repeat(40)}`));
  });

  it("counts as dropped the lines a warning listener and an app's exit listener log at exit while writes fail (EFBIG under ulimit -f)", () => {
    const dir = tempDir();
    const out = run(dir, 'dropped', 'ulimit -f 8 && ');
    expect(out.status, out.stderr).toBe(0);
    const report = reportOf(out);
    const whole = fs.readFileSync(path.join(dir, 'app.log'), 'utf8').split('\n').length - 1;
    expect(report.stats.bufferedLines).toBe(0);
    expect(report.stats.lines).toBeGreaterThan(200); // the listener's lines
    expect(whole + report.stats.droppedLines).toBe(report.stats.lines);
    // The listener logs on each warning: told once per exit round, not once per line it logs.
    expect(report.warnings.length).toBeLessThanOrEqual(3);
    expect(out.stderr).toBe('');
  });

  it('tells the events of a closed file that a signal hook logged to before it called process.exit(): its line could not be appended', () => {
    const dir = tempDir();
    const out = run(dir, 'closed-in-hook');
    expect(out.status, out.stderr).toBe(0);
    const report = reportOf(out);
    expect(report.stats.droppedLines).toBe(1);
    expect(report.events).toEqual(['error EISDIR', 'DROPPED_LINES', 'WRITE_AFTER_CLOSE']);
  });

  it('prints the error and the dropped line of a closed file that a signal hook logged to before process.exit(), when nobody listens', () => {
    const dir = tempDir();
    const out = run(dir, 'closed-in-hook-quiet');
    expect(out.status, out.stderr).toBe(0);
    expect(reportOf(out).stats.droppedLines).toBe(1);
    expect(out.stderr).toMatch(/\[EISDIR\] TimberlockWarning: timberlock: write after close failed on .*; the line is dropped/);
    expect(out.stderr).toContain('[DROPPED_LINES] TimberlockWarning: A line written to');
  });

  it('appends the line a signal hook wrote to a closed file that nothing else holds, though a garbage collection ran meanwhile', () => {
    const dir = tempDir();
    const out = spawnSync(process.execPath, ['--expose-gc', listenerExit, JSON.stringify({ dir, mode: 'gc-closed' })], { encoding: 'utf8', timeout: 30_000 });
    expect(out.signal ?? out.status, out.stderr).toBe(143);
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['from the hook']);
  });

  it("tells the constructor's events when the process exits in the constructor's tick, and writes what their listeners log", () => {
    const dir = tempDir();
    const report = exited(dir, 'same-tick');
    expect(report.events.sort()).toEqual(['open', 'rotate']);
    expect(linesIn(dir).sort()).toEqual(['from an earlier day', 'from the open listener', 'from the rotate listener', 'main line']);
  });

  it("tells all of an archive maintenance run's events when a listener of the first calls process.exit()", () => {
    const dir = tempDir();
    const report = exited(dir, 'archive-exit');
    // Days 4 and 5 are compressed, days 1 to 3 removed, in one run; each call logged a line.
    expect(report.events).toHaveLength(5);
    expect(readLines(path.join(dir, 'app.log'))).toHaveLength(5);
  });

  it('counts and tells a background rotation whose open listener calls process.exit()', () => {
    const dir = tempDir();
    const report = exited(dir, 'open-exit-background');
    expect(report.events).toEqual(['open', 'rotate']);
    expect(report.stats.rotations).toBe(1);
    expect(linesIn(dir).sort()).toEqual(['before the rotation', 'from the rotate listener']);
  });

  it("writes the lines of a first file made in an 'exit' listener, and tells its constructor's events", () => {
    const dir = tempDir();
    const report = exited(dir, 'made-at-exit');
    expect(report.stats).toMatchObject({ bufferedLines: 0, droppedLines: 0 });
    expect(readLines(path.join(dir, 'app.log'))).toEqual(['written in an exit listener']);
    expect(report.events.sort()).toEqual(['open', 'rotate']);
  });

  it('tells the events still held when a listener of an earlier one calls process.exit(), and writes what their listeners log', () => {
    const dir = tempDir();
    const report = exited(dir, 'exit-in-open');
    expect(report.events).toEqual(['open', 'rotate']);
    const lines = linesIn(dir);
    expect(lines).toContain('from the rotate listener');
    expect(lines.filter((line) => line.startsWith('line '))).toHaveLength((report.written as number) + 1);
    expect(report.stats.droppedLines).toBe(0);
  });
});

describe('RotatingFile and a listener that throws', () => {
  for (const event of ['rotate', 'open'] as const) {
    it(`goes on rotating and writing after a '${event}' listener threw, and rethrows the error as uncaught`, async () => {
      const dir = tempDir();
      const log = path.join(dir, 'app.log');
      const out = execFileSync(process.execPath, [throwingListenerFixture, JSON.stringify({ path: log, event, runMs: 800 })], { timeout: 30_000, encoding: 'utf8' });
      const report = JSON.parse(out.trim().split('\n').at(-1) as string);
      expect(report.calls).toBeGreaterThan(2); // told of later rotations too
      expect(report.uncaught).toEqual([`a ${event} listener failed`]);
      // Rotations went on after the throw (8 boundaries in 800 ms): before, the file stayed in the middle
      // of the rotation the listener interrupted, and close() rejected with the listener's error.
      expect(report.stats.rotations).toBeGreaterThanOrEqual(4);
      expect(report.stats.bufferedLines).toBe(0);
      const lines = fs
        .readdirSync(dir)
        .filter((name) => !name.startsWith('.'))
        .flatMap((name) => readLines(path.join(dir, name)));
      expect(lines.length).toBe(report.written);
      expect(new Set(lines).size).toBe(report.written);
    });
  }

  for (const end of ['exit', 'signal'] as const) {
    it(`prints the error of a listener that throws while the process ends (${end === 'exit' ? 'process.exit()' : 'SIGTERM, no handler'}), and still writes the lines`, () => {
      const dir = tempDir();
      const log = path.join(dir, 'app.log');
      const out = spawnSync(process.execPath, [throwingListenerFixture, JSON.stringify({ path: log, atExit: end })], { timeout: 30_000, encoding: 'utf8' });
      expect({ status: out.status, signal: out.signal }).toEqual(end === 'exit' ? { status: 0, signal: null } : { status: null, signal: 'SIGTERM' });
      expect(out.stderr).toContain(`A 'warning' listener of the timberlock file ${log} threw while the process exited: Error: a warning listener failed on LATE_LINES`);
      expect(readLines(log)).toEqual(['pending']);
    });
  }
});

describe('RotatingFile size roll that fails half-way', () => {
  it('writes the next lines to the file with the active name, not to the archive that the failed roll made of the open file (sync: true)', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const file = track(createRotatingFile({ path: log, sync: true, maxSize: 1024, checkIntervalMs: 50 }));
    file.on('error', () => {});
    const key = Symbol.for('timberlock.testHooks');
    const hooks = globalThis as Record<symbol, unknown>;
    hooks[key] = {
      at(step: string) {
        if (step !== 'state-written') return;
        hooks[key] = undefined;
        // As if this process had stalled here past staleMs: archive maintenance removes its state temp file.
        for (const name of fs.readdirSync(dir).filter((n) => n.startsWith('.app.log.state.'))) fs.rmSync(path.join(dir, name));
      },
    };
    try {
      for (let i = 0; i < 12; i++) file.write(`${'x'.repeat(95)} ${String(i).padStart(3, '0')}\n`); // 1,200 bytes: the 12th rolls
    } finally {
      hooks[key] = undefined;
    }
    expect(file.stats().errors).toBe(1); // the roll failed (its state could not be renamed)
    const archived = fs.readdirSync(dir).filter((name) => name.startsWith('app.') && name !== 'app.log');
    expect(archived).toHaveLength(1); // the open file got its archive name before the roll failed
    file.write('after the failed roll\n');
    await vi.waitFor(() => expect(readLines(log)).toContain('after the failed roll'), { timeout: 5000, interval: 10 });
    // The archive holds the lines before the roll; the line whose batch found the file at maxSize, and the
    // lines after, are in the active file.
    const tags = (lines: string[]): string[] => lines.filter((line) => !line.startsWith('#')).map((line) => line.slice(-3));
    expect(tags(readLines(path.join(dir, archived[0] as string)))).toEqual(['000', '001', '002', '003', '004', '005', '006', '007', '008', '009', '010']);
    expect(tags(readLines(log))).toEqual(['011', 'oll']);
    expect(file.stats().lateLines).toBe(0);
  });
});

describe('RotatingFile in a process that ends', () => {
  it('loses nothing when process.exit() follows the writes at once', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    execFileSync(process.execPath, [fixture, JSON.stringify({ path: log, lines: 20_000, then: 'exit' })], { timeout: 30_000 });
    const lines = readLines(log);
    expect(lines).toHaveLength(20_000);
    expect(lines[19_999]).toBe('line 19999');
  });

  for (const listener of ['sync', 'async'] as const) {
    it(`ends when an app's 'beforeExit' listener logs each time (${listener}): its line is written at once and keeps nothing alive`, () => {
      const dir = tempDir();
      const log = path.join(dir, 'app.log');
      const out = spawnSync(process.execPath, [fixture, JSON.stringify({ path: log, lines: 3, then: 'end', beforeExitListener: listener })], {
        timeout: 10_000,
        encoding: 'utf8',
      });
      expect({ status: out.status, signal: out.signal }, out.stderr).toEqual({ status: 0, signal: null });
      expect(readLines(log)).toEqual(['line 0', 'line 1', 'line 2', 'from the beforeExit listener']);
    });
  }

  it("ends with one 'beforeExit' when the app's listener logs right after a boundary: the rotation it brings keeps nothing alive", () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const config = { path: log, lines: 3, then: 'end-after-boundary', frequency: 1000, beforeExitListener: 'sync' };
    const out = spawnSync(process.execPath, [fixture, JSON.stringify(config)], { timeout: 10_000, encoding: 'utf8' });
    expect({ status: out.status, signal: out.signal }, out.stderr).toEqual({ status: 0, signal: null });
    const lines = fs.readdirSync(dir).filter((name) => !name.startsWith('.')).flatMap((name) => readLines(path.join(dir, name)));
    expect(lines.sort()).toEqual(['from the beforeExit listener', 'line 0', 'line 1', 'line 2']);
  });

  it('ends at once after logging right after a boundary, its staged file published on the way out (not kept alive for the settle margin)', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const config = { path: log, lines: 3, then: 'log-after-boundary', frequency: 3000, settleMs: 2000 };
    const out = spawnSync(process.execPath, [fixture, JSON.stringify(config)], { timeout: 10_000, encoding: 'utf8' });
    expect({ status: out.status, signal: out.signal }, out.stderr).toEqual({ status: 0, signal: null });
    expect(JSON.parse(out.stdout.trim()).endedAfterBoundaryMs).toBeLessThan(1000);
    const archives = fs.readdirSync(dir).filter((name) => name.startsWith('app.') && name !== 'app.log');
    expect(archives).toHaveLength(1);
    expect(readLines(path.join(dir, archives[0] as string))).toEqual(['line 0', 'line 1', 'line 2']);
    expect(readLines(log)).toEqual(['after the boundary']);
    expect(fs.existsSync(path.join(dir, '.app.log.next'))).toBe(false);
  });

  it("keeps the settle margin when the app's 'beforeExit' listener logs right after a boundary and then keeps the process busy", () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const config = { path: log, lines: 3, then: 'end-after-boundary', frequency: 2000, settleMs: 700, beforeExitListener: 'then-work' };
    const out = spawnSync(process.execPath, [fixture, JSON.stringify(config)], { timeout: 10_000, encoding: 'utf8' });
    expect({ status: out.status, signal: out.signal }, out.stderr).toEqual({ status: 0, signal: null });
    // Not renamed the moment it logged: another process's lines issued before the boundary may still land.
    expect(JSON.parse(out.stdout.trim()).rotatedAfterBoundaryMs).toBeGreaterThanOrEqual(700);
    const lines = fs.readdirSync(dir).filter((name) => !name.startsWith('.')).flatMap((name) => readLines(path.join(dir, name)));
    expect(lines.sort()).toEqual(['from the beforeExit listener', 'line 0', 'line 1', 'line 2']);
  });

  /**
   * Run `body` in a process whose file (`options`, on `log`) wrote 'before' and says 'ready'; from then on
   * another process holds the rotation lock and keeps it fresh, until `releaseAfterIdleMs` after the process
   * says 'idle' (never, if null). The process reports its file's stats at exit, and `ulimit -f` blocks of
   * 1 KiB with `fileSizeLimit`. When it ended after 'idle' (ms; -1 if not within 6 s), and its stats.
   */
  async function whileLockHeld(
    log: string,
    options: string,
    body: string,
    releaseAfterIdleMs: number | null,
    fileSizeLimit?: number,
  ): Promise<{ endedAfterIdleMs: number; stats: RotatingFileStats }> {
    const lockDir = path.join(path.dirname(log), '.app.log.lock');
    const dist = pathToFileURL(path.join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const script = `
      const { createRotatingFile } = await import(${JSON.stringify(dist)});
      const file = createRotatingFile({ path: ${JSON.stringify(log)}, ${options} });
      file.on('error', () => {});
      process.on('exit', () => console.log(JSON.stringify(file.stats())));
      file.write('before');
      await file.flush();
      console.log('ready');
      await new Promise((resolve) => process.stdin.once('data', resolve));
      process.stdin.destroy();
      ${body}`;
    const limit = fileSizeLimit === undefined ? '' : `ulimit -f ${fileSizeLimit}; `;
    const child = spawn('bash', ['-c', `${limit}exec "$0" --input-type=module -e "$1"`, process.execPath, script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let idleAt = 0;
    let out = '';
    let refresher: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      if (text.includes('ready')) {
        fs.mkdirSync(lockDir);
        refresher = setInterval(() => fs.utimesSync(lockDir, new Date(), new Date()), 200);
        child.stdin.write('go\n');
      }
      if (text.includes('idle')) {
        idleAt = Date.now();
        if (releaseAfterIdleMs === null) return;
        setTimeout(() => {
          clearInterval(refresher);
          fs.rmSync(lockDir, { recursive: true, force: true });
        }, releaseAfterIdleMs);
      }
    });
    try {
      const ended = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 6000))]);
      return { endedAfterIdleMs: ended && idleAt > 0 ? Date.now() - idleAt : -1, stats: JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as RotatingFileStats };
    } finally {
      clearInterval(refresher);
      child.kill('SIGKILL');
    }
  }

  /** Wait until 300 ms past the next boundary, then say 'idle'. */
  const AFTER_BOUNDARY = `await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 300)); console.log('idle');`;

  it('keeps a process alive for a flush() awaited while reopen() waits for the lock (at most fallbackMs): the code after it runs', async () => {
    const log = path.join(tempDir(), 'app.log');
    // logrotate moved the file away; the SIGHUP handler reopens, and another process took the lock first.
    const body = `(await import('node:fs')).renameSync(${JSON.stringify(log)}, ${JSON.stringify(`${log}.1`)});
      file.reopen(); file.write('after reopen'); console.log('idle'); await file.flush(); file.write('after the flush');`;
    const { endedAfterIdleMs, stats } = await whileLockHeld(log, 'fallbackMs: 3000', body, 300);
    expect(endedAfterIdleMs).toBeGreaterThanOrEqual(250); // it waited for the lock to be free
    expect(readLines(`${log}.1`)).toEqual(['before']);
    expect(readLines(log)).toEqual(['after reopen', 'after the flush']);
    expect(stats).toMatchObject({ lateLines: 0, droppedLines: 0 });
  });

  it('lets an idle process end while another process holds the rotation lock past a boundary', async () => {
    const log = path.join(tempDir(), 'app.log');
    const { endedAfterIdleMs } = await whileLockHeld(log, 'frequency: 1000, settleMs: 50', AFTER_BOUNDARY, 1000);
    // Kept alive by a retry every 5 ms for as long as the lock was held.
    expect(endedAfterIdleMs).toBeGreaterThanOrEqual(0);
    expect(endedAfterIdleMs).toBeLessThan(900);
    expect(readLines(log)).toEqual(['before']);
  });

  it('keeps a process alive for a line logged while another process holds the lock past a boundary, until the new file can be made', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const body = `${AFTER_BOUNDARY} file.write('after'); await file.flush();`;
    const { endedAfterIdleMs, stats } = await whileLockHeld(log, 'frequency: 1000, settleMs: 50', body, 1000);
    // It ended at once, and its exit flush put the new period's line into the old period's file, late.
    expect(endedAfterIdleMs).toBeGreaterThanOrEqual(1000);
    expect(stats).toMatchObject({ lateLines: 0, rotations: 1 });
    expect(readLines(log)).toEqual(['after']);
  });

  it('lets a process end when its line cannot be written (a file size limit) while another process holds the lock past a boundary', async () => {
    const log = path.join(tempDir(), 'app.log');
    const body = `${AFTER_BOUNDARY} file.write('x'.repeat(4000));`;
    const { endedAfterIdleMs, stats } = await whileLockHeld(log, 'frequency: 1000, settleMs: 50, fallbackMs: 300', body, null, 1);
    // Its retry every 5 ms for the lock kept it alive for ever, past fallbackMs and the failed late write.
    expect(endedAfterIdleMs).toBeGreaterThanOrEqual(0);
    expect(endedAfterIdleMs).toBeLessThan(3000);
    expect(stats).toMatchObject({ droppedLines: 1, bufferedLines: 0 });
  });

  it("ends with one 'beforeExit' when the app's listener logs each time while another process holds the lock past a boundary and lines go late", async () => {
    const log = path.join(tempDir(), 'app.log');
    const body = `${AFTER_BOUNDARY}
      file.write('after the boundary');
      await new Promise((resolve) => setTimeout(resolve, 500)); // past fallbackMs: it went to the previous file
      let told = 0;
      process.on('beforeExit', () => file.write('from the beforeExit listener ' + ++told));`;
    const { endedAfterIdleMs, stats } = await whileLockHeld(log, 'frequency: 1000, settleMs: 50, fallbackMs: 300', body, null);
    expect(endedAfterIdleMs).toBeGreaterThanOrEqual(0);
    expect(endedAfterIdleMs).toBeLessThan(3000);
    expect(readLines(log)).toEqual(['before', 'after the boundary', 'from the beforeExit listener 1']);
    expect(stats.lateLines).toBe(2);
  });

  for (const earlier of ['exit', 'throw'] as const) {
    it(`loses nothing to an app's 'exit' listener added before the file that ${earlier === 'exit' ? 'calls process.exit() again' : 'throws'}`, () => {
      const dir = tempDir();
      const log = path.join(dir, 'app.log');
      const out = spawnSync(process.execPath, [fixture, JSON.stringify({ path: log, lines: 1000, then: 'exit', earlierExitListener: earlier })], { timeout: 30_000, encoding: 'utf8' });
      if (earlier === 'exit') expect(out.status, out.stderr).toBe(2);
      else expect(out.stderr).toContain('Error: cleanup failed');
      expect(readLines(log)).toEqual(Array.from({ length: 1000 }, (_, i) => `line ${i}`));
    });
  }

  for (const then of ['exit', 'end'] as const) {
    it(`writes a line an app's 'exit' listener logs after timberlock's own exit flush (${then === 'exit' ? 'process.exit()' : 'the event loop ran out'})`, () => {
      const dir = tempDir();
      const log = path.join(dir, 'app.log');
      execFileSync(process.execPath, [fixture, JSON.stringify({ path: log, lines: 3, then, exitListener: true })], { timeout: 30_000 });
      expect(readLines(log)).toEqual(['line 0', 'line 1', 'line 2', 'from the exit listener']);
    });
  }

  it('turns write errors into error events and keeps the data (EFBIG under ulimit -f)', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const out = writeUnderFileSizeLimit(log, true);
    expect(out.status).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1) as string);
    expect(report.errorEvents).toBe(1); // one event per episode, not one per retry
    expect(report.errorCodes).toEqual(['EFBIG']);
    expect(report.stats.bufferedLines).toBeGreaterThan(0); // kept, not dropped
    expect(report.stats.droppedLines).toBe(0);
  });

  it('close() while writes fail counts every line it could not write as dropped (EFBIG under ulimit -f)', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const out = writeUnderFileSizeLimit(log, true, 'close');
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1) as string);
    expect(report.status).toBe('closed');
    expectWrittenOrDropped(log, report.stats);
  });

  it('process.exit() while writes fail counts every line it could not write as dropped and warns (EFBIG under ulimit -f)', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const out = writeUnderFileSizeLimit(log, true, 'exit-failing');
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1) as string);
    expectWrittenOrDropped(log, report.stats);
    expect(report.warnings).toContain('DROPPED_LINES');
  });

  it('prints the error and the lines it dropped when writes first fail in the exit flush and nobody listens (EFBIG under ulimit -f)', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const out = writeUnderFileSizeLimit(log, false, 'exit' as 'report', { quiet: true });
    expect(out.status, out.stderr).toBe(0);
    const wholeLines = readLines(log).length;
    expect(wholeLines).toBeLessThan(200);
    // Node's own format for a process warning: no tick comes at exit for process.emitWarning() to print it.
    expect(out.stderr).toMatch(new RegExp(`\\(node:\\d+\\) \\[EFBIG\\] TimberlockWarning: timberlock: write failed on ${log}`));
    expect(out.stderr).toMatch(/\(node:\d+\) \[DROPPED_LINES\] TimberlockWarning: .*before the process exited/);
    // Not where process warnings are turned off, as Node prints none either.
    const silenced = writeUnderFileSizeLimit(path.join(tempDir(), 'app.log'), false, 'exit' as 'report', { quiet: true }, { NODE_OPTIONS: '--no-warnings' });
    expect(silenced.stderr).toBe('');
  });

  it('drops and counts a line a file size limit cut short, rather than finish it in the next file (EFBIG under ulimit -f)', () => {
    // 120 lines of 100 B against a limit of 8 KiB: line 81 is cut at byte 8192. Its file can take no more
    // bytes; after the rotation the other lines go to the new file, and that line's rest must not.
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const out = writeUnderFileSizeLimit(log, true, 'rotate', { lines: 120 });
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1) as string);
    expect(report.archived).toBe(true);
    const line = (i: number): string => `line ${i}`.padEnd(99, '.');
    const archives = fs.readdirSync(dir).filter((name) => /^app\..+\.log$/.test(name));
    expect(archives).toHaveLength(1);
    const archived = fs.readFileSync(path.join(dir, archives[0] as string), 'utf8');
    expect(archived.length).toBe(8192);
    expect(archived).toBe(Array.from({ length: 82 }, (_, i) => `${line(i)}\n`).join('').slice(0, 8192)); // ends inside line 81
    const active = readLines(log);
    expect(active.slice(0, -1)).toEqual(Array.from({ length: 38 }, (_, i) => line(82 + i)));
    expect(active.at(-1)).toMatch(/^timberlock: 1 line\(s\) dropped between .* could not be written and a line cut short could not be completed \(EFBIG\)$/);
    expect(report.stats.droppedLines).toBe(1);
    expect(report.warnings).toContain('DROPPED_LINES');
  });

  it('drops nothing when a file size limit stops a write exactly at a line end and the file rotates (EFBIG under ulimit -f)', () => {
    // 100 lines of 128 B against 8 KiB: the limit falls right after line 63, so no line is cut.
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const out = writeUnderFileSizeLimit(log, true, 'rotate', { lines: 100, lineBytes: 128 });
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1) as string);
    const line = (i: number): string => `line ${i}`.padEnd(127, '.');
    const archives = fs.readdirSync(dir).filter((name) => /^app\..+\.log$/.test(name));
    expect(archives).toHaveLength(1);
    expect(readLines(path.join(dir, archives[0] as string))).toEqual(Array.from({ length: 64 }, (_, i) => line(i)));
    expect(readLines(log)).toEqual(Array.from({ length: 36 }, (_, i) => line(64 + i)));
    expect(report.stats.droppedLines).toBe(0);
  });

  it('writes the drop marker to the new file when the line a file size limit cut was the last one (EFBIG under ulimit -f)', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const out = writeUnderFileSizeLimit(log, true, 'rotate', { lines: 82 });
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1) as string);
    expect(report.stats.droppedLines).toBe(1);
    expect(readLines(log)).toEqual([expect.stringMatching(/^timberlock: 1 line\(s\) dropped between .* \(EFBIG\)$/)]);
  });

  it('does not crash a process that has no error listener', () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const out = writeUnderFileSizeLimit(log, false);
    expect(out.status).toBe(0);
    expect(out.stderr).toMatch(/TimberlockWarning: timberlock: write failed on .*app\.log: .*EFBIG/);
  });
});
