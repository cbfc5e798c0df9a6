/**
 * Cutting a stream of text chunks into whole lines. Pure: no I/O, no timers.
 */

/** What a {@link LineCutter} does with a line that grows too long before its newline comes. */
export interface LineLimit {
  /** Characters of an incomplete line held at most. */
  maxLength: number;
  /** Called once per line dropped for growing past maxLength, with the characters it had then. */
  onDrop: (length: number) => void;
}

/**
 * Cuts text that arrives in chunks of any size (pino's worker-thread transport hands over whatever
 * its shared buffer held, which may end in the middle of a line) into whole lines.
 *
 * Every line a chunk completes goes to `sink`, newline included, in order. The incomplete last line
 * of a chunk is kept until a later chunk brings its newline; {@link LineCutter.rest} hands it over
 * when the input ends. Per line the work is one `indexOf`, one `slice` and the sink call.
 *
 * With a `limit`, an incomplete line is held up to `limit.maxLength` characters: one that grows past it
 * is dropped whole (what is held, and what follows up to its newline), never cut into two lines, and
 * `limit.onDrop` is told.
 */
export class LineCutter {
  private readonly sink: (line: string) => boolean;
  private readonly limit: LineLimit | null;
  private tail = '';
  /** Input up to the next newline is the end of a line dropped for its length: skipped. */
  private skipping = false;

  /** `sink` receives each whole line (with its `\n`); its return value is passed back by {@link cut}. */
  constructor(sink: (line: string) => boolean, limit: LineLimit | null = null) {
    this.sink = sink;
    this.limit = limit;
  }

  /**
   * Pass every line `chunk` completes to the sink and keep what follows the last newline. Returns
   * what the last sink call returned, or true when the chunk completed no line.
   */
  cut(chunk: string): boolean {
    let start = 0;
    let newline = chunk.indexOf('\n');
    if (this.skipping) {
      if (newline === -1) return true;
      this.skipping = false;
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    let result = true;
    if (newline !== -1 && this.tail !== '') {
      // The line the previous chunk began.
      result = this.sink(this.tail + chunk.slice(start, newline + 1));
      this.tail = '';
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    while (newline !== -1) {
      result = this.sink(chunk.slice(start, newline + 1));
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) this.hold(start === 0 ? chunk : chunk.slice(start));
    return result;
  }

  /** The incomplete last line (no newline; '' when there is none), and forget it. */
  rest(): string {
    const rest = this.tail;
    this.tail = '';
    this.skipping = false;
    return rest;
  }

  /** Keep `text`, the beginning of a line (or more of it), unless the line grows too long. */
  private hold(text: string): void {
    const length = this.tail.length + text.length;
    if (this.limit !== null && length > this.limit.maxLength) {
      this.tail = '';
      this.skipping = true;
      this.limit.onDrop(length);
      return;
    }
    this.tail += text;
  }
}
