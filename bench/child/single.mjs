// One single-process burst, in a fresh process: N lines written in one synchronous loop, return values
// ignored (as a logger does), then end() and wait until every line reached the kernel.
// Prints one JSON line (see ../lib/burst.mjs).
// Usage: node single.mjs <destination> <dir> <lines>
import { timedBurst } from '../lib/burst.mjs';
import { DESTINATIONS } from '../lib/destinations.mjs';

const [name, dir, count] = process.argv.slice(2);
const dest = await DESTINATIONS[name].open(dir, { rotateMs: null });
await timedBurst(Number(count), (seq) => dest.write('w0', seq), () => dest.end());
