/**
 * Runs Node child processes for the adapter tests: real processes, bounded in time, and killed by
 * killChildren() (call it in afterEach) if a test ends while they still run.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Date.now() when the process exited. */
  exitedAt: number;
  /** From spawn to exit. */
  ms: number;
}

const running = new Set<ChildProcess>();

/**
 * Start `node <args>` and resolve when it exits. Rejects (after SIGKILL) when it runs longer than
 * timeoutMs, with its output in the message.
 */
export function runNode(
  args: string[],
  options: SpawnOptions & { timeoutMs: number; onSpawn?: (child: ChildProcess) => void },
): Promise<ChildResult> {
  const { timeoutMs, onSpawn, ...spawnOptions } = options;
  const started = Date.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  running.add(child);
  onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} still running after ${timeoutMs} ms\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(err);
    });
    child.on('close', (code, signal) => {
      const exitedAt = Date.now();
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr, exitedAt, ms: exitedAt - started });
    });
  });
}

/** SIGKILL every child started by runNode that is still running. */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** The last stdout line that parses as JSON. */
/** SIGKILL every child of `children` still running, empty the set, and wait for their exits. */
export async function killAndWait(children: Set<ChildProcess>): Promise<void> {
  const list = [...children];
  children.clear();
  await Promise.all(
    list.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      return exited;
    }),
  );
}

export function lastJson<T>(stdout: string, stderr = ''): T {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line) as T;
    } catch {
      // Not the result line: keep looking further up.
    }
  }
  throw new Error(`no JSON line in the child's output:\n${stdout.slice(-2000)}${stderr ? `\nstderr: ${stderr.slice(-2000)}` : ''}`);
}
