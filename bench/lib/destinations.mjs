// The file destinations the benchmark compares, each behind the same small interface:
//
//   const dest = await DESTINATIONS[name].open(dir, { rotateMs })
//   dest.write(writer, seq)   -> false when the destination asks the producer to slow down
//   await dest.drained()      -> resolves when it may write again
//   await dest.end()          -> resolves when every line has been handed to the kernel
//
// `rotateMs` null: the destination's daily rotation (no boundary is crossed during a run).
// `rotateMs` a number: rotate every that many ms (multiples of 1000 for peers that name files by second).
// Every destination writes into `dir`; the active file is `dir/app.log` where the library lets us choose.
import { once } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { line, message } from './lines.mjs';

const require = createRequire(import.meta.url);
const MESSAGE = Symbol.for('message');
const LEVEL = Symbol.for('level');
const RAW_BATCH_BYTES = 64 * 1024;

/**
 * The timberlock build under test: ../../dist (what `npm run build` produces), or the directory in
 * TIMBERLOCK_BENCH_DIST (run.mjs --dist), e.g. a copy kept still while dist/ is being rebuilt.
 */
export function distUrl(entry) {
  const dir = process.env.TIMBERLOCK_BENCH_DIST;
  const base = dir ? pathToFileURL(`${path.resolve(dir)}/`) : new URL('../../dist/', import.meta.url);
  return new URL(entry, base).href;
}

/** Version of an installed package, for the results file. */
export function versionOf(pkg) {
  const main = require.resolve(pkg);
  let dir = path.dirname(main);
  while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== pkg) {
    dir = path.dirname(dir);
  }
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
}

export const DESTINATIONS = {
  raw: {
    label: 'raw writeSync (64 KiB batches)',
    package: null,
    rotates: false,
    /** The baseline: lines copied into a 64 KiB buffer, one fs.writeSync per full buffer, O_APPEND fd. */
    async open(dir) {
      const fd = fs.openSync(path.join(dir, 'app.log'), 'a');
      const buffer = Buffer.allocUnsafe(RAW_BATCH_BYTES);
      let used = 0;
      const flush = () => {
        for (let off = 0; off < used; ) off += fs.writeSync(fd, buffer, off, used - off);
        used = 0;
      };
      return {
        write(writer, seq) {
          const text = line(writer, seq);
          if (used + text.length > RAW_BATCH_BYTES) flush(); // the lines are ASCII: length is bytes
          used += buffer.write(text, used, 'latin1');
          return true;
        },
        drained: () => Promise.resolve(),
        async end() {
          flush();
          fs.closeSync(fd);
        },
      };
    },
  },

  timberlock: {
    label: 'timberlock',
    package: null,
    rotates: true,
    open: (dir, opts) => openTimberlock(dir, opts, {}),
  },

  'timberlock-sync': {
    label: 'timberlock sync:true',
    package: null,
    rotates: true,
    open: (dir, opts) => openTimberlock(dir, opts, { sync: true }),
  },

  'sonic-boom': {
    label: 'sonic-boom',
    package: 'sonic-boom',
    rotates: false,
    async open(dir) {
      const { default: SonicBoom } = await import('sonic-boom');
      const stream = new SonicBoom({ dest: path.join(dir, 'app.log'), append: true, mkdir: true });
      await once(stream, 'ready');
      return sonicHandle(stream);
    },
  },

  'pino-roll': {
    label: 'pino-roll',
    package: 'pino-roll',
    rotates: true,
    async open(dir, { rotateMs }) {
      const { default: roll } = await import('pino-roll');
      const stream = await roll({ file: path.join(dir, 'app'), extension: '.log', frequency: rotateMs ?? 'daily', mkdir: true });
      if (stream.fd < 0) await once(stream, 'ready');
      return sonicHandle(stream);
    },
  },

  'rotating-file-stream': {
    label: 'rotating-file-stream',
    package: 'rotating-file-stream',
    rotates: true,
    async open(dir, { rotateMs }) {
      const { createStream } = await import('rotating-file-stream');
      const name = (time, index) => {
        if (!time) return 'app.log';
        const stamp = time.toISOString().replace(/[:.]/g, '-');
        return `app.${stamp}.${index ?? 0}.log`;
      };
      const stream = createStream(name, {
        path: dir,
        interval: rotateMs ? `${rotateMs / 1000}s` : '1d',
        intervalBoundary: true,
        intervalUTC: true,
      });
      await once(stream, 'open');
      return {
        write: (writer, seq) => stream.write(line(writer, seq)),
        drained: () => once(stream, 'drain'),
        async end() {
          const finished = once(stream, 'finish');
          stream.end();
          await finished;
        },
      };
    },
  },

  'winston-daily-rotate-file': {
    label: 'winston-daily-rotate-file',
    package: 'winston-daily-rotate-file',
    rotates: true,
    async open(dir, { rotateMs }) {
      const { default: DailyRotateFile } = await import('winston-daily-rotate-file');
      const transport = new DailyRotateFile({
        dirname: dir,
        filename: 'app-%DATE%.log',
        datePattern: rotateMs ? 'YYYY-MM-DD-HH-mm-ss' : 'YYYY-MM-DD',
        utc: true,
        eol: '\n',
      });
      const noop = () => {};
      return {
        // What winston does for every entry (its Writable plumbing aside): transport.log(info, cb).
        write(writer, seq) {
          const text = message(writer, seq);
          transport.log({ level: 'info', message: text, [LEVEL]: 'info', [MESSAGE]: text }, noop);
          return true;
        },
        drained: () => Promise.resolve(),
        async end() {
          const finished = once(transport, 'finish');
          transport.close();
          await finished;
        },
      };
    },
  },

  log4js: {
    label: 'log4js dateFile',
    package: 'log4js',
    rotates: true,
    async open(dir, { rotateMs }) {
      const { default: log4js } = await import('log4js');
      log4js.configure({
        appenders: {
          file: {
            type: 'dateFile',
            filename: path.join(dir, 'app.log'),
            pattern: rotateMs ? 'yyyy-MM-dd-hh-mm-ss' : 'yyyy-MM-dd',
            keepFileExt: true,
            numBackups: 1_000_000, // log4js keeps 1 backup by default: keep every archive, as the other libraries do
            layout: { type: 'messagePassThrough' },
          },
        },
        categories: { default: { appenders: ['file'], level: 'info' } },
      });
      const logger = log4js.getLogger();
      // log4js reports its appender's backpressure as a process event.
      let paused = false;
      process.on('log4js:pause', (value) => {
        paused = value;
      });
      return {
        write(writer, seq) {
          logger.info(message(writer, seq));
          return !paused;
        },
        drained: () => new Promise((resolve) => process.once('log4js:pause', resolve)),
        end: () => new Promise((resolve) => log4js.shutdown(resolve)),
      };
    },
  },
};

async function openTimberlock(dir, { rotateMs, ...extra }, mode) {
  const { createRotatingFile } = await import(distUrl('index.js'));
  const file = createRotatingFile({ path: path.join(dir, 'app.log'), frequency: rotateMs ?? 'daily', timeZone: 'UTC', ...mode, ...extra });
  return {
    file,
    write: (writer, seq) => file.write(line(writer, seq)),
    drained: () => once(file, 'drain'),
    end: () => file.close(),
  };
}

function sonicHandle(stream) {
  return {
    write: (writer, seq) => stream.write(line(writer, seq)),
    drained: () => once(stream, 'drain'),
    async end() {
      const closed = once(stream, 'close');
      stream.end();
      await closed;
    },
  };
}
