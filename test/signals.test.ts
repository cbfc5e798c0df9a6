/**
 * Signals and shutdown: the signal context, handleSignals(), the flush before a default death by signal,
 * and stopChildren(). Whatever ends a process runs in a real child process (test/fixtures/signal-*.mjs,
 * against dist/: `npm test` builds it first); the signal context itself is also tested in-process.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createRotatingFile, handleSignals, stopChildren, TimberlockOptionError, type RotatingFile } from '../src/index.js';
import { runInSignalContext } from '../src/signal-context.js';

const CHILD = fileURLToPath(new URL('./fixtures/signal-child.mjs', import.meta.url));
const STOPPABLE = fileURLToPath(new URL('./fixtures/signal-stoppable.mjs', import.meta.url));
const COMPRESS = fileURLToPath(new URL('./fixtures/signal-compress.mjs', import.meta.url));
const MID_ROTATION = fileURLToPath(new URL('./fixtures/signal-mid-rotation.mjs', import.meta.url));
const HOOK_IO = fileURLToPath(new URL('./fixtures/signal-hook-io.mjs', import.meta.url));

const dirs: string[] = [];
const children: ChildProcess[] = [];
const files: RotatingFile[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(files.splice(0).map((file) => file.close()));
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-signals-'));
  dirs.push(dir);
  return dir;
}

function linesOf(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

// ---- a child that writes lines, gets a signal, and is judged by its exit and its file -----------------

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  messages: Record<string, unknown>[];
  /** Lines in app.log right before the signal was sent. */
  onDiskBeforeSignal: number;
  ready: { written: number; buffered: number; listeners: number };
  dir: string;
  /** Every file of the log directory (dot files included) and the lines of app.log after the exit. */
  names: string[];
  lines: string[];
  /** The lines of every log file, archives (oldest first) then app.log. */
  allLines: string[];
}

/**
 * Run test/fixtures/signal-child.mjs in `mode`: when it says 'opened', take the rotation lock (so that its
 * lines wait in memory after the next boundary); when it says 'ready', send `signal` (then `repeat` more,
 * 10 ms apart). After its exit, release the lock and read the directory.
 */
async function runChild(
  mode: string,
  options: { signal?: NodeJS.Signals; repeat?: number; signalExit4?: boolean; dualCopies?: boolean; emit?: NodeJS.Signals; onExitLogs?: 'v3' | 'v4' } = {},
): Promise<ChildRun> {
  const dir = tempDir();
  const logPath = path.join(dir, 'app.log');
  const lockDir = path.join(dir, '.app.log.lock');
  const config = { path: logPath, mode, frequency: 200, signalExit4: options.signalExit4 ?? false, dualCopies: options.dualCopies ?? false, emit: options.emit, onExitLogs: options.onExitLogs };
  const child = spawn(process.execPath, [CHILD, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  const run: Partial<ChildRun> = { stderr: '', messages: [], onDiskBeforeSignal: -1 };
  child.stderr?.on('data', (chunk: Buffer) => (run.stderr += chunk.toString()));
  let pendingText = '';
  let repeater: NodeJS.Timeout | undefined;
  let refresher: NodeJS.Timeout | undefined;
  child.stdout?.on('data', (chunk: Buffer) => {
    pendingText += chunk.toString();
    for (let end = pendingText.indexOf('\n'); end >= 0; end = pendingText.indexOf('\n')) {
      const message = JSON.parse(pendingText.slice(0, end)) as Record<string, unknown>;
      pendingText = pendingText.slice(end + 1);
      run.messages?.push(message);
      if (message.opened) {
        takeLock(lockDir);
        // Keep the lock fresh, as a live holder does, so that a slow run never sees it go stale.
        refresher = setInterval(() => fs.utimesSync(lockDir, new Date(), new Date()), 500);
        child.stdin?.write('locked\n');
      }
      if (message.ready) {
        run.ready = message.ready as ChildRun['ready'];
        run.onDiskBeforeSignal = linesOf(logPath).length;
        if (!options.emit) child.kill(options.signal ?? 'SIGTERM');
        let left = options.repeat ?? 0;
        if (left > 0) {
          repeater = setInterval(() => {
            if (left-- <= 0 || child.exitCode !== null || child.signalCode !== null) clearInterval(repeater);
            else child.kill(options.signal ?? 'SIGTERM');
          }, 10);
        }
      }
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (c, s) => resolve([c, s])),
  );
  clearInterval(repeater);
  clearInterval(refresher);
  run.code = code;
  run.signal = signal;
  const names = fs.readdirSync(dir).sort();
  fs.rmSync(lockDir, { recursive: true, force: true });
  const logFiles = names.filter((name) => name === 'app.log' || /^app\..+\.log$/.test(name)); // archives sort first
  return {
    ...(run as ChildRun),
    dir,
    names,
    lines: fs.existsSync(logPath) ? linesOf(logPath) : [],
    allLines: logFiles.flatMap((name) => linesOf(path.join(dir, name))),
  };
}

/**
 * Take the child's rotation lock as another process would (mkdir). The child itself may hold it for the
 * microseconds of a rotation right now: try again until that is over (bounded).
 */
function takeLock(lockDir: string): void {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || Date.now() > deadline) throw err;
    }
  }
}

function numbered(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `line ${i}`);
}

// ---------------------------------------------------------------------------------------------------------

describe('the signal context', () => {
  it('write() only buffers while it lasts — nothing reaches the disk even with sync: true — and the lines land in order when it ends', () => {
    const file = createRotatingFile({ path: path.join(tempDir(), 'app.log'), sync: true });
    files.push(file);
    file.write('before');
    runInSignalContext(() => {
      file.write('inside 1');
      file.write(Uint8Array.from([0x69, 0x6e, 0xff, 0x00, 0x0a])); // bytes that are not UTF-8 stay bytes
      file.write('inside 3');
      expect(linesOf(file.path)).toEqual(['before']);
      expect(file.stats().bufferedLines).toBe(0);
    });
    file.write('after');
    expect(fs.readFileSync(file.path)).toEqual(
      Buffer.concat([Buffer.from('before\ninside 1\n'), Buffer.from([0x69, 0x6e, 0xff, 0x00, 0x0a]), Buffer.from('inside 3\nafter\n')]),
    );
    expect(file.stats().lines).toBe(5);
  });

  it('write() to a file closed already only buffers too, and the line is appended when the context ends', async () => {
    const file = createRotatingFile({ path: path.join(tempDir(), 'app.log') });
    files.push(file);
    file.write('before');
    await file.close();
    const open = fs.openSync;
    let opened = 0;
    runInSignalContext(() => {
      // A closed file appends with an open, a write and a close: none of them here.
      fs.openSync = ((...args: Parameters<typeof fs.openSync>) => {
        opened++;
        return open(...args);
      }) as typeof fs.openSync;
      try {
        file.write('inside, after close()');
      } finally {
        fs.openSync = open;
      }
      expect(opened).toBe(0);
      expect(linesOf(file.path)).toEqual(['before']);
    });
    expect(linesOf(file.path)).toEqual(['before', 'inside, after close()']);
    expect(file.stats()).toMatchObject({ lines: 2, droppedLines: 0 });
  });

  it('hands the lines back even when the code inside throws', () => {
    const file = createRotatingFile({ path: path.join(tempDir(), 'app.log'), sync: true });
    files.push(file);
    expect(() =>
      runInSignalContext(() => {
        file.write('written before the throw');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(linesOf(file.path)).toEqual(['written before the throw']);
  });

  it('adds one listener to each signal that kills by default while a file is open, and removes it when the last one closes', async () => {
    // Those signal-exit re-raises on this platform (Windows has only the first three; SIGPWR is Linux's).
    const signals = [
      'SIGTERM',
      'SIGINT',
      'SIGHUP',
      ...(process.platform === 'win32' ? [] : ['SIGQUIT', 'SIGUSR2', 'SIGXCPU', 'SIGALRM', 'SIGVTALRM', 'SIGABRT']),
      ...(process.platform === 'linux' ? ['SIGPWR'] : []),
    ];
    const before = signals.map((s) => process.listenerCount(s));
    const dir = tempDir();
    const a = createRotatingFile({ path: path.join(dir, 'a.log') });
    const b = createRotatingFile({ path: path.join(dir, 'b.log') });
    expect(signals.map((s) => process.listenerCount(s))).toEqual(before.map((n) => n + 1));
    await a.close();
    expect(process.listenerCount('SIGTERM')).toBe((before[0] as number) + 1);
    await b.close();
    expect(signals.map((s) => process.listenerCount(s))).toEqual(before);
  });

  it('leaves SIGXFSZ alone (a write past the file size limit raises it: a flush there would write again)', async () => {
    const before = process.listenerCount('SIGXFSZ');
    const file = createRotatingFile({ path: path.join(tempDir(), 'a.log') });
    expect(process.listenerCount('SIGXFSZ')).toBe(before);
    await file.close();
  });

  it("passes a signal emitted from code without its name (process.emit('SIGINT'), as readline's is passed on) to the app's listener", async () => {
    const file = createRotatingFile({ path: path.join(tempDir(), 'a.log') });
    const heard: unknown[] = [];
    const listener = (...args: unknown[]): void => void heard.push(args);
    process.on('SIGINT', listener);
    try {
      expect(process.emit('SIGINT' as 'disconnect')).toBe(true);
    } finally {
      process.removeListener('SIGINT', listener);
      await file.close();
    }
    expect(heard).toEqual([[]]);
  });
});

describe('death by signal when the app has no handler of its own', () => {
  it('flushes the lines still in memory, then dies by SIGTERM as before, leaving no lock of its own', async () => {
    const run = await runChild('none');
    expect(run.ready).toMatchObject({ written: 50, buffered: 50 });
    expect(run.onDiskBeforeSignal).toBe(0);
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: null, signal: 'SIGTERM' });
    expect(run.allLines).toEqual(numbered(50));
    expect(run.names).toEqual(['.app.log.lock', '.app.log.state', 'app.log']); // the lock is the test's own
  });

  // (SIGQUIT, SIGXCPU and SIGABRT too, whose default action also dumps core: not run here.)
  for (const signal of ['SIGUSR2', 'SIGALRM', 'SIGVTALRM', 'SIGPWR'] as const) {
    it.skipIf(process.platform === 'win32' || (signal === 'SIGPWR' && process.platform !== 'linux'))(`does the same for ${signal}, which signal-exit re-raises too`, async () => {
      const run = await runChild('none', { signal });
      expect(run.signal, run.stderr).toBe(signal);
      expect(run.allLines).toEqual(numbered(50));
    });
  }

  for (const version of ['v3', 'v4'] as const) {
    it(`writes the line an onExit callback of signal-exit ${version} logs on the way out`, async () => {
      const run = await runChild('none', { onExitLogs: version, signalExit4: version === 'v4' });
      expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: null, signal: 'SIGTERM' });
      expect(run.allLines).toEqual([...numbered(50), 'bye']);
    });
  }

  it("does the same for a SIGTERM emitted from code without its name (process.emit('SIGTERM'))", async () => {
    const run = await runChild('none', { emit: 'SIGTERM' });
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: null, signal: 'SIGTERM' });
    expect(run.allLines).toEqual(numbered(50));
  });

  it('does the same for SIGINT', async () => {
    const run = await runChild('none', { signal: 'SIGINT' });
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: null, signal: 'SIGINT' });
    expect(run.allLines).toEqual(numbered(50));
  });

  it("leaves the signal to the app's own listener that exits: status 0, its line and the buffered ones on disk", async () => {
    const run = await runChild('app-exit');
    expect(run.onDiskBeforeSignal).toBe(0);
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 0, signal: null });
    expect(run.allLines).toEqual([...numbered(50), 'handled']);
  });

  it("does not kill a process whose own listener decides to keep running", async () => {
    const run = await runChild('app-stay');
    expect(run.messages).toContainEqual({ handled: true });
    expect(run.messages).toContainEqual({ stillAlive: true });
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 7, signal: null });
    expect(run.allLines).toEqual([...numbered(50), 'handled']);
  });

  it('dies by SIGTERM all the same, flushed, when signal-exit 4 is loaded too (execa, foreground-child …)', async () => {
    // signal-exit 4 and 3 each stand aside while another listener is there; timberlock must not count
    // signal-exit 4's listener as the app's and stand aside too, or nobody acts and the process lives on.
    const run = await runChild('none', { signalExit4: true });
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: null, signal: 'SIGTERM' });
    expect(run.allLines).toEqual(numbered(50));
    expect(run.messages).toContainEqual({ signalExit4: 'SIGTERM' });
    expect(run.names).toEqual(['.app.log.lock', '.app.log.state', 'app.log']); // the lock is the test's own
  });

  it("leaves the signal to the app's own listener when signal-exit 4 is loaded too", async () => {
    const run = await runChild('app-stay', { signalExit4: true });
    expect(run.messages).toContainEqual({ stillAlive: true });
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 7, signal: null });
    expect(run.allLines).toEqual([...numbered(50), 'handled']);
  });

  it('dies by SIGTERM, every file of both flushed, with two copies of timberlock loaded (two installed versions)', async () => {
    // Each copy has its own listener; one that counted the other's as the app's stood aside, both did,
    // and signal-exit stood aside for them: the process lived on.
    const run = await runChild('none', { dualCopies: true });
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: null, signal: 'SIGTERM' });
    expect(run.ready).toMatchObject({ written: 50, buffered: 50, listeners: 3 }); // one per copy, and signal-exit's
    expect(run.allLines).toEqual(numbered(50));
    expect(linesOf(path.join(run.dir, 'second.log'))).toEqual(numbered(50));
  });

  it("does not kill a process whose process.once() listener is still doing async work", async () => {
    const run = await runChild('app-once');
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 0, signal: null });
    expect(run.allLines).toEqual([...numbered(50), 'handled']);
  });
});

describe('handleSignals()', () => {
  it('runs the hook once, flushes everything and exits with 143 on SIGTERM', async () => {
    const run = await runChild('handle');
    expect(run.onDiskBeforeSignal).toBe(0);
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 143, signal: null });
    expect(run.allLines).toEqual([...numbered(50), 'bye']);
    expect(run.stderr).toBe('');
  });

  it('exits with 130 on SIGINT', async () => {
    const run = await runChild('handle', { signal: 'SIGINT' });
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 130, signal: null });
    expect(run.allLines).toEqual([...numbered(50), 'bye']);
  });

  it("exits with 130 on a SIGINT emitted from code without its name (process.emit('SIGINT'), as readline's is passed on)", async () => {
    const run = await runChild('handle', { emit: 'SIGINT' });
    expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 130, signal: null });
    expect(run.allLines).toEqual([...numbered(50), 'bye']);
    expect(run.stderr).toBe('');
  });

  it('uses exitCode when given', async () => {
    const run = await runChild('handle-exit-code');
    expect(run.code, run.stderr).toBe(0);
    expect(run.allLines).toEqual([...numbered(50), 'bye']);
  });

  it('counts repeated signals during an async hook, passes them to onRepeat and never re-runs the hook', async () => {
    const run = await runChild('handle-async', { repeat: 30 });
    expect(run.code, run.stderr).toBe(143);
    const repeats = run.allLines.filter((line) => line.startsWith('repeat '));
    expect(repeats.length).toBeGreaterThan(0);
    expect(repeats).toEqual(repeats.map((_, i) => `repeat ${i + 1} SIGTERM`));
    expect(run.allLines.filter((line) => line === 'bye')).toHaveLength(1);
    expect(run.messages.filter((m) => m.hookStarted)).toHaveLength(1);
    expect(run.allLines.slice(0, 51)).toEqual([...numbered(50), 'bye']);
    // The hook ran to its end; repeats may follow while the shutdown lets a rotation attempt finish.
    expect(run.allLines.filter((line) => line === 'closed')).toHaveLength(1);
    expect(run.allLines.slice(run.allLines.indexOf('closed') + 1).filter((line) => !line.startsWith('repeat '))).toEqual([]);
    expect(run.stderr).toContain(`${repeats.length} more signal(s) arrived while shutting down after SIGTERM`);
  });

  it('does not wait for a hook that never settles past timeoutMs, and says so on stderr', async () => {
    const run = await runChild('handle-timeout');
    expect(run.code, run.stderr).toBe(143);
    expect(run.allLines).toEqual(numbered(50));
    expect(run.stderr).toContain('onSignal(SIGTERM) did not settle within 300 ms; exiting with status 143');
  });

  it('still flushes and exits when the hook throws, and prints the error', async () => {
    const run = await runChild('handle-throw');
    expect(run.code, run.stderr).toBe(143);
    expect(run.allLines).toEqual([...numbered(50), 'bye']);
    expect(run.stderr).toContain('onSignal(SIGTERM) threw: Error: hook failed on purpose');
  });

  it("loses nothing when the hook calls process.exit() itself while its lines are still in the signal buffer", async () => {
    const run = await runChild('handle-hook-exits');
    expect(run.code, run.stderr).toBe(3);
    expect(run.allLines).toEqual([...numbered(50), 'bye']);
  });

  it('lets a rotation under way finish before it exits: the new file and the state describe each other, no line in the archive after its rename', async () => {
    const dir = tempDir();
    const logPath = path.join(dir, 'app.log');
    const result = spawnSync(process.execPath, [path.join(import.meta.dirname, 'fixtures', 'signal-mid-rotation.mjs'), JSON.stringify({ path: logPath })], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status, result.stderr).toBe(143);
    expect(result.stdout).toContain('"signalledAt":"before-create"');
    const names = fs.readdirSync(dir).sort();
    const archives = names.filter((name) => /^app\..+\.log$/.test(name));
    expect(archives).toHaveLength(1);
    expect(linesOf(path.join(dir, archives[0] as string))).toEqual(['before']);
    expect(linesOf(logPath)).toEqual(['during', 'bye']);
    const state = JSON.parse(fs.readFileSync(path.join(dir, '.app.log.state'), 'utf8')) as { ino: number };
    expect(state.ino).toBe(fs.statSync(logPath).ino);
    expect(names).not.toContain('.app.log.lock');
    expect(result.stderr).toBe('');
  });

  it('lets a rotation under way finish before it exits when the hook throws', () => {
    const dir = tempDir();
    const logPath = path.join(dir, 'app.log');
    const result = spawnSync(process.execPath, [MID_ROTATION, JSON.stringify({ path: logPath, hookThrows: true })], { encoding: 'utf8', timeout: 20_000 });
    expect(result.status, result.stderr).toBe(143);
    expect(result.stderr).toContain('onSignal(SIGTERM) threw: Error: hook failed on purpose');
    const archives = fs.readdirSync(dir).filter((name) => /^app\..+\.log$/.test(name));
    expect(archives).toHaveLength(1);
    expect(linesOf(path.join(dir, archives[0] as string))).toEqual(['before']);
    expect(linesOf(logPath)).toEqual(['during', 'bye']);
    const state = JSON.parse(fs.readFileSync(path.join(dir, '.app.log.state'), 'utf8')) as { ino: number };
    expect(state.ino).toBe(fs.statSync(logPath).ino);
  });

  it("loses no line when a file's listener calls process.exit() while the signal buffer is handed to the files", () => {
    const dir = tempDir();
    const result = spawnSync(process.execPath, [HOOK_IO, JSON.stringify({ dir, mode: 'exit-in-listener' })], { encoding: 'utf8', timeout: 20_000 });
    expect(result.status, result.stderr).toBe(0);
    const names = fs.readdirSync(dir);
    const linesStartingWith = (prefix: string): string[] =>
      names.filter((name) => name.startsWith(prefix)).flatMap((name) => linesOf(path.join(dir, name)));
    // a rolled at least once on the way (its listener exited then), and again in the exit flush.
    expect(names.filter((name) => /^a\..+\.log$/.test(name)).length).toBeGreaterThanOrEqual(2);
    expect(linesStartingWith('a').sort()).toEqual(Array.from({ length: 60 }, (_, i) => `a ${String(i).padStart(4, '0')} ${'x'.repeat(40)}`));
    expect(linesStartingWith('b')).toEqual(Array.from({ length: 100 }, (_, i) => `b ${String(i).padStart(4, '0')} ${'y'.repeat(40)}`));
    expect(result.stderr).toBe('');
  });

  it('resolves flush() called in the hook once the lines the hook wrote are on disk', () => {
    const dir = tempDir();
    const result = spawnSync(process.execPath, [HOOK_IO, JSON.stringify({ dir, mode: 'flush-in-hook' })], { encoding: 'utf8', timeout: 20_000 });
    expect(result.status, result.stderr).toBe(143);
    expect(result.stdout).toContain('{"byeOnDiskAfterFlush":true}');
    expect(linesOf(path.join(dir, 'app.log'))).toEqual(['hello', 'bye']);
  });

  it('on process.exit() in the middle of a rotation, writes the waiting lines to the file being archived and counts them as late', () => {
    const dir = tempDir();
    const logPath = path.join(dir, 'app.log');
    const result = spawnSync(process.execPath, [path.join(import.meta.dirname, 'fixtures', 'signal-mid-rotation.mjs'), JSON.stringify({ path: logPath, exit: true })], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status, result.stderr).toBe(0);
    const stats = (JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as { stats: { lateLines: number } }).stats;
    expect(stats.lateLines).toBe(1);
    const archives = fs.readdirSync(dir).filter((name) => /^app\..+\.log$/.test(name));
    expect(archives).toHaveLength(1);
    expect(linesOf(path.join(dir, archives[0] as string))).toEqual(['before', 'during']);
  });

  it('writes nothing, rotates nothing and takes no lock inside the hook, even past a boundary with sync: true', async () => {
    const run = await runChild('handle-no-io');
    const hook = run.messages.find((m) => m.hook)?.hook as Record<string, number | boolean> | undefined;
    expect(hook, run.stderr).toBeDefined();
    expect(hook?.sizeAfter, 'bytes of app.log after the hook wrote 200 lines').toBe(hook?.sizeBefore);
    expect(hook?.rotationsAfter, 'rotations during the hook').toBe(hook?.rotationsBefore);
    expect(hook?.lockDirDuringHook).toBe(false);
    expect(hook?.bufferedInFile).toBe(0);
    expect(run.code, run.stderr).toBe(143);
    // After the hook the lines reached the new period's file; 'before' is in an archive.
    expect(run.lines).toEqual(Array.from({ length: 200 }, (_, i) => `in hook ${i}`));
    const archived = run.names
      .filter((name) => /^app\..+\.log$/.test(name))
      .flatMap((name) => linesOf(path.join(run.dir, name)));
    expect(archived).toEqual(['before']);
    expect(run.names).not.toContain('.app.log.lock');
  });

  it('drops what does not fit in the signal buffer, counts it and reports it as a DROPPED_LINES warning', async () => {
    const run = await runChild('handle-overflow');
    const warning = run.messages.find((m) => (m.warning as { code?: string } | undefined)?.code === 'DROPPED_LINES')
      ?.warning as { details: { lines: number } };
    const stats = run.messages.find((m) => m.stats)?.stats as Record<string, number>;
    const kept = run.allLines.filter((line) => line.startsWith('overflow '));
    expect(kept.length).toBeGreaterThan(0);
    expect(warning.details.lines).toBe(100 - kept.length);
    expect(stats.droppedLines).toBe(100 - kept.length);
    expect(stats.lines).toBe(150);
    expect(kept).toEqual(kept.map((_, i) => `overflow ${String(i).padStart(3, '0')} ${'x'.repeat(36)}`));
  });

  it('prints the DROPPED_LINES warning of a full signal buffer to stderr when nobody listens: the process exits next', async () => {
    const run = await runChild('handle-overflow-quiet');
    const stats = run.messages.find((m) => m.stats)?.stats as Record<string, number>;
    const kept = run.allLines.filter((line) => line.startsWith('overflow '));
    expect(run.code, run.stderr).toBe(143);
    expect(stats.droppedLines).toBe(100 - kept.length);
    expect(stats.droppedLines).toBeGreaterThan(0);
    expect(run.stderr).toContain(`[DROPPED_LINES] TimberlockWarning: ${100 - kept.length} line(s) written while a signal was handled were dropped`);
  });

  it('rejects invalid options with the option, the value and what is allowed', () => {
    const cases: [unknown, string][] = [
      [{ signals: [] }, 'Invalid option signals: []. Expected a non-empty array of distinct signal names from SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR2.'],
      [{ signals: ['SIGTERM', 'SIGKILL'] }, 'Invalid option signals[1]: "SIGKILL".'],
      [{ signals: ['SIGTERM', 'SIGTERM'] }, 'Invalid option signals[1]: "SIGTERM".'],
      [{ signals: [, 'SIGTERM'] }, 'Invalid option signals[0]: undefined.'],
      [{ timeoutMs: -1 }, 'Invalid option timeoutMs: -1. Expected an integer number of milliseconds from 0 to 2147483647.'],
      [{ onSignal: 'bye' }, 'Invalid option onSignal: "bye". Expected a function'],
      [{ onRepeat: 1 }, 'Invalid option onRepeat: 1.'],
      [{ exitCode: 256 }, 'Invalid option exitCode: 256. Expected an integer exit status from 0 to 255.'],
      [{ bufferBytes: 100 }, 'Invalid option bufferBytes: 100. Expected an integer number of bytes from 64 to 2^30 that is a multiple of 8.'],
      [{ timeout: 5 }, 'Invalid option timeout: 5. Expected one of the handleSignals options: signals, timeoutMs'],
      [null, 'Invalid option options: null.'],
    ];
    for (const [options, message] of cases) {
      let thrown: unknown;
      try {
        handleSignals(options as never);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(options)).toBeInstanceOf(TimberlockOptionError);
      expect((thrown as TimberlockOptionError).code).toBe('ERR_TIMBERLOCK_OPTION');
      expect((thrown as Error).message).toContain(message);
    }
  });

  it('refuses a second installation until the first is uninstalled, and uninstalling removes its listeners', () => {
    const before = process.listenerCount('SIGTERM');
    const uninstall = handleSignals();
    try {
      expect(process.listenerCount('SIGTERM')).toBe(before + 1);
      expect(() => handleSignals()).toThrow(expect.objectContaining({ code: 'ERR_TIMBERLOCK_SIGNALS_HANDLED' }));
    } finally {
      uninstall();
    }
    expect(process.listenerCount('SIGTERM')).toBe(before);
    const hupBefore = process.listenerCount('SIGHUP');
    const uninstallAgain = handleSignals({ signals: ['SIGHUP'] });
    expect(process.listenerCount('SIGHUP')).toBe(hupBefore + 1);
    uninstallAgain();
    expect(process.listenerCount('SIGHUP')).toBe(hupBefore);
  });

  it("removes the listeners it added even when the caller's signals array changed meanwhile", () => {
    const intBefore = process.listenerCount('SIGINT');
    const signals: ('SIGINT' | 'SIGTERM')[] = ['SIGINT'];
    const uninstall = handleSignals({ signals });
    signals[0] = 'SIGTERM';
    uninstall();
    expect(process.listenerCount('SIGINT')).toBe(intBefore);
  });
});

// ---- a signal during compression --------------------------------------------------------------------------

/** Must match lineFor() in test/fixtures/signal-compress.mjs. */
function compressLineFor(i: number): string {
  const hex = createHash('sha256').update(String(i)).digest('hex');
  return `${String(i).padStart(8, '0')} ${hex}${hex}${hex.slice(0, 54)}`;
}

interface CompressRun {
  code: number | null;
  stderr: string;
  /** From the SIGTERM (sent at the first gzip chunk) to the exit. */
  exitMs: number;
  /** Whether the archive lock directory existed when the signal was sent. */
  archiveLockHeld: boolean;
  dir: string;
  names: string[];
}

/** test/fixtures/signal-compress.mjs: SIGTERM at its first gzip chunk; resolves after its exit. */
async function runCompressChild(mode: 'close' | 'return' | 'hang', lines: number): Promise<CompressRun> {
  const dir = tempDir();
  const config = { path: path.join(dir, 'app.log'), mode, lines, pauseMs: 10 };
  const child = spawn(process.execPath, [COMPRESS, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  let signalledAt = 0;
  let archiveLockHeld = false;
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n')) {
      const message = JSON.parse(text.slice(0, end)) as { compressing?: string; archiveLockHeld?: boolean };
      text = text.slice(end + 1);
      if (message.compressing && signalledAt === 0) {
        archiveLockHeld = message.archiveLockHeld === true;
        signalledAt = performance.now();
        child.kill('SIGTERM');
      }
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const exitMs = signalledAt === 0 ? -1 : performance.now() - signalledAt;
  console.info(`signal during compression (${mode}): exit ${String(code)} ${exitMs.toFixed(0)} ms after the signal`);
  return { code, stderr, exitMs, archiveLockHeld, dir, names: fs.readdirSync(dir).sort() };
}

/** What the archive holds: the original and/or a complete .gz; a .gz under its final name must be whole. */
function checkArchive(run: CompressRun, lines: number): { original: boolean; gz: boolean; temps: string[] } {
  const expected = Array.from({ length: lines }, (_, i) => `${compressLineFor(i)}\n`).join('');
  const originals = run.names.filter((name) => /^app\..+\.log$/.test(name));
  const gzs = run.names.filter((name) => /^app\..+\.log\.gz$/.test(name));
  for (const name of gzs) {
    expect(zlib.gunzipSync(fs.readFileSync(path.join(run.dir, name))).toString(), `${name} is complete`).toBe(expected);
  }
  for (const name of originals) expect(fs.readFileSync(path.join(run.dir, name), 'utf8'), `${name} is intact`).toBe(expected);
  expect(originals.length + gzs.length).toBeGreaterThan(0);
  return { original: originals.length > 0, gz: gzs.length > 0, temps: run.names.filter((name) => name.endsWith('.tmp')) };
}

describe('a signal while this process is compressing an archive (async work holding the archive lock)', () => {
  const LINES = 50_000; // 10 MB: about 270 gzip chunks, each paused 10 ms by the test hook

  const stopping = [
    { mode: 'close', name: 'a hook that closes the file stops the compression between two chunks' },
    { mode: 'return', name: 'a hook that returns at once: the shutdown stops the compression between two chunks before it exits' },
  ] as const;
  for (const { mode, name } of stopping) {
    it(`${name}: no .gz, no temp file, no lock left`, async () => {
      const run = await runCompressChild(mode, LINES);
      expect(run.exitMs, 'the signal was sent during the gzip').toBeGreaterThan(0);
      expect(run.archiveLockHeld, 'the archive lock was held when the signal came').toBe(true);
      expect(run.code, run.stderr).toBe(143);
      expect(run.stderr).toBe('');
      expect(run.exitMs, 'ms from the signal to the exit').toBeLessThan(1000 + 1500);
      expect(checkArchive(run, LINES)).toEqual({ original: true, gz: false, temps: [] });
      expect(run.names.filter((name) => name.endsWith('.lock'))).toEqual([]);
      expect(linesOf(path.join(run.dir, 'app.log'))).toEqual(['bye']);
    });
  }

  it('a hook that never settles: exit at timeoutMs in the middle of the gzip, no partial .gz under a final name, no lock left', async () => {
    const run = await runCompressChild('hang', LINES);
    expect(run.exitMs, 'the signal was sent during the gzip').toBeGreaterThan(0);
    expect(run.archiveLockHeld, 'the archive lock was held when the signal came').toBe(true);
    expect(run.code, run.stderr).toBe(143);
    expect(run.stderr).toContain('onSignal(SIGTERM) did not settle within 1000 ms');
    expect(run.exitMs, 'ms from the signal to the exit').toBeLessThan(1000 + 1500);
    const archive = checkArchive(run, LINES);
    expect(archive).toMatchObject({ original: true, gz: false });
    // The interrupted gzip's temp file is removed on the way out.
    expect(archive.temps).toEqual([]);
    expect(run.names.filter((name) => name.endsWith('.lock'))).toEqual([]);
    expect(linesOf(path.join(run.dir, 'app.log'))).toEqual(['bye']);
  });
});

// ---- stopChildren ---------------------------------------------------------------------------------------

interface StoppableRun {
  child: ChildProcess;
  /** Signals the child reported receiving. */
  received: string[];
}

async function startStoppable(mode: 'exit' | 'ignore'): Promise<StoppableRun> {
  const child = spawn(process.execPath, [STOPPABLE, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const run: StoppableRun = { child, received: [] };
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.once('exit', (code) => reject(new Error(`stoppable child exited early (${String(code)})`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n')) {
        const message = JSON.parse(text.slice(0, end)) as { ready?: number; signal?: string };
        text = text.slice(end + 1);
        if (message.ready) resolve();
        if (message.signal) run.received.push(message.signal);
      }
    });
  });
  return run;
}

describe('stopChildren()', () => {
  it('sends each child ONE signal and resolves when they have exited', async () => {
    const runs = await Promise.all([startStoppable('exit'), startStoppable('exit'), startStoppable('exit')]);
    const outcomes = await stopChildren(runs.map((r) => r.child), { timeoutMs: 5000 });
    for (const [i, outcome] of outcomes.entries()) {
      expect(outcome).toMatchObject({ result: 'exited', code: 0, signal: null, signalsSent: 1, pid: runs[i]?.child.pid });
      expect(outcome.child).toBe(runs[i]?.child);
      expect(runs[i]?.received).toEqual(['SIGTERM']);
    }
  });

  it('escalates to SIGKILL after timeoutMs for a child that ignores the signal, and no sooner', async () => {
    const [stubborn, polite] = await Promise.all([startStoppable('ignore'), startStoppable('exit')]);
    const started = performance.now();
    const outcomes = await stopChildren([stubborn!.child, polite!.child], { timeoutMs: 400 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(400);
    expect(outcomes[0]).toMatchObject({ result: 'killed', code: null, signal: 'SIGKILL', signalsSent: 2 });
    expect(outcomes[0]?.elapsedMs).toBeGreaterThanOrEqual(400);
    expect(stubborn?.received).toEqual(['SIGTERM']);
    expect(outcomes[1]).toMatchObject({ result: 'exited', code: 0, signalsSent: 1 });
  });

  /**
   * Make the system refuse every signal to `child` as it does with EPERM: an 'error' event, synchronously,
   * and false. Own properties go with the test (the cleanup after it kills the child for real).
   */
  function refuseSignals(child: ChildProcess): Array<NodeJS.Signals | number | undefined> {
    const sent: Array<NodeJS.Signals | number | undefined> = [];
    child.kill = (signal?: NodeJS.Signals | number): boolean => {
      sent.push(signal);
      child.emit('error', Object.assign(new Error('kill EPERM'), { code: 'EPERM', errno: -1, syscall: 'kill' }));
      return false;
    };
    refused.push(child);
    return sent;
  }
  const refused: ChildProcess[] = [];
  afterEach(() => {
    for (const child of refused.splice(0)) delete (child as { kill?: unknown }).kill; // the prototype's kill again
  });

  it('does not throw when the system refuses the signals (EPERM, an error event on the child): the child is reported unresponsive', async () => {
    const run = await startStoppable('exit');
    const sent = refuseSignals(run.child);
    const outcomes = await stopChildren([run.child], { timeoutMs: 300 });
    expect(sent).toEqual(['SIGTERM', 'SIGKILL']);
    expect(outcomes[0]).toMatchObject({ result: 'unresponsive', signalsSent: 2, elapsedMs: null });
    expect(run.received).toEqual([]);
  });

  it('does not throw for a cluster worker either, whose process re-emits the error on the worker', async () => {
    const run = await startStoppable('exit');
    const sent = refuseSignals(run.child);
    // What cluster does: the worker passes its process's 'error' events on, and has no listener itself.
    const worker = Object.assign(new EventEmitter(), { process: run.child });
    run.child.on('error', (err: Error) => worker.emit('error', err));
    const outcomes = await stopChildren([worker as never], { timeoutMs: 300 });
    expect(sent).toEqual(['SIGTERM', 'SIGKILL']);
    expect(outcomes[0]).toMatchObject({ result: 'unresponsive', signalsSent: 2 });
  });

  it('sends a child given twice one signal, and reports it under both entries', async () => {
    const run = await startStoppable('exit');
    const outcomes = await stopChildren([run.child, run.child], { timeoutMs: 5000 });
    expect(outcomes.map((o) => o.result)).toEqual(['exited', 'exited']);
    expect(outcomes.map((o) => o.signalsSent)).toEqual([1, 1]);
    expect(run.received).toEqual(['SIGTERM']);
  });

  it('reports a child that had already exited without signalling it', async () => {
    const run = await startStoppable('exit');
    run.child.kill('SIGKILL');
    await new Promise((resolve) => run.child.once('exit', resolve));
    const [outcome] = await stopChildren([run.child]);
    expect(outcome).toMatchObject({ result: 'already-exited', signal: 'SIGKILL', signalsSent: 0, elapsedMs: 0 });
  });

  it('rejects invalid arguments at the call site', () => {
    expect(() => stopChildren([{} as never])).toThrow('Invalid option children[0]: {}. Expected a ChildProcess (child_process) or a cluster Worker.');
    expect(() => stopChildren('x' as never)).toThrow('Invalid option children: "x".');
    expect(() => stopChildren([], { signal: 'SIGNOPE' as never })).toThrow('Invalid option signal: "SIGNOPE". Expected a signal name');
    expect(() => stopChildren([], { timeoutMs: 1.5 })).toThrow('Invalid option timeoutMs: 1.5.');
    expect(() => stopChildren([], { timeout: 1 } as never)).toThrow('Invalid option timeout: 1. Expected one of the stopChildren options: signal, timeoutMs.');
  });
});
