import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = path.join(import.meta.dirname, 'fixtures', 'stall-writer.mjs');
const children: ChildProcess[] = [];
const threads: Worker[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(threads.splice(0).map((thread) => thread.terminate()));
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

/** Run one writer as a child process, or as a worker thread of this process (`thread`: they share its pid). */
function run(config: Record<string, unknown>, deadlineMs: number, thread = false): Promise<Result> {
  const argv = [JSON.stringify(config)];
  const writer = thread ? new Worker(fixture, { argv }) : fork(fixture, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (writer instanceof Worker) threads.push(writer);
  else children.push(writer);
  return new Promise((resolve, reject) => {
    let result: Result | undefined;
    const timer = setTimeout(() => reject(new Error(`writer ${config.writer} still running after ${deadlineMs} ms`)), deadlineMs);
    writer.on('message', (message: unknown) => (result = message as Result));
    writer.on('error', reject);
    writer.on('exit', (code: number | null) => {
      clearTimeout(timer);
      if (code === 0 && result) resolve(result);
      else reject(new Error(`writer ${config.writer} exited with ${code}`));
    });
  });
}

/** Three writers, one of which stalls at `stallAt` past staleMs; every line must be on disk exactly once. */
async function stallOne(stallAt: string, header: boolean, threads: boolean): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-2h-'));
  dirs.push(dir);
  const base = { path: path.join(dir, 'app.log'), frequency: 1000, staleMs: 2000, stallAt, stallMs: 3500, runMs: 5000, flag: path.join(dir, 'stall.flag'), header };
  const results = await Promise.all(['a', 'b', 'c'].map((writer) => run({ ...base, writer }, 40_000, threads)));

  expect(results.filter((r) => r.stalled)).toHaveLength(1);
  // The lock went stale during the stall and another writer rotated meanwhile.
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
  // Each holder wrote and renamed its own state temp file: no error, and none left behind.
  expect(results.flatMap((r) => r.warnings).filter((w) => w.startsWith('error'))).toEqual([]);
  expect(fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  expect(fs.existsSync(path.join(dir, '.app.log.lock'))).toBe(false);
  expect(fs.existsSync(path.join(dir, '.app.log.lock.takeover'))).toBe(false);
}

// proper-lockfile lets another process take a lock whose holder stalled longer than staleMs; for a
// while both believe they hold it. Each step of the critical section must re-check the disk.
describe('two lock holders at once', () => {
  const cases = [
    // 'state-written': between writing the new state to its temp file and renaming it.
    ...['locked', 'before-link', 'before-unlink', 'before-create', 'before-state', 'state-written'].map((stallAt) => ({ stallAt, header: false })),
    // The holder made its new file under its temp name but has not written its header: the process that
    // takes over makes its own under another temp name and gives it the active name. The stalled one finds
    // the name taken, removes its own file and follows: no line in its file, no second header.
    { stallAt: 'before-header', header: true },
  ];
  for (const { stallAt, header } of cases) {
    it(`loses, duplicates and overwrites nothing when the holder stalls at '${stallAt}'${header ? ' (header: true; one header, first)' : ''}`, async () => {
      await stallOne(stallAt, header, false);
    });
  }
});

// Worker threads share their process's pid, as containers with their own pid namespaces can on a shared
// volume: what a holder writes must still be its own.
describe('two lock holders at once in worker threads of one process', () => {
  it("loses, duplicates and overwrites nothing when the holder stalls at 'state-written'; each renames its own state temp file", async () => {
    await stallOne('state-written', false, true);
  });
});
