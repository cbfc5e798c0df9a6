import { periodOf, type Period } from '../../src/schedule.js';
import type { Frequency } from '../../src/types.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
/** The year the schedule and naming tests walk. */
export const YEAR_START = Date.UTC(2026, 0, 1);
export const YEAR_END = Date.UTC(2027, 0, 1);

export const utc = (isoText: string): number => Date.parse(isoText);
export const iso = (ms: number): string => new Date(ms).toISOString();

/** Every period of `frequency` whose start lies in [from, to), in order, by walking `next`. */
export function periodsBetween(from: number, to: number, frequency: Frequency, timeZone: string): Period[] {
  const periods: Period[] = [];
  let period = periodOf(from, frequency, timeZone);
  while (period.start < to) {
    periods.push(period);
    period = periodOf(period.next, frequency, timeZone);
  }
  return periods;
}
