/**
 * timberlock/winston: a winston transport that appends to one rotating file shared by many processes.
 *
 * This entry loads winston-transport (an optional peer dependency, installed with winston); the main
 * `timberlock` entry never does.
 */
import TransportStream from 'winston-transport';
import { TimberlockOptionError } from '../errors.js';
import { KNOWN_OPTIONS, ownProperties, PLAIN_OPTIONS, rejectUnknownKeys } from '../options.js';
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

/** winston's own transport options, checked at construction: winston itself takes any value and fails later. */
function checkTransportOptions(options: Pick<RotatingFileTransportOptions, (typeof TRANSPORT_KEYS)[number]>): void {
  const { level, format, silent, handleExceptions, handleRejections } = options;
  // null is "not set", as winston takes it.
  if (level != null && (typeof level !== 'string' || level === '')) {
    throw new TimberlockOptionError('level', level, "a level name of the logger's, such as 'info'");
  }
  if (format != null && typeof (format as { transform?: unknown }).transform !== 'function') {
    throw new TimberlockOptionError('format', format, 'a winston format, such as winston.format.json()');
  }
  for (const [name, value] of Object.entries({ silent, handleExceptions, handleRejections })) {
    if (value != null && typeof value !== 'boolean') throw new TimberlockOptionError(name, value, 'true or false');
  }
}

/** What winston hands to log(): the info object with its symbol-keyed fields. */
type Info = Record<string | symbol, unknown>;

type Listener = (...args: unknown[]) => void;

/** A winston handler's listeners on this transport, as registered (once() wrappers). */
interface HandlerListeners {
  finish: Listener[];
  error: Listener[];
}

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
 * synchronously and the handler is told on the next turn of the event loop that the transport is done,
 * so the process exits without winston's 3 s wait (or, with `exitOnError: false`, goes on logging
 * through this transport).
 *
 * I/O problems never reach winston: the file keeps the data and retries, and reports on `file`
 * ('error', 'warning' events, `stats()`), or as a process warning when nobody listens there.
 *
 * @throws TimberlockOptionError for an invalid file option (the message names option, value and what is allowed).
 */
export class RotatingFileTransport extends TransportStream {
  /** The rotating file this transport writes to; listen here for 'rotate', 'warning', 'error'. */
  readonly file: RotatingFile;
  /**
   * winston's exception and rejection handlers waiting for this transport to say it is done, whose crash
   * entry did not come in the run that marked them (held up in its logger's pipe): one group per run, oldest first.
   */
  private waitingRuns: HandlerListeners[][] = [];
  /** Whether a crash entry came in the current synchronous run. */
  private crashEntryInRun = false;
  /**
   * The handlers that marked this transport in the current synchronous run, in order. The last one may
   * still be adding listeners: `before` holds the listeners there were when it began, until it is closed.
   */
  private runMarks: { handler: HandlerListeners; before: HandlerListeners | null }[] = [];

  constructor(options: RotatingFileTransportOptions) {
    // Each option read once, from the object itself: a getter runs once, and a class instance is refused
    // (its prototype's options would be missed), as createRotatingFile does.
    const own = ownProperties('options', options, PLAIN_OPTIONS);
    rejectUnknownKeys(own, [...KNOWN_OPTIONS, ...TRANSPORT_KEYS], '');
    const { level, format, silent, handleExceptions, handleRejections, ...fileOptions } = own as unknown as RotatingFileTransportOptions;
    checkTransportOptions({ level, format, silent, handleExceptions, handleRejections });
    super({ level, format, silent, handleExceptions, handleRejections });
    this.file = createRotatingFile(fileOptions);
    // A level the logger does not have would silently drop every entry: refused when the logger adds this
    // transport (createLogger, logger.add), the first moment its levels are known. The logger has piped to
    // it by then: it lets go of it again (winston-transport then closes it, and so the file).
    this.on('pipe', (logger: NodeJS.ReadableStream & { levels?: Record<string, number> }) => {
      const { levels } = logger;
      if (typeof this.level !== 'string' || levels === undefined || Object.hasOwn(levels, this.level)) return;
      logger.unpipe(this);
      throw new TimberlockOptionError('level', this.level, `one of the logger's levels: ${Object.keys(levels).join(', ')}`);
    });
    // A handler sets `_ending`, adds its two listeners and logs its crash entry, in one synchronous run
    // (twice over when this transport is also among the logger's exception handlers; in turn when several
    // loggers share it).
    Object.defineProperty(this, '_ending', {
      configurable: true,
      get: () => this.runMarks.length > 0 || this.waitingRuns.length > 0,
      set: (ending: boolean) => {
        if (!ending) return;
        if (this.runMarks.length === 0) queueMicrotask(() => this.endRun());
        this.closeLastMark();
        this.runMarks.push({ handler: { finish: [], error: [] }, before: { finish: this.listenersOf('finish'), error: this.listenersOf('error') } });
      },
    });
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
    // A crash entry of a kind this transport handles: winston-transport passes rejection entries to every
    // transport, and only a handler of that kind marked this one.
    const crash = (info.exception === true && this.handleExceptions === true) || (info.rejection === true && this.handleRejections === true);
    if (!crash) return;
    // A crash entry: of the last handler that marked this transport in this run, or else of the run that
    // has waited longest (every handler of it: see endRun).
    this.closeLastMark();
    const mark = this.runMarks.pop();
    if (mark) this.crashEntryInRun = true;
    for (const handler of mark ? [mark.handler] : (this.waitingRuns.shift() ?? [])) this.handOverToWinston(handler);
  }

  /** The last handler of this run has added its listeners: the ones added since it began are its own. */
  private closeLastMark(): void {
    const mark = this.runMarks.at(-1);
    if (!mark?.before) return;
    for (const event of ['finish', 'error'] as const) {
      for (const listener of this.listenersOf(event)) if (!mark.before[event].includes(listener)) mark.handler[event].push(listener);
    }
    mark.before = null;
  }

  /**
   * The synchronous run is over. Its marks are all of one crash (one 'uncaughtException' or
   * 'unhandledRejection' emit), but a crash may bring fewer entries than marks: winston marks this
   * transport once for every pipe of the logger that carries it with the matching flag, and a transport
   * among both the exceptionHandlers and the rejectionHandlers carries both flags, so the other kind's
   * wrapper marks it too and never forwards the entry. So once one entry of the crash has come, every
   * handler of the run is done; until then, they wait for it together.
   */
  private endRun(): void {
    this.closeLastMark();
    const handlers = this.runMarks.map((mark) => mark.handler);
    this.runMarks = [];
    if (this.crashEntryInRun) for (const handler of handlers) this.handOverToWinston(handler);
    else if (handlers.length > 0) this.waitingRuns.push(handlers);
    this.crashEntryInRun = false;
  }

  /**
   * A winston exception/rejection handler marked this transport as ending, added a 'finish' and an
   * 'error' listener, and logged its crash entry: it waits for 'finish' to exit the process (when
   * `exitOnError` says so; otherwise it waits in vain, and its listeners stay). The entry goes to disk
   * now; the handler's 'error' listener is removed, and its 'finish' listener is removed and called on
   * the next turn, once the logger's other transports have had the entry and the process's other
   * crash listeners have run (winston exits from it). Emitting 'finish' itself would also unpipe this
   * transport from the logger, which loses every later entry when winston does not exit. Whether it
   * exits stays winston's decision alone.
   */
  private handOverToWinston(handler: HandlerListeners): void {
    this.file.flushSync();
    for (const listener of handler.error) this.removeListener('error', listener);
    for (const listener of handler.finish) this.removeListener('finish', listener);
    setImmediate(() => {
      for (const listener of handler.finish) listener.call(this);
    });
  }

  /** The listeners of `event` as registered (once() wrappers included, which remove themselves when called). */
  private listenersOf(event: 'finish' | 'error'): Listener[] {
    return this.rawListeners(event) as Listener[];
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

}

/** A line for an entry that no finalizing format (json, simple, printf …) has turned into text. */
function fallbackLine(info: Info): string {
  try {
    return JSON.stringify(info);
  } catch {
    // A BigInt or circular field: as logform's json() writes them (a BigInt as its digits, a reference to an
    // enclosing object as "[Circular]"), so that the other fields (a timestamp) stay in the line.
    try {
      return JSON.stringify(info, withoutCycles());
    } catch {
      // A getter or toJSON() that throws: keep the essentials rather than lose the entry.
      return JSON.stringify({ level: String(info.level), message: String(info.message) });
    }
  }
}

/** A JSON.stringify() replacer that writes a BigInt as its digits and a reference to an enclosing object as "[Circular]". */
function withoutCycles(): (this: unknown, key: string, value: unknown) => unknown {
  const enclosing: unknown[] = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value !== 'object' || value === null) return value;
    // `this` is the object holding `value`: the objects above it on the stack are its ancestors.
    while (enclosing.length > 0 && enclosing.at(-1) !== this) enclosing.pop();
    if (enclosing.includes(value)) return '[Circular]';
    enclosing.push(value);
    return value;
  };
}
