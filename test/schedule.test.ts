import { describe, it, expect } from 'vitest';
import { MAX_TIMER_DELAY_MS, isValidTimeZone, periodOf, zoneOffsetMinutes, type Period } from '../src/schedule.js';
import { defaultDateFormat, formatPeriod } from '../src/naming.js';
import type { Frequency } from '../src/types.js';
import { HOUR, iso, MINUTE, periodsBetween, utc, YEAR_END, YEAR_START } from './helpers/periods.js';

const LORD_HOWE = 'Australia/Lord_Howe';
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Shanghai', LORD_HOWE, 'local'] as const;
const NAMED: Frequency[] = ['minutely', 'hourly', 'daily', 'weekly', 'monthly'];

const span = (p: Period): string => `${iso(p.start)} .. ${iso(p.next)}`;

/** 2026 with two days of margin, so that zones east and west of UTC see all of their local year. */
const RANGE_START = YEAR_START - 2 * 86_400_000;
const RANGE_END = YEAR_END + 2 * 86_400_000;


/** The periods of the whole range, computed once per frequency and zone (several tests use them). */
const chains = new Map<string, Period[]>();
function chainOf(frequency: Frequency, timeZone: string): Period[] {
  const key = `${String(frequency)} ${timeZone}`;
  let chain = chains.get(key);
  if (chain === undefined) {
    chain = periodsBetween(RANGE_START, RANGE_END, frequency, timeZone);
    chains.set(key, chain);
  }
  return chain;
}

/**
 * Checks that periods tile the range: walking from period to period by `next`, each period is non-empty,
 * the period of its start is itself (the walk asks for exactly that) and the period of its last millisecond
 * is itself too. Then checks, at instants `stepMs` apart, that each instant's period contains it and is the
 * period of the walk that contains it, so no instant sees a period the walk did not produce. An odd step
 * drifts through every phase of the period over the year.
 * Failures are collected, so a bad zone shows its first ten bad instants at once. Returns the counts.
 */
function checkTiling(frequency: Frequency, timeZone: string, stepMs: number): { instants: number; periods: number } {
  const failures: string[] = [];
  const chain = chainOf(frequency, timeZone);
  for (const [i, period] of chain.entries()) {
    if (!(period.start < period.next)) failures.push(`empty ${span(period)}`);
    const previous = chain[i - 1];
    if (previous !== undefined && previous.next !== period.start) {
      failures.push(`${span(previous)} then ${span(period)}`);
    }
    const lastMs = periodOf(period.next - 1, frequency, timeZone);
    if (lastMs.start !== period.start || lastMs.next !== period.next) {
      failures.push(`last ms of ${span(period)} is in ${span(lastMs)}`);
    }
  }
  let instants = 0;
  let index = 0;
  for (let t = RANGE_START; t < RANGE_END; t += stepMs) {
    instants++;
    while (index < chain.length - 1 && chain[index]!.next <= t) index++;
    const expected = chain[index]!;
    const period = periodOf(t, frequency, timeZone);
    if (!(period.start <= t && t < period.next)) failures.push(`${iso(t)} not in ${span(period)}`);
    if (period.start !== expected.start || period.next !== expected.next) {
      failures.push(`${iso(t)} is in ${span(period)}, the walk has ${span(expected)}`);
    }
  }
  expect(failures.slice(0, 10)).toEqual([]);
  return { instants, periods: chain.length };
}

/**
 * The tiling properties at instants `stepMs` apart, without walking the whole range (for minutes, whose
 * walk would take half a million steps): the period contains the instant, the period of its start is
 * itself, and the following period starts at its end.
 */
function checkTilingAtInstants(frequency: Frequency, timeZone: string, stepMs: number): number {
  const failures: string[] = [];
  let instants = 0;
  for (let t = RANGE_START; t < RANGE_END; t += stepMs) {
    instants++;
    const period = periodOf(t, frequency, timeZone);
    if (!(period.start <= t && t < period.next)) failures.push(`${iso(t)} not in ${span(period)}`);
    const again = periodOf(period.start, frequency, timeZone);
    if (again.start !== period.start || again.next !== period.next) {
      failures.push(`period of start ${iso(period.start)} is ${span(again)}, not ${span(period)}`);
    }
    const following = periodOf(period.next, frequency, timeZone);
    if (following.start !== period.next) failures.push(`after ${span(period)} comes ${span(following)}`);
  }
  expect(failures.slice(0, 10)).toEqual([]);
  return instants;
}

describe('periodOf tiles all of 2026 without gaps or overlaps', () => {
  for (const timeZone of ZONES) {
    describe(timeZone, () => {
      it('minutely, checked every 53 minutes (and every minute of DST change days below)', () => {
        expect(checkTilingAtInstants('minutely', timeZone, 53 * MINUTE + 1_013)).toBeGreaterThan(10_000);
      });
      it('hourly, walked hour by hour and checked every 19 minutes', () => {
        const { instants, periods } = checkTiling('hourly', timeZone, 19 * MINUTE + 1_013);
        expect(instants).toBeGreaterThan(27_000);
        expect(periods).toBeGreaterThanOrEqual(8_760 + 96);
      });
      it('daily, walked day by day and checked every 4 hours 7 minutes', () => {
        const { periods } = checkTiling('daily', timeZone, 247 * MINUTE + 7);
        expect(periods).toBeGreaterThanOrEqual(369);
        expect(periods).toBeLessThanOrEqual(370);
      });
      it('weekly, walked week by week and checked every 5 hours 7 minutes', () => {
        expect(checkTiling('weekly', timeZone, 307 * MINUTE + 7).periods).toBe(53);
      });
      it('monthly, walked month by month and checked every 11 hours 7 minutes', () => {
        expect(checkTiling('monthly', timeZone, 667 * MINUTE + 7).periods).toBe(14);
      });
    });
  }

  it('every hourly period of 2026 lasts one hour, except where Lord Howe shifts by 30 minutes', () => {
    for (const timeZone of ZONES) {
      const lengths = chainOf('hourly', timeZone).map((p) => p.next - p.start);
      const odd = lengths.filter((length) => length !== HOUR);
      expect(odd, timeZone).toEqual(timeZone === LORD_HOWE ? [HOUR / 2, HOUR / 2] : []);
    }
  });

  it('every minutely period of a DST change day lasts one minute and they tile the day', () => {
    const days: Array<[string, string]> = [
      ['Europe/Berlin', '2026-10-24T22:00:00Z'],
      ['America/New_York', '2026-03-08T05:00:00Z'],
      [LORD_HOWE, '2026-04-04T13:00:00Z'],
      [LORD_HOWE, '2026-10-03T13:30:00Z'],
    ];
    for (const [timeZone, dayStart] of days) {
      const periods = periodsBetween(utc(dayStart), utc(dayStart) + 25 * HOUR, 'minutely', timeZone);
      expect(periods.every((p) => p.next - p.start === MINUTE), timeZone).toBe(true);
      expect(periods.every((p) => periodOf(p.next - 1, 'minutely', timeZone).start === p.start), timeZone).toBe(true);
    }
  });
});

describe('periodOf with a period in milliseconds', () => {
  for (const periodMs of [100, 5_000, 7 * MINUTE, 86_400_007]) {
    it(`aligns ${periodMs} ms periods to the epoch in every zone and tiles 2026`, () => {
      for (const timeZone of ZONES) {
        const period = periodOf(utc('2026-11-25T13:45:30.123Z'), periodMs, timeZone);
        expect(period.start % periodMs).toBe(0);
        expect(period.next - period.start).toBe(periodMs);
      }
      checkTilingAtInstants(periodMs, 'Europe/Berlin', 97 * MINUTE + 13);
      checkTilingAtInstants(periodMs, LORD_HOWE, 97 * MINUTE + 13);
    });
  }

  it('floors instants before 1970 towards the past', () => {
    expect(periodOf(-1, 5_000, 'UTC')).toEqual({ start: -5_000, next: 0 });
    expect(periodOf(-5_000, 5_000, 'UTC')).toEqual({ start: -5_000, next: 0 });
  });

  it('ignores the time zone', () => {
    const t = utc('2026-10-25T01:30:00.250Z');
    expect(periodOf(t, 1_000, LORD_HOWE)).toEqual(periodOf(t, 1_000, 'UTC'));
    expect(periodOf(t, 1_000, 'UTC')).toEqual({ start: t - 250, next: t + 750 });
  });
});

describe('periodOf across DST changes', () => {
  const day = (timeZone: string, at: string): Period => periodOf(utc(at), 'daily', timeZone);

  it('makes Berlin 2026-03-29 a 23-hour day and 2026-10-25 a 25-hour day', () => {
    expect(day('Europe/Berlin', '2026-03-29T12:00:00Z')).toEqual({
      start: utc('2026-03-28T23:00:00Z'),
      next: utc('2026-03-29T22:00:00Z'),
    });
    expect(day('Europe/Berlin', '2026-10-25T12:00:00Z')).toEqual({
      start: utc('2026-10-24T22:00:00Z'),
      next: utc('2026-10-25T23:00:00Z'),
    });
  });

  it('makes New York 2026-03-08 a 23-hour day and 2026-11-01 a 25-hour day', () => {
    expect(day('America/New_York', '2026-03-08T12:00:00Z')).toEqual({
      start: utc('2026-03-08T05:00:00Z'),
      next: utc('2026-03-09T04:00:00Z'),
    });
    expect(day('America/New_York', '2026-11-01T12:00:00Z')).toEqual({
      start: utc('2026-11-01T04:00:00Z'),
      next: utc('2026-11-02T05:00:00Z'),
    });
  });

  it('makes Lord Howe 2026-04-05 a 24.5-hour day and 2026-10-04 a 23.5-hour day', () => {
    expect(day(LORD_HOWE, '2026-04-05T02:00:00Z')).toEqual({
      start: utc('2026-04-04T13:00:00Z'),
      next: utc('2026-04-05T13:30:00Z'),
    });
    expect(day(LORD_HOWE, '2026-10-04T02:00:00Z')).toEqual({
      start: utc('2026-10-03T13:30:00Z'),
      next: utc('2026-10-04T13:00:00Z'),
    });
  });

  it('gives each DST change day as many hourly periods as it has hours', () => {
    const hoursOf = (timeZone: string, at: string): number => {
      const { start, next } = day(timeZone, at);
      return periodsBetween(start, next, 'hourly', timeZone).length;
    };
    expect(hoursOf('Europe/Berlin', '2026-03-29T12:00:00Z')).toBe(23);
    expect(hoursOf('Europe/Berlin', '2026-10-25T12:00:00Z')).toBe(25);
    expect(hoursOf('America/New_York', '2026-03-08T12:00:00Z')).toBe(23);
    expect(hoursOf('America/New_York', '2026-11-01T12:00:00Z')).toBe(25);
    // 24.5 h and 23.5 h: 24 hourly periods each, one of them half an hour long.
    expect(hoursOf(LORD_HOWE, '2026-04-05T02:00:00Z')).toBe(25);
    expect(hoursOf(LORD_HOWE, '2026-10-04T02:00:00Z')).toBe(24);
  });

  it("splits Berlin's repeated 02 hour of 2026-10-25 into two hours", () => {
    const hours = periodsBetween(utc('2026-10-24T23:00:00Z'), utc('2026-10-25T03:00:00Z'), 'hourly', 'Europe/Berlin');
    expect(hours.map((p) => [iso(p.start), formatPeriod(p.start, "yyyy-MM-dd'T'HHxx", 'Europe/Berlin')])).toEqual([
      ['2026-10-24T23:00:00.000Z', '2026-10-25T01+0200'],
      ['2026-10-25T00:00:00.000Z', '2026-10-25T02+0200'],
      ['2026-10-25T01:00:00.000Z', '2026-10-25T02+0100'],
      ['2026-10-25T02:00:00.000Z', '2026-10-25T03+0100'],
    ]);
  });

  it("skips Berlin's missing 02 hour of 2026-03-29", () => {
    expect(periodOf(utc('2026-03-29T00:59:59.999Z'), 'hourly', 'Europe/Berlin')).toEqual({
      start: utc('2026-03-29T00:00:00Z'),
      next: utc('2026-03-29T01:00:00Z'),
    });
    expect(formatPeriod(utc('2026-03-29T01:00:00Z'), "HHxx", 'Europe/Berlin')).toBe('03+0200');
  });

  it("splits New York's repeated 01 hour of 2026-11-01 and skips the missing 02 hour of 2026-03-08", () => {
    const zone = 'America/New_York';
    const fallBack = periodsBetween(utc('2026-11-01T05:00:00Z'), utc('2026-11-01T07:00:00Z'), 'hourly', zone);
    expect(fallBack.map((p) => formatPeriod(p.start, 'HHxx', zone))).toEqual(['01-0400', '01-0500']);
    const springForward = periodsBetween(utc('2026-03-08T06:00:00Z'), utc('2026-03-08T08:00:00Z'), 'hourly', zone);
    expect(springForward.map((p) => formatPeriod(p.start, 'HHxx', zone))).toEqual(['01-0500', '03-0400']);
  });

  it('cuts the hour of a 30-minute fall-back in Lord Howe (2026-04-05, 02:00+11:00 -> 01:30+10:30)', () => {
    const hours = periodsBetween(utc('2026-04-04T14:00:00Z'), utc('2026-04-04T17:00:00Z'), 'hourly', LORD_HOWE);
    expect(hours.map((p) => [iso(p.start), iso(p.next)])).toEqual([
      ['2026-04-04T14:00:00.000Z', '2026-04-04T15:00:00.000Z'], // 01:00-02:00 +11:00
      ['2026-04-04T15:00:00.000Z', '2026-04-04T15:30:00.000Z'], // 01:30-02:00 +10:30, the repeated half hour
      ['2026-04-04T15:30:00.000Z', '2026-04-04T16:30:00.000Z'], // 02:00-03:00 +10:30
      ['2026-04-04T16:30:00.000Z', '2026-04-04T17:30:00.000Z'],
    ]);
    // An instant inside the short hour, one just before the change, one at it.
    expect(periodOf(utc('2026-04-04T15:10:00Z'), 'hourly', LORD_HOWE)).toEqual(hours[1]);
    expect(periodOf(utc('2026-04-04T14:59:59.999Z'), 'hourly', LORD_HOWE)).toEqual(hours[0]);
    expect(periodOf(utc('2026-04-04T15:00:00Z'), 'hourly', LORD_HOWE)).toEqual(hours[1]);
  });

  it('cuts the hour of a 30-minute spring-forward in Lord Howe (2026-10-04, 02:00+10:30 -> 02:30+11:00)', () => {
    const hours = periodsBetween(utc('2026-10-03T14:30:00Z'), utc('2026-10-03T17:00:00Z'), 'hourly', LORD_HOWE);
    expect(hours.map((p) => [iso(p.start), iso(p.next)])).toEqual([
      ['2026-10-03T14:30:00.000Z', '2026-10-03T15:30:00.000Z'], // 01:00-02:00 +10:30
      ['2026-10-03T15:30:00.000Z', '2026-10-03T16:00:00.000Z'], // 02:30-03:00 +11:00, the short hour
      ['2026-10-03T16:00:00.000Z', '2026-10-03T17:00:00.000Z'], // 03:00-04:00 +11:00
    ]);
    expect(periodOf(utc('2026-10-03T15:40:00Z'), 'hourly', LORD_HOWE)).toEqual(hours[1]);
  });

  it('ends an hour at an offset change inside it (America/St_Johns changed at 00:01 until 2011)', () => {
    // 2010-03-14 00:01 -03:30 (03:31Z) became 01:01 -02:30.
    const zone = 'America/St_Johns';
    expect(periodOf(utc('2010-03-14T03:30:30Z'), 'hourly', zone)).toEqual({
      start: utc('2010-03-14T03:30:00Z'),
      next: utc('2010-03-14T03:31:00Z'),
    });
    expect(periodOf(utc('2010-03-14T03:31:00Z'), 'hourly', zone)).toEqual({
      start: utc('2010-03-14T03:31:00Z'),
      next: utc('2010-03-14T04:30:00Z'),
    });
    const hours = periodsBetween(utc('2010-03-13T00:00:00Z'), utc('2010-03-16T00:00:00Z'), 'hourly', zone);
    expect(hours.filter((p) => p.next - p.start !== HOUR).map((p) => p.next - p.start)).toEqual([MINUTE, 59 * MINUTE]);
  });

  it('starts a day at its first instant where midnight is skipped or repeated (America/Havana)', () => {
    // 2026-03-08 00:00 -05:00 became 01:00 -04:00; 2026-11-01 01:00 -04:00 became 00:00 -05:00.
    expect(day('America/Havana', '2026-03-08T12:00:00Z')).toEqual({
      start: utc('2026-03-08T05:00:00Z'),
      next: utc('2026-03-09T04:00:00Z'),
    });
    expect(day('America/Havana', '2026-11-01T04:30:00Z')).toEqual({
      start: utc('2026-11-01T04:00:00Z'),
      next: utc('2026-11-02T05:00:00Z'),
    });
    expect(day('America/Havana', '2026-11-01T05:30:00Z').start).toBe(utc('2026-11-01T04:00:00Z'));
  });

  it('floors hours at :30 UTC in Asia/Kolkata (+05:30)', () => {
    expect(periodOf(utc('2026-11-25T13:45:00Z'), 'hourly', 'Asia/Kolkata')).toEqual({
      start: utc('2026-11-25T13:30:00Z'),
      next: utc('2026-11-25T14:30:00Z'),
    });
  });
});

describe('calendar periods and the process time zone', () => {
  /** The local date of `t` in `timeZone`, from Intl (YYYY-MM-DD). */
  const localDate = (t: number, timeZone: string): string => new Intl.DateTimeFormat('en-CA', { timeZone }).format(new Date(t));
  // Instants near a DST change of the zone (or of the process zones below) close to its local midnight.
  const CASES: Array<[string, string]> = [
    ['America/Sao_Paulo', '2026-09-06T03:30:00Z'],
    ['Atlantic/Azores', '2026-10-25T00:30:00Z'],
    ['America/Nuuk', '2026-03-29T01:30:00Z'],
    ['America/Santiago', '2026-04-04T03:00:00Z'],
    ['Pacific/Chatham', '2026-04-04T11:14:00Z'],
    ['Asia/Gaza', '2021-10-28T21:30:00Z'], // midnight repeated by a fall-back at 01:00
    ['Europe/Berlin', '2026-03-29T01:30:00Z'],
  ];
  const PROCESS_ZONES = ['UTC', 'America/Santiago', 'Australia/Sydney', 'America/New_York', 'Europe/London'];

  it("finds the same days, weeks and months whatever the process's own time zone (TZ) is, each starting where its local date begins", () => {
    const before = process.env.TZ;
    const seen = new Map<string, string>();
    try {
      for (const processZone of PROCESS_ZONES) {
        process.env.TZ = processZone;
        for (const [zone, at] of CASES) {
          for (const frequency of ['daily', 'weekly', 'monthly'] as const) {
            const t = Date.parse(at);
            const key = `${zone} ${at} ${frequency}`;
            const period = periodOf(t, frequency, zone);
            expect(period.start <= t && t < period.next, `${key} under TZ=${processZone}: ${span(period)}`).toBe(true);
            expect(localDate(period.start - 1, zone) < localDate(period.start, zone), `${key}: the local date begins at the start`).toBe(true);
            expect(localDate(period.next - 1, zone) < localDate(period.next, zone), `${key}: the local date begins at the end`).toBe(true);
            const shown = span(period);
            expect(seen.get(key) ?? shown, `${key} under TZ=${processZone}`).toBe(shown);
            seen.set(key, shown);
          }
        }
      }
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });
});

describe('a fall-back that takes the local date back a day', () => {
  it("tiles where America/St_Johns turned 00:01 back to 23:01 (until 2011): the day begins when its date comes back for good", () => {
    const fallBack = Date.parse('2009-11-01T02:31:00Z'); // 00:01 NDT becomes 23:01 NST on Oct 31
    for (const frequency of ['daily', 'weekly', 'monthly'] as const) {
      for (const t of [fallBack - 60_001, fallBack - 1, fallBack, fallBack + 30 * MINUTE, fallBack + 59 * MINUTE, fallBack + 61 * MINUTE]) {
        const period = periodOf(t, frequency, 'America/St_Johns');
        expect(periodOf(period.start, frequency, 'America/St_Johns'), `${frequency} ${iso(t)}`).toEqual(period);
        expect(periodOf(period.next - 1, frequency, 'America/St_Johns'), `${frequency} ${iso(t)}`).toEqual(period);
        expect(periodOf(period.next, frequency, 'America/St_Johns').start, `${frequency} ${iso(t)}`).toBe(period.next);
      }
    }
    expect(span(periodOf(fallBack, 'daily', 'America/St_Johns'))).toBe('2009-10-31T02:30:00.000Z .. 2009-11-01T03:30:00.000Z');
  });
});

describe('weekly and monthly periods', () => {
  it('start weeks on Monday and run a DST week to 169 hours (Berlin, week of 2026-10-25)', () => {
    expect(periodOf(utc('2026-10-25T12:00:00Z'), 'weekly', 'Europe/Berlin')).toEqual({
      start: utc('2026-10-18T22:00:00Z'),
      next: utc('2026-10-25T23:00:00Z'),
    });
  });

  it('put 2026-01-01 (a Thursday) in the week starting Monday 2025-12-29', () => {
    expect(periodOf(utc('2026-01-01T12:00:00Z'), 'weekly', 'UTC')).toEqual({
      start: utc('2025-12-29T00:00:00Z'),
      next: utc('2026-01-05T00:00:00Z'),
    });
  });

  it('run months from local midnight of the 1st (Berlin October 2026, Shanghai February 2026)', () => {
    expect(periodOf(utc('2026-10-15T00:00:00Z'), 'monthly', 'Europe/Berlin')).toEqual({
      start: utc('2026-09-30T22:00:00Z'),
      next: utc('2026-10-31T23:00:00Z'),
    });
    expect(periodOf(utc('2026-02-10T00:00:00Z'), 'monthly', 'Asia/Shanghai')).toEqual({
      start: utc('2026-01-31T16:00:00Z'),
      next: utc('2026-02-28T16:00:00Z'),
    });
  });

  it('has periods longer than the longest timer delay, so callers must cap their timers', () => {
    const month = periodOf(utc('2026-01-15T00:00:00Z'), 'monthly', 'UTC');
    expect(month.next - month.start).toBeGreaterThan(MAX_TIMER_DELAY_MS);
  });
});

describe('hourly archive names with the default format', () => {
  for (const timeZone of ZONES) {
    it(`are unique for every hour of 2026 in ${timeZone}`, () => {
      const hours = chainOf('hourly', timeZone).filter((p) => p.start >= YEAR_START && p.start < YEAR_END);
      const names = new Set(hours.map((p) => formatPeriod(p.start, defaultDateFormat('hourly'), timeZone)));
      expect(names.size).toBe(hours.length);
      expect(hours.length).toBeGreaterThanOrEqual(8_760);
    });
  }
});

describe('zoneOffsetMinutes', () => {
  it('gives minutes east of UTC in winter and summer', () => {
    const winter = utc('2026-01-15T12:00:00Z');
    const summer = utc('2026-07-15T12:00:00Z');
    expect([winter, summer].map((t) => zoneOffsetMinutes(t, 'Europe/Berlin'))).toEqual([60, 120]);
    expect([winter, summer].map((t) => zoneOffsetMinutes(t, 'America/New_York'))).toEqual([-300, -240]);
    expect([winter, summer].map((t) => zoneOffsetMinutes(t, LORD_HOWE))).toEqual([660, 630]);
    expect([winter, summer].map((t) => zoneOffsetMinutes(t, 'Asia/Shanghai'))).toEqual([480, 480]);
    expect([winter, summer].map((t) => zoneOffsetMinutes(t, 'UTC'))).toEqual([0, 0]);
  });

  it("uses the process time zone for 'local'", () => {
    for (const t of [utc('2026-01-15T12:00:00Z'), utc('2026-07-15T12:00:00Z')]) {
      expect(zoneOffsetMinutes(t, 'local')).toBe(-new Date(t).getTimezoneOffset() || 0);
    }
  });

  it('is NaN for an unknown zone', () => {
    expect(zoneOffsetMinutes(0, 'Mars/Olympus_Mons')).toBeNaN();
  });
});

describe('isValidTimeZone', () => {
  it("accepts 'local', 'UTC' and IANA names", () => {
    for (const zone of [...ZONES, 'America/St_Johns', 'Etc/GMT+5', 'europe/berlin']) {
      expect(isValidTimeZone(zone), zone).toBe(true);
    }
  });

  it('refuses unknown names, bare offsets and non-strings', () => {
    for (const zone of ['', 'Mars/Olympus_Mons', 'Local', '+08:00', 'garbage+05', 'Europe/Berlin ']) {
      expect(isValidTimeZone(zone), zone).toBe(false);
    }
    expect(isValidTimeZone(undefined as unknown as string)).toBe(false);
    expect(isValidTimeZone(8 as unknown as string)).toBe(false);
  });
});

describe('periodOf argument errors', () => {
  const codeOf = (fn: () => unknown): unknown => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(RangeError);
      return (error as { code?: unknown }).code;
    }
    return 'did not throw';
  };

  it('throws ERR_INVALID_ARG_VALUE instead of returning a period that never ends', () => {
    expect(codeOf(() => periodOf(Number.NaN, 'hourly', 'UTC'))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => periodOf(Number.POSITIVE_INFINITY, 'daily', 'UTC'))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => periodOf(0, 0, 'UTC'))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => periodOf(0, -5, 'UTC'))).toBe('ERR_INVALID_ARG_VALUE');
    expect(codeOf(() => periodOf(0, 'yearly' as Frequency, 'UTC'))).toBe('ERR_INVALID_ARG_VALUE');
    for (const frequency of NAMED) {
      const code = codeOf(() => periodOf(0, frequency, 'Mars/Olympus_Mons'));
      expect(code, String(frequency)).toBe('ERR_INVALID_ARG_VALUE');
    }
  });

  it('is MAX_TIMER_DELAY_MS = 2^31 - 1', () => {
    expect(MAX_TIMER_DELAY_MS).toBe(2_147_483_647);
  });
});
