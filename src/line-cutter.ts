/**
 * Cutting a stream of text chunks into whole lines. Pure: no I/O, no timers.
 */

/**
 * Cuts text that arrives in chunks of any size (pino's worker-thread transport hands over whatever
 * its shared buffer held, which may end in the middle of a line) into whole lines.
 *
 * Every line a chunk completes goes to `sink`, newline included, in order. The incomplete last line
 * of a chunk is kept until a later chunk brings its newline; {@link LineCutter.rest} hands it over
 * when the input ends. Per line the work is one `indexOf`, one `slice` and the sink call.
 */
export class LineCutter {
  private readonly sink: (line: string) => boolean;
  private tail = '';

  /** `sink` receives each whole line (with its `\n`); its return value is passed back by {@link cut}. */
  constructor(sink: (line: string) => boolean) {
    this.sink = sink;
  }

  /**
   * Pass every line `chunk` completes to the sink and keep what follows the last newline. Returns
   * what the last sink call returned, or true when the chunk completed no line.
   */
  cut(chunk: string): boolean {
    let start = 0;
    let newline = chunk.indexOf('\n');
    if (newline === -1) {
      this.tail += chunk;
      return true;
    }
    let result = true;
    if (this.tail !== '') {
      // The line the previous chunk began.
      result = this.sink(this.tail + chunk.slice(0, newline + 1));
      this.tail = '';
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    while (newline !== -1) {
      result = this.sink(chunk.slice(start, newline + 1));
      start = newline + 1;
      newline = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) this.tail = chunk.slice(start);
    return result;
  }

  /** The incomplete last line (no newline; '' when there is none), and forget it. */
  rest(): string {
    const rest = this.tail;
    this.tail = '';
    return rest;
  }
}
