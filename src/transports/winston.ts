/**
 * timberlock/winston: a winston transport that appends to one rotating file shared by many processes.
 *
 * This entry loads winston-transport (an optional peer dependency, installed with winston); the main
 * `timberlock` entry never does.
 */
import TransportStream from 'winston-transport';
import { TimberlockOptionError } from '../errors.js';
import { createRotatingFile, type RotatingFile } from '../rotating-file.js';
import type { RotatingFileOptions } from '../types.js';

/** winston's key of the finished line (the same symbol as triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/** Options of winston-transport that this transport takes itself; every other key goes to the file. */
const TRANSPORT_KEYS = ['level', 'format', 'silent', 'handleExceptions', 'handleRejections'] as const;

/**
 * Options of {@link RotatingFileTransport}: those of `createRotatingFile` (path, frequency, timeZone …)
 * plus winston's usual transport options.
 */
export interface RotatingFileTransportOptions
  extends RotatingFileOptions,
    Pick<TransportStream.TransportStreamOptions, (typeof TRANSPORT_KEYS)[number]> {}

/** What winston hands to log(): the info object with its symbol-keyed fields. */
type Info = Record<string | symbol, unknown>;

/**
 * A winston transport that writes each entry's formatted line (`info[MESSAGE]`, produced by the
 * logger's or the transport's format) to a timberlock {@link RotatingFile}: one active file shared by
 * every process that logs to the same path, rotated by time by exactly one of them per boundary.
 *
 * On disk it behaves exactly like `createRotatingFile(options)`: the active file keeps its name,
 * archives appear next to it, lines of concurrent processes never tear.
 *
 * Shutdown: `logger.end()` ends the transport, which flushes and closes the file; the logger's
 * 'finish' event therefore means every line is on disk. When winston handles an uncaught exception
 * or an unhandled rejection (`handleExceptions` / `handleRejections`), the error line is written
 * synchronously and 'finish' is emitted at once, so the process exits without winston's 3 s wait.
 *
 * I/O problems never reach winston: the file keeps the data and retries, and reports on `file`
 * ('error', 'warning' events, `stats()`), or as a process warning when nobody listens there.
 *
 * @throws TimberlockOptionError for an invalid file option (the message names option, value and what is allowed).
 */
export class RotatingFileTransport extends TransportStream {
  /** The rotating file this transport writes to; listen here for 'rotate', 'warning', 'error'. */
  readonly file: RotatingFile;

  constructor(options: RotatingFileTransportOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TimberlockOptionError('options', options, 'an object with at least a path');
    }
    const { level, format, silent, handleExceptions, handleRejections, ...fileOptions } = options;
    super({ level, format, silent, handleExceptions, handleRejections });
    this.file = createRotatingFile(fileOptions);
  }

  /**
   * Queue one entry's line in the file. winston calls it with exactly (info, callback); a third
   * parameter would make winston treat this as a legacy transport.
   */
  override log(info: Info, callback: () => void): void {
    const line = info[MESSAGE];
    this.file.write(typeof line === 'string' ? line : fallbackLine(info));
    setImmediate(() => this.emit('logged', info));
    callback();
    if (this.isEnding()) {
      // winston's exception/rejection handler marks its transports as ending and, when it is about to
      // exit the process, waits for 'finish': put the line on disk now and let it go. When it is not
      // exiting (exitOnError false), 'finish' would unpipe this transport from the logger and every later
      // entry would be lost: the mark is cleared instead.
      this.file.flushSync();
      if (this.winstonExits(info)) this.emit('finish');
      else (this as unknown as { _ending?: boolean })._ending = false;
    }
  }

  /** Whether the logger exits after this exception or rejection entry, as winston decides it (exitOnError). */
  private winstonExits(info: Info): boolean {
    const exitOnError = (this as unknown as { parent?: { exitOnError?: unknown } }).parent?.exitOnError;
    if (typeof exitOnError !== 'function') return exitOnError !== false;
    try {
      return Boolean((exitOnError as (err: unknown) => unknown)((info as { error?: unknown }).error));
    } catch {
      return true;
    }
  }

  /** Runs on `transport.end()` (from `logger.end()`): flush every line to disk and close the file. */
  override _final(callback: (error?: Error | null) => void): void {
    this.file.close().then(
      () => callback(),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  /**
   * Called by winston when the transport is removed from its logger (`logger.remove()`, `clear()`,
   * `close()`): closes the file (flushing what is buffered). Lines written afterwards are still
   * appended, synchronously.
   */
  override close(): void {
    void this.file.close();
  }

  /** Set by winston's exception and rejection handlers on the transports they wait for. */
  private isEnding(): boolean {
    return (this as unknown as { _ending?: boolean })._ending === true;
  }
}

/** A line for an entry that no finalizing format (json, simple, printf …) has turned into text. */
function fallbackLine(info: Info): string {
  try {
    return JSON.stringify(info);
  } catch {
    // A circular or BigInt field: keep the essentials rather than lose the entry.
    return JSON.stringify({ level: String(info.level), message: String(info.message) });
  }
}
