// pino with timberlock in a worker thread (pino.transport). Run: node examples/pino.mjs
import pino from 'pino';

const transport = pino.transport({
  target: 'timberlock/pino',
  options: { path: 'logs/app.log', frequency: 'daily', timeZone: 'UTC' },
});
const logger = pino(transport);

logger.info({ port: 3000 }, 'service started');
logger.warn({ freeMb: 512 }, 'disk almost full');

// Nothing else to do: on exit (process.exit() too) pino ends the transport, which flushes and
// closes the file before the process is gone.
