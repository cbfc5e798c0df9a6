// Running benchmark children: one fresh Node process per measurement.
import { fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const childScript = (name) => fileURLToPath(new URL(`../child/${name}.mjs`, import.meta.url));

/**
 * Run `child/<script>.mjs args…` to its end and return { code, signal, result, stderr }, where result
 * is the JSON object on the last line of its stdout (null if there is none). A child still running
 * after `timeoutMs` is killed (SIGKILL) and reported with `timedOut: true`.
 */
export function runChild(script, args, { env, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [childScript(script), ...args.map(String)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr += data));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop() ?? '';
      let result = null;
      try {
        result = last.startsWith('{') ? JSON.parse(last) : null;
      } catch {
        result = null;
      }
      resolve({ code, signal, result, stderr: stderr.trim(), timedOut });
    });
  });
}

/**
 * Fork `count` copies of `child/<script>.mjs` (args from `argsFor(i)`), wait until each has said it is
 * ready, send them all the same start time (`startAt(now)`), and collect each one's final message.
 * Rejects if a child exits without reporting, or after `timeoutMs`.
 */
export async function runGroup(script, count, argsFor, { env, startAt, timeoutMs = 120_000 }) {
  const children = Array.from({ length: count }, (_, i) =>
    fork(childScript(script), argsFor(i).map(String), { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }),
  );
  const stderr = children.map(() => '');
  children.forEach((child, i) => child.stderr.on('data', (data) => (stderr[i] += data)));
  const timer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), timeoutMs);
  try {
    await Promise.all(children.map((child, i) => nextMessage(child, () => stderr[i])));
    const start = startAt(Date.now());
    const results = await Promise.all(
      children.map((child, i) => {
        const done = nextMessage(child, () => stderr[i]);
        child.send({ startAt: start });
        return done;
      }),
    );
    await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((r) => child.once('exit', r)) : null)));
    return { startAt: start, results };
  } finally {
    clearTimeout(timer);
  }
}

function nextMessage(child, stderr) {
  return new Promise((resolve, reject) => {
    const onExit = (code, signal) => reject(new Error(`a benchmark child exited (${code ?? signal}) without reporting: ${stderr().slice(-2000)}`));
    child.once('exit', onExit);
    child.once('message', (message) => {
      child.off('exit', onExit);
      resolve(message);
    });
  });
}
