/**
 * timberlock/pino: pino writes to one rotating file shared by many processes, either from a worker
 * thread (`pino.transport({ target: 'timberlock/pino', options })`) or from the main thread
 * (`pino(destination(options))`).
 *
 * This entry never loads pino itself; the worker-thread target uses pino-abstract-transport.
 */
import build from 'pino-abstract-transport';
import { RotatingFile, createRotatingFile } from '../rotating-file.js';
import type { RotatingFileOptions } from '../types.js';

/** Options of the pino transport target: exactly those of `createRotatingFile`. */
export type PinoTransportOptions = RotatingFileOptions;

/** Keys pino's thread-stream adds to a target's options; they are not file options. */
const PINO_KEYS = ['$context', 'pinoWillSendConfig'] as const;

/**
 * The pino transport target. pino runs it in a worker thread when given
 * `pino.transport({ target: 'timberlock/pino', options })`; `options` are those of createRotatingFile.
 *
 * Every line pino sends is appended to the shared rotating file; rotation happens inside the worker
 * like in any other writer. When the transport ends (pino ends it on process exit, on `process.exit()`
 * too, and `transport.end()` does it explicitly) the file is flushed and closed before the worker
 * reports that it is done, so every line is on disk when the process is gone.
 *
 * @throws TimberlockOptionError (it surfaces as the transport's 'error') for an invalid option.
 */
export default async function timberlockTransport(options: PinoTransportOptions) {
  const fileOptions: Record<string, unknown> = { ...options };
  for (const key of PINO_KEYS) delete fileOptions[key];
  const file = createRotatingFile(fileOptions as unknown as RotatingFileOptions);
  return build(
    async (source: AsyncIterable<string>) => {
      for await (const line of source) {
        // Backpressure: stop reading until the file has written its backlog. (Not events.once(): its
        // 'error' listener would turn a retried I/O error into the end of the transport.)
        if (!file.write(`${line}\n`)) await new Promise((resolve) => file.once('drain', resolve));
      }
    },
    {
      parse: 'lines',
      // The lines are written as they came: skip the JSON.parse the default parser would do.
      parseLine: (line: string) => line,
      metadata: false,
      close: async () => {
        await file.close();
      },
    },
  );
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
