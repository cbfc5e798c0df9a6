/**
 * Period arithmetic: which rotation period an instant belongs to, in a time zone.
 *
 * Pure: no I/O, no clock. Every function takes the instant (epoch milliseconds) as an argument, so the
 * rotation code can ask about "now" with its own injectable clock and the tests can walk a whole year
 * in milliseconds.
 *
 * Periods tile time: for every zone and instant t, `periodOf(t)` is the one half-open interval
 * `[start, next)` that contains t, the period that follows it starts exactly at `next`, and
 * `periodOf(start)` is the same period. A caller can therefore cache `next` as its boundary, compare it
 * with the clock on every write, and call `periodOf(next)` when it is passed.
 */
import { tzOffset } from '@date-fns/tz';
import { TimberlockError } from './errors.js';
import type { Frequency } from './types.js';

/** One rotation period: the half-open interval `[start, next)` in epoch milliseconds. */
export interface Period {
  /** First instant of the period (inclusive). */
  start: number;
  /** First instant of the following period (exclusive end of this one). Always greater than `start`. */
  next: number;
}

/**
 * The largest delay `setTimeout` accepts (2^31 - 1 ms, about 24.8 days). A longer delay fires at once
 * (Node warns and uses 1 ms), so callers waiting for a monthly boundary must cap the timer with this
 * value and re-check the clock when it fires.
 */
export const MAX_TIMER_DELAY_MS: number = 2 ** 31 - 1;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * The period containing instant `t` (epoch ms) for `frequency` in `timeZone`.
 *
 * - A number is a period in milliseconds aligned to the Unix epoch, independent of the zone:
 *   `start = t - (t mod P)`.
 * - `'daily'`, `'weekly'` (weeks start on Monday, as ISO weeks do) and `'monthly'` start at the first
 *   instant of the local calendar day, week or month, found from the zone's UTC offsets (not date-fns'
 *   TZDate arithmetic, which goes through the process's own time zone and was off by an hour, or threw,
 *   when that zone changed its offset near the other zone's midnight). Their length follows the calendar:
 *   a day is 23 or 25 hours long on DST change days; where midnight does not exist (America/Havana,
 *   Africa/Cairo, America/Santiago...) the day starts at the first instant that exists.
 * - `'hourly'` and `'minutely'` start at the local clock's full hour or minute, from the zone's UTC offset
 *   at `t` (not date-fns `startOfHour` with a zone, which returns wrong results in a repeated fall-back
 *   hour). When the offset changes by an amount that is not a multiple of the unit (Australia/Lord_Howe
 *   shifts by 30 minutes, America/St_Johns used to shift at 00:01), the hour containing the change is cut
 *   in two at the change instant, so no period overlaps another and none is empty.
 *
 * `timeZone` is `'local'` (the process time zone, `TZ`), `'UTC'` or an IANA name; validate it once with
 * {@link isValidTimeZone}. Throws a `RangeError` (code `ERR_INVALID_ARG_VALUE`) for a non-finite `t`, a
 * number frequency that is not a positive finite number, an unknown frequency or a time zone whose offset
 * cannot be determined, and a TimberlockError (code `ERR_TIMBERLOCK_PERIOD`) rather than return a period
 * that does not contain `t`. Walked period by period in all 418 zones Node 20 knows, under several process
 * time zones, days, weeks and months start where Intl says the local date changes (days 2011-2021 and
 * 2026, weeks 2020-2027, months 2000-2030; days 1970-2010 too, but for Africa/Monrovia before 1972, whose
 * offset of -00:44:30 @date-fns/tz's tzOffset reads as +00:44:30), identically whatever `TZ` is.
 *
 * Cost: a few µs for hours and minutes, about 10 µs for days, weeks and months in a named zone (Intl
 * offsets), so call it at boundaries, not on every write. Touches no file.
 */
export function periodOf(t: number, frequency: Frequency, timeZone: string): Period {
  if (!Number.isFinite(t)) throw invalidArgument('t', t, 'a finite epoch time in milliseconds');
  if (typeof frequency === 'number') return fixedPeriod(t, frequency);
  switch (frequency) {
    case 'minutely':
    case 'hourly':
      return clockPeriod(t, frequency, timeZone);
    case 'daily':
    case 'weekly':
    case 'monthly':
      return calendarPeriod(t, frequency, timeZone);
    default:
      throw invalidArgument(
        'frequency',
        frequency,
        "'minutely', 'hourly', 'daily', 'weekly', 'monthly' or a period in milliseconds",
      );
  }
}

/**
 * The UTC offset of `timeZone` at instant `t`, in minutes east of UTC (Berlin in summer: 120, New York in
 * winter: -300). `'local'` uses `Date#getTimezoneOffset` (sign flipped), `'UTC'` is 0, anything else is
 * looked up with Intl through @date-fns/tz. Returns NaN for a name Intl does not know. Historic local mean
 * times may give fractional minutes, and @date-fns/tz gets the sign wrong for offsets between -01:00 and
 * 00:00 (Africa/Monrovia -00:44:30 until 1972 reads as +44.5). Touches no file.
 */
export function zoneOffsetMinutes(t: number, timeZone: string): number {
  if (timeZone === 'UTC') return 0;
  if (timeZone === 'local') {
    const westOfUtc = new Date(t).getTimezoneOffset();
    return westOfUtc === 0 ? 0 : -westOfUtc;
  }
  return tzOffset(timeZone, new Date(t));
}

/**
 * Whether `timeZone` can be used by this module: `'local'`, `'UTC'` or a time zone name the runtime's Intl
 * accepts (IANA names such as `'Europe/Berlin'`, `'Etc/GMT+5'`; Intl also accepts them case-insensitively).
 * Bare UTC offsets such as `'+08:00'` are refused on every Node version, although newer Intl versions accept
 * them, so that the same options are valid everywhere; use `'Etc/GMT-8'` instead. Never throws.
 */
export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone === '') return false;
  if (timeZone === 'local' || timeZone === 'UTC') return true;
  if (/^[+-]/.test(timeZone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    // Intl throws a RangeError for an unknown time zone: that is the answer, not a failure.
    return false;
  }
  return Number.isFinite(tzOffset(timeZone, new Date(0)));
}

/** An epoch-aligned period of `periodMs` milliseconds; the time zone plays no part. */
function fixedPeriod(t: number, periodMs: number): Period {
  if (!Number.isFinite(periodMs) || periodMs <= 0) {
    throw invalidArgument('frequency', periodMs, 'a positive number of milliseconds');
  }
  const start = t - mod(t, periodMs);
  return { start, next: start + periodMs };
}

const DAY_MS = 86_400_000;
/** Wider than any day: 24 h, plus the largest offset change in one step (a day skipped or repeated, 24 h), plus margin. */
const SEARCH_MS = 50 * HOUR_MS;

/**
 * A local calendar day, week (from Monday) or month. Both ends are the first instant whose local date is
 * that day's, the week's Monday or the month's first (or later: a date a zone skipped), found from the
 * zone's UTC offsets alone: the process's own time zone (`TZ`) plays no part, and the next period's start
 * equals this period's end by construction.
 */
function calendarPeriod(t: number, frequency: 'daily' | 'weekly' | 'monthly', timeZone: string): Period {
  const offsetAt = (x: number): number => zoneOffsetMinutes(x, timeZone) * MINUTE_MS;
  if (!Number.isFinite(offsetAt(t))) throw invalidArgument('timeZone', timeZone, "'local', 'UTC' or an IANA time zone name");
  let [first, following] = calendarUnit(localDay(t, offsetAt), frequency);
  let start = firstInstantOfDay(first, t, offsetAt);
  // `t` is in the stretch a fall-back took back out of the unit (see firstInstantOfDay): the unit before.
  if (start > t) {
    [first, following] = calendarUnit(first - 1, frequency);
    start = firstInstantOfDay(first, t, offsetAt);
  }
  const next = firstInstantOfDay(following, t, offsetAt);
  return checked(t, { start, next }, frequency, timeZone);
}

/** The first day of the day, week (Monday) or month that `day` is in, and of the one after (days since 1970-01-01). */
function calendarUnit(day: number, frequency: 'daily' | 'weekly' | 'monthly'): [number, number] {
  if (frequency === 'daily') return [day, day + 1];
  if (frequency === 'weekly') {
    const monday = day - mod(new Date(day * DAY_MS).getUTCDay() - 1, 7);
    return [monday, monday + 7];
  }
  const date = new Date(day * DAY_MS);
  return [Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) / DAY_MS, Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / DAY_MS];
}

/** The local date of instant `x`, as whole days since 1970-01-01. */
function localDay(x: number, offsetAt: (x: number) => number): number {
  return Math.floor((x + offsetAt(x)) / DAY_MS);
}

/**
 * The first instant whose local date is `day` or later (days since 1970-01-01), searched around `near`:
 * local midnight at the offset of `near`, or else at the offset found there; else a binary search over
 * the instants around it, local dates only ever moving forward.
 */
function firstInstantOfDay(day: number, near: number, offsetAt: (x: number) => number): number {
  const reached = (x: number): boolean => localDay(x, offsetAt) >= day;
  const isFirst = (x: number): boolean => reached(x) && !reached(x - 1);
  const guess = day * DAY_MS - offsetAt(near);
  if (isFirst(guess)) return forGood(guess, day, offsetAt);
  const second = day * DAY_MS - offsetAt(guess);
  if (isFirst(second)) return forGood(second, day, offsetAt);
  // Midnight does not exist that day (a spring-forward at 00:00), or the offset changed in between.
  const lo = Math.min(guess, second) - SEARCH_MS;
  const hi = Math.max(guess, second) + SEARCH_MS;
  return reached(lo) || !reached(hi) ? Number.NaN : forGood(firstInstant(lo, hi, reached), day, offsetAt);
}

/** The longest a fall-back takes the clock back (Antarctica/Casey: 3 h), with margin. */
const FALL_BACK_WINDOW_MS = 4 * HOUR_MS;

/**
 * `first`, the instant the local date reached `day`, unless a fall-back right after it takes the date back
 * before `day` (America/St_Johns until 2011 turned 00:01 back to 23:01 the day before): then the instant
 * it reaches `day` again, for good. Periods then still tile; the minute before belongs to the day before.
 */
function forGood(first: number, day: number, offsetAt: (x: number) => number): number {
  const offset = offsetAt(first);
  if (!(offsetAt(first + FALL_BACK_WINDOW_MS) < offset)) return first;
  const change = firstInstant(first, first + FALL_BACK_WINDOW_MS, (x) => offsetAt(x) !== offset);
  if (localDay(change, offsetAt) >= day) return first;
  return firstInstant(change, change + FALL_BACK_WINDOW_MS, (x) => localDay(x, offsetAt) >= day);
}

/** Length of the clock units. */
const CLOCK_UNIT_MS = { hourly: HOUR_MS, minutely: MINUTE_MS } as const;

/**
 * A local clock hour or minute: floor `t` on the local clock using the offset at `t`. If the
 * offset at that floor differs, an offset change happened inside this unit before `t` and the period starts
 * at the change; if the offset changes again before the unit ends, the period ends at that change.
 */
function clockPeriod(t: number, frequency: keyof typeof CLOCK_UNIT_MS, timeZone: string): Period {
  const unitMs = CLOCK_UNIT_MS[frequency];
  const offsetAt = (x: number): number => zoneOffsetMinutes(x, timeZone) * MINUTE_MS;
  const offset = offsetAt(t);
  if (!Number.isFinite(offset)) throw invalidArgument('timeZone', timeZone, "'local', 'UTC' or an IANA time zone name");
  const floor = t - mod(t + offset, unitMs);
  const end = floor + unitMs;
  // Offset changed within (floor, t]: start at the change, the first instant that has the offset t has.
  const start = offsetAt(floor) === offset ? floor : firstInstant(floor, t, (x) => offsetAt(x) === offset);
  // Offset changes within (t, end): end at the change, the first instant with a different offset.
  const next = offsetAt(end - 1) === offset ? end : firstInstant(t, end - 1, (x) => offsetAt(x) !== offset);
  return checked(t, { start, next }, frequency, timeZone);
}

/**
 * Binary search for the smallest integer x in (lo, hi] with `holds(x)`, given `!holds(lo)` and `holds(hi)`
 * and a single change in between (offsets change at most once within an hour).
 */
function firstInstant(lo: number, hi: number, holds: (x: number) => boolean): number {
  while (hi - lo > 1) {
    const mid = Math.floor(lo + (hi - lo) / 2);
    if (holds(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Guard against a period that does not contain `t`, which would make a caller's boundary check never fire
 * or fire forever (the callers have refused an unknown zone already): a TimberlockError with code
 * ERR_TIMBERLOCK_PERIOD for offsets this module did not expect.
 */
function checked(t: number, period: Period, frequency: Frequency, timeZone: string): Period {
  if (period.start <= t && t < period.next) return period;
  const shown = (x: number): string => (Number.isFinite(x) ? new Date(x).toISOString() : 'not found');
  throw new TimberlockError(
    'ERR_TIMBERLOCK_PERIOD',
    `The ${String(frequency)} period of ${new Date(t).toISOString()} in time zone ${timeZone} came out as ` +
      `${shown(period.start)} .. ${shown(period.next)}, which does not contain it.`,
  );
}

/** Mathematical modulo: the result has the sign of `divisor`, so instants before 1970 floor correctly. */
function mod(value: number, divisor: number): number {
  return ((value % divisor) + divisor) % divisor;
}

/** A Node-style RangeError with code ERR_INVALID_ARG_VALUE naming the argument, the value and what is allowed. */
function invalidArgument(name: string, value: unknown, allowed: string): RangeError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  const error = new RangeError(`Invalid ${name}: ${shown}. Expected ${allowed}.`);
  return Object.assign(error, { code: 'ERR_INVALID_ARG_VALUE' });
}
