import { periodOf, type Period } from '../../src/schedule.js';
import type { Frequency } from '../../src/types.js';

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
