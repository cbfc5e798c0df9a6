/**
 * Smoke tests of examples/: each example runs as a real process, in a fresh temporary directory (its
 * `logs/app.log` lands there), importing the built package by name. The README's code blocks marked
 * `<!-- example: path -->` must be exactly these files, so the README's copy-paste code is what runs here.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { killChildren, runNode, type ChildResult } from './helpers/child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const example = (name: string): string => path.join(ROOT, 'examples', name);

let cwd: string;
beforeEach(() => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-example-'));
});
afterEach(() => {
  killChildren();
  fs.rmSync(cwd, { recursive: true, force: true });
});

/**
 * The lines of logs/ in the example's directory, parsed as JSON: its archives (a run can cross a
 * boundary of the example's period) in name order, then app.log.
 */
function jsonLines(): Record<string, unknown>[] {
  const logs = path.join(cwd, 'logs');
  const archives = fs.readdirSync(logs).filter((name) => !name.startsWith('.') && name !== 'app.log').sort();
  return [...archives, 'app.log']
    .flatMap((name) => fs.readFileSync(path.join(logs, name), 'utf8').split('\n').slice(0, -1))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Run a long-running example, wait (polling with a deadline) until `ready()` holds, send `signal` to
 * it and resolve with its exit.
 */
async function runUntil(args: string[], ready: () => boolean, signal: NodeJS.Signals): Promise<ChildResult> {
  let child: ChildProcess | undefined;
  const exited = runNode(args, { cwd, timeoutMs: 90_000, onSpawn: (c) => (child = c) });
  const deadline = Date.now() + 60_000;
  let sent = false;
  const poll = new Promise<void>((resolve, reject) => {
    const tick = (): void => {
      if (sent) return;
      let isReady = false;
      try {
        isReady = ready();
      } catch {
        // The log file is not there yet, or holds a line still being written: look again.
      }
      if (child && (child.exitCode !== null || child.signalCode !== null)) {
        resolve(); // it ended by itself: the caller's assertions on its exit show why
      } else if (isReady && child) {
        sent = true;
        child.kill(signal);
        resolve();
      } else if (Date.now() > deadline) reject(new Error('the example did not become ready within 60 s'));
      else setTimeout(tick, 50);
    };
    tick();
  });
  const [result] = await Promise.all([exited, poll]);
  return result;
}

/** Lines of one process: seq 0 … n-1 each exactly once, then its closing line saying n. */
function expectCompleteRuns(lines: Record<string, unknown>[], closingMessage: string): Map<unknown, number> {
  const byPid = new Map<unknown, Record<string, unknown>[]>();
  for (const line of lines) byPid.set(line.pid, [...(byPid.get(line.pid) ?? []), line]);
  const counts = new Map<unknown, number>();
  for (const [pid, own] of byPid) {
    const closing = own.filter((l) => l.message === closingMessage || l.msg === closingMessage);
    expect(closing, `pid ${String(pid)} closing line`).toHaveLength(1);
    const n = closing[0]!.lines as number;
    const seqs = own.filter((l) => typeof l.seq === 'number').map((l) => l.seq as number);
    expect(seqs, `pid ${String(pid)} lines`).toEqual(Array.from({ length: n }, (_, i) => i));
    counts.set(pid, n);
  }
  return counts;
}

describe('README', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  it('shows each marked example exactly as it is in examples/', () => {
    const marked = [...readme.matchAll(/<!-- example: (\S+) -->\n```\w*\n([\s\S]*?)\n```/g)];
    expect(marked.map((m) => m[1])).toEqual([
      'examples/winston.mjs',
      'examples/pino.mjs',
      'examples/pino-destination.mjs',
      'examples/cluster.mjs',
      'examples/pm2/ecosystem.config.cjs',
      'examples/pm2/app.cjs',
    ]);
    for (const [, file, code] of marked) expect(code, file).toBe(fs.readFileSync(path.join(ROOT, file!), 'utf8').trimEnd());
  });

  for (const section of ['Use with winston', 'Use with pino', 'Cluster and pm2']) {
    it(`has a "${section}" section whose every code block is a tested example`, () => {
      const start = readme.indexOf(`\n## ${section}\n`);
      expect(start).toBeGreaterThan(0);
      const end = readme.indexOf('\n## ', start + 1);
      const body = readme.slice(start, end < 0 ? undefined : end);
      const blocks = body.match(/```\w+\n/g) ?? []; // opening fences (they name a language)
      const markedBlocks = body.match(/<!-- example: \S+ -->\n```/g) ?? [];
      expect(blocks.length).toBeGreaterThan(0);
      expect(markedBlocks.length).toBe(blocks.length);
    });
  }
});

describe('examples', () => {
  it('basic.mjs writes its lines and closes', async () => {
    const result = await runNode([example('basic.mjs')], { cwd, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('wrote 5 lines to');
    const lines = fs.readFileSync(path.join(cwd, 'logs/app.log'), 'utf8').split('\n').slice(0, -1);
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatch(/^\d{4}-\d\d-\d\dT.*Z request 5 handled$/);
  });

  it('winston.mjs has both entries on disk at the logger’s finish', async () => {
    const result = await runNode([example('winston.mjs')], { cwd, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('all lines are in logs/app.log');
    expect(jsonLines()).toMatchObject([
      { level: 'info', message: 'service started', timestamp: expect.any(String) as unknown },
      { level: 'warn', message: 'disk almost full', freeMb: 512 },
    ]);
  });

  for (const name of ['pino.mjs', 'pino-destination.mjs']) {
    it(`${name} has both entries on disk when the process has exited`, async () => {
      const result = await runNode([example(name)], { cwd, timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(jsonLines()).toMatchObject([
        { level: 30, msg: 'service started', port: 3000 },
        { level: 40, msg: 'disk almost full', freeMb: 512 },
      ]);
    });
  }

  it('cluster.mjs: 4 workers log to one file and stop gracefully on SIGTERM to the primary, losing nothing', async () => {
    const result = await runUntil(
      [example('cluster.mjs')],
      () => new Set(jsonLines().map((l) => l.pid)).size === 4,
      'SIGTERM',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('every worker has stopped');
    const counts = expectCompleteRuns(jsonLines(), 'worker stopping');
    expect(counts.size).toBe(4);
    // One file, or two when the run crossed the hour (the example rotates hourly, in local time).
    const files = fs.readdirSync(path.join(cwd, 'logs')).filter((f) => !f.startsWith('.'));
    expect(files).toContain('app.log');
    expect(files.filter((f) => f !== 'app.log')).toEqual(files.length === 1 ? [] : [expect.stringMatching(/^app\.\d{4}-\d\d-\d\dT\d\d[+-]\d{4}\.log$/)]);
  }, 150_000);

  // Under the real pm2 (start, stop, reload, restart, delete): test/pm2.test.ts. A slow stop is not shown there.
  it('pm2/ecosystem.config.cjs gives an instance longer to stop than logger.end() may take', () => {
    const require = createRequire(import.meta.url);
    const ecosystem = require(example('pm2/ecosystem.config.cjs')) as { apps: { kill_timeout: number }[] };
    expect(ecosystem.apps[0]!.kill_timeout).toBeGreaterThan(7000); // fallbackMs, 7 s by default
  });
});
