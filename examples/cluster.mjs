// node:cluster: 4 workers append to ONE file. Run: node examples/cluster.mjs, stop with Ctrl-C or
// `kill <primary pid>`: each worker logs its last line, closes the file and exits, then the primary.
import cluster from 'node:cluster';
import { createRotatingFile } from 'timberlock';

if (cluster.isPrimary) {
  for (let i = 0; i < 4; i++) cluster.fork();
  console.log(`primary ${process.pid}: 4 workers log to logs/app.log; Ctrl-C stops them`);
  // A signal sent to the primary only (kill, a supervisor): ask every worker to stop, once.
  const stop = () => cluster.disconnect(() => console.log('primary: every worker has stopped'));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else {
  const file = createRotatingFile({ path: 'logs/app.log', frequency: 'hourly' });
  const worker = { worker: cluster.worker.id, pid: process.pid };
  let seq = 0;
  const timer = setInterval(() => file.write(JSON.stringify({ ...worker, seq: seq++, msg: 'request handled' })), 10);

  let stopping = false;
  const stop = async () => {
    if (stopping) return; // Ctrl-C reaches the primary AND the workers: stop once
    stopping = true;
    clearInterval(timer);
    file.write(JSON.stringify({ ...worker, lines: seq, msg: 'worker stopping' }));
    await file.close(); // every line of this worker is on disk
    process.exit(0);
  };
  process.on('disconnect', stop); // cluster.disconnect() from the primary
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (!process.connected) stop(); // the primary disconnected us while this module was loading
}
