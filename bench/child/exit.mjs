// Exit safety, in a fresh process: log `lines` lines in one synchronous loop, then, at once:
//   exit            process.exit(0)
//   sigterm         SIGTERM to itself, the app has no handler (the default action, or whatever the
//                   libraries loaded installed)
//   sigterm-handler SIGTERM to itself, the app's handler calls process.exit(0)
//   handle-signals  SIGTERM to itself with timberlock's handleSignals() installed (timberlock only)
// run.mjs then counts the lines that reached the file.
// Usage: node exit.mjs <destination> <dir> <scenario> <lines>
import { DESTINATIONS, distUrl } from '../lib/destinations.mjs';

const [name, dir, scenario, count] = process.argv.slice(2);
const dest = await DESTINATIONS[name].open(dir, { rotateMs: null });
if (scenario === 'sigterm-handler') process.on('SIGTERM', () => process.exit(0));
if (scenario === 'handle-signals') {
  const { handleSignals } = await import(distUrl('index.js'));
  handleSignals({ exitCode: 0 });
}

for (let seq = 0; seq < Number(count); seq++) dest.write('w0', seq);
if (scenario === 'exit') process.exit(0);
process.kill(process.pid, 'SIGTERM');
// Stay alive: only the signal (or a handler) may end this process.
setTimeout(() => process.exit(3), 5000);
