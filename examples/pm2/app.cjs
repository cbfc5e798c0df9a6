// One pm2 instance (CommonJS). pm2 runs 4 of them; every one appends to the same file.
const winston = require('winston');
const { RotatingFileTransport } = require('timberlock/winston');

const logger = winston.createLogger({
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  defaultMeta: { instance: Number(process.env.NODE_APP_INSTANCE ?? 0), pid: process.pid },
  transports: [new RotatingFileTransport({ path: process.env.LOG_PATH ?? 'logs/app.log', frequency: 'daily' })],
});
logger.info('instance started');
process.send?.('ready'); // wait_ready: on reload, pm2 stops the old instance once this one is ready

let seq = 0;
const timer = setInterval(() => logger.info('request handled', { seq: seq++ }), 10);

// pm2 stops an instance with SIGINT, or with the message 'shutdown' under shutdown_with_message
// (then SIGKILL after kill_timeout).
let stopping = false;
function shutdown() {
  if (stopping) return; // a second signal must not start a second shutdown
  stopping = true;
  clearInterval(timer);
  logger.info('instance stopping', { lines: seq });
  logger.on('finish', () => process.exit(0)); // every line is on disk
  logger.end();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
process.on('message', (message) => {
  if (message === 'shutdown') shutdown();
});
