/**
 * What the shipper and logrotate tests share: per-test directories cleaned up after a pass (kept and
 * printed after a failure), writers and followers stopped after each test, and the exactly-once check.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect } from 'vitest';
import { stopFollowers } from './followers.js';
import { formatReport, type VerifyReport } from './verify.js';
import { killWriters } from './writer-run.js';

/** Register the after-each cleanup and return a maker of fresh directories named `timberlock-<name>-…`. */
export function useFollowSuite(name: string): () => string {
  const dirs: string[] = [];
  afterEach(async (context) => {
    await killWriters();
    await stopFollowers();
    const failed = context.task.result?.state === 'fail';
    for (const dir of dirs.splice(0)) {
      if (failed) console.log(`kept ${dir} for inspection`);
      else fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `timberlock-${name}-`));
    dirs.push(dir);
    return dir;
  };
}

/** Every expected line found exactly once, none torn or unexpected. */
export function expectEveryLineOnce(report: VerifyReport, what: string): void {
  const detail = `${what}: ${formatReport(report)}`;
  expect(report.missing.count, detail).toBe(0);
  expect(report.duplicated.count, detail).toBe(0);
  expect(report.unexpected.count, detail).toBe(0);
  expect(report.torn.count, detail).toBe(0);
  expect(report.linesFound, detail).toBe(report.expected);
}
