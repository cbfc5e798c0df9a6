// The benchmark's log lines and their verifier.
//
// A line is `<writer> <seq> <payload>`: the writer tag (`w0`, `w1` …), the line's sequence number in
// that writer, and a payload that is a pure function of the sequence number (one letter repeated,
// 170–206 characters), so every line can be checked on its own: whole, not torn, not duplicated,
// and which lines are missing. Lines average 200 bytes with their newline.
import fs from 'node:fs';
import path from 'node:path';

const PAYLOAD_KINDS = 999;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** Payload strings by `seq % PAYLOAD_KINDS`, allocated once. */
const PAYLOADS = Array.from({ length: PAYLOAD_KINDS }, (_, i) => LETTERS[i % 26].repeat(170 + (i % 37)));
const PAYLOAD_BUFFERS = PAYLOADS.map((payload) => Buffer.from(payload));

/** The message of line `seq` of `writer` (no newline). */
export function message(writer, seq) {
  return `${writer} ${seq} ${PAYLOADS[seq % PAYLOAD_KINDS]}`;
}

/** Line `seq` of `writer`, with its newline. */
export function line(writer, seq) {
  return `${writer} ${seq} ${PAYLOADS[seq % PAYLOAD_KINDS]}\n`;
}

/** Bytes of the lines 0..count-1 of a writer tag, newlines included (for MB/s and a byte check). */
export function expectedBytes(writer, count) {
  let bytes = 0;
  const tag = writer.length + 2; // tag, two spaces, newline: `${writer} ${seq} ${payload}\n` minus digits & payload
  for (let seq = 0; seq < count; seq++) bytes += tag + String(seq).length + PAYLOADS[seq % PAYLOAD_KINDS].length + 1;
  return bytes;
}

/** The files a run left in `dir` (log files only: dot files such as locks, state and audit files are skipped). */
export function logFiles(dir) {
  return fs
    .readdirSync(dir)
    .filter((name) => !name.startsWith('.') && !name.endsWith('.json') && fs.statSync(path.join(dir, name)).isFile())
    .sort()
    .map((name) => path.join(dir, name));
}

/**
 * Read every file and check every line against what the writers report they wrote.
 * `written` maps a writer tag (`w0`) to its number of lines. Lines that are not exactly a line of
 * this benchmark (wrong payload, merged or cut lines, a file not ending in a newline) count as torn;
 * a `(writer, seq)` seen twice counts as duplicated; one never seen counts as lost. A line written
 * inside a JSON object by a logger is recognised by its message (`extract`).
 */
export function verify(files, written, { extract = null } = {}) {
  const seen = new Map();
  for (const [writer, count] of Object.entries(written)) seen.set(writer, new Uint8Array(count));
  let found = 0;
  let torn = 0;
  let duplicated = 0;
  let unexpected = 0;
  let bytes = 0;
  const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
  for (const file of files) {
    const fd = fs.openSync(file, 'r');
    let carry = Buffer.alloc(0);
    try {
      for (;;) {
        const n = fs.readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        bytes += n;
        const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
        let start = 0;
        for (let end = data.indexOf(10, start); end !== -1; end = data.indexOf(10, start)) {
          const verdict = checkLine(data, start, end, seen, extract);
          found++;
          if (verdict === TORN) torn++;
          else if (verdict === DUPLICATE) duplicated++;
          else if (verdict === FOREIGN) unexpected++;
          start = end + 1;
        }
        carry = Buffer.from(data.subarray(start));
      }
    } finally {
      fs.closeSync(fd);
    }
    if (carry.length > 0) {
      // The file does not end with a newline: its last line is cut.
      found++;
      torn++;
    }
  }
  let expected = 0;
  let lost = 0;
  for (const [writer, count] of Object.entries(written)) {
    expected += count;
    const marks = seen.get(writer);
    for (let i = 0; i < count; i++) if (marks[i] === 0) lost++;
  }
  return { expected, found, lost, duplicated, torn, unexpected, bytes, files: files.length };
}

const OK = 0;
const TORN = 1;
const DUPLICATE = 2;
/** A well-formed line that is not ours (a header line, a logger's own line). */
const FOREIGN = 3;

function checkLine(data, start, end, seen, extract) {
  if (extract) {
    const text = data.toString('utf8', start, end);
    const msg = extract(text);
    if (msg === undefined) return TORN;
    if (msg === null) return FOREIGN;
    const buf = Buffer.from(msg);
    return checkMessage(buf, 0, buf.length, seen);
  }
  if (data[start] === 0x23 /* # */) return FOREIGN; // a header line
  return checkMessage(data, start, end, seen);
}

/** `w<digits> <digits> <payload>` with the payload of that seq, and a writer we know. */
function checkMessage(data, start, end, seen) {
  let p = start;
  if (data[p] !== 0x77 /* w */) return TORN;
  p++;
  const tagEnd = data.indexOf(0x20, p);
  if (tagEnd === -1 || tagEnd >= end || tagEnd === p) return TORN;
  const writer = data.toString('latin1', start, tagEnd);
  const marks = seen.get(writer);
  p = tagEnd + 1;
  let seq = 0;
  let digits = 0;
  while (p < end && data[p] >= 0x30 && data[p] <= 0x39) {
    seq = seq * 10 + (data[p] - 0x30);
    p++;
    digits++;
  }
  if (digits === 0 || data[p] !== 0x20) return TORN;
  p++;
  const payload = PAYLOAD_BUFFERS[seq % PAYLOAD_KINDS];
  if (end - p !== payload.length || data.compare(payload, 0, payload.length, p, end) !== 0) return TORN;
  if (!marks || seq >= marks.length) return TORN; // a line nobody reports having written
  if (marks[seq] !== 0) return DUPLICATE;
  marks[seq] = 1;
  return OK;
}
