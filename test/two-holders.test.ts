import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = path.join(import.meta.dirname, 'fixtures', 'stall-writer.mjs');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

interface Result {
  writer: string;
  written: number;
  stalled: boolean;
  archives: string[];
  warnings: string[];
  stats: { rotations: number };
}

function run(config: Record<string, unknown>, deadlineMs: number): Promise<Result> {
  const child = fork(fixture, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let result: Result | undefined;
    const timer = setTimeout(() => reject(new Error(`writer ${config.writer} still running after ${deadlineMs} ms`)), deadlineMs);
    child.on('message', (message) => (result = message as Result));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && result) resolve(result);
      else reject(new Error(`writer ${config.writer} exited with ${code}`));
    });
  });
}

// proper-lockfile lets another process take a lock whose holder stalled longer than staleMs; for a
// while both believe they hold it. Each step of the critical section must re-check the disk.
describe('two lock holders at once', () => {
  const cases = [
    ...['locked', 'before-link', 'before-unlink', 'before-create', 'before-state'].map((stallAt) => ({ stallAt, header: false })),
    // The holder created the new file but has not written its header: the process that takes over finds
    // an empty file of the period, gives it the header, and lines follow. The stalled one must not add a second.
    { stallAt: 'before-header', header: true },
  ];
  for (const { stallAt, header } of cases) {
    it(`loses, duplicates and overwrites nothing when the holder stalls at '${stallAt}'${header ? ' (header: true; one header, first)' : ''}`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-2h-'));
      dirs.push(dir);
      const base = { path: path.join(dir, 'app.log'), frequency: 1000, staleMs: 2000, stallAt, stallMs: 3500, runMs: 5000, flag: path.join(dir, 'stall.flag'), header };
      const results = await Promise.all(['a', 'b', 'c'].map((writer) => run({ ...base, writer }, 40_000)));

      expect(results.filter((r) => r.stalled)).toHaveLength(1);
      // The lock went stale during the stall and another process rotated meanwhile.
      expect(results.filter((r) => !r.stalled).reduce((sum, r) => sum + r.stats.rotations, 0)).toBeGreaterThan(0);
      const names = fs.readdirSync(dir).filter((name) => name.startsWith('app'));
      const seen = new Map<string, number>();
      const inodes = new Map<number, string>();
      for (const name of names) {
        const ino = fs.statSync(path.join(dir, name)).ino;
        expect(inodes.get(ino), `${name} and ${inodes.get(ino)} are one inode`).toBeUndefined();
        inodes.set(ino, name);
        const lines = fs.readFileSync(path.join(dir, name), 'utf8').split('\n');
        if (header) expect(lines[0], `${name} starts with its header`).toMatch(/^# timberlock app\.log /);
        for (const line of header ? lines.slice(1) : lines) {
          if (line === '') continue;
          expect(line, `${name}`).toMatch(/^[abc] \d+$/);
          seen.set(line, (seen.get(line) ?? 0) + 1);
        }
      }
      const written = results.reduce((sum, r) => sum + r.written, 0);
      const duplicated = [...seen.values()].filter((n) => n > 1).length;
      expect(duplicated).toBe(0);
      expect(seen.size).toBe(written);
      for (const r of results) for (let seq = 0; seq < r.written; seq++) expect(seen.has(`${r.writer} ${seq}`)).toBe(true);
      const reported = results.flatMap((r) => r.archives).map((a) => path.basename(a));
      expect(new Set(reported).size).toBe(reported.length); // no archive name created twice
      for (const name of reported) expect(names).toContain(name);
      expect(fs.existsSync(path.join(dir, '.app.log.lock'))).toBe(false);
    });
  }
});
