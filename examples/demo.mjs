// The timberlock demo: 4 processes log to ONE file that rotates every 500 ms for 3 seconds, then the
// files are read back and every line is checked. Run with `npm run demo`.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRotatingFile } from '../dist/index.js';

const WRITERS = 4;
const PERIOD_MS = 500;
const RUN_MS = 3000;

if (process.argv[2] === 'writer') {
  await runWriter(process.argv[3], process.argv[4]);
} else {
  await runDemo();
}

/** One writer process: log numbered lines as fast as backpressure allows until RUN_MS is over. */
async function runWriter(logPath, name) {
  const file = createRotatingFile({ path: logPath, frequency: PERIOD_MS, timeZone: 'UTC' });
  let rotations = 0;
  file.on('rotate', (event) => {
    if (event.archive) rotations++;
  });
  const end = Date.now() + RUN_MS;
  let seq = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 50; i++) {
      const payload = 'x'.repeat(20 + ((seq * 7) % 180));
      file.write(`${name} ${seq} ${payload}\n`);
      seq++;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await file.close();
  process.send({ name, written: seq, rotations, stats: file.stats() });
}

async function runDemo() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-demo-'));
  const logPath = path.join(dir, 'app.log');
  console.log(`timberlock demo: ${WRITERS} processes -> ${logPath}, rotating every ${PERIOD_MS} ms for ${RUN_MS / 1000} s`);
  const self = fileURLToPath(import.meta.url);
  const results = await Promise.all(
    Array.from({ length: WRITERS }, (_, i) => {
      const child = fork(self, ['writer', logPath, `w${i}`]);
      return new Promise((resolve, reject) => {
        let result;
        child.on('message', (message) => (result = message));
        child.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`writer w${i} exited with ${code}`))));
      });
    }),
  );

  const files = fs.readdirSync(dir).filter((name) => !name.startsWith('.')).sort();
  console.log('\nfiles produced:');
  for (const name of files) console.log(`  ${name.padEnd(44)} ${fs.statSync(path.join(dir, name)).size} bytes`);

  const seen = new Map();
  let found = 0;
  let torn = 0;
  let duplicated = 0;
  for (const name of files) {
    for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (line === '') continue;
      found++;
      const [writer, seqText, payload] = line.split(' ');
      const seq = Number(seqText);
      if (!/^w\d+$/.test(writer) || !Number.isInteger(seq) || payload !== 'x'.repeat(20 + ((seq * 7) % 180))) {
        torn++;
        continue;
      }
      const key = `${writer} ${seq}`;
      if (seen.has(key)) duplicated++;
      seen.set(key, true);
    }
  }
  const written = results.reduce((sum, r) => sum + r.written, 0);
  const lost = written - seen.size;
  const rotations = results.reduce((sum, r) => sum + r.rotations, 0);
  const ok = lost === 0 && duplicated === 0 && torn === 0;
  console.log(
    `\nverification: written ${written}, found ${found}, lost ${lost}, duplicated ${duplicated}, torn ${torn}, rotations ${rotations} -> ${ok ? 'OK' : 'FAILED'}`,
  );
  fs.rmSync(dir, { recursive: true, force: true });
  process.exitCode = ok ? 0 : 1;
}
