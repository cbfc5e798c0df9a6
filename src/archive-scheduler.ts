/**
 * When archive maintenance (compression, retention) runs for one RotatingFile: shortly after this
 * process archived a file, when an archive a run had to leave has settled, at start-up (to catch up on
 * what a dead process left), and every minute.
 * One run at a time per file; runs never block the write path.
 */
import { maintainArchives, useRecognitionCache, type ArchiveTarget, type ExitStep, type MaintenanceResult } from './archive.js';

/** A periodic catch-up run, for archives made by processes that died before their own run. */
const CATCH_UP_INTERVAL_MS = 60_000;
/** A run skipped because another process held the archive lock tries again after this long. */
const SKIPPED_RETRY_MS = 250;
/** The longest delay a Node.js timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After the delay an archive must reach, wait this much more so it is surely old enough. */
const DELAY_MARGIN_MS = 50;

/** Schedules {@link maintainArchives} runs for one log path. */
export class ArchiveScheduler {
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private readonly catchUp: NodeJS.Timeout;
  private running: Promise<void> | null = null;
  private rerun = false;
  private readonly abort = new AbortController();
  private stopped = false;
  /** What the run under way must still do if the process ends now. */
  private readonly atExit: ExitStep = { finish: null };
  /** Lets go of the names recognised between runs (see useRecognitionCache). */
  private readonly releaseCache: () => void;

  constructor(
    private readonly target: ArchiveTarget,
    private readonly now: () => number,
    private readonly onResult: (result: MaintenanceResult) => void,
    private readonly onFailure: (err: Error) => void,
  ) {
    this.catchUp = setInterval(() => this.runSoon(0), Math.min(Math.max(CATCH_UP_INTERVAL_MS, target.policy.delayMs), MAX_TIMER_MS));
    this.catchUp.unref();
    this.releaseCache = useRecognitionCache(target);
  }

  /** Run once a file archived now is old enough to be compressed or deleted. */
  afterArchive(): void {
    this.runSoon(this.target.policy.delayMs + DELAY_MARGIN_MS);
  }

  /** Run after `delayMs` (an earlier pending run wins). Timers do not keep the process alive. */
  runSoon(delayMs: number): void {
    if (this.stopped) return;
    delayMs = Math.min(delayMs, MAX_TIMER_MS); // a longer delay would fire at once
    const at = this.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.start();
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Stop: no new run starts, a run in progress is aborted between chunks (its temp file is removed, no
   * `.gz` appears) and awaited.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    clearInterval(this.catchUp);
    this.abort.abort();
    await this.running;
    this.releaseCache();
  }

  /**
   * The process ends now (synchronously): a compression under way removes its temp file, or, between its
   * rename to the `.gz` and the removal of its original, removes the original, so that neither a temp file
   * nor a pair is left behind (the original is compressed again by a later run).
   */
  finishForExit(): void {
    this.atExit.finish?.();
    this.atExit.finish = null;
  }

  private start(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true; // an archive appeared while a run was going: look again when it ends
      return;
    }
    this.running = maintainArchives(this.target, this.now, this.abort.signal, this.atExit)
      .then((result) => {
        this.onResult(result);
        // The holder may have listed the directory before this process's archive settled: look again.
        if (result.skipped === 'locked') this.runSoon(SKIPPED_RETRY_MS);
        // An archive left because it changed too recently (a straggler wrote to it) is done when it settles.
        // (Not later than the catch-up run: a file dated far ahead by a wrong clock waits for that, and a
        // delay beyond a timer's range would fire at once, again and again.)
        else if (result.settlesAt !== null) {
          this.runSoon(Math.min(Math.max(0, result.settlesAt - this.now()) + DELAY_MARGIN_MS, CATCH_UP_INTERVAL_MS));
        }
      })
      .catch((err: Error) => this.onFailure(err)) // only a malformed policy rejects; never leave it unhandled
      .finally(() => {
        this.running = null;
        if (this.rerun && !this.stopped) {
          this.rerun = false;
          this.start();
        }
      });
  }
}
