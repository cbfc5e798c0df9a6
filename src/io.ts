/**
 * File system steps written once and run two ways. The rotation protocol is a generator that yields the
 * system calls it needs (`yield* io.stat(file)`) and gets their results back; `runSync` makes each call
 * synchronously (process exit, start-up: nothing may be left for later), `runAsync` hands each to libuv's
 * thread pool so that a rotation never blocks the event loop. Both see the same steps in the same order,
 * and an error is thrown into the generator at the step that failed, so its try/catch works as in plain code.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

/** link(2) failed because this file system has no hard links (the callers rename instead, after a check). */
export function noHardLinks(code: string | undefined): boolean {
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV';
}

/** One system call. `stat` and `readText` answer null for a missing file instead of throwing ENOENT. */
export type Op =
  | { kind: 'stat'; path: string }
  | { kind: 'readText'; path: string }
  | { kind: 'readdir'; path: string }
  | { kind: 'writeFile'; path: string; text: string; mode: number }
  | { kind: 'open'; path: string; flags: number; mode: number }
  | { kind: 'fstat'; fd: number }
  | { kind: 'close'; fd: number }
  | { kind: 'write'; fd: number; text: string }
  | { kind: 'link'; from: string; to: string }
  | { kind: 'unlink'; path: string }
  | { kind: 'rename'; from: string; to: string };

/** A sequence of steps that ends with a T. */
export type Io<T> = Generator<Op, T, unknown>;

export function* stat(path: string): Io<fs.Stats | null> {
  return (yield { kind: 'stat', path }) as fs.Stats | null;
}
export function* readText(path: string): Io<string | null> {
  return (yield { kind: 'readText', path }) as string | null;
}
export function* readdir(path: string): Io<string[]> {
  return (yield { kind: 'readdir', path }) as string[];
}
export function* writeFile(path: string, text: string, mode: number): Io<void> {
  yield { kind: 'writeFile', path, text, mode };
}
export function* open(path: string, flags: number, mode = 0o666): Io<number> {
  return (yield { kind: 'open', path, flags, mode }) as number;
}
export function* fstat(fd: number): Io<fs.Stats> {
  return (yield { kind: 'fstat', fd }) as fs.Stats;
}
export function* close(fd: number): Io<void> {
  yield { kind: 'close', fd };
}
export function* write(fd: number, text: string): Io<number> {
  return (yield { kind: 'write', fd, text }) as number;
}
export function* link(from: string, to: string): Io<void> {
  yield { kind: 'link', from, to };
}
export function* unlink(path: string): Io<void> {
  yield { kind: 'unlink', path };
}
export function* rename(from: string, to: string): Io<void> {
  yield { kind: 'rename', from, to };
}

/** Run every step synchronously. */
export function runSync<T>(steps: Io<T>): T {
  let next = steps.next();
  while (!next.done) {
    let result: unknown;
    try {
      result = call(next.value, 'sync');
    } catch (err) {
      next = steps.throw(err);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

/** Run every step on libuv's thread pool; the event loop is free between (and during) the steps. */
export async function runAsync<T>(steps: Io<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    let result: unknown;
    try {
      result = await call(next.value, 'async');
    } catch (err) {
      next = steps.throw(err);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

type OpOf<K extends Op['kind']> = Extract<Op, { kind: K }>;

/** The callback API as promises (node:fs/promises works with FileHandles, the writer with descriptors). */
const later = {
  stat: promisify(fs.stat),
  readFile: promisify(fs.readFile),
  readdir: promisify(fs.readdir),
  writeFile: promisify(fs.writeFile),
  open: promisify(fs.open),
  fstat: promisify(fs.fstat),
  close: promisify(fs.close),
  write: promisify(fs.write),
  link: promisify(fs.link),
  unlink: promisify(fs.unlink),
  rename: promisify(fs.rename),
};

/** Each system call both ways, side by side. */
const CALLS: { [K in Op['kind']]: { sync(op: OpOf<K>): unknown; async(op: OpOf<K>): Promise<unknown> } } = {
  stat: {
    sync: (op) => fs.statSync(op.path, { throwIfNoEntry: false }) ?? null,
    async: (op) => missingAsNull(later.stat(op.path)),
  },
  readText: {
    sync: (op) => missingAsNull(() => fs.readFileSync(op.path, 'utf8')),
    async: (op) => missingAsNull(later.readFile(op.path, 'utf8')),
  },
  readdir: { sync: (op) => fs.readdirSync(op.path), async: (op) => later.readdir(op.path) },
  writeFile: {
    sync: (op) => fs.writeFileSync(op.path, op.text, { mode: op.mode }),
    async: (op) => later.writeFile(op.path, op.text, { mode: op.mode }),
  },
  open: { sync: (op) => fs.openSync(op.path, op.flags, op.mode), async: (op) => later.open(op.path, op.flags, op.mode) },
  fstat: { sync: (op) => fs.fstatSync(op.fd), async: (op) => later.fstat(op.fd) },
  close: { sync: (op) => fs.closeSync(op.fd), async: (op) => later.close(op.fd) },
  write: {
    sync: (op) => fs.writeSync(op.fd, op.text),
    async: async (op) => (await later.write(op.fd, op.text)).bytesWritten,
  },
  link: { sync: (op) => fs.linkSync(op.from, op.to), async: (op) => later.link(op.from, op.to) },
  unlink: { sync: (op) => fs.unlinkSync(op.path), async: (op) => later.unlink(op.path) },
  rename: { sync: (op) => fs.renameSync(op.from, op.to), async: (op) => later.rename(op.from, op.to) },
};

function call(op: Op, how: 'sync'): unknown;
function call(op: Op, how: 'async'): Promise<unknown>;
function call(op: Op, how: 'sync' | 'async'): unknown {
  const calls = CALLS[op.kind] as { sync(op: Op): unknown; async(op: Op): Promise<unknown> };
  return how === 'sync' ? calls.sync(op) : calls.async(op);
}

/** `stat` and `readText` answer null for a missing file. */
function missingAsNull<T>(work: Promise<T>): Promise<T | null>;
function missingAsNull<T>(work: () => T): T | null;
function missingAsNull<T>(work: Promise<T> | (() => T)): Promise<T | null> | T | null {
  const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';
  if (typeof work !== 'function') return work.catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
  try {
    return work();
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}
