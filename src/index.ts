/**
 * timberlock: one rotating log file shared safely by many processes.
 *
 * The main entry never loads winston or pino; their adapters are separate entries.
 */
export { createRotatingFile, RotatingFile, type FileState, type RotatingFileEvents, type WriteCallback } from './rotating-file.js';
export { TimberlockError, TimberlockOptionError } from './errors.js';
export type {
  ArchiveEvent,
  Frequency,
  HeaderInfo,
  LockOptions,
  OpenEvent,
  RotateEvent,
  RotatingFileOptions,
  RotatingFileStats,
  WarningEvent,
} from './types.js';
export { SignalBuffer } from './ring-buffer.js';
export { handleSignals, type HandleSignalsOptions, type ShutdownSignal } from './shutdown.js';
export { stopChildren, type ChildOutcome, type StopChildrenOptions, type StoppableChild } from './supervisor.js';
