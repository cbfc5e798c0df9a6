/**
 * The library's test hooks (see testHook in src/rotation.ts): a function called at named steps of the protocol,
 * which may throw there to simulate an I/O failure at that step.
 */
import type { RotatingFile } from '../../src/index.js';

const HOOKS = Symbol.for('timberlock.testHooks');

/** rotate(), with the first step under the lock failing (EIO, simulated): starts an error episode. */
export async function rotateFailingUnderLock(file: RotatingFile): Promise<boolean> {
  const hooks = globalThis as Record<symbol, unknown>;
  hooks[HOOKS] = {
    at(step: string) {
      if (step === 'locked') throw Object.assign(new Error('EIO: i/o error (simulated)'), { code: 'EIO' });
    },
  };
  try {
    return await file.rotate();
  } finally {
    hooks[HOOKS] = undefined;
  }
}
