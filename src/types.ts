/**
 * Public option and event types of timberlock. No runtime code lives here.
 */

/** How often the active file is rotated. A number is a period in milliseconds (>= 100), aligned to the Unix epoch. */
export type Frequency = 'minutely' | 'hourly' | 'daily' | 'weekly' | 'monthly' | number;

/** Options of the rotation lock (a directory next to the log file, taken with proper-lockfile). */
export interface LockOptions {
  /**
   * A lock whose holder has not refreshed it for this long is considered abandoned and may be taken
   * over by another process. proper-lockfile clamps it to at least 2000 ms. Default 5000.
   */
  staleMs?: number | undefined;
}

/** Options accepted by {@link createRotatingFile}. */
export interface RotatingFileOptions {
  /**
   * Path of the active file. Its name never changes; archives are created next to it. Required.
   * `{hostname}` and `{pid}` are replaced by the machine's host name and the process id: one file per
   * host on a shared (NFS) volume, where O_APPEND is not atomic between machines.
   */
  path: string;
  /** Rotation period. Default `'daily'`. */
  frequency?: Frequency | undefined;
  /** `'local'` (the process time zone), `'UTC'` or an IANA name. Periods and archive names use it. Default `'local'`. */
  timeZone?: string | undefined;
  /**
   * date-fns format tokens for the period part of archive names. The default follows the frequency:
   * `yyyy-MM` (monthly), `RRRR-'W'II` (weekly), `yyyy-MM-dd` (daily), `yyyy-MM-dd'T'HHxx` (hourly),
   * `yyyy-MM-dd'T'HH-mmxx` (minutely), `yyyy-MM-dd'T'HH-mm-ss-SSSxx` (a period in ms).
   */
  dateFormat?: string | undefined;
  /** true: every write() reaches the kernel before it returns. Default false (batched). */
  sync?: boolean | undefined;
  /** Create missing parent directories. Default true. */
  mkdir?: boolean | undefined;
  /** File mode of files timberlock creates. Default 0o640. World-writable modes are refused. */
  mode?: number | undefined;
  /** Rotation lock options. */
  lock?: LockOptions | undefined;
  /**
   * Milliseconds after a boundary before the file of the ended period is renamed, so that writes issued
   * just before the boundary reach the kernel first. Default 100 (a quarter of the period for periods under 400 ms).
   */
  settleMs?: number | undefined;
  /**
   * How long lines of a new period may wait in memory for the new active file to appear before they are
   * written to the previous period's file after all (counted as late, reported by a 'warning').
   * Default: lock.staleMs + 2000.
   */
  fallbackMs?: number | undefined;
  /** How often the active name is checked for an external move or deletion. Default 1000 ms. */
  checkIntervalMs?: number | undefined;
  /** write() returns false while more than this many bytes are buffered; 'drain' follows. Default 1 MiB. */
  highWaterMark?: number | undefined;
  /**
   * Bytes that may be buffered while the file cannot be written (boundary wait, lock busy, write errors).
   * Above it the writer writes synchronously where it can and otherwise drops the oldest lines, counting
   * them. Default 16 MiB.
   */
  maxBufferBytes?: number | undefined;
  /**
   * Roll the active file within its period once it reaches this size: a number of bytes (>= 1024) or a
   * string such as '100MB', '512k', '1g'. Rolled files are named `app.<period>.<n>.log`. Default: none.
   */
  maxSize?: number | string | undefined;
  /** Keep at most this many archives (the newest by period, then index). Default: no limit. */
  maxFiles?: number | undefined;
  /** Delete archives whose period started longer ago than this: ms, or '14d', '12h', '30m'. Default: none. */
  maxAge?: number | string | undefined;
  /**
   * gzip archives (`.gz`). `{ delayMs }` also sets how old an archive must be before it is compressed or
   * deleted (default 5000 ms), so a straggler's last write lands first. Default false.
   */
  compress?: boolean | { delayMs?: number | undefined } | undefined;
  /**
   * A first line for every new active file: `true` for
   * `# timberlock app.log period=<ISO start> created=<ISO now> pid=<pid> host=<hostname>`, or a function
   * returning the line. For log shippers that identify files by a checksum of their first bytes
   * (Vector, OpenTelemetry filelog, Filebeat fingerprint), which confuse files that start alike.
   * Default false.
   */
  header?: boolean | ((info: HeaderInfo) => string) | undefined;
}

/** What a `header` function is told about the file it heads. */
export interface HeaderInfo {
  /** Absolute path of the active file. */
  path: string;
  /** Start (epoch ms) of the period the new file belongs to. */
  periodStart: number;
  /** When the file is created (epoch ms). */
  createdAt: number;
  pid: number;
  hostname: string;
}

/** Payload of the 'rotate' event. */
export interface RotateEvent {
  /** Absolute path of the archive this process created, or null when another process rotated. */
  archive: string | null;
  /** Start (epoch ms) of the period the active file now belongs to. */
  periodStart: number;
  /** Start (epoch ms) of the period of the file this process wrote to before (the archived one). */
  previousPeriodStart: number;
}

/** Payload of the 'archive' event: one per archive compressed or deleted by this process. */
export interface ArchiveEvent {
  type: 'compressed' | 'removed';
  /** Absolute path: the new `.gz`, or the deleted archive. */
  path: string;
  /** For 'compressed': the archive that was compressed (it no longer exists). */
  from?: string;
}

/** Payload of the 'open' event. */
export interface OpenEvent {
  path: string;
  /** Inode of the active file that is now open. */
  ino: number;
  periodStart: number;
}

/** Payload of the 'warning' event. */
export interface WarningEvent {
  /** Stable code: 'LATE_LINES', 'LOCK_COMPROMISED', 'EXTERNAL_MOVE', 'DROPPED_LINES' … */
  code: string;
  message: string;
  /** Extra figures, e.g. { lines: 12 }. */
  details?: Record<string, unknown>;
}

/** Counters returned by {@link RotatingFile.stats}. All are totals since the file was created in this process. */
export interface RotatingFileStats {
  /** write() calls accepted. */
  lines: number;
  /** Bytes that reached the kernel. */
  bytes: number;
  /** Lines currently buffered in memory. */
  bufferedLines: number;
  /** Bytes currently buffered in memory. */
  bufferedBytes: number;
  /** Rotations this process performed (it won the lock and archived or relabelled the file). */
  rotations: number;
  /** Times this process reopened the active file because another process or a tool moved it. */
  reopens: number;
  /** Lock attempts lost to another holder. */
  lockAttemptsLost: number;
  /**
   * Lines written to a file after its period ended, or after it lost the active name: held past fallbackMs
   * for a new file, written as it was being renamed, written on the way out while a rotation was under way
   * (exit, flushSync(), maxBufferBytes), to a staged file that never got the active name, or appended after
   * close(). Each is told by a LATE_LINES warning with its `why`.
   */
  lateLines: number;
  /**
   * Lines lost, counted. Among them: over maxBufferBytes while the disk refused writes; still refused at
   * close() or at the process's exit, or appended after close() and refused; cut by a file size limit;
   * beyond the signal buffer; a record that grew past its limit without a newline (the pino transport); gone
   * with a file deleted or replaced by hand, or with a descriptor other code closed. The README's "Decisions
   * and guarantees" says more.
   */
  droppedLines: number;
  /** I/O errors seen (each retry that failed counts). */
  errors: number;
}
