/**
 * The pino adapters with the real pino: the worker-thread transport target and the main-thread
 * destination, each losing nothing on process.exit(), and rotation inside the transport's worker.
 *
 * The child processes (test/fixtures/pino-child.mjs) import the built package by name, so `npm test`
 * builds it first; pino resolves the target 'timberlock/pino' through the package's exports map.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimberlockOptionError } from '../src/errors.js';
import { createRotatingFile, type RotatingFile } from '../src/index.js';
import type { WarningEvent } from '../src/types.js';
import { LineCutter } from '../src/line-cutter.js';
import timberlockTransport, { PinoDestination, destination, type PinoTransportOptions } from '../src/transports/pino.js';
import { killChildren, runNode } from './helpers/child.js';
import { checkJsonLog, formatJsonLogReport } from './helpers/json-log.js';

const CHILD = fileURLToPath(new URL('./fixtures/pino-child.mjs', import.meta.url));
const TARGET_END_CHILD = fileURLToPath(new URL('./fixtures/pino-target-end.mjs', import.meta.url));
/** The built transport target, as pino's worker loads it (`npm test` builds first). */
const BUILT_TARGET = fileURLToPath(new URL('../dist/pino.js', import.meta.url));

/** Resolve at wall-clock time `at` (ms since the epoch). */
function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
}

/**
 * Worker transports made in this process, referenced until their test ends. thread-stream holds its
 * stream only weakly once the worker is up, and terminates the worker when the stream is collected, a
 * pending logger.flush(cb) or not: a transport referenced only by a test awaiting that callback can be
 * collected mid-test, and the callback never comes. It happened under Node 24; forced collections make
 * it happen every time under Node 20, 22 and 24.
 */
const transportsInUse = new Set<ReturnType<typeof pino.transport>>();
function workerTransport(options: Record<string, unknown>): ReturnType<typeof pino.transport> {
  const transport = pino.transport({ target: BUILT_TARGET, options });
  transportsInUse.add(transport);
  return transport;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-pino-'));
});
afterEach(() => {
  transportsInUse.clear();
  killChildren();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('timberlock/pino', () => {
  for (const mode of ['worker', 'main'] as const) {
    const through = mode === 'worker' ? "the worker-thread transport (target 'timberlock/pino')" : 'the main-thread destination()';
    it(`has all 100,000 lines on disk when the process calls process.exit(0) right after logging through ${through}`, async () => {
      const lines = 100_000;
      const file = path.join(dir, 'app.log');
      const result = await runNode([CHILD, JSON.stringify({ mode, path: file, lines })], { timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      const loggedAt = Number(/LOGGED (\d+)/.exec(result.stdout)?.[1]);
      const report = checkJsonLog(dir, { w0: lines });
      console.log(`pino ${mode}: ${lines} lines, process ran ${result.ms} ms, exit took ${result.exitedAt - loggedAt} ms after the last log call; ${formatJsonLogReport(report)}`);
      expect(report.ok, formatJsonLogReport(report)).toBe(true);
      expect(report.files.map((f) => f.name)).toEqual(['app.log']);
    }, 120_000);
  }

  it('rotates inside the transport worker every 200 ms, two processes on one path, every line exactly once', async () => {
    const periodMs = 200;
    const lines = 10_000;
    const file = path.join(dir, 'app.log');
    const startAt = Date.now() + 1500; // both processes have started their transport worker by then
    const results = await Promise.all(
      ['w0', 'w1'].map((writer) =>
        runNode([CHILD, JSON.stringify({ mode: 'worker', path: file, writer, lines, frequency: periodMs, startAt, spanMs: 2000 })], {
          timeoutMs: 60_000,
        }),
      ),
    );
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const report = checkJsonLog(dir, { w0: lines, w1: lines }, { periodMs });
    const archives = report.files.filter((f) => f.kind === 'archive');
    console.log(`pino rotation in the worker: ${archives.length} archives; ${formatJsonLogReport(report)}`);
    expect(report.ok, formatJsonLogReport(report)).toBe(true);
    // The children's main threads never load timberlock: these archives were made by the workers.
    // About 10 boundaries in 2 s (fewer archives on a starved machine: a period in which no line was
    // written produces none, and no period can have one unless a line was logged in it).
    expect(archives.length).toBeGreaterThanOrEqual(2);
    expect(archives.length).toBeLessThanOrEqual(report.periodsWithLines);
    expect(report.periodsWithSeveralArchives).toEqual([]);
    for (const archive of archives) expect(archive.lines, archive.name).toBeGreaterThan(0);
    // pino's `time` is taken at the log call; no line logged after a boundary is in an ended period's file.
    expect(report.late, formatJsonLogReport(report)).toBe(0);
  }, 120_000);

  it('the transport target strips the options pino adds and rejects bad ones with the option named', async () => {
    const { default: target } = await import('../src/transports/pino.js');
    const stream = await target({
      path: path.join(dir, 'app.log'),
      timeZone: 'UTC',
      ...({ $context: { threadStreamVersion: '4' }, pinoWillSendConfig: true, levels: { info: 30, audit: 35 }, dedupe: true } as object),
    });
    stream.end('{"msg":"one"}\n{"msg":"two"}\n');
    await new Promise((resolve) => stream.on('close', resolve));
    expect(fs.readFileSync(path.join(dir, 'app.log'), 'utf8')).toBe('{"msg":"one"}\n{"msg":"two"}\n');
    await expect(target({ path: path.join(dir, 'app.log'), timeZone: 'Mars/Olympus' })).rejects.toThrow(TimberlockOptionError);
    await expect(target({ path: path.join(dir, 'app.log'), timeZone: 'Mars/Olympus' })).rejects.toThrow(/timeZone.*"Mars\/Olympus"/);
  });

  it('the transport target refuses options given as a string, as pino hands them over (spread into characters), saying so', async () => {
    const { default: target } = await import('../src/transports/pino.js');
    const log = path.join(dir, 'app.log');
    const refusal = /Invalid option options: ".*app\.log"\. Expected an object such as \{ path: 'logs\/app\.log' \}, not a string/;
    await expect(target(log as unknown as PinoTransportOptions)).rejects.toThrow(refusal);
    await expect(target({ ...[...log], $context: {}, pinoWillSendConfig: true } as unknown as PinoTransportOptions)).rejects.toThrow(refusal);
    await expect(target({ 0: 'x', path: log } as unknown as PinoTransportOptions)).rejects.toThrow(/Invalid option 0: "x"/); // not a spread string
    // Through pino's worker: the transport's 'error', with the same message.
    const transport = workerTransport(log as unknown as Record<string, unknown>);
    const [error] = (await once(transport, 'error')) as [Error];
    expect(error.message).toMatch(refusal);
  });

  it("takes a logger's custom levels through the worker transport (pino passes them to the target as `levels`)", async () => {
    const file = path.join(dir, 'app.log');
    const logger = pino({ customLevels: { audit: 35 }, transport: { target: BUILT_TARGET, options: { path: file, timeZone: 'UTC' } } });
    const transport = (logger as unknown as Record<symbol, ReturnType<typeof pino.transport>>)[pino.symbols.streamSym] as ReturnType<typeof pino.transport>;
    transportsInUse.add(transport);
    const failed = new Promise((resolve) => transport.once('error', resolve));
    const closed = once(transport, 'close');
    logger.audit('audit entry');
    logger.info('info entry');
    transport.end();
    await Promise.race([closed, failed.then((err) => Promise.reject(err as Error))]);
    const entries = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(entries.map(({ level, msg }) => [level, msg])).toEqual([
      [35, 'audit entry'],
      [30, 'info entry'],
    ]);
  });

  it("keeps a line longer than the worker's 4 MiB shared buffer whole, between the lines logged before and after it", async () => {
    // thread-stream hands the worker at most its buffer (4 MiB) at a time: this line arrives in pieces.
    const longLineChars = 5 * 1024 * 1024;
    const file = path.join(dir, 'app.log');
    const result = await runNode([CHILD, JSON.stringify({ mode: 'worker', path: file, lines: 3, longLineChars })], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const report = checkJsonLog(dir, { w0: 3 });
    expect(report.ok, formatJsonLogReport(report)).toBe(true);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(4); // three lines and the empty string after the last newline
    expect(lines.slice(0, 3).map((line) => (JSON.parse(line) as { msg: string }).msg.length)).toEqual([4, longLineChars, 4]);
  }, 120_000);

  it('keeps a record longer than maxBufferBytes whole through the worker transport, as a main-thread destination does', async () => {
    const file = path.join(dir, 'app.log');
    // 200 records of 100,000 characters: the worker's 4 MiB shared buffer cuts some of them in two.
    const config = { mode: 'worker', path: file, lines: 200, longLineChars: 100_000, longEvery: true, fileOptions: { highWaterMark: 65_536, maxBufferBytes: 65_536 } };
    const result = await runNode([CHILD, JSON.stringify(config)], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const report = checkJsonLog(dir, { w0: 200 });
    expect(report.ok, formatJsonLogReport(report)).toBe(true);
  }, 120_000);

  it('says on stderr that it dropped a record that grew past 16 MiB without its newline, even when process.exit() follows at once (the app never gets the warning)', async () => {
    const file = path.join(dir, 'app.log');
    const longLineChars = 21 * 1024 * 1024; // arrives in 4 MiB pieces: 20 MiB held without a newline
    const result = await runNode([CHILD, JSON.stringify({ mode: 'worker', path: file, lines: 3, longLineChars })], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines.slice(0, -1).map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([0, 2]);
    expect(result.stderr).toMatch(/timberlock\/pino .*app\.log: DROPPED_LINES: Dropping a line .* without a newline/);
  }, 120_000);

  it('logger.flush(cb) through the worker-thread transport calls back only once lines held after a boundary are in the file', async () => {
    // Lines logged just after a boundary wait in the worker's memory until the old file is renamed,
    // settleMs later: a flush that called back before they were written would find them missing.
    const periodMs = 1000;
    const settleMs = 300;
    const file = path.join(dir, 'app.log');
    const transport = workerTransport({ path: file, timeZone: 'UTC', frequency: periodMs, settleMs });
    const logger = pino(transport);
    const flushed = (): Promise<void> => new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
    logger.info({ writer: 'w0', seq: -1 }, 'before the boundary');
    await flushed(); // the worker is up and its file is open
    const boundary = Math.ceil((Date.now() + 50) / periodMs) * periodMs;
    await sleepUntil(boundary + 10);
    for (const seq of [0, 1, 2]) logger.info({ writer: 'w0', seq }, 'line');
    await flushed();
    const calledBackAt = Date.now();
    const seqs = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1).map((line) => (JSON.parse(line) as { seq: number }).seq);
    expect(seqs).toEqual([0, 1, 2]);
    expect(calledBackAt).toBeGreaterThanOrEqual(boundary + settleMs);
    const closed = once(transport, 'close');
    transport.end();
    await closed;
  });

  it("the transport target's flush() resolves only once lines held after a boundary are in the file", async () => {
    // pino's worker calls this flush() for logger.flush(cb). Lines written just after a boundary wait in
    // memory until the old file is renamed, settleMs later: a flush that resolved before they were
    // written would find them missing.
    const periodMs = 1000;
    const settleMs = 300;
    const file = path.join(dir, 'app.log');
    const stream = await timberlockTransport({ path: file, timeZone: 'UTC', frequency: periodMs, settleMs });
    stream.write('{"seq":-1}\n');
    await stream.flush();
    const boundary = Math.ceil((Date.now() + 50) / periodMs) * periodMs;
    await sleepUntil(boundary + 10);
    stream.write('{"seq":0}\n{"seq":1}\n{"seq":2}\n');
    await stream.flush();
    const flushedAt = Date.now();
    expect(fs.readFileSync(file, 'utf8')).toBe('{"seq":0}\n{"seq":1}\n{"seq":2}\n');
    expect(flushedAt).toBeGreaterThanOrEqual(boundary + settleMs);
    const closed = once(stream, 'close');
    stream.end();
    await closed;
  });

  it("the transport target's end() lets lines held at a boundary wait for the new file while another process rotates", async () => {
    const periodMs = 1000;
    const file = path.join(dir, 'app.log');
    const lockDir = path.join(dir, '.app.log.lock');
    const stream = await timberlockTransport({ path: file, timeZone: 'UTC', frequency: periodMs, settleMs: 20 });
    stream.write('{"seq":0}\n');
    await stream.flush();
    const boundary = Math.ceil((Date.now() + 100) / periodMs) * periodMs;
    await sleepUntil(boundary - 50);
    fs.mkdirSync(lockDir); // another process is rotating across the boundary
    await sleepUntil(boundary + 50);
    stream.write('{"seq":1}\n{"seq":2}\n');
    const closed = once(stream, 'close');
    stream.end();
    await sleepUntil(boundary + 150);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"seq":0}\n'); // held, not written to the file being left
    fs.rmdirSync(lockDir); // that rotation is done: the next attempt takes the lock and rotates
    await closed;
    expect(fs.readFileSync(file, 'utf8')).toBe('{"seq":1}\n{"seq":2}\n');
    const archives = fs.readdirSync(dir).filter((name) => /^app\..+\.log$/.test(name));
    expect(archives).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, archives[0] as string), 'utf8')).toBe('{"seq":0}\n');
  });

  it("the transport target's end() writes lines held at a boundary within 3 s, not after fallbackMs: pino's worker waits 10 s at most", async () => {
    const periodMs = 1000;
    const file = path.join(dir, 'app.log');
    // staleMs 60 s: fallbackMs is 62 s, far beyond the 10 s pino's worker waits for 'close' on exit.
    const stream = await timberlockTransport({ path: file, timeZone: 'UTC', frequency: periodMs, settleMs: 20, lock: { staleMs: 60_000 } });
    stream.write('{"seq":0}\n');
    await stream.flush();
    const boundary = Math.ceil((Date.now() + 100) / periodMs) * periodMs;
    await sleepUntil(boundary - 50);
    fs.mkdirSync(path.join(dir, '.app.log.lock')); // another process holds the lock across the boundary, and on
    await sleepUntil(boundary + 50);
    stream.write('{"seq":1}\n{"seq":2}\n');
    const closed = once(stream, 'close');
    stream.end();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise((resolve) => (timer = setTimeout(() => resolve('still open after 9 s'), 9000)));
    const outcome = await Promise.race([closed.then(() => 'closed'), deadline]);
    clearTimeout(timer);
    expect(outcome).toBe('closed');
    expect(fs.readFileSync(file, 'utf8')).toBe('{"seq":0}\n{"seq":1}\n{"seq":2}\n'); // in the old file, late
    fs.rmdirSync(path.join(dir, '.app.log.lock'));
  });

  it("the transport target's end() closes within 3 s while writes fail, not after fallbackMs (EFBIG under ulimit -f)", () => {
    // staleMs 60 s: fallbackMs is 62 s. The file can take 4 KiB; 100 lines of 100 B cannot all go.
    const file = path.join(dir, 'app.log');
    const config = JSON.stringify({ path: file, lines: 100, staleMs: 60_000 });
    const out = spawnSync('bash', ['-c', `ulimit -f 4 && exec "${process.execPath}" "${TARGET_END_CHILD}" '${config}'`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(out.status, out.stderr).toBe(0);
    const closedMs = Number(/CLOSED (\d+)/.exec(out.stdout)?.[1]);
    expect(closedMs).toBeGreaterThanOrEqual(2900); // it did wait for the disk
    expect(closedMs).toBeLessThan(9000); // well inside the 10 s pino's worker waits
    const text = fs.readFileSync(file, 'utf8');
    expect(text.length).toBe(4096); // the limit cut a line: only the lines before it are whole
    expect(text.split('\n').slice(0, -1)).toEqual(Array.from({ length: 40 }, (_, i) => `line ${i}`.padEnd(99, '.')));
  });

  it('the transport target keeps a chunk that ends mid-line until a later chunk brings the newline, and writes an unterminated last line on end()', async () => {
    const file = path.join(dir, 'app.log');
    const stream = await timberlockTransport({ path: file, timeZone: 'UTC' });
    for (const chunk of ['{"msg":"on', 'e"}\n{"msg":"tw', 'o', '"}\n{"msg":"three"}\n{"msg":', '"four"}']) {
      expect(stream.write(chunk)).toBe(true);
    }
    await stream.flush();
    // Whole lines are in the file; the unterminated fourth waits for its newline or the end.
    expect(fs.readFileSync(file, 'utf8')).toBe('{"msg":"one"}\n{"msg":"two"}\n{"msg":"three"}\n');
    const closed = once(stream, 'close');
    stream.end();
    await closed;
    expect(fs.readFileSync(file, 'utf8')).toBe('{"msg":"one"}\n{"msg":"two"}\n{"msg":"three"}\n{"msg":"four"}\n');
  });

  it('the transport target drops a line that grows past 16 MiB (or maxBufferBytes, if more) without a newline, whole, counts it and skips its end; the lines around it are kept', async () => {
    const file = path.join(dir, 'app.log');
    // A maxBufferBytes below the record: pino's worker hands a record over in pieces, and one of 100,000
    // characters is kept whole all the same, as a main-thread destination keeps it.
    const stream = await timberlockTransport({ path: file, timeZone: 'UTC', highWaterMark: 1024, maxBufferBytes: 4096 });
    const warnings: WarningEvent[] = [];
    (stream as unknown as { file: RotatingFile }).file.on('warning', (w: WarningEvent) => warnings.push(w));
    const record = `{"msg":"${'y'.repeat(100_000)}"}\n`;
    for (let at = 0; at < record.length; at += 4000) stream.write(record.slice(at, at + 4000));
    stream.write('{"msg":"before"}\n{"msg":"');
    for (let i = 0; i < 17; i++) stream.write('x'.repeat(1024 * 1024)); // 17 MiB of characters and no newline
    stream.write('still the long one"}\n{"msg":"after"}\n{"msg":"last"');
    const closed = once(stream, 'close');
    stream.end();
    await closed;
    expect(fs.readFileSync(file, 'utf8')).toBe(`${record}{"msg":"before"}\n{"msg":"after"}\n{"msg":"last"\n`);
    expect(warnings.map((w) => [w.code, w.details?.lines])).toEqual([['DROPPED_LINES', 1]]);
    expect(warnings[0]?.message).toMatch(/grew to 16777224 characters without a newline \(more than 16777216: maxBufferBytes, and at least 16 MiB\)/);
    expect((stream as unknown as { file: RotatingFile }).file.stats()).toMatchObject({ lines: 5, droppedLines: 1 });
  });

  it('the transport target keeps a character whose bytes a chunk cuts (pino hands a pipeline\'s output over as bytes) whole', async () => {
    const file = path.join(dir, 'app.log');
    const stream = await timberlockTransport({ path: file, timeZone: 'UTC' });
    const text = '{"msg":"é漢字ü"}\n'.repeat(20) + '{"msg":"last é"}';
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length; at += 7) stream.write(bytes.subarray(at, at + 7)); // cuts characters
    const closed = once(stream, 'close');
    stream.end();
    await closed;
    expect(fs.readFileSync(file, 'utf8')).toBe(`${text}\n`);
  });

  it("the transport target's write() returns true above highWaterMark, and it emits no 'drain': the file bounds its buffer itself", async () => {
    const file = path.join(dir, 'app.log');
    const stream = await timberlockTransport({ path: file, timeZone: 'UTC', highWaterMark: 1024 });
    let drains = 0;
    stream.on('drain', () => drains++);
    const line = `{"msg":"${'x'.repeat(190)}"}\n`;
    expect(stream.write(line.repeat(3))).toBe(true);
    expect(stream.write(line.repeat(3))).toBe(true); // 6 × 201 bytes buffered
    await stream.flush();
    await new Promise((resolve) => setImmediate(resolve)); // a 'drain' of the file's comes on the next tick
    const closed = once(stream, 'close');
    stream.end();
    await closed;
    expect(fs.readFileSync(file, 'utf8')).toBe(line.repeat(6));
    expect(drains).toBe(0); // no write() said false
  });

  it("through the worker transport on a failing disk, the app is told of the I/O error, logger.flush(cb) calls back without killing the transport, and process.exit() is not held to pino's 10 s limit: the lines that could not be written are counted on stderr", () => {
    // 10,000 lines of about 230 B: more than the 1 MiB highWaterMark, on a disk that takes 16 KiB.
    // Had the target passed the file's backpressure on, pino's worker would have stopped reading, the end
    // of the stream included: the exit waited for pino's 10 s limit and lost the lines uncounted.
    const file = path.join(dir, 'app.log');
    const lines = 10_000;
    const child = fileURLToPath(new URL('./fixtures/pino-failing-disk.mjs', import.meta.url));
    const config = JSON.stringify({ path: file, lines });
    const out = spawnSync('bash', ['-c', `ulimit -f 16 && exec "${process.execPath}" "${child}" '${config}'`], {
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    expect(out.status, out.stderr).toBe(0);
    const warnings = [...out.stdout.matchAll(/^WARNING (.*)$/gm)].map((m) => JSON.parse(m[1] ?? '') as { code: string; details?: { code?: string } });
    expect(warnings).toContainEqual(expect.objectContaining({ code: 'IO_ERROR', details: { code: 'EFBIG' } }));
    expect(out.stderr).not.toContain('took too long');
    // logger.flush(cb) while writes fail: called back, and the transport lives on (an error there kills it).
    expect(out.stdout).toContain('FLUSHED null');
    expect(out.stdout).not.toMatch(/^ERROR /m);
    const whole = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
    expect(whole.map((text) => (JSON.parse(text) as { seq: number }).seq)).toEqual(Array.from({ length: whole.length }, (_, i) => i));
    const dropped = Number(/DROPPED_LINES: (\d+) line\(s\)/.exec(out.stderr)?.[1]);
    expect(dropped).toBe(lines - whole.length);
  });

  it("passes the worker's file events to the transport the app holds: 'open', 'rotate' and 'warning'", async () => {
    const transport = workerTransport({ path: path.join(dir, 'app.log'), frequency: 200, timeZone: 'UTC' });
    const opened = once(transport, 'open');
    const rotated = once(transport, 'rotate');
    const [open] = (await opened) as [{ path: string; ino: number }];
    expect(open).toMatchObject({ path: path.join(dir, 'app.log'), ino: expect.any(Number) });
    const logger = pino(transport);
    logger.info('before the boundary');
    const [rotate] = (await rotated) as [{ periodStart: number; previousPeriodStart: number }];
    expect(rotate.periodStart - rotate.previousPeriodStart).toBe(200);
    const closed = once(transport, 'close');
    transport.end();
    await closed;
    // Another file, rotating daily, checking its name every 50 ms: deleted under the writer.
    const watched = workerTransport({ path: path.join(dir, 'other.log'), checkIntervalMs: 50, timeZone: 'UTC' });
    await once(watched, 'open');
    const warned = once(watched, 'warning');
    fs.rmSync(path.join(dir, 'other.log'));
    const [warning] = (await warned) as [{ code: string }];
    expect(warning.code).toBe('EXTERNAL_MOVE');
    const watchedClosed = once(watched, 'close');
    watched.end();
    await watchedClosed;
  });

  it('pino.multistream() takes destination() and a plain createRotatingFile(), and its end() closes both', async () => {
    const { destination } = await import('../src/transports/pino.js');
    const files = [path.join(dir, 'destination.log'), path.join(dir, 'plain.log')];
    const streams = [destination({ path: files[0] as string, timeZone: 'UTC' }), createRotatingFile({ path: files[1] as string, timeZone: 'UTC' })];
    const multi = pino.multistream(streams.map((stream) => ({ stream })));
    const logger = pino({}, multi);
    logger.info('to both');
    const closed = Promise.all(streams.map((stream) => once(stream, 'close')));
    multi.end();
    await closed;
    for (const file of files) expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ level: 30, msg: 'to both' });
  });

  it('a plain createRotatingFile() is taken by pino as its stream too, first or second argument', async () => {
    for (const [name, make] of [
      ['first', (f: RotatingFile) => pino(f)],
      ['second', (f: RotatingFile) => pino({ base: null }, f)],
    ] as const) {
      const file = path.join(dir, `${name}.log`);
      const rotating = createRotatingFile({ path: file, timeZone: 'UTC' });
      const logger = make(rotating);
      logger.info(`as the ${name} argument`);
      await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ level: 30, msg: `as the ${name} argument` });
      await rotating.close();
    }
  });

  it('destination() is taken by pino as its stream, and logger.flush(cb) calls back once the lines are written', async () => {
    const file = path.join(dir, 'app.log');
    const dest = destination({ path: file, timeZone: 'UTC' });
    expect(dest).toBeInstanceOf(PinoDestination);
    const logger = pino(dest);
    logger.info({ a: 1 }, 'hello');
    logger.child({ reqId: 7 }).warn('from a child');
    await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())));
    const lines = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toMatchObject([
      { level: 30, a: 1, msg: 'hello' },
      { level: 40, reqId: 7, msg: 'from a child' },
    ]);
    await dest.close();
    expect(dest.writable).toBe(false);
  });

  it("emits 'ready' once, after the first 'open', as pino.destination() (sonic-boom) does", async () => {
    const dest = destination({ path: path.join(dir, 'app.log'), timeZone: 'UTC' });
    const events: string[] = [];
    dest.on('open', () => events.push('open'));
    dest.on('ready', () => events.push('ready'));
    await once(dest, 'ready');
    dest.write('a line');
    expect(await dest.rotate()).toBe(true);
    await dest.close();
    expect(events).toEqual(['open', 'ready', 'open']);
  });

  it('a destination() the app no longer references stays open until close(): lines it held after a boundary reach the file', async () => {
    // Unlike pino's worker transport (see transportsInUse), timberlock itself references every open file
    // until close(), so a logger the app dropped while lines waited for the new file loses none.
    v8.setFlagsFromString('--expose-gc');
    const collectGarbage = vm.runInNewContext('gc') as () => void;
    const periodMs = 1000;
    const settleMs = 300;
    const file = path.join(dir, 'app.log');
    const boundary = Math.ceil((Date.now() + 50) / periodMs) * periodMs;
    const dropped = ((): WeakRef<PinoDestination> => {
      const dest = destination({ path: file, timeZone: 'UTC', frequency: periodMs, settleMs });
      const logger = pino(dest);
      logger.info({ seq: -1 }, 'before the boundary');
      // The timer is the last reference the app has; once it has run, only timberlock's remain.
      setTimeout(() => {
        for (const seq of [0, 1, 2]) logger.info({ seq }, 'line');
      }, boundary + 10 - Date.now());
      return new WeakRef(dest);
    })();
    await sleepUntil(boundary + 20);
    collectGarbage();
    const seqsInFile = (): number[] =>
      fs.readFileSync(file, 'utf8').split('\n').slice(0, -1).map((line) => (JSON.parse(line) as { seq: number }).seq);
    await vi.waitFor(() => expect(seqsInFile()).toEqual([0, 1, 2]), { timeout: 10_000, interval: 20 });
    const dest = dropped.deref();
    expect(dest).toBeDefined();
    await dest?.close();
  });
});

describe('LineCutter', () => {
  const text = '{"a":1}\n\n{"b":"é"}\r\n{"c":3}\n{"d":';

  it('hands over the same whole lines and the same unterminated rest however the text is cut into three chunks', () => {
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        const lines: string[] = [];
        const cutter = new LineCutter((line) => lines.push(line) > 0);
        for (const chunk of [text.slice(0, i), text.slice(i, j), text.slice(j)]) cutter.cut(chunk);
        expect([lines, cutter.rest()], `cut at ${i} and ${j}`).toEqual([['{"a":1}\n', '\n', '{"b":"é"}\r\n', '{"c":3}\n'], '{"d":']);
        expect(cutter.rest()).toBe('');
      }
    }
  });

  it('with a limit, drops an incomplete line that grows past it, whole, however the text is cut, and tells each such line once', () => {
    const long = `${'x'.repeat(12)}\n`;
    const input = `ab\n${long}${long}cd\nef`;
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        const lines: string[] = [];
        const dropped: number[] = [];
        const cutter = new LineCutter((line) => lines.push(line) > 0, { maxLength: 8, onDrop: (length) => dropped.push(length) });
        for (const chunk of [input.slice(0, i), input.slice(i, j), input.slice(j)]) cutter.cut(chunk);
        // A long line (at 3 and 16) is dropped when a cut leaves more than 8 of its characters held without
        // its newline; otherwise the sink gets it whole.
        const held = (start: number): number => [i, j].map((cut) => cut - start).find((n) => n > 8 && n < long.length) ?? 0;
        const expected = [3, 16].map(held).filter((n) => n > 0);
        expect(dropped, `cut at ${i} and ${j}`).toEqual(expected);
        expect(lines, `cut at ${i} and ${j}`).toEqual(['ab\n', ...Array(2 - expected.length).fill(long), 'cd\n']);
        expect(cutter.rest()).toBe('ef');
      }
    }
  });

  it("returns the last sink call's result, and true for a chunk that completes no line", () => {
    const results = [true, false];
    const cutter = new LineCutter(() => results.shift() as boolean);
    expect(cutter.cut('one\ntwo\nthr')).toBe(false);
    expect(cutter.cut('ee, still no newline')).toBe(true);
    expect(cutter.rest()).toBe('three, still no newline');
  });
});
