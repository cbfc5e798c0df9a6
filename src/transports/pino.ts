/**
 * timberlock/pino: pino writes to one rotating file shared by many processes, either from a worker
 * thread (`pino.transport({ target: 'timberlock/pino', options })`) or from the main thread
 * (`pino(destination(options))`).
 *
 * This entry never loads pino itself.
 */
import { EventEmitter } from 'node:events';
import { StringDecoder } from 'node:string_decoder';
import { isMainThread, parentPort, type MessagePort } from 'node:worker_threads';
import { emitAsProcessWarning, printToStderr, TimberlockOptionError, type TimberlockError } from '../errors.js';
import { LineCutter } from '../line-cutter.js';
import { RotatingFile, toBuffer } from '../rotating-file.js';
import type { RotatingFileOptions, WarningEvent } from '../types.js';

/** Options of the pino transport target: exactly those of `createRotatingFile`. */
export type PinoTransportOptions = RotatingFileOptions;

/**
 * Keys pino adds to a target's options; they are not file options. `levels` comes with a logger's
 * `customLevels` (or `pino.transport({ levels })`), `dedupe` with `pino.transport({ dedupe })`: the
 * lines arrive already serialized, so neither changes what this target writes.
 */
const PINO_KEYS = ['$context', 'pinoWillSendConfig', 'levels', 'dedupe'] as const;

/**
 * How long end() lets lines held at a boundary wait for the new period's file (another process's
 * rotation takes milliseconds), or a failing disk for its writes, before the file closes: well inside
 * the 10 s pino's worker gives the transport to close on exit. Lines held at a boundary then go to the
 * file being left (counted as late); lines a failing disk refused are counted as dropped.
 */
const END_WAIT_MS = 3000;

/**
 * The pino transport target. pino runs it in a worker thread when given
 * `pino.transport({ target: 'timberlock/pino', options })`; `options` are those of createRotatingFile.
 *
 * Every line pino sends is appended to the shared rotating file; rotation happens inside the worker
 * like in any other writer. When the transport ends (pino ends it on process exit, on `process.exit()`
 * too, and `transport.end()` does it explicitly) the file is flushed and closed before the worker
 * reports that it is done, so every line is on disk when the process is gone.
 *
 * @throws TimberlockOptionError for an invalid option. In pino's worker it reaches the app as the
 *   transport's 'error', a plain Error with the same message (an error loses its class between threads).
 */
export default async function timberlockTransport(options: PinoTransportOptions): Promise<PinoTransportStream> {
  const given = typeof options === 'string' ? options : spreadString(options);
  if (given !== null) throw new TimberlockOptionError('options', given, "an object such as { path: 'logs/app.log' }, not a string");
  // Anything else that is not an object the file refuses, as createRotatingFile does.
  const fileOptions = typeof options === 'object' && options !== null ? withoutPinoKeys(options) : options;
  const file = new RotatingFile(fileOptions, { closeWaitMs: END_WAIT_MS });
  return new PinoTransportStream(file, isMainThread ? null : parentPort);
}

function withoutPinoKeys(options: PinoTransportOptions): RotatingFileOptions {
  const fileOptions: Record<string, unknown> = { ...options };
  for (const key of PINO_KEYS) delete fileOptions[key];
  return fileOptions as unknown as RotatingFileOptions;
}

/**
 * The string that `options` were given as, or null. pino spreads a target's options into the object it
 * hands the worker, so a string arrives as { 0: '/', 1: 'v', … } next to pino's own keys.
 */
function spreadString(options: unknown): string | null {
  if (typeof options !== 'object' || options === null) return null;
  const record = options as Record<string, unknown>;
  const keys = Object.keys(record).filter((key) => !(PINO_KEYS as readonly string[]).includes(key));
  if (keys.length === 0 || keys.some((key, i) => key !== String(i))) return null;
  const characters = keys.map((key) => record[key]);
  return characters.every((c) => typeof c === 'string' && c.length === 1) ? characters.join('') : null;
}

/** The file's events that reach the app's transport object, in the main thread. */
const FORWARDED = ['open', 'rotate', 'archive', 'warning'] as const;

/**
 * What the transport target gives pino's worker thread: a stream that takes pino's output in chunks
 * of any size and appends it to a RotatingFile line by line.
 *
 * pino's worker passes on whatever its shared buffer held, so a chunk may end in the middle of a
 * line; that incomplete line waits here until the chunk that completes it arrives, and end() writes
 * it as a last line. It waits up to `maxBufferBytes` characters, and at least 16 MiB: a line still
 * without its newline past that is dropped whole and counted (DROPPED_LINES), never cut in two.
 * `write()` always returns true: the file bounds what it buffers itself
 * (`maxBufferBytes`, the oldest lines dropped and counted beyond it), and a false would stop pino's
 * worker from reading on until 'drain' — the end of the stream included, so a process could not exit
 * while a failing disk or a rotation held the lines. `flush()` resolves once the whole lines are in the
 * file. end() writes the rest, flushes and closes the file, then emits 'close'. I/O errors stay the
 * file's (it retries them and reports them as its own events), never this stream's: an 'error' here
 * makes pino abandon the transport.
 *
 * In pino's worker (`port`: the worker's parentPort), the file's 'open', 'rotate', 'archive' and
 * 'warning' events are passed to the transport object the app holds, through pino's worker protocol;
 * its I/O errors as 'warning' events with the code 'IO_ERROR' (an 'error' on the transport means it
 * failed). The app's thread may be blocked in its exit (pino waits there for the worker): warnings are also
 * written to stderr while the stream ends, and lines dropped (DROPPED_LINES) always, so that they are
 * never silent.
 */
export class PinoTransportStream extends EventEmitter {
  private readonly file: RotatingFile;
  private readonly lines: LineCutter;
  /**
   * In a `pipeline`, pino hands the last stage's output over as bytes, whose chunks may end in the middle
   * of a character: its bytes wait here for the rest.
   */
  private readonly decoder = new StringDecoder('utf8');
  private state: 'open' | 'ending' | 'closed' = 'open';

  constructor(file: RotatingFile, port: MessagePort | null = null) {
    super();
    this.file = file;
    this.lines = new LineCutter((line) => file.write(line), {
      maxLength: file.unfinishedLineLimit,
      onDrop: (length) => file.dropUnfinishedLine(length),
    });
    if (port) this.forwardEvents(port);
  }

  /** Pass the file's events to the app's thread (see the class). */
  private forwardEvents(port: MessagePort): void {
    const post = (name: string, payload: unknown): void => {
      try {
        port.postMessage({ code: 'EVENT', name, args: [payload] });
      } catch {
        // A payload that cannot be cloned (none of timberlock's): the event stays in the worker.
      }
    };
    for (const name of FORWARDED) {
      this.file.on(name, (payload: unknown) => {
        // Lines lost are printed whenever they are told: the app's thread may be blocked in its exit
        // already (pino waits there for this worker), and then never gets the message.
        if (name === 'warning' && (this.state !== 'open' || (payload as WarningEvent).code === 'DROPPED_LINES')) printWarning(this.file.path, payload as WarningEvent);
        post(name, payload);
      });
    }
    this.file.on('error', (error: TimberlockError) => {
      // As without a listener: a process warning (printed to stderr by the worker), and the app is told.
      emitAsProcessWarning(error);
      const warning: WarningEvent = { code: 'IO_ERROR', message: error.message, details: { code: error.code } };
      if (this.state !== 'open') printWarning(this.file.path, warning); // the worker's warning may never be printed
      post('warning', warning);
    });
  }

  /**
   * Append the whole lines of `chunk` (text, or UTF-8 bytes) to the file; keep an incomplete last line
   * for the next chunk. Returns true (see the class). After end(), emits an 'error' with code
   * 'ERR_STREAM_WRITE_AFTER_END' and writes nothing.
   */
  write(chunk: string | Uint8Array): boolean {
    if (this.state !== 'open') {
      const error = Object.assign(new Error('PinoTransportStream: write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' });
      process.nextTick(() => this.emit('error', error));
      return false;
    }
    this.lines.cut(this.text(chunk));
    return true;
  }

  /** `chunk` as text: bytes of a character that the chunk cuts wait for the next one. */
  private text(chunk: string | Uint8Array): string {
    if (typeof chunk === 'string') return this.decoder.end() + chunk; // bytes still waiting (none, as a rule) first
    return this.decoder.write(toBuffer(chunk));
  }

  /**
   * Resolve (and call `callback`) once every whole line written so far has reached the file. pino's
   * worker calls it for `logger.flush(cb)` once it has handed over everything logged before. While writes
   * fail the callback comes at once, without the error: pino's worker takes an error here for the
   * transport's death. The lines are kept and retried, and the failure reaches the app as an IO_ERROR
   * warning.
   */
  flush(callback?: (error?: Error | null) => void): Promise<void> {
    return this.file.flush(callback && (() => callback(null)));
  }

  /**
   * Write `chunk` (if given) and the incomplete last line (as a line of its own), flush and close the
   * file, then emit 'close'. Calling it again does nothing.
   */
  end(chunk?: string | Uint8Array): this {
    if (this.state !== 'open') return this;
    if (chunk !== undefined) this.lines.cut(this.text(chunk));
    this.lines.cut(this.decoder.end());
    this.state = 'ending';
    const rest = this.lines.rest();
    if (rest !== '') this.file.write(rest);
    // pino's worker (thread-stream) waits 10 s for 'close', then terminates this thread with whatever is
    // still in memory: this file's close() waits END_WAIT_MS at most, not fallbackMs (staleMs + 2 s).
    this.file.close().then(
      () => this.finish(null),
      (err: Error) => this.finish(err),
    );
    return this;
  }

  private finish(error: Error | null): void {
    this.state = 'closed';
    if (error) this.emit('error', error);
    this.emit('close');
  }
}

/** A warning of the worker's file while the stream ends, on stderr (synchronously: the thread may end next). */
function printWarning(file: string, warning: WarningEvent): void {
  printToStderr(`timberlock/pino ${file}: ${warning.code}: ${warning.message}\n`);
}

/**
 * A {@link RotatingFile} that pino accepts as its destination in the main thread:
 * `pino(destination({ path: 'logs/app.log', frequency: 'daily' }))`.
 *
 * A RotatingFile has what pino expects of a stream (`writable`, `write(string)`, `flush(callback)`),
 * so `pino(createRotatingFile(...))` works as well; this class only names that use.
 */
export class PinoDestination extends RotatingFile {}

/**
 * Create a main-thread pino destination writing to a shared rotating file. Same options, same
 * behaviour on disk as `createRotatingFile`.
 *
 * @throws TimberlockOptionError for an invalid option.
 */
export function destination(options: RotatingFileOptions): PinoDestination {
  return new PinoDestination(options);
}
