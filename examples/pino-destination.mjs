// pino writing from the main thread, without a worker. Run: node examples/pino-destination.mjs
import pino from 'pino';
import { destination } from 'timberlock/pino';

const logger = pino(destination({ path: 'logs/app.log', frequency: 'daily', timeZone: 'UTC' }));

logger.info({ port: 3000 }, 'service started');
logger.warn({ freeMb: 512 }, 'disk almost full');

// The file flushes itself synchronously when the process exits; logger.flush(cb) works too.
logger.flush(() => console.log('all lines are in logs/app.log'));
