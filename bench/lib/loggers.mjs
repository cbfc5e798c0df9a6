// The logger → destination pairs the benchmark compares, behind one interface:
//
//   const logger = await LOGGERS[name].open(dir)
//   logger.log(writer, seq)   one entry whose message is the benchmark line (lines.mjs)
//   await logger.end()        resolves when every entry is in the file
//
// `extract` (JSON line → message) lets the verifier check every line that the logger wrapped.
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { distUrl } from './destinations.mjs';
import { message } from './lines.mjs';

const fileOptions = (dir) => ({ path: path.join(dir, 'app.log'), frequency: 'daily', timeZone: 'UTC' });
const pinoMessage = (text) => jsonField(text, 'msg');
const winstonMessage = (text) => jsonField(text, 'message');

export const LOGGERS = {
  'pino>timberlock': {
    label: 'pino → timberlock destination (main thread)',
    extract: pinoMessage,
    async open(dir) {
      const { default: pino } = await import('pino');
      const { destination } = await import(distUrl('pino.js'));
      const dest = destination(fileOptions(dir));
      const logger = pino(dest);
      return {
        log: (writer, seq) => logger.info(message(writer, seq)),
        async end() {
          await new Promise((resolve) => logger.flush(resolve));
          await dest.close();
        },
      };
    },
  },

  'pino>timberlock-worker': {
    label: 'pino → timberlock/pino transport (worker)',
    extract: pinoMessage,
    async open(dir) {
      const { default: pino } = await import('pino');
      return pinoTransport(pino, fileURLToPath(distUrl('pino.js')), fileOptions(dir));
    },
  },

  'pino>sonic-boom': {
    label: 'pino → pino.destination (sonic-boom)',
    extract: pinoMessage,
    async open(dir) {
      const { default: pino } = await import('pino');
      const dest = pino.destination({ dest: path.join(dir, 'app.log'), sync: false });
      await once(dest, 'ready');
      const logger = pino(dest);
      return {
        log: (writer, seq) => logger.info(message(writer, seq)),
        async end() {
          const closed = once(dest, 'close');
          dest.end();
          await closed;
        },
      };
    },
  },

  'pino>pino-roll': {
    label: 'pino → pino-roll transport (worker)',
    extract: pinoMessage,
    async open(dir) {
      const { default: pino } = await import('pino');
      return pinoTransport(pino, 'pino-roll', { file: path.join(dir, 'app'), extension: '.log', frequency: 'daily', mkdir: true });
    },
  },

  'winston>timberlock': {
    label: 'winston → timberlock/winston',
    extract: winstonMessage,
    async open(dir) {
      const { RotatingFileTransport } = await import(distUrl('winston.js'));
      return winstonLogger(new RotatingFileTransport(fileOptions(dir)));
    },
  },

  'winston>winston-daily-rotate-file': {
    label: 'winston → winston-daily-rotate-file',
    extract: winstonMessage,
    async open(dir) {
      const { default: DailyRotateFile } = await import('winston-daily-rotate-file');
      const transport = new DailyRotateFile({ dirname: dir, filename: 'app-%DATE%.log', datePattern: 'YYYY-MM-DD', utc: true });
      // Its file stream is ended (and flushed) by close(), which winston calls once the logger finished.
      const flushed = once(transport, 'finish').then(() => once(transport, 'finish'));
      return winstonLogger(transport, flushed);
    },
  },
};

async function pinoTransport(pino, target, options) {
  const transport = pino.transport({ target, options });
  await once(transport, 'ready');
  const logger = pino(transport);
  return {
    log: (writer, seq) => logger.info(message(writer, seq)),
    async end() {
      // The transport's worker does not keep the process alive: hold it open until 'close'.
      const keepAlive = setInterval(() => {}, 1000);
      const closed = once(transport, 'close');
      transport.end();
      await closed;
      clearInterval(keepAlive);
    },
  };
}

async function winstonLogger(transport, flushed = null) {
  const { default: winston } = await import('winston');
  const logger = winston.createLogger({ transports: [transport] });
  return {
    log: (writer, seq) => logger.info(message(writer, seq)),
    async end() {
      const finished = once(logger, 'finish');
      logger.end();
      await finished;
      if (flushed) await flushed;
    },
  };
}

/** The message of a JSON log line; null for a line that is not ours; undefined for a broken line. */
function jsonField(text, key) {
  let entry;
  try {
    entry = JSON.parse(text);
  } catch {
    return undefined; // not JSON: a torn or merged line
  }
  return typeof entry[key] === 'string' && entry[key].startsWith('w') ? entry[key] : null;
}
