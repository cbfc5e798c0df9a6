/**
 * examples/pm2/ under the real pm2 (a devDependency), with a private PM2_HOME in a temporary directory.
 * Each test starts the example's ecosystem through a wrapper that only moves its cwd into the test's
 * directory (the example's own relative LOG_PATH then lands there) and gives the app its own name, then
 * takes it through `pm2 start`, `stop`, `restart`, `reload` and `delete`, checking the log after each.
 * afterAll runs `pm2 kill`, then SIGKILLs whatever still carries the PM2_HOME in its environment.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killChildren, runNode } from './helpers/child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PM2 = path.join(ROOT, 'node_modules/.bin/pm2');
const EXAMPLE = path.join(ROOT, 'examples/pm2/ecosystem.config.cjs');

let dir: string;
let home: string;
/** LOG_PATH in the environment of every `pm2` command: the ecosystem's env must win, so nothing lands here. */
let shellLogPath: string;

type Line = Record<string, unknown>;
/** pid by NODE_APP_INSTANCE, for one generation of the app's 4 instances. */
type Instances = Map<number, number>;
interface Pm2Process {
  pid: number;
  name: string;
  pm2_env: { status: string; exec_mode: string; NODE_APP_INSTANCE: number };
}

/** Run `pm2 <args>` with the private PM2_HOME, under this Node; throws on a non-zero exit. */
async function pm2(...args: string[]): Promise<string> {
  const env = { ...process.env, PM2_HOME: home, PM2_DISABLE_VERSION_CHECK: 'true', LOG_PATH: shellLogPath };
  const result = await runNode([PM2, ...args], { cwd: dir, env, timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`pm2 ${args.join(' ')} exited with ${result.code}\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`);
  return result.stdout;
}

async function list(name: string): Promise<Pm2Process[]> {
  return (JSON.parse(await pm2('jlist')) as Pm2Process[]).filter((p) => p.name === name);
}

/**
 * Write an ecosystem file for the example's app under `name`, run from `cwd` (so its log is
 * `cwd`/logs/app.log), with `options` on top; returns its path.
 */
function ecosystem(name: string, cwd: string, options: Record<string, unknown> = {}): string {
  fs.mkdirSync(cwd, { recursive: true });
  const file = path.join(cwd, 'ecosystem.config.cjs');
  fs.writeFileSync(
    file,
    `const { apps: [app] } = require(${JSON.stringify(EXAMPLE)});\n` +
      `const script = require('node:path').resolve(app.cwd, app.script);\n` +
      `module.exports = { apps: [{ ...app, name: ${JSON.stringify(name)}, cwd: ${JSON.stringify(cwd)}, script, ...${JSON.stringify(options)} }] };\n`,
  );
  return file;
}

/** The lines in `logs`: archives in name order (a run may cross midnight), then app.log; a torn line throws. */
function jsonLines(logs: string): Line[] {
  const names = fs.readdirSync(logs).filter((name) => !name.startsWith('.') && name !== 'app.log').sort();
  return [...names, 'app.log']
    .flatMap((name) => fs.readFileSync(path.join(logs, name), 'utf8').split('\n').slice(0, -1))
    .map((line) => JSON.parse(line) as Line);
}

/** Poll (every 50 ms, for at most 30 s) until `ready()` holds; a throw (a line being written) counts as not yet. */
async function waitFor(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if (ready()) return;
    } catch {
      // The log is not there yet, or ends in a line still being written: look again.
    }
    if (Date.now() > deadline) throw new Error(`not within 30 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The 4 instances of `name` are online in cluster mode, NODE_APP_INSTANCE 0 … 3, each with a line in `logs`. */
async function onlineInstances(name: string, logs: string): Promise<Instances> {
  const procs = await list(name);
  expect(procs.map((p) => [p.pm2_env.exec_mode, p.pm2_env.status])).toEqual(Array(4).fill(['cluster_mode', 'online']));
  const instances: Instances = new Map(procs.map((p) => [p.pm2_env.NODE_APP_INSTANCE, p.pid]));
  expect([...instances.keys()].sort()).toEqual([0, 1, 2, 3]);
  const pids = new Set(instances.values());
  await waitFor('a line from each instance', () => new Set(jsonLines(logs).map((l) => l.pid).filter((pid) => pids.has(pid as number))).size === 4);
  return instances;
}

/**
 * Each pid of `instances` has logged 'instance started', seq 0 … n-1 once each and in order, then one
 * 'instance stopping' line saying n, with its own NODE_APP_INSTANCE on every line.
 */
function expectStopped(lines: Line[], instances: Instances): void {
  for (const [instance, pid] of instances) {
    const own = lines.filter((l) => l.pid === pid);
    expect(new Set(own.map((l) => l.instance)), `pid ${pid} instance`).toEqual(new Set([instance]));
    expect(own[0]?.message, `pid ${pid} first line`).toBe('instance started');
    expect(own.filter((l) => l.message === 'instance stopping'), `pid ${pid} closing lines`).toHaveLength(1);
    const closing = own.at(-1)!;
    expect(closing.message, `pid ${pid} last line`).toBe('instance stopping');
    const n = closing.lines as number;
    expect(own.slice(1, -1).map((l) => l.seq), `pid ${pid} lines`).toEqual(Array.from({ length: n }, (_, i) => i));
  }
}

/** pm2.log, the daemon's own log, from byte `from` on. */
function pm2Log(from = 0): string {
  const file = path.join(home, 'pm2.log');
  return fs.existsSync(file) ? fs.readFileSync(file).subarray(from).toString('utf8') : '';
}

/** Processes started under our PM2_HOME (the daemon, the instances): every one carries it in its environment. */
function processesOfHome(): number[] {
  const mine: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.startsWith('Z')) continue; // exited, not yet reaped
      if (fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`PM2_HOME=${home}`)) mine.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return mine;
}

/**
 * `pm2 start`, `stop`, `restart` (of the stopped app), `reload` (online: each old instance overlaps
 * its new one on the file), `restart` (online) and `delete` for the example's app as `name`, run from
 * `cwd`, with `options` on top of the example's; every instance's log is checked once it has stopped.
 */
async function lifecycle(name: string, cwd: string, options: Record<string, unknown> = {}): Promise<void> {
  const logs = path.join(cwd, 'logs');
  const pm2LogStart = Buffer.byteLength(pm2Log());
  const generations: Instances[] = [];

  await pm2('start', ecosystem(name, cwd, options));
  generations.push(await onlineInstances(name, logs));

  await pm2('stop', name);
  expect((await list(name)).map((p) => p.pm2_env.status)).toEqual(Array(4).fill('stopped'));
  expectStopped(jsonLines(logs), generations[0]!);

  await pm2('restart', name); // stopped: pm2 starts them
  generations.push(await onlineInstances(name, logs));

  // Online: each instance's replacement starts, and the old one is stopped once the new one has sent
  // 'ready'; the two append to the same file meanwhile.
  const beforeReload = Buffer.byteLength(pm2Log());
  await pm2('reload', name);
  const reloaded = await onlineInstances(name, logs);
  const lines = jsonLines(logs);
  const old = generations.at(-1)!;
  expectStopped(lines, old);
  // By the time each line was logged (winston's timestamp), not by where it landed in the file: the new
  // process's first line may reach the file after the old one's last, when its flush is a moment late.
  const loggedAt = (pid: number | undefined, which: 'first' | 'last'): number => {
    const own = lines.filter((l) => l.pid === pid);
    return Date.parse(String((which === 'first' ? own[0] : own.at(-1))?.timestamp));
  };
  for (const [instance, pid] of reloaded) {
    expect(pid, `instance ${instance} has a new process`).not.toBe(old.get(instance));
    expect(loggedAt(pid, 'first'), `instance ${instance}: its new process logged before the old one's last line`).toBeLessThanOrEqual(
      loggedAt(old.get(instance), 'last'),
    );
  }
  // pm2 got 'ready' from each new instance: it did not wait listen_timeout for them.
  expect(pm2Log(beforeReload).match(/-reload- New worker listening/g) ?? []).toHaveLength(4);
  generations.push(reloaded);

  await pm2('restart', name); // online: pm2 stops them, then starts them again
  expectStopped(jsonLines(logs), generations.at(-1)!);
  generations.push(await onlineInstances(name, logs));

  await pm2('delete', name);
  expect(await list(name)).toEqual([]);
  const final = jsonLines(logs);
  for (const instances of generations) expectStopped(final, instances);
  expect(new Set(final.map((l) => l.pid)).size).toBe(16);
  expect(fs.existsSync(path.dirname(shellLogPath)), 'a file at the shell’s LOG_PATH').toBe(false);
  const daemon = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'));
  expect(processesOfHome(), 'processes left under PM2_HOME').toEqual([daemon]);

  // Every instance exited by itself, with code 0: pm2 never had to SIGKILL one after kill_timeout.
  const exited = new RegExp(`App \\[${name}:\\w+\\] exited with code \\[0\\]`, 'g');
  await waitFor('pm2 has logged 16 exits', () => pm2Log(pm2LogStart).match(exited)?.length === 16);
  expect(pm2Log(pm2LogStart)).not.toMatch(/still alive after|sending SIGKILL/);
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-pm2-'));
  home = path.join(dir, 'home');
  shellLogPath = path.join(dir, 'shell-env/app.log');
});

afterAll(async () => {
  killChildren();
  try {
    // `pm2 kill` without a daemon would start one to stop it: only when a test left one running.
    if (processesOfHome().length > 0) await pm2('kill');
  } finally {
    killChildren();
    for (const pid of processesOfHome()) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);

describe('examples/pm2 under the real pm2', () => {
  it('stopped with SIGINT (stop, reload, restart, delete), every instance logs seq 0 … n-1 once and in order, then its closing line with lines: n, and pm2 sends no SIGKILL', async () => {
    await lifecycle('api', path.join(dir, 'signal'));
  }, 120_000);

  it('stopped with the message \'shutdown\' (shutdown_with_message: true), every instance logs seq 0 … n-1 once and in order, then its closing line with lines: n, and pm2 sends no SIGKILL', async () => {
    await lifecycle('api-message', path.join(dir, 'message'), { shutdown_with_message: true });
  }, 120_000);
});
