/**
 * Crashed lock holders: for each step of the rotation protocol, three processes write to one file that
 * rotates every second; the one that takes the lock at a chosen boundary stops at that step (test-only
 * hook, test/fixtures/kill-writer.mjs) and is SIGKILLed there. The two survivors must take the stale lock
 * over and finish the rotation within lock.staleMs + one period, lose or duplicate none of the lines the
 * killed process had handed to the kernel, write every line of their own exactly once, and leave a valid
 * state file, no lock directory and no file under two names.
 *
 * Needs dist/index.js (`npm test` builds it first).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultDateFormat, parseArchiveName } from '../src/naming.js';

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'kill-writer.mjs');
const PERIOD_MS = 1000;
const STALE_MS = 2000;
const WRITERS = ['a', 'b', 'c'];
// 'state-written': the new state is in the victim's temp file, not yet renamed over the state.
const STEPS = ['locked', 'before-link', 'before-unlink', 'before-create', 'before-state', 'state-written'] as const;
const SCHEME = { activeName: 'app.log', dateFormat: defaultDateFormat(PERIOD_MS), timeZone: 'UTC', frequency: PERIOD_MS };

interface Message {
  type: string;
  at?: number;
  periodStart?: number;
  ino?: number;
  code?: string;
  message?: string;
  written?: number;
  stats?: Record<string, number>;
}

interface Paused {
  type: 'paused';
  writer: string;
  step: string;
  at: number;
  /** How many of its lines (seq 0 … flushed-1) had reached the kernel when it stopped. */
  flushed: number;
  lines: number;
  /** The lock directory's mtime minus the clock when the process stopped. */
  lockMtimeAheadMs: number;
}

/** One writer process and everything it said, with a way to wait for a message. */
class Writer extends EventEmitter {
  readonly messages: Message[] = [];
  paused: Paused | null = null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  stderr = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    super();
    child.on('message', (message: Message) => {
      this.messages.push(message);
      this.emit('change');
    });
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const line = stdout.split('\n').find((l) => l.startsWith('{"type":"paused"'));
      if (line && !this.paused) {
        this.paused = JSON.parse(line) as Paused;
        this.emit('change');
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (this.stderr = (this.stderr + text).slice(-4000)));
    child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      this.emit('change');
    });
  }

  find(predicate: (m: Message) => boolean): Message | undefined {
    return this.messages.find(predicate);
  }
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  const running = children.splice(0).filter((child) => child.exitCode === null && child.signalCode === null);
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Resolve with the first value `probe` returns (re-evaluated whenever a writer reports), or reject at the deadline. */
function waitFor<T>(writers: Writer[], probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const value = probe();
      if (value === undefined) return;
      finish();
      resolve(value);
    };
    const timer = setTimeout(() => {
      finish();
      const state = writers.map((w) => `${w.name}: exit=${JSON.stringify(w.exit)} paused=${w.paused !== null} stderr=${w.stderr.slice(-500)}`);
      reject(new Error(`${what}: not within ${timeoutMs} ms\n${state.join('\n')}`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      for (const w of writers) w.off('change', check);
    };
    for (const w of writers) w.on('change', check);
    check();
  });
}

function startWriter(name: string, config: Record<string, unknown>): Writer {
  const child = fork(FIXTURE, [JSON.stringify({ ...config, writer: name })], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  children.push(child);
  return new Writer(name, child);
}

/** Every `<writer> <seq>` line of every file of dir whose name starts with the active file's stem. */
function countLines(dir: string): { counts: Map<string, number>; malformed: string[] } {
  const counts = new Map<string, number>();
  const malformed: string[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => n.startsWith('app'))) {
    for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      if (!/^[abc] \d+$/.test(line)) malformed.push(`${name}: ${line.slice(0, 80)}`);
      counts.set(line, (counts.get(line) ?? 0) + 1);
    }
  }
  return { counts, malformed };
}

describe('a lock holder killed at each step of a rotation', () => {
  for (const step of STEPS) {
    it(`at '${step}': the survivors finish the rotation within staleMs + period and no flushed line is lost or duplicated`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-kill-'));
      dirs.push(dir);
      const logDir = path.join(dir, 'logs'); // the flag file stays out of the log directory
      const config = { path: path.join(logDir, 'app.log'), frequency: PERIOD_MS, staleMs: STALE_MS, step, flag: path.join(dir, 'paused.flag') };
      const writers = WRITERS.map((name) => startWriter(name, config));
      await waitFor(writers, () => (writers.every((w) => w.find((m) => m.type === 'ready')) ? true : undefined), 15_000, 'all writers ready');

      // Arm the hook shortly before a boundary at least half a period away: the rotation at that boundary
      // is the first one any process does after arming.
      const boundary = Math.ceil((Date.now() + PERIOD_MS / 2) / PERIOD_MS) * PERIOD_MS;
      for (const w of writers) w.child.send({ type: 'arm', at: boundary - 200 });
      const victim = await waitFor(writers, () => writers.find((w) => w.paused), boundary - Date.now() + 5_000, `a writer paused at '${step}'`);
      const paused = victim.paused as Paused;
      victim.child.kill('SIGKILL');
      const killAt = Date.now();
      await waitFor([victim], () => victim.exit ?? undefined, 5_000, 'the paused writer to die');
      expect(victim.exit?.signal).toBe('SIGKILL');
      const survivors = writers.filter((w) => w !== victim);
      const newPeriod = Math.floor(paused.at / PERIOD_MS) * PERIOD_MS;

      // Takeover: a survivor has a descriptor for the new period's file (it rotated, or followed the one who did).
      const takeover = await waitFor(
        survivors,
        () => survivors.flatMap((w) => w.messages).find((m) => m.type === 'open' && (m.periodStart as number) >= newPeriod),
        STALE_MS + PERIOD_MS + 10_000,
        `a survivor on the new period's file after the kill at '${step}'`,
      );
      const takeoverMs = (takeover.at as number) - killAt;
      // And rotation goes on normally afterwards: a later boundary is crossed too.
      await waitFor(
        survivors,
        () => survivors.flatMap((w) => w.messages).find((m) => m.type === 'open' && (m.periodStart as number) > (takeover.periodStart as number)),
        3 * PERIOD_MS,
        'a survivor crossing the next boundary',
      );
      for (const w of survivors) w.child.send({ type: 'stop' });
      const results = await Promise.all(
        survivors.map((w) => waitFor([w], () => (w.exit ? w.find((m) => m.type === 'result') : undefined), 15_000, `${w.name} to close and exit`)),
      );
      for (const w of survivors) expect(w.exit, w.stderr).toEqual({ code: 0, signal: null });

      // Lines: the killed process's flushed lines and every survivor line exactly once, nothing else.
      const { counts, malformed } = countLines(logDir);
      const expected = new Set<string>();
      for (let seq = 0; seq < paused.flushed; seq++) expected.add(`${victim.name} ${seq}`);
      survivors.forEach((w, i) => {
        for (let seq = 0; seq < (results[i]?.written as number); seq++) expected.add(`${w.name} ${seq}`);
      });
      const missing = [...expected].filter((line) => !counts.has(line));
      const duplicated = [...counts].filter(([, n]) => n > 1).map(([line]) => line);
      const unexpected = [...counts.keys()].filter((line) => !expected.has(line));
      const errors = survivors.flatMap((w) => w.messages.filter((m) => m.type === 'error').map((m) => `${w.name}: ${m.code} ${m.message}`));
      const warnings = survivors.flatMap((w) => w.messages.filter((m) => m.type === 'warning').map((m) => `${w.name}: ${m.code}`));
      const stats = results.map((r) => r.stats as Record<string, number>);
      const files = fs.readdirSync(logDir).sort();
      console.log(
        `kill at '${step}': victim ${victim.name} paused ${paused.at - boundary} ms after the boundary with ${paused.flushed} ` +
          `line(s) flushed (${paused.lines - paused.flushed} in memory, lost with it), lock mtime ${paused.lockMtimeAheadMs} ms ahead; takeover ${takeoverMs} ms after the kill ` +
          `(limit ${STALE_MS + PERIOD_MS}); lines on disk ${[...counts.values()].reduce((s, n) => s + n, 0)}, expected ${expected.size}, ` +
          `missing ${missing.length}, duplicated ${duplicated.length}, unexpected ${unexpected.length}, malformed ${malformed.length}; ` +
          `survivors' lateLines ${stats.reduce((s, st) => s + (st.lateLines ?? 0), 0)}, lockAttemptsLost ` +
          `${stats.reduce((s, st) => s + (st.lockAttemptsLost ?? 0), 0)}, errors ${errors.length}, warnings [${warnings.join(', ')}]; files ${files.join(' ')}`,
      );

      expect(takeoverMs).toBeLessThanOrEqual(STALE_MS + PERIOD_MS);
      expect(malformed).toEqual([]);
      expect(missing.slice(0, 10)).toEqual([]);
      expect(duplicated.slice(0, 10)).toEqual([]);
      expect(unexpected.slice(0, 10)).toEqual([]); // none of the lines the killed process still held in memory
      expect(errors).toEqual([]);

      // The lock is gone, no name shares an inode with another (the half-done link was repaired), no temp
      // file but the state temp file a victim killed at 'state-written' wrote (archive maintenance, not
      // configured here, removes such a file once it is staleMs old).
      expect(files).not.toContain('.app.log.lock');
      const victimTemp = step === 'state-written' ? [`.app.log.state.${victim.child.pid}-`] : [];
      expect(files.filter((name) => name.startsWith('.') && name !== '.app.log.state').map((name) => name.replace(/[0-9a-f]{8}\.tmp$/, ''))).toEqual(victimTemp);
      const inodes = new Map<number, string>();
      for (const name of files.filter((n) => n.startsWith('app'))) {
        const ino = fs.statSync(path.join(logDir, name)).ino;
        expect(inodes.get(ino), `${name} and ${inodes.get(ino)} are one inode`).toBeUndefined();
        inodes.set(ino, name);
      }
      // The state names the active file and the period the survivors ended in.
      const state = JSON.parse(fs.readFileSync(path.join(logDir, '.app.log.state'), 'utf8')) as { periodStart: number; ino: number };
      expect(state.ino).toBe(fs.statSync(path.join(logDir, 'app.log')).ino);
      const lastPeriod = Math.max(...survivors.flatMap((w) => w.messages).filter((m) => m.type === 'open').map((m) => m.periodStart as number));
      expect(state.periodStart).toBe(lastPeriod);
      // The period the killed process was rotating away from has exactly one archive.
      const archivesOf = (periodStart: number): string[] => files.filter((name) => parseArchiveName(SCHEME, name)?.periodStart === periodStart);
      expect(archivesOf(newPeriod - PERIOD_MS), files.join(' ')).toHaveLength(1);
    }, 45_000);
  }
});
