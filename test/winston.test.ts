/**
 * The winston transport with the real winston: formats and levels, shutdown through logger.end(), the
 * crash path of handleExceptions / handleRejections, and two processes logging to one rotating path.
 *
 * The in-process tests import the source; the child processes (test/fixtures/winston-child.mjs)
 * import the built package by name, so `npm test` builds it first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import winston from 'winston';
import TransportStream from 'winston-transport';
import { TimberlockOptionError } from '../src/errors.js';
import { RotatingFileTransport } from '../src/transports/winston.js';
import { killChildren, lastJson, runNode } from './helpers/child.js';
import { checkJsonLog, formatJsonLogReport } from './helpers/json-log.js';

const CHILD = fileURLToPath(new URL('./fixtures/winston-child.mjs', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-winston-'));
});
afterEach(() => {
  killChildren();
  fs.rmSync(dir, { recursive: true, force: true });
});

function readLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

/** End the logger and resolve on its 'finish': winston's documented "everything is written" signal. */
function endLogger(logger: winston.Logger): Promise<void> {
  return new Promise((resolve) => {
    logger.on('finish', () => resolve());
    logger.end();
  });
}

describe('RotatingFileTransport with winston', () => {
  it('is a modern winston transport: log() takes exactly (info, callback)', () => {
    const transport = new RotatingFileTransport({ path: path.join(dir, 'app.log') });
    expect(transport.log.length).toBe(2);
    expect(transport).toBeInstanceOf(TransportStream);
    transport.close();
  });

  it('writes the format output of each entry and filters by the logger and transport levels', async () => {
    const file = path.join(dir, 'app.log');
    const logger = winston.createLogger({
      levels: winston.config.syslog.levels,
      level: 'debug',
      format: winston.format.combine(
        winston.format.label({ label: 'api' }),
        winston.format.printf((info) => `${String(info.level)} [${String(info.label)}] ${String(info.message)}`),
      ),
      transports: [new RotatingFileTransport({ path: file, level: 'notice' })],
    });
    logger.debug('below the logger level? no: below the transport level');
    logger.info('below the transport level too');
    logger.notice('kept: notice');
    logger.warning('kept: warning');
    logger.crit('kept: crit with\na second line');
    await endLogger(logger);
    expect(fs.readFileSync(file, 'utf8')).toBe(
      'notice [api] kept: notice\nwarning [api] kept: warning\ncrit [api] kept: crit with\na second line\n',
    );
  });

  it("applies the transport's own format over the logger's, and json() by default", async () => {
    const jsonFile = path.join(dir, 'json.log');
    const textFile = path.join(dir, 'text.log');
    const logger = winston.createLogger({
      defaultMeta: { service: 'billing' },
      transports: [
        new RotatingFileTransport({ path: jsonFile }),
        new RotatingFileTransport({ path: textFile, format: winston.format.simple() }),
      ],
    });
    logger.info('paid', { amount: 12 });
    logger.error('refused', { reason: 'card' });
    await endLogger(logger);
    expect(readLines(jsonFile).map((line) => JSON.parse(line) as unknown)).toEqual([
      { level: 'info', message: 'paid', amount: 12, service: 'billing' },
      { level: 'error', message: 'refused', reason: 'card', service: 'billing' },
    ]);
    expect(readLines(textFile)).toEqual([
      'info: paid {"amount":12,"service":"billing"}',
      'error: refused {"reason":"card","service":"billing"}',
    ]);
  });

  it('writes an entry whose format did not finalize it, with a BigInt or a circular field, as JSON with every other field kept', async () => {
    const file = path.join(dir, 'app.log');
    const logger = winston.createLogger({
      format: winston.format.timestamp({ format: () => '2026-11-28T10:00:00.000Z' }), // no json(): nothing finalizes the entry
      transports: [new RotatingFileTransport({ path: file, format: winston.format.timestamp({ format: () => '2026-11-28T10:00:00.000Z' }) })],
    });
    const order: Record<string, unknown> = { id: 7 };
    order.self = order;
    logger.info('big', { total: 12345678901234567890n });
    logger.info('loop', { order, again: { id: 8 } });
    await endLogger(logger);
    expect(readLines(file).map((line) => JSON.parse(line) as unknown)).toEqual([
      { level: 'info', message: 'big', total: '12345678901234567890', timestamp: '2026-11-28T10:00:00.000Z' },
      { level: 'info', message: 'loop', order: { id: 7, self: '[Circular]' }, again: { id: 8 }, timestamp: '2026-11-28T10:00:00.000Z' },
    ]);
  });

  it("emits 'logged' for each entry it wrote", async () => {
    const transport = new RotatingFileTransport({ path: path.join(dir, 'app.log') });
    const logger = winston.createLogger({ transports: [transport] });
    const logged: unknown[] = [];
    transport.on('logged', (info: { message: unknown }) => logged.push(info.message));
    logger.info('one');
    logger.warn('two');
    await endLogger(logger);
    await new Promise((resolve) => setImmediate(resolve)); // 'logged' follows on the next turn by design
    expect(logged).toEqual(['one', 'two']);
  });

  it("has every line on disk when the logger emits 'finish' after logger.end()", async () => {
    const file = path.join(dir, 'app.log');
    const transport = new RotatingFileTransport({ path: file });
    const logger = winston.createLogger({ format: winston.format.json(), transports: [transport] });
    const lines = 50_000;
    for (let seq = 0; seq < lines; seq++) logger.info('line', { writer: 'w0', seq });
    await endLogger(logger);
    // Read synchronously right at 'finish': nothing may still be in memory.
    const report = checkJsonLog(dir, { w0: lines });
    expect(report.ok, formatJsonLogReport(report)).toBe(true);
    expect(transport.file.status).toBe('closed');
    expect(transport.file.stats().bufferedLines).toBe(0);
  });

  it('throws a TimberlockOptionError naming the option for bad file options', () => {
    expect(() => new RotatingFileTransport({ path: path.join(dir, 'app.log'), frequency: 'fortnightly' as 'daily' }))
      .toThrow(TimberlockOptionError);
    expect(() => new RotatingFileTransport({ path: path.join(dir, 'app.log'), frequency: 'fortnightly' as 'daily' }))
      .toThrow(/frequency.*"fortnightly"/);
    expect(() => new RotatingFileTransport(undefined as unknown as { path: string })).toThrow(/Invalid option options: undefined/);
  });

  it('refuses a class instance as options, as createRotatingFile does, and reads a getter once', () => {
    class Options {
      path = path.join(dir, 'app.log');
      get frequency(): string {
        return 'hourly'; // on the prototype: a spread would miss it and the file would rotate daily
      }
    }
    expect(() => new RotatingFileTransport(new Options() as never)).toThrow(/Invalid option options: .*a plain object.*not a class instance/);
    let reads = 0;
    const options = {
      path: path.join(dir, 'app.log'),
      get frequency(): 'hourly' {
        reads++;
        return 'hourly';
      },
    };
    const transport = new RotatingFileTransport(options);
    expect(reads).toBe(1);
    transport.close();
  });

  it("throws a TimberlockOptionError naming the option for bad winston transport options, or a misspelt name", () => {
    const log = path.join(dir, 'app.log');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ format: 5 }, /Invalid option format: 5.*winston format/],
      [{ format: { json: true } }, /Invalid option format: .*winston format/],
      [{ level: 5 }, /Invalid option level: 5.*level name/],
      [{ level: '' }, /Invalid option level: "".*level name/],
      [{ silent: 'no' }, /Invalid option silent: "no".*true or false/],
      [{ handleExceptions: 1 }, /Invalid option handleExceptions: 1.*true or false/],
      [{ levle: 'info' }, /Invalid option levle.*did you mean level\?/],
    ];
    for (const [bad, message] of cases) {
      expect(() => new RotatingFileTransport({ path: log, ...bad })).toThrow(TimberlockOptionError);
      expect(() => new RotatingFileTransport({ path: log, ...bad })).toThrow(message);
    }
    expect(fs.readdirSync(dir)).toEqual([]); // refused before any file was opened
    // null is "not set", as winston takes it.
    const unset = new RotatingFileTransport({ path: log, level: null, format: null, silent: null } as unknown as { path: string });
    expect(unset.level).toBeFalsy();
    void unset.file.close();
  });

  it("refuses a level the logger does not have when the logger adds the transport, naming the logger's levels", async () => {
    const transport = new RotatingFileTransport({ path: path.join(dir, 'app.log'), level: 'verbose-ish' });
    const other = new RotatingFileTransport({ path: path.join(dir, 'other.log'), level: 'info' });
    try {
      expect(() => winston.createLogger({ transports: [transport] })).toThrow(
        /Invalid option level: "verbose-ish".*one of the logger's levels: error, warn, info, http, verbose, debug, silly/,
      );
      const custom = winston.createLogger({ levels: { alarm: 0, note: 1 }, transports: [] });
      expect(() => custom.add(other)).toThrow(/Invalid option level: "info".*one of the logger's levels: alarm, note/);
      // Not added after all: the logger let go of it, and its file closes.
      expect(custom.transports).not.toContain(other);
      await vi.waitFor(() => expect(other.file.status).toBe('closed'), { timeout: 5000, interval: 10 });
    } finally {
      await Promise.all([transport.file.close(), other.file.close()]);
    }
  });

  it("does not take a rejection entry for the crash entry an exception handler waits for, when the transport does not handle rejections (winston-transport passes them to every transport)", async () => {
    const transport = new RotatingFileTransport({ path: path.join(dir, 'app.log'), timeZone: 'UTC', handleExceptions: true });
    // What winston's exception handler does; its crash entry is held up in the logger's pipe (a slow transport).
    let done = 0;
    (transport as unknown as { _ending: boolean })._ending = true;
    transport.once('finish', () => done++);
    transport.once('error', () => done++);
    await new Promise(setImmediate); // the run ends: the handler waits for its entry
    const entry = (fields: Record<string, unknown>): Record<string | symbol, unknown> => ({ level: 'error', ...fields, [Symbol.for('message')]: JSON.stringify(fields) });
    transport.log(entry({ message: 'rejected elsewhere', rejection: true }) as never, () => {}); // through another logger
    await new Promise(setImmediate);
    await new Promise(setImmediate); // a hand-over would have called the listener by now
    expect(done).toBe(0);
    transport.log(entry({ message: 'boom', exception: true }) as never, () => {});
    await vi.waitFor(() => expect(done).toBe(1), { timeout: 5000, interval: 5 });
    await transport.file.close();
  });

  for (const mode of ['crash', 'reject'] as const) {
    const what = mode === 'crash' ? 'an uncaught exception (handleExceptions)' : 'an unhandled rejection (handleRejections)';
    it(`exits at once with the error line on disk after ${what}`, async () => {
      const file = path.join(dir, 'app.log');
      const result = await runNode([CHILD, JSON.stringify({ mode, path: file, lines: 1000 })], { timeoutMs: 60_000 });
      const thrownAt = Number(/THROW (\d+)/.exec(result.stdout)?.[1]);
      // Timed in the child ('exit'): how long the parent takes to notice is no part of it.
      const exitMs = Number(/EXITING (\d+)/.exec(result.stdout)?.[1]) - thrownAt;
      console.log(`winston ${mode}: exit ${exitMs} ms after the throw (winston's own limit is 3000 ms)`);
      expect(result.code, result.stderr).toBe(1);
      expect(exitMs).toBeLessThan(2000); // not winston's 3 s wait for the transport
      const report = checkJsonLog(dir, { w0: 1000 });
      expect(report.ok, formatJsonLogReport(report)).toBe(true);
      const expected = mode === 'crash' ? 'uncaughtException: boom from the child' : 'unhandledRejection: rejected in the child';
      const errorLines = report.others.filter((info) => String(info.message).startsWith(expected));
      expect(errorLines).toHaveLength(1);
      expect(errorLines[0]).toMatchObject(mode === 'crash' ? { level: 'error', exception: true } : { level: 'error', rejection: true });
      expect(String(errorLines[0]?.stack)).toContain('winston-child.mjs');
    }, 90_000);

    const ownHandlers = `${mode === 'crash' ? 'exception' : 'rejection'}Handlers`;
    for (const handlers of ['none', 'own', 'both'] as const) {
      const among = { none: '', own: `, the transport also among the logger's ${ownHandlers}`, both: ", the transport also among the logger's exceptionHandlers and rejectionHandlers" }[handlers];
      const twelve = (mode === 'crash' ? '12 uncaught exceptions' : '12 unhandled rejections') + among;
      it(`calls an exitOnError function once for each of ${twelve}, and leaves none of winston's listeners behind`, async () => {
        const file = path.join(dir, 'app.log');
        const config = { mode, path: file, lines: 100, exitOnError: 'count-false', exceptions: 12, alsoHandler: handlers === 'own', bothHandlers: handlers === 'both' };
        const result = await runNode([CHILD, JSON.stringify(config)], { timeoutMs: 60_000 });
        expect(result.code, result.stderr).toBe(0);
        const stats = JSON.parse(/STATS (.*)/.exec(result.stdout)?.[1] ?? '{}');
        expect(stats.exitOnErrorCalls).toBe(12); // winston's own calls, one per exception
        expect(stats.listeners).toEqual(stats.listenersBefore); // winston's handler listeners are not left behind
        expect(stats.warnings).not.toContain('MaxListenersExceededWarning');
        const report = checkJsonLog(dir, { w0: 200 });
        expect(report.ok, formatJsonLogReport(report)).toBe(true);
      }, 90_000);
    }

    it(`lets the logger's other transports and the app's own listener have ${mode === 'crash' ? 'the exception' : 'the rejection'} before winston exits`, async () => {
      const file = path.join(dir, 'app.log');
      const result = await runNode([CHILD, JSON.stringify({ mode, path: file, lines: 10, witnesses: true })], { timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(1);
      const seen = result.stdout.split('\n').filter((line) => line.startsWith('WITNESS '));
      // winston gives a second transport rejection entries, not exception entries (it lacks handleExceptions).
      expect(seen).toEqual(
        mode === 'crash' ? ['WITNESS app listener'] : ['WITNESS transport unhandledRejection: rejected in the child', 'WITNESS app listener'],
      );
      expect(checkJsonLog(dir, { w0: 10 }).ok).toBe(true);
    }, 90_000);

    for (const both of [false, true]) {
      const among = both ? 'exceptionHandlers and rejectionHandlers' : ownHandlers;
      it(`exits at once after ${what} when the transport is also among the logger's ${among}`, async () => {
        // winston then marks it as ending once per pipe that carries it (${both ? 'three' : 'two'}), and waits for every mark;
        // a crash entry comes through fewer of them (the other kind's wrapper forwards none).
        const file = path.join(dir, 'app.log');
        const result = await runNode([CHILD, JSON.stringify({ mode, path: file, lines: 10, alsoHandler: !both, bothHandlers: both })], { timeoutMs: 60_000 });
        const exitMs = Number(/EXITING (\d+)/.exec(result.stdout)?.[1]) - Number(/THROW (\d+)/.exec(result.stdout)?.[1]);
        expect(result.code, result.stderr).toBe(1);
        expect(exitMs).toBeLessThan(2000); // not winston's 3 s wait
        expect(checkJsonLog(dir, { w0: 10 }).ok).toBe(true);
      }, 90_000);
    }

    it(`goes on logging after ${what} with exitOnError: false`, async () => {
      const file = path.join(dir, 'app.log');
      const result = await runNode([CHILD, JSON.stringify({ mode, path: file, lines: 100, exitOnError: false })], { timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      const stats = JSON.parse(/STATS (.*)/.exec(result.stdout)?.[1] ?? '{}');
      expect(stats.transports).toBe(1); // still in the logger
      const report = checkJsonLog(dir, { w0: 200 }); // the 100 lines after the error too
      expect(report.ok, formatJsonLogReport(report)).toBe(true);
    }, 90_000);
  }

  it('rotates once per boundary when two loggers in two processes share one path', async () => {
    const file = path.join(dir, 'app.log');
    const periodMs = 200;
    const lines = 3000;
    const startAt = Date.now() + 1000; // both processes have loaded winston by then
    const runs = ['w0', 'w1'].map((writer) =>
      runNode([CHILD, JSON.stringify({ mode: 'rotate', path: file, writer, lines, frequency: periodMs, startAt, spanMs: 2000 })], {
        timeoutMs: 60_000,
      }),
    );
    const results = await Promise.all(runs);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const outcomes = results.map((r) => lastJson<{ writer: string; rotates: { archive: string | null; previousPeriodStart: number }[] }>(r.stdout));

    const report = checkJsonLog(dir, { w0: lines, w1: lines }, { periodMs });
    expect(report.ok, formatJsonLogReport(report)).toBe(true);
    // Boundary quiescence: no line logged after a boundary sits in the file of the ended period.
    expect(report.late, formatJsonLogReport(report)).toBe(0);

    const archivesOnDisk = report.files.filter((f) => f.kind === 'archive');
    const archiving = outcomes.flatMap((o) => o.rotates.filter((e) => e.archive !== null));
    // About 10 boundaries in 2 s (fewer archives on a starved machine: a period in which no line was
    // written produces none, and no period can have one unless a line was logged in it).
    expect(archivesOnDisk.length).toBeGreaterThanOrEqual(2);
    expect(archivesOnDisk.length).toBeLessThanOrEqual(report.periodsWithLines);
    expect(report.periodsWithSeveralArchives).toEqual([]);
    expect(archiving.map((e) => path.basename(e.archive!)).sort()).toEqual(archivesOnDisk.map((f) => f.name).sort());
    expect(new Set(archiving.map((e) => e.previousPeriodStart)).size).toBe(archiving.length);
    for (const archive of archivesOnDisk) expect(archive.lines).toBeGreaterThan(0);
    console.log(
      `winston two processes: ${archivesOnDisk.length} archives, rotations by w0=${outcomes[0]!.rotates.filter((e) => e.archive).length} ` +
        `w1=${outcomes[1]!.rotates.filter((e) => e.archive).length}; ${formatJsonLogReport(report)}`,
    );
  }, 90_000);
});
