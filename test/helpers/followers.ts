/**
 * Real log followers for the shipper tests: a private rsyslogd (imfile only) and GNU `tail -F`, each
 * copying what it reads from the active file into an output file. Both are child processes of the
 * test; stopFollowers() (call it in afterEach) SIGKILLs whatever is still running.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killAndWait } from './child.js';

/** A running follower. */
export interface Follower {
  pid: number;
  /** Where it writes every line it reads. */
  output: string;
  /** Terminate it (SIGTERM, SIGKILL after 10 s) and wait for its exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it printed on stdout/stderr so far (last 4000 characters). */
  messages(): string;
  /** Its nice value once started (FOLLOWER_NICE where permitted, else what it inherited). */
  priority: number | null;
  /** CPU time (user + system, ms) it has used so far; null once it has exited. */
  cpuMs(): number | null;
}

/**
 * Nice value given to followers. A follower that tracks the active name must open each new file before
 * the next rotation moves it away; one starved of CPU for longer than a period (a 2-core CI machine
 * running other test files, a 1 s period) misses a whole file whoever wrote it. Production shippers are
 * not starved like that, so the tests give them the precedence a system daemon would have.
 */
const FOLLOWER_NICE = -10;

/** spawn() a command through `nice`, which sets the priority of the whole process (all its future threads) and execs it. */
function spawnNiced(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn('nice', ['-n', String(FOLLOWER_NICE), command, ...args], options);
}

function priorityOf(pid: number): number | null {
  try {
    return os.getPriority(pid);
  } catch {
    return null; // it has exited
  }
}

function cpuMsOf(pid: number): number | null {
  try {
    // Fields after the command name: state is [0], utime [11], stime [12], in clock ticks (100 per second).
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null; // it has exited
  }
}

const running = new Set<ChildProcess>();

/** Whether `name` is on PATH. */
export function haveCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** SIGKILL every follower still running and wait for the exits. */
export async function stopFollowers(): Promise<void> {
  await killAndWait(running);
}

/** Poll (every 20 ms) until `pid` has `file` open, or throw after deadlineMs. */
export async function waitUntilOpen(pid: number, file: string, deadlineMs: number, describe: () => string): Promise<void> {
  const until = Date.now() + deadlineMs;
  const fdDir = `/proc/${pid}/fd`;
  for (;;) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(fdDir);
    } catch {
      // The process is gone (or not started yet): the deadline below reports it with its messages.
    }
    for (const fd of names) {
      let target = '';
      try {
        target = fs.readlinkSync(path.join(fdDir, fd));
      } catch {
        // The descriptor was closed between readdir and readlink: look at the others.
      }
      if (target === file) return;
    }
    if (Date.now() > until) throw new Error(`process ${pid} did not open ${file} within ${deadlineMs} ms\n${describe()}`);
    await sleep(20);
  }
}

function track(child: ChildProcess, output: string, pidOf: () => number): Follower {
  running.add(child);
  let messages = '';
  const collect = (chunk: Buffer): void => {
    messages = (messages + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const pid = child.pid ?? 0;
  return {
    pid,
    output,
    messages: () => messages,
    priority: null,
    cpuMs: () => cpuMsOf(pid),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(pidOf(), 'SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const result = await exited;
        clearTimeout(killer);
        return result;
      }
      return exited;
    },
  };
}

/**
 * The configuration of a private rsyslogd that follows exactly one file: imfile (inotify, the static
 * active name, its own ruleset) into an omfile action writing each line as read (%rawmsg%). No network
 * input, no system log socket (imuxsock and imklog are not loaded), its own work directory, and a main
 * queue that blocks instead of discarding when it is full.
 */
export function rsyslogConfig(options: { follow: string; output: string; workDirectory: string }): string {
  for (const value of Object.values(options)) {
    if (/["\\\n]/.test(value)) throw new Error(`rsyslogConfig: unsupported character in ${value}`);
  }
  return [
    `global(workDirectory="${options.workDirectory}" maxMessageSize="64k")`,
    `main_queue(queue.type="LinkedList" queue.size="500000" queue.discardSeverity="8" queue.timeoutEnqueue="600000")`,
    `module(load="imfile" mode="inotify")`,
    `template(name="rawLine" type="string" string="%rawmsg%\\n")`,
    `ruleset(name="followed") {`,
    `  action(type="omfile" file="${options.output}" template="rawLine")`,
    `}`,
    `input(type="imfile" file="${options.follow}" tag="app" ruleset="followed" addMetadata="on" reopenOnTruncate="on")`,
    '',
  ].join('\n');
}

/**
 * Start `rsyslogd -n -f <conf> -i <pidfile>` following `follow` (which must exist), after
 * `rsyslogd -N1` has validated the configuration. Resolves once rsyslogd has the file open.
 */
export async function startRsyslog(options: { follow: string; output: string; dir: string }): Promise<Follower> {
  const workDirectory = path.join(options.dir, 'work');
  fs.mkdirSync(workDirectory, { recursive: true });
  const conf = path.join(options.dir, 'rsyslog.conf');
  const pidFile = path.join(options.dir, 'rsyslogd.pid');
  fs.writeFileSync(conf, rsyslogConfig({ follow: options.follow, output: options.output, workDirectory }));
  const check = spawnSync('rsyslogd', ['-N1', '-f', conf], { encoding: 'utf8', timeout: 20_000 });
  if (check.status !== 0) {
    throw new Error(`rsyslogd -N1 rejected ${conf} (status ${check.status}):\n${check.stdout}${check.stderr}`);
  }
  const child = spawnNiced('rsyslogd', ['-n', '-f', conf, '-i', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Stop it by the pid its pid file names (the same process: -n keeps it in the foreground). Before the
  // pid file exists, the child's own pid is the same process.
  const pidOf = (): number => {
    const text = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : '';
    return /^\d+$/.test(text) ? Number(text) : (child.pid ?? 0);
  };
  const follower = track(child, options.output, pidOf);
  await waitUntilOpen(child.pid ?? 0, options.follow, 15_000, follower.messages);
  follower.priority = priorityOf(follower.pid);
  return follower;
}

/** Start GNU `tail -F -n +1 <follow>` (from the first byte), its stdout going to `output`. */
export async function startTail(options: { follow: string; output: string }): Promise<Follower> {
  const out = fs.openSync(options.output, 'w');
  const child = spawnNiced('tail', ['-F', '-n', '+1', options.follow], { stdio: ['ignore', out, 'pipe'] });
  fs.closeSync(out);
  const follower = track(child, options.output, () => child.pid ?? 0);
  await waitUntilOpen(child.pid ?? 0, options.follow, 15_000, follower.messages);
  follower.priority = priorityOf(follower.pid);
  return follower;
}

/**
 * Poll a follower's output (every 100 ms) until it stops growing: no growth for quietMs once it holds
 * at least expectedBytes, or no growth for giveUpMs below that (lines that will never come), or the
 * deadline. Returns the final size and how long it took.
 */
export async function waitUntilQuiet(
  file: string,
  options: { expectedBytes: number; quietMs: number; giveUpMs: number; deadlineMs: number },
): Promise<{ bytes: number; waitedMs: number; reason: 'quiet' | 'gave-up' | 'deadline' }> {
  const start = Date.now();
  let size = -1;
  let since = start;
  for (;;) {
    const now = Date.now();
    const current = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
    if (current !== size) {
      size = current;
      since = now;
    }
    const still = now - since;
    if (size >= options.expectedBytes && still >= options.quietMs) return { bytes: size, waitedMs: now - start, reason: 'quiet' };
    if (still >= options.giveUpMs) return { bytes: size, waitedMs: now - start, reason: 'gave-up' };
    if (now - start >= options.deadlineMs) return { bytes: size, waitedMs: now - start, reason: 'deadline' };
    await sleep(100);
  }
}

/** Total size of the non-hidden regular files of dir (what a follower should copy at most). */
export function bytesOnDisk(dir: string): number {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .reduce((n, e) => n + fs.statSync(path.join(dir, e.name)).size, 0);
}
