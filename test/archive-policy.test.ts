import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ArchiveScheduler } from '../src/archive-scheduler.js';
import { recognitionCacheSize, type MaintenanceResult } from '../src/archive.js';
import { createRotatingFile, type ArchiveEvent, type RotatingFile } from '../src/index.js';

const dirs: string[] = [];
const files: RotatingFile[] = [];

afterEach(async () => {
  await Promise.all(files.splice(0).map((file) => file.close()));
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function setup(options: Record<string, unknown>): { dir: string; file: RotatingFile } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-policy-'));
  dirs.push(dir);
  const file = createRotatingFile({ path: path.join(dir, 'app.log'), frequency: 200, timeZone: 'UTC', ...options });
  files.push(file);
  return { dir, file };
}

/** Collect archive events until `done` says enough (bounded by the test timeout). */
function collectArchiveEvents(file: RotatingFile, done: (events: ArchiveEvent[]) => boolean): Promise<ArchiveEvent[]> {
  return new Promise((resolve) => {
    const events: ArchiveEvent[] = [];
    const onEvent = (event: ArchiveEvent) => {
      events.push(event);
      if (!done(events)) return;
      file.off('archive', onEvent);
      resolve(events);
    };
    file.on('archive', onEvent);
  });
}

/** Resolve once `condition()` holds, polling every 5 ms; reject after `deadlineMs`. */
async function until(condition: () => boolean, deadlineMs = 5000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`not reached within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('archive policy in the writer', () => {
  it('lets go of the archive names its maintenance recognised once the file is closed: an app that opens a log per job keeps none of them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-policy-'));
    dirs.push(dir);
    const before = recognitionCacheSize();
    for (let job = 0; job < 5; job++) {
      const file = createRotatingFile({ path: path.join(dir, `job-${job}.log`), compress: true, maxFiles: 3 });
      file.write(`job ${job}`);
      await until(() => recognitionCacheSize() === before + 1); // the start-up run listed the directory
      await file.close();
      expect(recognitionCacheSize()).toBe(before);
    }
    // Two files of one directory and scheme share the names: they stay while either is open.
    const first = createRotatingFile({ path: path.join(dir, 'shared.log'), compress: true });
    const second = createRotatingFile({ path: path.join(dir, 'shared.log'), compress: true });
    await until(() => recognitionCacheSize() === before + 1);
    await first.close();
    expect(recognitionCacheSize()).toBe(before + 1);
    await second.close();
    expect(recognitionCacheSize()).toBe(before);
  });

  it("a quiet process with a longer checkIntervalMs looks at the active name before writing again: its line is not written to an archive another process's maintenance gzipped", async () => {
    // The maintaining process gives an archive twice ITS checkIntervalMs (100 ms); the quiet one would not
    // look for 20 s on its own.
    const { dir, file: maintainer } = setup({ frequency: 'daily', compress: { delayMs: 0 }, checkIntervalMs: 50 });
    const quiet = createRotatingFile({ path: path.join(dir, 'app.log'), frequency: 'daily', timeZone: 'UTC', checkIntervalMs: 20_000 });
    files.push(quiet);
    quiet.write('before the rotation');
    await quiet.flush();
    const compressed = collectArchiveEvents(maintainer, (events) => events.some((event) => event.type === 'compressed'));
    await maintainer.rotate();
    const [event] = await compressed;
    quiet.write('after the compression');
    await quiet.flush();
    expect(zlib.gunzipSync(fs.readFileSync(event?.path as string)).toString()).toBe('before the rotation\n');
    expect(fs.readFileSync(path.join(dir, 'app.log'), 'utf8')).toBe('after the compression\n');
  });

  it('gzips each archive once it is older than compress.delayMs, keeping every line', async () => {
    const { dir, file } = setup({ compress: { delayMs: 100 } });
    const rotated: string[] = [];
    file.on('rotate', (event) => event.archive && rotated.push(event.archive));
    let seq = 0;
    const writing = setInterval(() => file.write(`line ${seq++}`), 5);
    const events = await collectArchiveEvents(file, (e) => e.filter((x) => x.type === 'compressed').length >= 3);
    clearInterval(writing);
    await file.close();
    for (const event of events.slice(0, 3)) {
      expect(event.type).toBe('compressed');
      expect(event.path).toBe(`${event.from}.gz`);
      expect(fs.existsSync(event.from as string)).toBe(false);
      expect(rotated).toContain(event.from);
    }
    const lines: string[] = [];
    for (const name of fs.readdirSync(dir).filter((n) => n.startsWith('app.')).sort()) {
      const raw = fs.readFileSync(path.join(dir, name));
      lines.push(...(name.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString().split('\n').filter(Boolean));
    }
    expect(lines.map((l) => Number(l.split(' ')[1])).sort((a, b) => a - b)).toEqual(Array.from({ length: seq }, (_, i) => i));
  });

  it('keeps at most maxFiles archives once they are older than the delay', async () => {
    const { dir, file } = setup({ maxFiles: 2, compress: { delayMs: 100 } });
    const writing = setInterval(() => file.write('x'), 5);
    await collectArchiveEvents(file, (e) => e.filter((x) => x.type === 'removed').length >= 3);
    clearInterval(writing);
    // Writing stopped: the last archive appears at the next boundary, the run after it trims to 2.
    const archives = () => fs.readdirSync(dir).filter((n) => n.startsWith('app.') && n !== 'app.log');
    const deadline = Date.now() + 20_000;
    while (archives().length > 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(archives().length).toBe(2);
  });

  it.each([
    ['compresses at once an archive dated weeks ahead by a wrong clock (set back since)', 40 * 86_400_000],
    ['waits for an archive dated two minutes ahead, without running again in a loop meanwhile', 120_000],
  ])('%s', async (_, aheadMs) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-policy-'));
    dirs.push(dir);
    const archive = path.join(dir, 'app.2026-11-25.log');
    fs.writeFileSync(archive, 'line\n');
    const ahead = new Date(Date.now() + aheadMs);
    fs.utimesSync(archive, ahead, ahead);
    const results: MaintenanceResult[] = [];
    const scheduler = new ArchiveScheduler(
      { dir, activeName: 'app.log', scheme: { activeName: 'app.log', dateFormat: 'yyyy-MM-dd', timeZone: 'UTC', frequency: 'daily' }, mode: 0o640, staleMs: 2000, policy: { compress: true, maxFiles: null, maxAgeMs: null, delayMs: 0 } },
      Date.now,
      (result) => results.push(result),
      (err) => {
        throw err;
      },
    );
    try {
      scheduler.runSoon(0);
      await vi.waitFor(() => expect(results).toHaveLength(1), { timeout: 5000, interval: 10 });
      if (aheadMs > 300_000) {
        expect(results[0]).toMatchObject({ compressed: [{ from: 'app.2026-11-25.log', to: 'app.2026-11-25.log.gz' }], settlesAt: null });
      } else {
        expect(Math.abs((results[0]?.settlesAt ?? 0) - ahead.getTime())).toBeLessThan(1); // mtime in ns, rounded
        expect(fs.existsSync(archive)).toBe(true);
      }
      // A rerun would come within milliseconds (a timer beyond its range fires at once); give it half a second.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(results).toHaveLength(1);
    } finally {
      await scheduler.stop();
    }
  });

  it('never gzips an archive within two checkIntervalMs of its rotate(): another process appends to it until its next check', async () => {
    const { dir, file: rotator } = setup({ frequency: 'daily', checkIntervalMs: 1000, compress: { delayMs: 0 } });
    const straggler = createRotatingFile({ path: path.join(dir, 'app.log'), frequency: 'daily', timeZone: 'UTC', checkIntervalMs: 1000 });
    files.push(straggler);
    const reopened: number[] = [];
    straggler.on('rotate', () => reopened.push(Date.now()));
    straggler.write('straggler 0');
    rotator.write('rotator 0');
    const compressed = collectArchiveEvents(rotator, (e) => e.some((x) => x.type === 'compressed'));
    expect(await rotator.rotate()).toBe(true);
    const rotatedAt = Date.now();
    // The straggler goes on writing to the archive until its next check (within 1 s), then to the new file.
    let seq = 1;
    const writing = setInterval(() => straggler.write(`straggler ${seq++}`), 20);
    await compressed;
    const compressedAt = Date.now();
    clearInterval(writing);
    await Promise.all([straggler.close(), rotator.close()]);

    expect(reopened.length).toBe(1);
    expect(compressedAt - rotatedAt).toBeGreaterThanOrEqual(2000);
    const lines: string[] = [];
    for (const name of fs.readdirSync(dir).filter((n) => n.startsWith('app.'))) {
      const raw = fs.readFileSync(path.join(dir, name));
      lines.push(...(name.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString().split('\n').filter((l) => l.startsWith('straggler ')));
    }
    expect(lines.map((l) => Number(l.split(' ')[1])).sort((a, b) => a - b)).toEqual(Array.from({ length: seq }, (_, i) => i));
  });
});
