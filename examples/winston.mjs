// winston with timberlock as its file transport. Run: node examples/winston.mjs
import winston from 'winston';
import { RotatingFileTransport } from 'timberlock/winston';

const logger = winston.createLogger({
  level: 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [
    new RotatingFileTransport({
      path: 'logs/app.log',
      frequency: 'daily',
      timeZone: 'UTC',
      handleExceptions: true, // the crash line is written before winston exits the process
      handleRejections: true,
    }),
  ],
});

logger.info('service started', { pid: process.pid });
logger.warn('disk almost full', { freeMb: 512 });

// Shutdown: the logger's 'finish' means every line is on disk.
logger.on('finish', () => console.log('all lines are in logs/app.log'));
logger.end();
