/**
 * Errors thrown or emitted by timberlock (every error carries a stable `code`), and how they are printed
 * when nothing else can be done with them.
 */
import fs from 'node:fs';
import { inspect } from 'node:util';

/** Base class of the errors timberlock creates itself. */
export class TimberlockError extends Error {
  /** Stable machine-readable code, e.g. 'ERR_TIMBERLOCK_OPTION'. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * An option passed to timberlock is invalid. Thrown at construction, never later. The message names the
 * option, the value that was given and what is allowed.
 */
export class TimberlockOptionError extends TimberlockError {
  /** The option's name as the user wrote it, e.g. 'frequency' or 'lock.staleMs'. */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;

  constructor(option: string, value: unknown, allowed: string) {
    super('ERR_TIMBERLOCK_OPTION', `Invalid option ${option}: ${describeValue(value)}. Expected ${allowed}${/[.?]$/.test(allowed) ? '' : '.'}`);
    this.option = option;
    this.value = value;
  }
}

/** A short printable form of any value, for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  // Arrays and objects shortly, as the code that passed them reads (getters are not called).
  const shown = inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 6, maxStringLength: 40 });
  return shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN - 1)}…` : shown;
}

/** Characters of an array or object an error message shows at most. */
const MAX_SHOWN = 80;

/**
 * Write `text` to stderr synchronously, for a process that is ending (no later tick will come). A closed
 * or broken stderr is no reason to fail: there is nowhere left to say it.
 */
export function printToStderr(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch {
    // Nowhere left to say it.
  }
}


/**
 * An error nobody listens for, as a process warning (`TimberlockWarning`, printed to stderr by Node). While
 * the process ends (`ending`), Node would print it on a tick that never comes: it is printed here instead,
 * in Node's format.
 */
export function emitAsProcessWarning(error: { code: string; message: string }, ending = false): void {
  if (!ending) process.emitWarning(error.message, { code: error.code, type: 'TimberlockWarning' });
  else if (!warningsSilenced()) printToStderr(`(node:${process.pid}) [${error.code}] TimberlockWarning: ${error.message}\n`);
}

/** Node prints no process warning under `--no-warnings` or NODE_NO_WARNINGS=1: nor does emitAsProcessWarning. */
function warningsSilenced(): boolean {
  return process.env.NODE_NO_WARNINGS === '1' || process.execArgv.includes('--no-warnings') || /(?:^|\s)--no-warnings(?:\s|$)/.test(process.env.NODE_OPTIONS ?? '');
}
