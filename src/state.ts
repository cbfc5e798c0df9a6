/**
 * The state sidecar (`.<name>.state`): which period the active file belongs to and its inode.
 * Written only under the rotation lock, read by everyone.
 */
import fs from 'node:fs';

/** Contents of the state file. */
export interface RotationState {
  /** Start (epoch ms) of the period the active file belongs to. */
  periodStart: number;
  /** Inode of the active file when the state was written. */
  ino: number;
  /** Size of the file when it holds no line yet (its header line, if any). Absent: 0. */
  emptySize?: number;
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
  try {
    const data = JSON.parse(text) as Partial<RotationState>;
    if (Number.isFinite(data.periodStart) && Number.isFinite(data.ino)) {
      const emptySize = Number.isFinite(data.emptySize) ? (data.emptySize as number) : 0;
      return { periodStart: data.periodStart as number, ino: data.ino as number, emptySize };
    }
  } catch {
    // Not JSON: the file was written by something else. Treated like a missing state, as documented above.
  }
  return null;
}

/**
 * Write the state atomically: a temp file next to it, then rename over the old state.
 * A crash before the rename leaves the old state and a stray temp file (removed by the next writer's
 * rename of its own temp; names are per process); after the rename the new state is complete.
 */
export function writeState(statePath: string, state: RotationState, mode: number): void {
  const temp = `${statePath}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify({ ...state, pid: process.pid, writtenAt: Date.now() }) + '\n', { mode });
  fs.renameSync(temp, statePath);
}
