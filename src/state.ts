/**
 * The state sidecar (`.<name>.state`): which period the active file belongs to and its inode.
 * Written only under the rotation lock, read by everyone.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Contents of the state file. */
export interface RotationState {
  /** Start (epoch ms) of the period the active file belongs to. */
  periodStart: number;
  /** Inode of the active file when the state was written. */
  ino: number;
  /** Size of the file when it holds no line yet (its header line, if any). Absent: 0. */
  emptySize?: number;
  /**
   * The next period's file, made at its boundary under the staged name (`.<name>.next`) so that lines of
   * the new period can be written at once, while the active file keeps its name for settleMs more. Absent
   * once that file is under the active name (see rotation.ts, stageNext and publishStaged).
   */
  next?: StagedFile;
  /**
   * The inode of the active file a process found deleted (rm) when it made this one in its place, or found
   * replaced by this one (renamed over it) when it took it: the other processes that wrote to it count the
   * lines they wrote there since they last saw it as dropped.
   */
  deleted?: number;
}

/** A file made ahead of its publication under the active name. */
export interface StagedFile {
  periodStart: number;
  ino: number;
  emptySize: number;
}

/**
 * Read the state file. Returns null when it is missing or unreadable as state (a torn or foreign file
 * is treated as "no state": the active file's mtime decides instead).
 */
export function readState(statePath: string): RotationState | null {
  let text: string;
  try {
    text = fs.readFileSync(statePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseState(text);
}

/** The state a state file's text describes, or null (see readState). */
export function parseState(text: string): RotationState | null {
  try {
    const data = JSON.parse(text) as Partial<RotationState>;
    if (Number.isFinite(data.periodStart) && Number.isFinite(data.ino)) {
      const emptySize = Number.isFinite(data.emptySize) ? (data.emptySize as number) : 0;
      const state: RotationState = { periodStart: data.periodStart as number, ino: data.ino as number, emptySize };
      const next = data.next as Partial<StagedFile> | undefined;
      if (next && Number.isFinite(next.periodStart) && Number.isFinite(next.ino)) {
        state.next = { periodStart: next.periodStart as number, ino: next.ino as number, emptySize: Number.isFinite(next.emptySize) ? (next.emptySize as number) : 0 };
      }
      if (Number.isFinite(data.deleted)) state.deleted = data.deleted as number;
      return state;
    }
  } catch {
    // Not JSON: the file was written by something else. Treated like a missing state, as documented above.
  }
  return null;
}

/**
 * The state is written atomically: this text goes to a temp file next to it (`stateTempPath`), which is
 * then renamed over the old state. A crash before the rename leaves the old state and a stray temp file
 * (archive maintenance removes it once stale); after the rename the state is complete.
 */
export function stateText(state: RotationState): string {
  return JSON.stringify({ ...state, pid: process.pid, writtenAt: Date.now() }) + '\n';
}

/**
 * What makes this thread's state temp names its own: the pid, for whoever reads the directory, and a random
 * token, because the pid alone is shared by the worker threads of a process and, on a shared volume, by
 * containers that each have their own pid namespace. When two threads or processes hold the lock at once
 * (one that stalled past staleMs and the one that took over), neither writes or renames the other's temp
 * file. Two files on one path in one thread (a pino destination and a winston transport, say) share the
 * name; both hold the lock only if the thread itself stalled past staleMs and a rotation of the one that
 * held it was still under way on the thread pool when the other took it.
 */
const TEMP_TOKEN = `${process.pid}-${randomBytes(4).toString('hex')}`;

/** The temp file this thread writes a new state to before renaming it over `statePath`. */
export function stateTempPath(statePath: string): string {
  return `${statePath}.${TEMP_TOKEN}.tmp`;
}

/**
 * Whether `name` is a state temp file ({@link stateTempPath}) of the active file `activeName`: one left by
 * a process that died between writing it and renaming it. Archive maintenance removes it once stale.
 */
export function isStateTempName(activeName: string, name: string): boolean {
  const prefix = `.${activeName}.state.`;
  // `<pid>.tmp`: the names of versions before the random token.
  return name.startsWith(prefix) && /^\d+(?:-[0-9a-f]{8})?\.tmp$/.test(name.slice(prefix.length));
}

/**
 * The temp name under which one RotatingFile makes a new active file and writes its header before the file
 * gets the active name (rotation.ts, prepareActive): `.<name>.new.<pid>-<token>.tmp`, the token random per
 * RotatingFile, so that two holders at once (one that stalled past staleMs and the one that took over,
 * threads and files of one process included) never link or remove each other's file.
 */
export function newFileTempPath(dir: string, activeName: string): string {
  return path.join(dir, `.${activeName}.new.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Whether `name` is a {@link newFileTempPath} of the active file `activeName`: one left by a process that
 * stopped in the middle of a rotation (a header at most, or a second name of a file that has the active name
 * or an archive name). Archive maintenance removes it once stale.
 */
export function isNewFileTempName(activeName: string, name: string): boolean {
  const prefix = `.${activeName}.new.`;
  return name.startsWith(prefix) && /^\d+-[0-9a-f]{8}\.tmp$/.test(name.slice(prefix.length));
}
