/**
 * Full disk, end to end: a writer process appends to a log on a 2 MiB tmpfs that a filler file has almost
 * filled. Writes fail with ENOSPC; the writer must keep its lines up to maxBufferBytes, then drop the oldest
 * ones (counted), report one 'error' for the whole episode, back off its retries (100 ms doubling to 5 s),
 * and neither crash nor spin. Once the filler is deleted, writing resumes with one marker line that says how
 * many lines were dropped, and every line that was not dropped is in the file exactly once.
 *
 * Needs root (mount -t tmpfs); skipped, with the reason printed, where mounting is not permitted.
 * Needs dist/index.js (`npm test` builds it first).
 */
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createRotatingFile } from '../src/index.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'disk-writer.mjs');
const KiB = 1024;
const MAX_BUFFER_BYTES = 64 * KiB;
const HIGH_WATER_MARK = 16 * KiB;
const LINE_BYTES = 100;
/** How long the disk stays full once lines are being dropped: long enough for several back-off steps. */
const FULL_WINDOW_MS = 3000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;
/** Timers may fire up to a millisecond early (rounding); allow a little more. */
const TIMER_SLACK_MS = 5;

/** Mount a 2 MiB tmpfs on dir; throws what mount said. */
function mountTmpfs(dir: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
}

function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'pipe' });
}

/** Null when this process may mount a tmpfs, otherwise why not. */
function mountProblem(): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-mount-probe-'));
  try {
    mountTmpfs(dir);
    unmount(dir);
    return null;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return stderr || (err as Error).message;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const cannotMount = mountProblem();
if (cannotMount !== null) console.log(`full-disk tests skipped: cannot mount a tmpfs here (${cannotMount})`);

interface Message {
  type: string;
  at?: number;
  code?: string;
  message?: string;
  details?: { lines?: number; first?: number; last?: number };
  written?: number;
  archive?: string | null;
  stats?: Record<string, number>;
  maxBufferedBytes?: number;
  failedWrites?: { at: number; code: string }[];
}

const children: ChildProcess[] = [];
const mounts: string[] = [];
const dirs: string[] = [];

afterEach(async () => {
  const running = children.splice(0).filter((child) => child.exitCode === null && child.signalCode === null);
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  for (const dir of mounts.splice(0)) unmount(dir);
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** The writer process, its messages, and a way to wait for one. */
class Writer extends EventEmitter {
  readonly messages: Message[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  stderr = '';
  readonly child: ChildProcess;

  constructor(config: Record<string, unknown>) {
    super();
    this.child = fork(FIXTURE, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    children.push(this.child);
    this.child.on('message', (message: Message) => {
      this.messages.push(message);
      this.emit('change');
    });
    this.child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr = (this.stderr + text).slice(-4000)));
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      this.emit('change');
    });
  }

  /** Tell the writer to stop; its result once it has closed the file and exited. */
  async stop(): Promise<Message> {
    this.child.send({ type: 'stop' });
    const result = await this.waitFor((m) => m.type === 'result', 15_000, 'the writer to close');
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (!this.exit) return;
        this.off('change', check);
        resolve();
      };
      this.on('change', check);
      check();
    });
    return result;
  }

  /** The first message matching `predicate`, as soon as it arrives; rejects at the deadline or if the writer exits first. */
  waitFor(predicate: (m: Message) => boolean, timeoutMs: number, what: string): Promise<Message> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.messages.find(predicate);
        if (found) {
          finish();
          resolve(found);
        } else if (this.exit) {
          finish();
          reject(new Error(`${what}: the writer exited first (${JSON.stringify(this.exit)})\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${what}: not within ${timeoutMs} ms\n${this.stderr}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
      check();
    });
  }
}

/** A fresh 2 MiB tmpfs (unmounted after the test) with an empty logs/ directory. */
function smallDisk(): { dir: string; log: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-disk-'));
  dirs.push(dir);
  mountTmpfs(dir);
  mounts.push(dir);
  fs.mkdirSync(path.join(dir, 'logs'));
  return { dir, log: path.join(dir, 'logs', 'app.log') };
}

/** 100 lines of 100 B every 5 ms, about 2 MB/s: a few hundred KiB of free space are gone in a fraction of a second. */
function startWriter(log: string, more: Record<string, unknown> = {}): Writer {
  return new Writer({ path: log, maxBufferBytes: MAX_BUFFER_BYTES, highWaterMark: HIGH_WATER_MARK, lineBytes: LINE_BYTES, linesPerTick: 100, tickMs: 5, ...more });
}

/** Fill the file system of dir up to `leaveFree` bytes with the file `name`. */
function fillDisk(dir: string, name: string, leaveFree: number): void {
  const free = fs.statfsSync(dir).bavail * fs.statfsSync(dir).bsize;
  fs.writeFileSync(path.join(dir, name), Buffer.alloc(Math.max(0, free - leaveFree)));
}

/** The line timberlock writes once writing works again after lines were dropped. */
const MARKER = /^timberlock: (\d+) line\(s\) dropped between (\S+) and (\S+): .* could not be written and the buffer was full$/;

interface LogContents {
  /** Marker lines, in file order. */
  markers: string[];
  /** Lines that are neither a whole `d <seq> xxx…` line nor a marker: torn or merged. */
  malformed: string[];
  /** Data lines per seq. */
  seen: Map<number, number>;
}

function readLog(file: string, lineBytes = LINE_BYTES): LogContents {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const malformed: string[] = [];
  if (lines.pop() !== '') malformed.push('(no newline at the end of the file)');
  const markers = lines.filter((line) => MARKER.test(line));
  const seen = new Map<number, number>();
  for (const line of lines) {
    if (MARKER.test(line)) continue;
    const match = /^d (\d+) x+$/.exec(line);
    if (!match || line.length !== lineBytes - 1) malformed.push(line.slice(0, 120));
    else seen.set(Number(match[1]), (seen.get(Number(match[1])) ?? 0) + 1);
  }
  return { markers, malformed, seen };
}

/** Seqs below `written` that are not in the file. */
function missingOf(seen: Map<number, number>, written: number): number[] {
  const missing: number[] = [];
  for (let seq = 0; seq < written; seq++) if (!seen.has(seq)) missing.push(seq);
  return missing;
}


describe('a full disk (2 MiB tmpfs)', () => {
  it.skipIf(cannotMount !== null)(
    'keeps lines up to maxBufferBytes, drops and counts the oldest, reports one error, backs off, and marks the gap once space is back',
    async () => {
      const { dir, log } = smallDisk();
      fillDisk(dir, 'filler', 256 * KiB);
      const writer = startWriter(log, { stopAfterMarkers: 1 });
      const firstError = await writer.waitFor((m) => m.type === 'error', 15_000, 'the first write error');
      const firstDrop = await writer.waitFor((m) => m.type === 'warning' && m.code === 'DROPPED_LINES', 5_000, 'the first dropped lines');
      // Keep the disk full for a while to watch the retries, then make room.
      await new Promise((resolve) => setTimeout(resolve, FULL_WINDOW_MS));
      fs.rmSync(path.join(dir, 'filler'));
      const freedAt = Date.now();
      const markerWarning = await writer.waitFor(
        (m) => m.type === 'warning' && m.code === 'DROPPED_LINES' && m.details?.first !== undefined,
        RETRY_MAX_MS + 2_000,
        'writing to resume with a marker line',
      );
      const result = await writer.stop();
      expect(writer.exit, writer.stderr).toEqual({ code: 0, signal: null }); // no crash, no unhandled rejection

      const stats = result.stats as Record<string, number>;
      const written = result.written as number;
      const failedWrites = result.failedWrites as { at: number; code: string }[];
      const errorEvents = writer.messages.filter((m) => m.type === 'error');
      const episode = failedWrites.filter((f) => f.at <= (markerWarning.at as number));
      const gaps = episode.slice(1).map((f, i) => f.at - (episode[i] as { at: number }).at);

      // The file: data lines and exactly one marker, every line whole.
      const { markers, malformed, seen } = readLog(log);
      const duplicated = [...seen].filter(([, n]) => n > 1).map(([seq]) => seq);
      const missing = missingOf(seen, written);

      console.log(
        `full disk: written ${written} lines, on disk ${seen.size}, dropped ${stats.droppedLines} (missing ${missing.length}, ` +
          `seq ${missing[0]}…${missing[missing.length - 1]}), max buffered ${result.maxBufferedBytes} B (cap ${MAX_BUFFER_BYTES}), ` +
          `error events ${errorEvents.length} (${errorEvents.map((e) => e.code).join(', ')}), failed writes ${episode.length} (stats.errors ${stats.errors}) ` +
          `over ${(markerWarning.at as number) - (firstError.at as number)} ms, gaps ${gaps.join(' ')} ms; ` +
          `space freed → marker after ${(markerWarning.at as number) - freedAt} ms; first drop ${(firstDrop.at as number) - (firstError.at as number)} ms after the first error; ` +
          `marker ${JSON.stringify(markers[0]?.slice(0, 100))}`,
      );

      // One 'error' for the whole episode, with the cause's code.
      expect(errorEvents.map((e) => e.code)).toEqual(['ENOSPC']);
      // Retries back off: 100 ms, then doubling up to 5 s — no tight loop. Each failed write(2) is one
      // attempt, counted once in stats().errors.
      expect(new Set(episode.map((f) => f.code))).toEqual(new Set(['ENOSPC']));
      expect(stats.errors).toBe(episode.length);
      gaps.forEach((gap, i) => {
        const due = Math.min(RETRY_MIN_MS * 2 ** i, RETRY_MAX_MS);
        expect(gap, `gap ${i} between failed writes`).toBeGreaterThanOrEqual(due - TIMER_SLACK_MS);
      });
      const episodeMs = (markerWarning.at as number) - (firstError.at as number);
      expect(episode.length).toBeLessThanOrEqual(2 + Math.ceil(Math.log2(RETRY_MAX_MS / RETRY_MIN_MS)) + Math.ceil(episodeMs / RETRY_MAX_MS));
      // Data kept up to the cap, never beyond; the oldest lines dropped past it, and counted.
      expect(result.maxBufferedBytes).toBeLessThanOrEqual(MAX_BUFFER_BYTES);
      expect(result.maxBufferedBytes).toBeGreaterThan(MAX_BUFFER_BYTES - LINE_BYTES);
      expect(stats.droppedLines).toBeGreaterThan(0);
      expect(stats.bufferedLines).toBe(0);
      // Exactly one marker, naming the number of dropped lines and the episode's time span.
      expect(markers).toHaveLength(1);
      const [, count, first, last] = MARKER.exec(markers[0] as string) ?? [];
      expect(Number(count)).toBe(stats.droppedLines);
      expect(Date.parse(first as string)).toBeGreaterThanOrEqual(firstError.at as number);
      expect(Date.parse(first as string)).toBeLessThanOrEqual(Date.parse(last as string));
      expect(Date.parse(last as string)).toBeLessThanOrEqual(markerWarning.at as number);
      // Every line not dropped is there once; the dropped ones are one run of the oldest buffered lines.
      expect(malformed).toEqual([]);
      expect(duplicated).toEqual([]);
      expect(missing.length).toBe(stats.droppedLines);
      expect((missing[missing.length - 1] as number) - (missing[0] as number) + 1).toBe(missing.length);
    },
    60_000,
  );

  it.skipIf(cannotMount !== null)(
    'never splits a line with the marker, nor drops the marker, when space comes back a few KiB at a time',
    async () => {
      const { dir, log } = smallDisk();
      fs.writeFileSync(path.join(dir, 'small'), Buffer.alloc(8 * KiB));
      fillDisk(dir, 'filler', 256 * KiB);
      const writer = startWriter(log, { stopAfterMarkers: 2 });
      const isMarker = (m: Message): boolean => m.type === 'warning' && m.code === 'DROPPED_LINES' && m.details?.first !== undefined;
      const isFirstDrop = (m: Message): boolean => m.type === 'warning' && m.code === 'DROPPED_LINES' && m.details?.first === undefined;
      await writer.waitFor((m) => m.type === 'error', 15_000, 'the first write error');
      await writer.waitFor(isFirstDrop, 5_000, 'the first dropped lines');
      // 8 KiB come back: the next retry writes part of a 64 KiB batch (a short write ends the episode, and
      // the marker is queued while the rest of a line still waits), then the disk is full again.
      fs.rmSync(path.join(dir, 'small'));
      const firstMarker = await writer.waitFor(isMarker, RETRY_MAX_MS + 2_000, 'a marker after the partial write');
      await writer.waitFor((m) => m.type === 'error' && (m.at as number) >= (firstMarker.at as number), 5_000, 'the second episode');
      const secondDrop = await writer.waitFor((m) => isFirstDrop(m) && (m.at as number) >= (firstMarker.at as number), 5_000, 'drops in the second episode');
      fs.rmSync(path.join(dir, 'filler'));
      await writer.waitFor((m) => isMarker(m) && (m.at as number) >= (secondDrop.at as number), RETRY_MAX_MS + 2_000, 'the second marker');
      const result = await writer.stop();
      expect(writer.exit, writer.stderr).toEqual({ code: 0, signal: null }); // no crash, no unhandled rejection

      const stats = result.stats as Record<string, number>;
      const { markers, malformed, seen } = readLog(log);
      const missing = missingOf(seen, result.written as number);
      const reported = markers.map((line) => Number(MARKER.exec(line)?.[1]));
      const errorEvents = writer.messages.filter((m) => m.type === 'error');
      console.log(
        `full disk, space back in two steps: written ${result.written}, dropped ${stats.droppedLines}, missing ${missing.length}, ` +
          `markers ${JSON.stringify(reported)}, error events ${errorEvents.length}, malformed ${malformed.length} ${JSON.stringify(malformed.slice(0, 2))}`,
      );
      expect(malformed).toEqual([]);
      expect(reported).toHaveLength(2); // one marker per episode, none of them dropped
      expect(reported.reduce((sum, n) => sum + n, 0)).toBe(stats.droppedLines);
      expect(errorEvents).toHaveLength(2);
      expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
      expect(missing.length).toBe(stats.droppedLines);
    },
    60_000,
  );
  it.skipIf(cannotMount !== null)(
    'close() on a disk that is full again counts the lines it could not write, not the drop marker waiting among them',
    async () => {
      const { dir, log } = smallDisk();
      fs.writeFileSync(path.join(dir, 'small'), Buffer.alloc(8 * KiB));
      fillDisk(dir, 'filler', 256 * KiB);
      // close() waits fallbackMs at most for lines it cannot write.
      const writer = startWriter(log, { fallbackMs: 500 });
      const isMarker = (m: Message): boolean => m.type === 'warning' && m.code === 'DROPPED_LINES' && m.details?.first !== undefined;
      await writer.waitFor((m) => m.type === 'error', 15_000, 'the first write error');
      await writer.waitFor((m) => m.type === 'warning' && m.code === 'DROPPED_LINES', 5_000, 'the first dropped lines');
      // 8 KiB come back: a short write ends the episode and queues the marker behind the rest of the cut
      // line; the next write finds the disk full again, and so does close().
      fs.rmSync(path.join(dir, 'small'));
      const marker = await writer.waitFor(isMarker, RETRY_MAX_MS + 2_000, 'the marker to be queued');
      await writer.waitFor((m) => m.type === 'error' && (m.at as number) >= (marker.at as number), 5_000, 'the second episode');
      const result = await writer.stop();
      expect(writer.exit, writer.stderr).toEqual({ code: 0, signal: null }); // no crash, no unhandled rejection

      const stats = result.stats as Record<string, number>;
      const contents = fs.readFileSync(log, 'utf8');
      const wholeLines = contents.split('\n').slice(0, -1);
      const seqs = new Set(wholeLines.map((line) => Number(/^d (\d+) x+$/.exec(line)?.[1])).filter((seq) => !Number.isNaN(seq)));
      const missing = missingOf(new Map([...seqs].map((seq) => [seq, 1])), result.written as number);
      console.log(
        `full disk at close: written ${result.written}, whole lines on disk ${seqs.size}, missing ${missing.length}, droppedLines ${stats.droppedLines}, ` +
          `markers on disk ${wholeLines.filter((line) => MARKER.test(line)).length}`,
      );
      expect(wholeLines.filter((line) => MARKER.test(line))).toEqual([]); // it never reached the disk
      expect(stats.bufferedLines).toBe(0);
      expect(stats.droppedLines).toBe(missing.length);
    },
    60_000,
  );

  it.skipIf(cannotMount !== null)(
    'completes a line the full disk cut short in the file it began in, when that file is rotated before space comes back',
    async () => {
      // 101-byte lines: the disk fills up at a page boundary (4 KiB), and none of the first 100 pages ends
      // where a line does, so the write that fills it leaves a line cut short.
      const lineBytes = 101;
      const periodMs = 2000;
      const { dir, log } = smallDisk();
      fillDisk(dir, 'filler', 256 * KiB);
      // Start early in a period: the 256 KiB left fill up in a fraction of a second, long before the next
      // boundary. (A new file made at a boundary just as the disk filled up would hold no line to cut.)
      const periodStart = Math.ceil((Date.now() + 1) / periodMs) * periodMs;
      await new Promise((resolve) => setTimeout(resolve, periodStart + 20 - Date.now()));
      const writer = startWriter(log, { lineBytes, frequency: periodMs, stopAfterMarkers: 1 });
      await writer.waitFor((m) => m.type === 'error', 15_000, 'the first write error');
      const cut = fs.statSync(log);
      expect(cut.size % lineBytes).not.toBe(0);
      // The disk stays full across a boundary: the rotation cannot complete (its state file cannot be
      // written) and is retried; once space is back it renames the file, and the line's end is still due.
      const boundary = Math.ceil((Date.now() + 1) / periodMs) * periodMs;
      await new Promise((resolve) => setTimeout(resolve, boundary + 100 - Date.now()));
      // No rotation can archive the file before space is back: the one that does comes after this.
      const freeingAt = Date.now();
      fs.rmSync(path.join(dir, 'filler'));
      await writer.waitFor((m) => m.type === 'rotate' && typeof m.archive === 'string' && (m.at as number) >= freeingAt, RETRY_MAX_MS + 5_000, 'the rotation');
      const result = await writer.stop();
      expect(writer.exit, writer.stderr).toEqual({ code: 0, signal: null }); // no crash, no unhandled rejection

      const stats = result.stats as Record<string, number>;
      const logs = path.dirname(log);
      const files = fs.readdirSync(logs).filter((name) => !name.startsWith('.')).map((name) => path.join(logs, name));
      const seen = new Map<number, number>();
      const malformed: string[] = [];
      for (const file of files) {
        const contents = readLog(file, lineBytes);
        malformed.push(...contents.malformed.map((line) => `${path.basename(file)}: ${line}`));
        for (const [seq, n] of contents.seen) seen.set(seq, (seen.get(seq) ?? 0) + n);
      }
      // The line the full disk cut is whole, where it began: in the file that is an archive now.
      const cutFile = files.find((file) => fs.statSync(file).ino === cut.ino) as string;
      const text = fs.readFileSync(cutFile, 'latin1');
      const cutLine = text.slice(text.lastIndexOf('\n', cut.size - 1) + 1, text.indexOf('\n', cut.size));
      console.log(
        `full disk across a rotation: cut at byte ${cut.size} of ${path.basename(cutFile)} (${JSON.stringify(cutLine.slice(0, 12))}…, ${cutLine.length + 1} B), ` +
          `files ${files.map((f) => path.basename(f)).join(' ')}, written ${result.written}, dropped ${stats.droppedLines}, malformed ${JSON.stringify(malformed.slice(0, 2))}`,
      );
      expect(cutFile).not.toBe(log);
      expect(cutLine).toMatch(/^d \d+ x+$/);
      expect(cutLine).toHaveLength(lineBytes - 1);
      expect(malformed).toEqual([]);
      expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
      expect(missingOf(seen, result.written as number).length).toBe(stats.droppedLines);
    },
    60_000,
  );
});

/** Fork a fixture app with its config; `output` collects what it prints, `exited` is its exit code. */
function forkApp(fixture: string, config: Record<string, unknown>): { child: ChildProcess; output: { stdout: string; stderr: string }; exited: Promise<number | null> } {
  const child = fork(path.join(import.meta.dirname, 'fixtures', fixture), [JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  children.push(child);
  const output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (output.stdout += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (output.stderr += text));
  return { child, output, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

describe('a flush() awaited while the disk is full', () => {
  it.skipIf(cannotMount !== null)(
    'keeps the process alive for the retries until the disk takes the lines, then lets it end with every line written',
    async () => {
      const { dir, log } = smallDisk();
      const { child, output, exited } = forkApp('flush-then-end.mjs', { path: log, lines: 30 });
      const failed = new Promise<unknown>((resolve) => child.on('message', (m: { type: string }) => m.type === 'error' && resolve(m)));
      await new Promise<void>((resolve) => child.on('message', (m: { type: string }) => m.type === 'opened' && resolve()));
      fillDisk(dir, 'filler', 0);
      child.send({ type: 'go' });
      expect(await failed).toEqual({ type: 'error', code: 'ENOSPC' });
      fs.rmSync(path.join(dir, 'filler')); // the disk takes lines again: the next retry writes them
      expect(await exited, output.stderr).toBe(0);
      expect(JSON.parse(output.stdout.trim()).stats).toMatchObject({ lines: 30, droppedLines: 0, bufferedLines: 0 });
      expect(fs.readFileSync(log, 'utf8')).toBe(Array.from({ length: 30 }, (_, i) => `line ${i}\n`).join(''));
    },
    30_000,
  );
});

describe('a rotation whose state does not fit on the full disk', () => {
  it.skipIf(cannotMount !== null)("leaves no state temp file behind: rotate() fails with an 'error', and the next one works once the disk has room", async () => {
    const { dir, log } = smallDisk();
    const file = createRotatingFile({ path: log });
    const errors: string[] = [];
    file.on('error', (err) => errors.push(String(err.code)));
    file.write('first line');
    await file.flush();
    fillDisk(dir, 'filler', 0);
    expect(await file.rotate()).toBe(false);
    expect(errors).toContain('ENOSPC');
    const temps = () => fs.readdirSync(path.dirname(log)).filter((name) => name.endsWith('.tmp'));
    expect(temps()).toEqual([]);
    fs.rmSync(path.join(dir, 'filler'));
    file.write('second line');
    expect(await file.rotate()).toBe(true);
    await file.close();
    expect(temps()).toEqual([]);
  }, 30_000);
});

describe('a stream piped into the file while the disk is full', () => {
  // Node's pipe() and pipeline() take an 'error' of their destination as its end: pipeline() stops the
  // source (76 of 200 lines reached the file), and pipe() throws it when nobody else listens (a crash).
  it.skipIf(cannotMount !== null).each(['pipe', 'pipeline'])(
    'through %s(): the failure is a warning, the stream waits for the retries, and every line reaches the file',
    async (how) => {
      const { dir, log } = smallDisk();
      const lines = 200;
      const { child, output, exited } = forkApp('pipe-into-file.mjs', { path: log, lines, how });
      const messages: { type: string; code?: string; error?: string | null }[] = [];
      const next = (type: string): Promise<unknown> =>
        new Promise((resolve) => {
          const look = (m: { type: string }): void => {
            if (m.type !== type) return;
            child.off('message', look);
            resolve(m);
          };
          child.on('message', look);
        });
      child.on('message', (m: { type: string }) => messages.push(m));
      const failed = next('process-warning');
      await next('half');
      fillDisk(dir, 'filler', 0);
      child.send({ type: 'go' });
      // (Before the pipe ends: an end reports how it ended, which 'done' then says.)
      const ended = Promise.race([next('done'), exited]).then(() => ({ ended: messages.filter((m) => m.type === 'done'), stderr: output.stderr.slice(0, 400) }));
      expect(await Promise.race([failed, ended])).toEqual({ type: 'process-warning', code: 'ENOSPC' });
      fs.rmSync(path.join(dir, 'filler')); // the disk takes lines again: the next retry writes them
      expect(await exited, output.stderr).toBe(0);
      expect(messages.filter((m) => m.type === 'done')).toEqual([{ type: 'done', error: null }]);
      expect(JSON.parse(output.stdout.trim()).stats).toMatchObject({ lines, droppedLines: 0, bufferedLines: 0 });
      expect(fs.readFileSync(log, 'utf8')).toBe(Array.from({ length: lines }, (_, i) => `line ${i} ${'x'.repeat(100 - `line ${i} \n`.length)}\n`).join(''));
    },
    30_000,
  );
});

describe('a directory that is not the process user\'s (root runs it as nobody)', () => {
  const canSwitchUser = process.getuid?.() === 0 && fs.existsSync('/usr/bin/setpriv');
  /** What opening logs/app.log in a root-owned directory says, for nobody, with CAP_DAC_OVERRIDE or not. */
  function openAsNobody(dir: string, dacOverride: boolean): string {
    const dist = pathToFileURL(path.join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const script = `
      const { createRotatingFile } = await import(${JSON.stringify(dist)});
      try {
        const file = createRotatingFile({ path: ${JSON.stringify(path.join(dir, 'logs', 'app.log'))} });
        file.write('written');
        await file.close();
        console.log('accepted');
      } catch (err) {
        console.log(err.message);
      }`;
    const caps = dacOverride ? ['--inh-caps=+dac_override', '--ambient-caps=+dac_override'] : [];
    const args = ['--reuid=65534', '--regid=65534', '--clear-groups', ...caps, process.execPath, '--input-type=module', '-e', script];
    const out = spawnSync('setpriv', args, { encoding: 'utf8', timeout: 30_000 });
    return out.stdout.trim() || out.stderr;
  }

  it.skipIf(!canSwitchUser)('refuses it as an option error naming the directory, and takes it when a capability lets the process write there (CAP_DAC_OVERRIDE)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-owner-'));
    dirs.push(dir);
    fs.chmodSync(dir, 0o755);
    fs.mkdirSync(path.join(dir, 'logs'), { mode: 0o755 });
    expect(openAsNobody(dir, false)).toContain(`Expected a path whose directory ${path.join(dir, 'logs')} this process can write to`);
    expect(openAsNobody(dir, true)).toBe('accepted');
    expect(fs.readFileSync(path.join(dir, 'logs', 'app.log'), 'utf8')).toBe('written\n');
    expect(fs.readdirSync(path.join(dir, 'logs')).filter((name) => name.includes('probe'))).toEqual([]);
  });
});

describe('a read-only file system (tmpfs remounted read-only)', () => {
  /** The option error that opening `log` throws. */
  async function refusal(log: string): Promise<Error> {
    const { createRotatingFile, TimberlockOptionError } = await import('../src/index.js');
    let error: unknown;
    try {
      createRotatingFile({ path: log });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TimberlockOptionError);
    return error as Error;
  }

  it.skipIf(cannotMount !== null)('refuses a path whose directory cannot be created there, as an option error naming the path and why', async () => {
    const { dir } = smallDisk();
    execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'pipe' });
    const log = path.join(dir, 'logs', 'new', 'app.log');
    const error = await refusal(log);
    expect(error.message).toContain(log);
    expect(error.message).toContain('this process can create');
  });

  for (const fileThere of [false, true]) {
    it.skipIf(cannotMount !== null)(`refuses a directory that exists there${fileThere ? ', with the file in it,' : ''} as an option error naming the path and why`, async () => {
      const { dir, log } = smallDisk();
      if (fileThere) fs.writeFileSync(log, 'from before\n');
      execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'pipe' });
      const error = await refusal(log);
      expect(error.message).toContain(log);
      expect(error.message).toContain(`directory ${path.dirname(log)} this process can write to`);
      expect(error.message).toContain('EROFS');
    });
  }
});
