import { describe, it, expect } from 'vitest';
import {
  archiveName,
  dateFormatProblem,
  defaultDateFormat,
  formatPeriod,
  parseArchiveName,
  type NameScheme,
} from '../src/naming.js';
import { periodOf } from '../src/schedule.js';
import type { Frequency } from '../src/types.js';
import { HOUR, iso, MINUTE, periodsBetween, utc, YEAR_END, YEAR_START } from './helpers/periods.js';

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Shanghai', 'Australia/Lord_Howe', 'local'] as const;
const FREQUENCIES: Frequency[] = ['monthly', 'weekly', 'daily', 'hourly', 'minutely', 5_000];


const scheme = (timeZone: string, dateFormat = 'yyyy-MM-dd', activeName = 'app.log', frequency: Frequency = 'daily'): NameScheme => ({
  activeName,
  dateFormat,
  timeZone,
  frequency,
});


/** Period starts of 2026 to round-trip: the start of the period of every `stepMs`-th instant. */
function sampledStarts(frequency: Frequency, timeZone: string, stepMs: number): number[] {
  const starts = new Set<number>();
  for (let t = YEAR_START; t < YEAR_END; t += stepMs) starts.add(periodOf(t, frequency, timeZone).start);
  return [...starts];
}

/** The 2026 offset changes of Berlin, New York and Lord Howe (two of them by 30 minutes). */
const OFFSET_CHANGES = [
  '2026-03-08T07:00:00Z',
  '2026-03-29T01:00:00Z',
  '2026-04-04T15:00:00Z',
  '2026-10-03T15:30:00Z',
  '2026-10-25T01:00:00Z',
  '2026-11-01T06:00:00Z',
].map(utc);

/** Period starts within `radiusMs` of every offset change above (in any zone: extra periods do no harm). */
function startsAroundOffsetChanges(frequency: Frequency, timeZone: string, radiusMs: number): number[] {
  return OFFSET_CHANGES.flatMap((change) =>
    periodsBetween(change - radiusMs, change + radiusMs, frequency, timeZone).map((p) => p.start),
  );
}

/**
 * How far apart the sampled instants are, per frequency: every month and week; for shorter periods a step
 * that drifts through the days, hours and minutes (plus every period around the offset changes, below).
 */
const SAMPLE_STEP: Record<string, number> = {
  monthly: 86_400_000,
  weekly: 86_400_000,
  daily: 53 * HOUR,
  hourly: 37 * HOUR + 7 * MINUTE,
  minutely: 2_999 * MINUTE,
  '5000': 41 * HOUR + 4_321,
};

describe('defaultDateFormat', () => {
  it('follows the frequency', () => {
    expect(FREQUENCIES.map(defaultDateFormat)).toEqual([
      'yyyy-MM',
      "RRRR-'W'II",
      'yyyy-MM-dd',
      "yyyy-MM-dd'T'HHxx",
      "yyyy-MM-dd'T'HH-mmxx",
      "yyyy-MM-dd'T'HH-mm-ss-SSSxx",
    ]);
    expect(defaultDateFormat(100)).toBe("yyyy-MM-dd'T'HH-mm-ss-SSSxx");
  });

  it('is accepted by dateFormatProblem in every zone', () => {
    for (const timeZone of ZONES) {
      for (const frequency of FREQUENCIES) {
        expect(dateFormatProblem(defaultDateFormat(frequency), timeZone), `${frequency} ${timeZone}`).toBeNull();
      }
    }
  });
});

describe('archiveName', () => {
  const berlin = scheme('Europe/Berlin');
  const day = utc('2026-11-24T23:00:00Z'); // 2026-11-25 00:00 in Berlin

  it('names the archive after the period start in the zone', () => {
    expect(archiveName(berlin, day, 0)).toBe('app.2026-11-25.log');
    expect(archiveName(scheme('UTC'), day, 0)).toBe('app.2026-11-24.log');
  });

  it('adds the collision index before the extension and .gz after it', () => {
    expect(archiveName(berlin, day, 1)).toBe('app.2026-11-25.1.log');
    expect(archiveName(berlin, day, 12)).toBe('app.2026-11-25.12.log');
    expect(archiveName(berlin, day, 0, true)).toBe('app.2026-11-25.log.gz');
    expect(archiveName(berlin, day, 3, true)).toBe('app.2026-11-25.3.log.gz');
  });

  it('handles an active file without extension and one with several dots', () => {
    expect(archiveName(scheme('Europe/Berlin', 'yyyy-MM-dd', 'app'), day, 0)).toBe('app.2026-11-25');
    expect(archiveName(scheme('Europe/Berlin', 'yyyy-MM-dd', 'app'), day, 2, true)).toBe('app.2026-11-25.2.gz');
    expect(archiveName(scheme('Europe/Berlin', 'yyyy-MM-dd', 'my.app.log'), day, 1)).toBe('my.app.2026-11-25.1.log');
  });

  it("writes hourly names with the offset, so Berlin's two 02 hours differ", () => {
    const hourly = scheme('Europe/Berlin', defaultDateFormat('hourly'));
    expect(archiveName(hourly, utc('2026-10-25T00:00:00Z'), 0)).toBe('app.2026-10-25T02+0200.log');
    expect(archiveName(hourly, utc('2026-10-25T01:00:00Z'), 0)).toBe('app.2026-10-25T02+0100.log');
  });

  it('writes ISO weeks, including week 53 of 2026', () => {
    const weekly = scheme('UTC', defaultDateFormat('weekly'));
    expect(archiveName(weekly, utc('2026-12-28T00:00:00Z'), 0)).toBe('app.2026-W53.log');
    expect(archiveName(weekly, utc('2025-12-29T00:00:00Z'), 0)).toBe('app.2026-W01.log');
  });

  it('refuses an index that is negative or not an integer', () => {
    for (const index of [-1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => archiveName(berlin, day, index), String(index)).toThrow(RangeError);
    }
  });
});

describe('parseArchiveName round-trips archiveName', () => {
  for (const timeZone of ZONES) {
    for (const frequency of FREQUENCIES) {
      it(`${String(frequency)} periods of 2026 in ${timeZone}`, () => {
        const names = scheme(timeZone, defaultDateFormat(frequency), 'app.log', frequency);
        const starts = sampledStarts(frequency, timeZone, SAMPLE_STEP[String(frequency)]!);
        if (frequency === 'daily') starts.push(...startsAroundOffsetChanges(frequency, timeZone, 26 * HOUR));
        if (frequency === 'hourly') starts.push(...startsAroundOffsetChanges(frequency, timeZone, 3 * HOUR));
        if (frequency === 'minutely') starts.push(...startsAroundOffsetChanges(frequency, timeZone, 10 * MINUTE));
        const failures: string[] = [];
        for (const [i, periodStart] of starts.entries()) {
          const index = i % 3;
          const compressed = i % 2 === 1;
          const name = archiveName(names, periodStart, index, compressed);
          const parsed = parseArchiveName(names, name);
          if (parsed?.periodStart !== periodStart || parsed.index !== index || parsed.compressed !== compressed) {
            failures.push(`${iso(periodStart)} -> ${name} -> ${JSON.stringify(parsed)}`);
          }
        }
        expect(failures).toEqual([]);
        expect(starts.length).toBeGreaterThan(10);
      });
    }
  }

  it("reads back Lord Howe's half hours as the instant of the offset change", () => {
    const hourly = scheme('Australia/Lord_Howe', defaultDateFormat('hourly'), 'app.log', 'hourly');
    // 2026-04-05 02:00+11:00 -> 01:30+10:30: the hour named 01+1030 starts at the change, 15:00Z.
    expect(archiveName(hourly, utc('2026-04-04T15:00:00Z'), 0)).toBe('app.2026-04-05T01+1030.log');
    expect(parseArchiveName(hourly, 'app.2026-04-05T01+1030.log')?.periodStart).toBe(utc('2026-04-04T15:00:00Z'));
    expect(parseArchiveName(hourly, 'app.2026-04-05T01+1100.log')?.periodStart).toBe(utc('2026-04-04T14:00:00Z'));
    // 2026-10-04 02:00+10:30 -> 02:30+11:00: the hour named 02+1100 starts at the change, 15:30Z.
    expect(archiveName(hourly, utc('2026-10-03T15:30:00Z'), 0)).toBe('app.2026-10-04T02+1100.log');
    expect(parseArchiveName(hourly, 'app.2026-10-04T02+1100.log.gz')).toEqual({
      periodStart: utc('2026-10-03T15:30:00Z'),
      index: 0,
      compressed: true,
    });
  });

  it('reads back hours that start at an offset change at 00:01 (America/St_Johns 2005), with and without offset', () => {
    // 2005-04-03 00:01 -03:30 (03:31Z) became 01:01 -02:30; 2005-10-30 00:01 -02:30 became 23:01 -03:30.
    const zone = 'America/St_Johns';
    const springForward = periodsBetween(utc('2005-04-03T01:00:00Z'), utc('2005-04-03T07:00:00Z'), 'hourly', zone);
    const fallBack = periodsBetween(utc('2005-10-30T01:00:00Z'), utc('2005-10-30T07:00:00Z'), 'hourly', zone);
    const withOffset = scheme(zone, defaultDateFormat('hourly'), 'app.log', 'hourly');
    expect(archiveName(withOffset, utc('2005-04-03T03:31:00Z'), 0)).toBe('app.2005-04-03T01-0230.log');
    for (const { start } of [...springForward, ...fallBack]) {
      expect(parseArchiveName(withOffset, archiveName(withOffset, start, 0))?.periodStart, iso(start)).toBe(start);
    }
    // Without an offset the 01 of 2005-04-03 is a wall time in the gap, which date-fns moves to 02:00.
    const withoutOffset = scheme(zone, "yyyy-MM-dd'T'HH", 'app.log', 'hourly');
    for (const { start } of springForward) {
      expect(parseArchiveName(withoutOffset, archiveName(withoutOffset, start, 0))?.periodStart, iso(start)).toBe(start);
    }
  });

  it('finds the index after a date that contains dots', () => {
    const dotted = scheme('UTC', 'yyyy.MM.dd');
    const day = utc('2026-11-25T00:00:00Z');
    expect(archiveName(dotted, day, 4)).toBe('app.2026.11.25.4.log');
    expect(parseArchiveName(dotted, 'app.2026.11.25.4.log')).toEqual({ periodStart: day, index: 4, compressed: false });
    expect(parseArchiveName(dotted, 'app.2026.11.25.log.gz')).toEqual({ periodStart: day, index: 0, compressed: true });
  });

  it('reads the names of an active file without extension', () => {
    const bare = scheme('UTC', 'yyyy-MM-dd', 'app');
    const day = utc('2026-11-25T00:00:00Z');
    expect(parseArchiveName(bare, 'app.2026-11-25')).toEqual({ periodStart: day, index: 0, compressed: false });
    expect(parseArchiveName(bare, 'app.2026-11-25.7')).toEqual({ periodStart: day, index: 7, compressed: false });
    expect(parseArchiveName(bare, 'app.2026-11-25.gz')).toEqual({ periodStart: day, index: 0, compressed: true });
    expect(parseArchiveName(bare, 'app.2026-11-25.7.gz')).toEqual({ periodStart: day, index: 7, compressed: true });
    expect(parseArchiveName(bare, 'app')).toBeNull();
    expect(parseArchiveName(bare, '.app.lock')).toBeNull();
  });

  it('keeps a numeric extension in the stem: the archives of app.1 and of app in one directory are never taken for each other', () => {
    const one = scheme('UTC', 'yyyy-MM-dd', 'app.1');
    const bare = scheme('UTC', 'yyyy-MM-dd', 'app');
    const day = utc('2026-11-25T00:00:00Z');
    const ofOne = [archiveName(one, day, 0), archiveName(one, day, 2), archiveName(one, day, 0, true)];
    expect(ofOne).toEqual(['app.1.2026-11-25', 'app.1.2026-11-25.2', 'app.1.2026-11-25.gz']);
    expect(parseArchiveName(one, 'app.1.2026-11-25.2')).toEqual({ periodStart: day, index: 2, compressed: false });
    for (const name of ofOne) expect(parseArchiveName(bare, name), name).toBeNull();
    for (const name of [archiveName(bare, day, 0), archiveName(bare, day, 1), archiveName(bare, day, 1, true)]) {
      expect(parseArchiveName(one, name), name).toBeNull();
    }
  });

  it('tells compressed from uncompressed when the active file itself ends in .gz', () => {
    const gz = scheme('UTC', 'yyyy-MM-dd', 'app.gz');
    const day = utc('2026-11-25T00:00:00Z');
    for (const [index, compressed] of [[0, false], [0, true], [2, false], [2, true]] as const) {
      const name = archiveName(gz, day, index, compressed);
      expect(parseArchiveName(gz, name), name).toEqual({ periodStart: day, index, compressed });
    }
  });

  it('round-trips custom formats: ISO week with day, compact, dotted, timestamp', () => {
    const cases: Array<[string, number, Frequency]> = [
      ["RRRR-'W'II-i", utc('2026-03-28T23:00:00Z'), 'daily'], // Berlin's 23-hour Sunday, day 7 of week 13
      ["yyyyMMdd'T'HHmmxx", utc('2026-03-29T01:00:00Z'), 'minutely'], // the first minute of summer time
      ['yyyy.MM.dd.HH.mm.xx', utc('2026-10-25T01:00:00Z'), 'hourly'], // the second 02:00
      ['t', utc('2026-10-25T01:00:00Z'), 'hourly'],
      ["yyyy-MM-dd'T'HH-mm-ss-SSSxxx", utc('2026-10-25T00:59:59.900Z'), 100],
    ];
    for (const [dateFormat, at, frequency] of cases) {
      const custom = scheme('Europe/Berlin', dateFormat, 'app.log', frequency);
      expect(parseArchiveName(custom, archiveName(custom, at, 2, true)), dateFormat).toEqual({
        periodStart: at,
        index: 2,
        compressed: true,
      });
    }
  });

  // date-fns builds a parsed wall time in the process's zone first: a name whose wall time falls in that
  // zone's DST gap came out shifted by the gap (half an hour in Lord_Howe) and was no archive.
  for (const [processZone, gapDay] of [
    ['Australia/Lord_Howe', '2026-10-04'],
    ['Europe/Berlin', '2026-03-29'],
    ['America/St_Johns', '2026-03-08'],
  ] as const) {
    it(`reads back UTC minute names whose wall time lies in the DST gap of the process's zone (TZ=${processZone})`, () => {
      const names = scheme('UTC', defaultDateFormat('minutely'), 'app.log', 'minutely');
      const saved = process.env.TZ;
      process.env.TZ = processZone;
      const unread: string[] = [];
      try {
        for (let start = utc(`${gapDay}T00:00:00Z`); start < utc(`${gapDay}T04:00:00Z`); start += MINUTE) {
          const name = archiveName(names, start, 0);
          if (parseArchiveName(names, name)?.periodStart !== start) unread.push(name);
        }
      } finally {
        if (saved === undefined) delete process.env.TZ;
        else process.env.TZ = saved;
      }
      expect(unread).toEqual([]);
    });
  }
});

describe('archive names and the process time zone', () => {
  it("makes and reads the same names whatever the process's own time zone (TZ) is, near offset changes of both", () => {
    const before = process.env.TZ;
    const cases: Array<[string, Frequency, string]> = [
      ['America/Santiago', 'daily', '2026-04-05T04:00:00Z'], // read a day off under TZ=Australia/Sydney
      ['Pacific/Easter', 'daily', '2026-04-05T06:00:00Z'],
      ['America/Santiago', 'daily', '2026-09-06T04:00:00Z'],
      ['UTC', 'hourly', '2026-10-04T02:00:00Z'], // 02:00 wall time is in Lord_Howe's gap
      ['Europe/Berlin', 'hourly', '2026-10-25T01:00:00Z'],
    ];
    try {
      for (const processZone of ['UTC', 'Australia/Sydney', 'Australia/Lord_Howe', 'America/Santiago']) {
        process.env.TZ = processZone;
        for (const [timeZone, frequency, at] of cases) {
          const scheme = { activeName: 'app.log', dateFormat: defaultDateFormat(frequency), timeZone, frequency };
          const start = periodOf(Date.parse(at), frequency, timeZone).start;
          const name = archiveName(scheme, start, 0);
          expect(parseArchiveName(scheme, name)?.periodStart, `${name} (${timeZone}) under TZ=${processZone}`).toBe(start);
        }
      }
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });
});

describe('parseArchiveName rejects names it did not make', () => {
  const daily = scheme('Europe/Berlin');

  it('rejects the active, lock, state and temporary files and other files', () => {
    for (const name of [
      'app.log',
      '.app.log.lock',
      '.app.log.state',
      'other.2026-01-01.log',
      'app.garbage.log',
      'app.2026-01-01.log.tmp',
      'app.2026-01-01.log.gz.tmp',
      'app.2026-01-01.txt',
      'app..log',
      'app.log.gz',
      'app.2026-1-1.log',
      'app.2026-02-30.log',
      'app.2026-01-01T00.log',
      ' app.2026-01-01.log',
      'xapp.2026-01-01.log',
      'App.2026-01-01.log',
    ]) {
      expect(parseArchiveName(daily, name), name).toBeNull();
    }
  });

  it('rejects index 0, leading zeros and oversized indexes', () => {
    const tooBig = `app.2026-01-01.${'9'.repeat(20)}.log`;
    for (const name of ['app.2026-01-01.0.log', 'app.2026-01-01.01.log', 'app.2026-01-01.-1.log', tooBig]) {
      expect(parseArchiveName(daily, name), name).toBeNull();
    }
  });

  it("rejects another format's names and hourly names whose offset the zone never had", () => {
    expect(parseArchiveName(scheme('Europe/Berlin', 'yyyy-MM'), 'app.2026-01-01.log')).toBeNull();
    const hourly = scheme('Europe/Berlin', defaultDateFormat('hourly'), 'app.log', 'hourly');
    expect(parseArchiveName(hourly, 'app.2026-01-15T10+0500.log')).toBeNull();
  });

  it('reads the name of a period in ms that does not start at the zone\'s midnight or hour as that period', () => {
    const utcDays = scheme('Europe/Berlin', 'yyyy-MM-dd', 'app.log', 86_400_000);
    expect(archiveName(utcDays, utc('2026-11-25T00:00:00Z'), 0)).toBe('app.2026-11-25.log'); // 01:00 in Berlin
    expect(parseArchiveName(utcDays, 'app.2026-11-25.log')?.periodStart).toBe(utc('2026-11-25T00:00:00Z'));
    const utcDaysWest = scheme('America/New_York', 'yyyy-MM-dd', 'app.log', 86_400_000);
    expect(archiveName(utcDaysWest, utc('2026-11-25T00:00:00Z'), 0)).toBe('app.2026-11-24.log'); // 19:00 the day before
    expect(parseArchiveName(utcDaysWest, 'app.2026-11-24.log')?.periodStart).toBe(utc('2026-11-25T00:00:00Z'));
    const utcHours = scheme('Asia/Kolkata', "yyyy-MM-dd'T'HHxx", 'app.log', 3_600_000);
    expect(archiveName(utcHours, utc('2026-11-25T13:00:00Z'), 0)).toBe('app.2026-11-25T18+0530.log'); // 18:30
    expect(parseArchiveName(utcHours, 'app.2026-11-25T18+0530.log')?.periodStart).toBe(utc('2026-11-25T13:00:00Z'));
  });

  it('rejects a date in the format that is not the start of a period (`t`: any number is a date)', () => {
    const seconds = scheme('UTC', 't');
    for (const name of ['app.1.log', 'app.2.log', 'app.20261125.log', `app.${utc('2026-11-25T13:00:00Z') / 1000}.log`]) {
      expect(parseArchiveName(seconds, name), name).toBeNull();
    }
    expect(parseArchiveName(seconds, `app.${utc('2026-11-25T00:00:00Z') / 1000}.log`)?.periodStart).toBe(utc('2026-11-25T00:00:00Z'));
    // A daily scheme does not take the name of an hour, nor an hourly one the name of a minute.
    const minutes = "yyyy-MM-dd'T'HH-mm";
    expect(parseArchiveName(scheme('UTC', minutes, 'app.log', 'hourly'), 'app.2026-11-25T13-00.log')).not.toBeNull();
    expect(parseArchiveName(scheme('UTC', minutes, 'app.log', 'hourly'), 'app.2026-11-25T13-01.log')).toBeNull();
    expect(parseArchiveName(scheme('UTC', minutes), 'app.2026-11-25T13-00.log')).toBeNull();
  });

  it('returns null, without throwing, for a scheme whose format date-fns refuses', () => {
    expect(parseArchiveName(scheme('UTC', 'YYYY'), 'app.2026.log')).toBeNull();
    expect(parseArchiveName(scheme('UTC', 'jjj'), 'app.2026.log')).toBeNull();
    expect(parseArchiveName(scheme('Mars/Olympus_Mons'), 'app.2026-01-01.log')).toBeNull();
  });
});

describe('formatPeriod', () => {
  it("formats in the zone, and in the process zone for 'local'", () => {
    const t = utc('2026-07-01T22:30:00Z');
    expect(formatPeriod(t, "yyyy-MM-dd'T'HH:mmxxx", 'Asia/Shanghai')).toBe('2026-07-02T06:30+08:00');
    expect(formatPeriod(t, "yyyy-MM-dd'T'HH:mmxxx", 'America/New_York')).toBe('2026-07-01T18:30-04:00');
    const local = new Date(t);
    const pad = (n: number): string => String(n).padStart(2, '0');
    expect(formatPeriod(t, 'yyyy-MM-dd HH', 'local')).toBe(
      `${local.getFullYear()}-${pad(local.getMonth() + 1)}-${pad(local.getDate())} ${pad(local.getHours())}`,
    );
  });
});

describe('dateFormatProblem', () => {
  it.each([
    ['yyyy/MM', /'\/'/],
    ["'..'", /'\.\.'/],
    ['YYYY', /YYYY.*week-numbering year.*yyyy/],
    ['YY', /week-numbering year/],
    ['DD', /day of the year/],
    ["''", /does not identify/],
    ['', /empty/],
    ["yyyy'\\'MM", /'\\'/],
    ["yyyy'\u0000'", /NUL/],
    ["yyyy-MM-dd'\n'", /control character/],
    ["yyyy'\t'MM", /control character/],
    ['P', /'\/'/],
    ['jjj', /cannot format/],
    ['zzzz', /cannot parse/],
    ['MM-dd', /does not identify/],
    ['EEEE', /does not identify/],
  ])('refuses %j', (dateFormat, reason) => {
    expect(dateFormatProblem(dateFormat, 'Europe/Berlin')).toMatch(reason);
  });

  it('names the text the format produced', () => {
    expect(dateFormatProblem('yyyy/MM', 'UTC')).toContain('"2026/11"');
  });

  it('accepts formats that name a period, in any zone', () => {
    const formats = ['yyyy-MM-dd', "yyyyMMdd'T'HH", 'yyyy.MM.dd', "RRRR-'W'II", 'yyyy', "yyyy-'Q'Q", 't', "'log'-yyyy"];
    for (const dateFormat of formats) {
      for (const timeZone of ZONES) {
        expect(dateFormatProblem(dateFormat, timeZone), `${dateFormat} ${timeZone}`).toBeNull();
      }
    }
  });

  it.each([
    ['yyyy-mm-dd', 'daily', /does not tell daily periods apart: "2026-00-25" names the period starting 2026-11-25T00:00:00.000Z but reads back as the period starting 2026-01-25/],
    ["yyyy-MM-dd'T'hh", 'hourly', /does not tell hourly periods apart/],
    ['yyyy-MM-dd', 'hourly', /does not tell hourly periods apart: "2026-11-25" names the period starting 2026-11-25T13:00:00.000Z/],
    ['yyyy-MM', 'daily', /does not tell daily periods apart/],
    ['yyyy', 'monthly', /does not tell monthly periods apart/],
    ["RRRR-'W'II", 'daily', /does not tell daily periods apart/],
    ["yyyy-MM-dd'T'HH-mm-ss", 500, /does not tell 500 ms periods apart/],
    // Two starts within one minute (00:00:00 and 00:00:45) only now and then: not where the samples fall.
    ["yyyy-MM-dd'T'HH-mmxx", 45_000, /does not tell 45000 ms periods apart/],
  ] as Array<[string, Frequency, RegExp]>)('refuses %j for %j periods: names that do not tell the periods apart', (dateFormat, frequency, reason) => {
    expect(dateFormatProblem(dateFormat, 'UTC', frequency)).toMatch(reason);
  });

  it('refuses an hour format for 50-minute periods in a zone 45 minutes off the hour (two starts in one local hour)', () => {
    expect(dateFormatProblem("yyyy-MM-dd'T'HHxx", 'Asia/Kathmandu', 3_000_000)).toMatch(/does not tell 3000000 ms periods apart/);
  });

  it('accepts, for each frequency, formats that tell its periods apart', () => {
    const cases: Array<[string, Frequency]> = [
      ['yyyy-MM-dd', 'daily'],
      ['t', 'daily'],
      ['yyyy-MM', 'monthly'],
      ["RRRR-'W'II", 'weekly'],
      ["yyyy-MM-dd'T'HHxx", 'hourly'],
      ["yyyy-MM-dd'T'HH-mm-ss", 1000],
      // Periods in ms are aligned to the epoch: a UTC day starts at 01:00 in Berlin and is named by that date,
      // a UTC hour starts at :30 in Kolkata and is named by its start's hour.
      ['yyyy-MM-dd', 86_400_000],
      ["yyyy-MM-dd'T'HHxx", 3_600_000],
    ];
    for (const [dateFormat, frequency] of cases) {
      for (const timeZone of ZONES) expect(dateFormatProblem(dateFormat, timeZone, frequency), `${dateFormat} ${String(frequency)} ${timeZone}`).toBeNull();
    }
  });

  it('reports an unknown time zone instead of throwing', () => {
    expect(dateFormatProblem('yyyy-MM-dd', 'Mars/Olympus_Mons')).toMatch(/time zone/);
  });

  it('never writes to the console, even for tokens date-fns warns about', () => {
    const warn = console.warn;
    const warnings: unknown[] = [];
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      for (const dateFormat of ['YYYY', 'Y', 'YYY', 'D', 'DDD', "yyyy-MM-dd'YYYY'"]) {
        dateFormatProblem(dateFormat, 'UTC');
        parseArchiveName(scheme('UTC', dateFormat), 'app.2026.log');
      }
    } finally {
      console.warn = warn;
    }
    expect(warnings).toEqual([]);
    expect(dateFormatProblem("yyyy-MM-dd'YYYY'", 'UTC')).toBeNull();
  });
});
