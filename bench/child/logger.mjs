// One logger burst, in a fresh process: N entries through a logger in one synchronous loop, then the
// logger's own way of ending, awaited until every entry is in the file.
// Prints one JSON line (see ../lib/burst.mjs).
// Usage: node logger.mjs <logger> <dir> <lines>
import { timedBurst } from '../lib/burst.mjs';
import { LOGGERS } from '../lib/loggers.mjs';

const [name, dir, count] = process.argv.slice(2);
const logger = await LOGGERS[name].open(dir);
await timedBurst(Number(count), (seq) => logger.log('w0', seq), () => logger.end());
