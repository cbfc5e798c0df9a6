/**
 * A process that ends in the middle of a rotation, by a default death by SIGTERM or by process.exit():
 * at each file system call proper-lockfile makes on the rotation lock and on the archive lock, at the
 * rename of the new state from its temp file, and at each step of the rotation protocol. proper-lockfile removes the lock directories it knows of on the way out,
 * so whatever the moment, no lock directory may be left behind (the next process would find the lock busy
 * for staleMs), and every line written is on disk exactly once.
 *
 * The child is test/fixtures/end-mid-rotation.mjs; needs dist/index.js (`npm test` builds it first).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killChildren, lastJson, runNode } from './helpers/child.js';

const CHILD = path.join(import.meta.dirname, 'fixtures', 'end-mid-rotation.mjs');
const LINES = 500;
const POINTS = [
  'rotation-lock:mkdir',
  'rotation-lock:utimes',
  'rotation-lock:stat',
  'rotation-lock:rmdir',
  'archive-lock:mkdir',
  'archive-lock:utimes',
  'archive-lock:stat',
  'archive-lock:rmdir',
  'state-temp:rename',
  'locked',
  'before-link',
  'before-unlink',
  'before-create',
  'before-state',
];

/** 'rotation-lock', 'archive-lock' or 'state-temp' for a point at a file system call, null for a rotation step. */
function pointPath(at: string): string | null {
  return at.includes(':') ? (at.split(':')[0] as string) : null;
}

const dirs: string[] = [];
afterEach(() => {
  killChildren();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Every `w0 <seq>` line in the directory's log files, counted per seq; the names of all entries. A file
 * under two names (a process that ended between the link and the unlink of a rotation, which the next
 * rotator repairs) is read once.
 */
function readLogs(dir: string): { counts: Map<number, number>; other: string[]; entries: string[] } {
  const counts = new Map<number, number>();
  const other: string[] = [];
  const entries = fs.readdirSync(dir).sort();
  const read = new Set<number>();
  for (const name of entries) {
    if (!/^app(\..+)?\.log$/.test(name)) continue;
    const { ino } = fs.statSync(path.join(dir, name));
    if (read.has(ino)) continue;
    read.add(ino);
    for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n').slice(0, -1)) {
      if (line.startsWith('# timberlock ')) continue; // a header (with `header`)
      const match = /^w0 (\d+)$/.exec(line);
      if (match) counts.set(Number(match[1]), (counts.get(Number(match[1])) ?? 0) + 1);
      else other.push(`${name}: ${line.slice(0, 80)}`);
    }
  }
  return { counts, other, entries };
}

describe('a process that ends in the middle of a rotation', () => {
  const cases = [
    { end: 'SIGTERM', header: false },
    { end: 'exit', header: false },
    // New files are made under a temp name with their header first: none may be left either.
    { end: 'exit', header: true },
  ] as const;
  for (const { end, header } of cases) {
    const how = `${end === 'SIGTERM' ? 'dies by SIGTERM (no handler)' : 'calls process.exit()'}${header ? ' (header: true)' : ''}`;
    it(`leaves no lock directory or temp file and loses no line when it ${how} at any lock call or rotation step`, async () => {
      const outcomes: string[] = [];
      for (const at of header ? [...POINTS, 'before-header'] : POINTS) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-end-'));
        dirs.push(dir);
        const config = { path: path.join(dir, 'app.log'), at, end, lines: LINES, header };
        const result = await runNode([CHILD, JSON.stringify(config)], { timeoutMs: 30_000 });
        const said = lastJson<{ ending?: string; written?: number; present?: boolean; notReached?: string }>(result.stdout, result.stderr);
        const { counts, other, entries } = readLogs(dir);
        const locks = entries.filter((name) => name.endsWith('.lock'));
        const temps = entries.filter((name) => name.endsWith('.tmp'));
        outcomes.push(`${at}: ended at ${said.ending ?? '-'}, ${end === 'SIGTERM' ? result.signal : result.code}, path there then ${said.present}`);
        expect(said.notReached, `${at}: the child reached the point`).toBeUndefined();
        if (end === 'SIGTERM') expect({ at, code: result.code, signal: result.signal }).toEqual({ at, code: null, signal: 'SIGTERM' });
        else expect({ at, code: result.code, stderr: result.stderr }).toEqual({ at, code: 0, stderr: '' });
        expect(locks, `${at}: lock directories left in ${entries.join(' ')}`).toEqual([]);
        expect(temps, `${at}: temp files left in ${entries.join(' ')}`).toEqual([]);
        if (pointPath(at) === null) expect(said.present, `${at}: the rotation held the lock when the process ended`).toBe(true);
        const written = said.written as number;
        expect(written, `${at}: lines the child wrote`).toBe(2 * LINES);
        const wrong = [...Array(written).keys()].filter((seq) => counts.get(seq) !== 1);
        expect(wrong.slice(0, 10), `${at}: lines not on disk exactly once (of ${written})`).toEqual([]);
        expect(other, `${at}: other lines`).toEqual([]);
      }
      console.info(`end by ${end}: ${outcomes.join('; ')}`);
    }, 120_000);
  }
});
