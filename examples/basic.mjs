// The plain API: one rotating file, a few lines, a clean close. Run: node examples/basic.mjs
import { createRotatingFile } from 'timberlock';

const file = createRotatingFile({ path: 'logs/app.log', frequency: 'daily', timeZone: 'UTC' });
file.on('rotate', ({ archive }) => console.log(archive ? `archived ${archive}` : 'another process rotated'));
file.on('warning', ({ code, message }) => console.warn(code, message));

for (let i = 1; i <= 5; i++) file.write(`${new Date().toISOString()} request ${i} handled`);

await file.close(); // every line is on disk now
console.log(`wrote ${file.stats().lines} lines to ${file.path}`);
