import * as nodePath from 'node:path';

import { describe, expect, it } from 'vitest';

import { describeValue, TimberlockOptionError } from '../src/errors.js';
import { dateFormatProblem } from '../src/naming.js';
import { normalizeOptions } from '../src/options.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const MiB = 1024 * 1024;

/** Runs normalizeOptions and returns the error it throws; fails the test if it does not throw one. */
function optionError(input: unknown): TimberlockOptionError {
  try {
    normalizeOptions(input);
  } catch (error) {
    expect(error).toBeInstanceOf(TimberlockOptionError);
    return error as TimberlockOptionError;
  }
  throw new Error(`normalizeOptions accepted ${describeValue(input)}`);
}

describe('normalizeOptions', () => {
  it('replaces {hostname} and {pid} in path', () => {
    const options = normalizeOptions({ path: '/var/log/app-{hostname}-{pid}.log' }, { hostname: 'web1', pid: 42 });
    expect(options.path).toBe('/var/log/app-web1-42.log');
    expect(options.name).toBe('app-web1-42.log');
  });

  it('reads sizes and durations with units', () => {
    expect(normalizeOptions({ path: 'a.log', maxSize: '100MB' }).maxSize).toBe(100 * MiB);
    expect(normalizeOptions({ path: 'a.log', maxSize: '512k' }).maxSize).toBe(512 * 1024);
    expect(normalizeOptions({ path: 'a.log', maxSize: 4096 }).maxSize).toBe(4096);
    expect(normalizeOptions({ path: 'a.log', maxAge: '14d' }).maxAgeMs).toBe(14 * DAY_MS);
    expect(normalizeOptions({ path: 'a.log', frequency: 'minutely', maxAge: '90s' }).maxAgeMs).toBe(90_000);
    expect(normalizeOptions({ path: 'a.log', compress: { delayMs: 300 } })).toMatchObject({ compress: true, archiveDelayMs: 300 });
    expect(normalizeOptions({ path: 'a.log', compress: true })).toMatchObject({ compress: true, archiveDelayMs: 5000 });
  });

  it('fills every default from a path alone', () => {
    expect(normalizeOptions({ path: 'logs/app.log' })).toEqual({
      path: nodePath.resolve('logs/app.log'),
      dir: nodePath.resolve('logs'),
      name: 'app.log',
      frequency: 'daily',
      timeZone: 'local',
      dateFormat: 'yyyy-MM-dd',
      sync: false,
      mkdir: true,
      mode: 0o640,
      staleMs: 5000,
      settleMs: 100,
      fallbackMs: 7000,
      checkIntervalMs: 1000,
      highWaterMark: 1 * MiB,
      maxBufferBytes: 16 * MiB,
      maxSize: null,
      maxFiles: null,
      maxAgeMs: null,
      compress: false,
      archiveDelayMs: 5000,
      header: false,
    });
  });

  it('keeps every option that is given explicitly', () => {
    const options = normalizeOptions({
      path: '/var/log/svc/app.log',
      frequency: 'hourly',
      timeZone: 'Europe/Berlin',
      dateFormat: "yyyyMMdd'T'HH",
      sync: true,
      mkdir: false,
      mode: 0o600,
      lock: { staleMs: 10_000 },
      settleMs: 0,
      fallbackMs: 100,
      checkIntervalMs: 50,
      highWaterMark: 1024,
      maxBufferBytes: 1024,
    });
    expect(options).toEqual({
      path: '/var/log/svc/app.log',
      dir: '/var/log/svc',
      name: 'app.log',
      frequency: 'hourly',
      timeZone: 'Europe/Berlin',
      dateFormat: "yyyyMMdd'T'HH",
      sync: true,
      mkdir: false,
      mode: 0o600,
      staleMs: 10_000,
      settleMs: 0,
      fallbackMs: 100,
      checkIntervalMs: 50,
      highWaterMark: 1024,
      maxBufferBytes: 1024,
      maxSize: null,
      maxFiles: null,
      maxAgeMs: null,
      compress: false,
      archiveDelayMs: 5000,
      header: false,
    });
  });

  it('accepts every named frequency and periods from 100 ms to 366 days', () => {
    for (const frequency of ['minutely', 'hourly', 'daily', 'weekly', 'monthly', 100, 60_000, 366 * DAY_MS]) {
      expect(normalizeOptions({ path: 'app.log', frequency }).frequency).toBe(frequency);
    }
  });

  it('derives the default dateFormat from the frequency', () => {
    expect(normalizeOptions({ path: 'app.log', frequency: 'monthly' }).dateFormat).toBe('yyyy-MM');
    expect(normalizeOptions({ path: 'app.log', frequency: 'hourly' }).dateFormat).toBe("yyyy-MM-dd'T'HHxx");
    expect(normalizeOptions({ path: 'app.log', frequency: 5000 }).dateFormat).toBe("yyyy-MM-dd'T'HH-mm-ss-SSSxx");
  });

  it("accepts 'local', 'UTC' and IANA time zone names", () => {
    for (const timeZone of ['local', 'UTC', 'America/New_York', 'Asia/Kolkata']) {
      expect(normalizeOptions({ path: 'app.log', timeZone }).timeZone).toBe(timeZone);
    }
  });

  it('treats undefined values as absent', () => {
    const options = normalizeOptions({
      path: 'app.log',
      frequency: undefined,
      timeZone: undefined,
      mode: undefined,
      lock: undefined,
      maxBufferBytes: undefined,
    });
    expect(options).toEqual(normalizeOptions({ path: 'app.log' }));
  });

  it('resolves a relative path against the working directory and splits it into dir and name', () => {
    const options = normalizeOptions({ path: './logs/../logs/svc.log' });
    expect(options.path).toBe(nodePath.join(process.cwd(), 'logs', 'svc.log'));
    expect(options.dir).toBe(nodePath.join(process.cwd(), 'logs'));
    expect(options.name).toBe('svc.log');
  });

  it('accepts a dotfile name such as .app.log', () => {
    expect(normalizeOptions({ path: 'logs/.app.log' }).name).toBe('.app.log');
  });

  it('makes the default fallbackMs follow lock.staleMs', () => {
    expect(normalizeOptions({ path: 'app.log', lock: { staleMs: 30_000 } }).fallbackMs).toBe(32_000);
  });

  it('raises the default fallbackMs to settleMs + 100 when settleMs is large', () => {
    expect(normalizeOptions({ path: 'app.log', settleMs: 10_000 }).fallbackMs).toBe(10_100);
  });

  it('raises the default maxBufferBytes to highWaterMark when highWaterMark is larger', () => {
    expect(normalizeOptions({ path: 'app.log', highWaterMark: 32 * MiB }).maxBufferBytes).toBe(32 * MiB);
  });

  it('accepts an object without a prototype', () => {
    const input = Object.assign(Object.create(null) as object, { path: 'app.log' });
    expect(normalizeOptions(input).name).toBe('app.log');
  });

  it('does not pick options up from a polluted Object.prototype', () => {
    const prototype = Object.prototype as Record<string, unknown>;
    prototype.frequency = 'fortnightly';
    try {
      expect(normalizeOptions({ path: 'app.log' }).frequency).toBe('daily');
    } finally {
      delete prototype.frequency;
    }
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(normalizeOptions({ path: 'app.log' }))).toBe(true);
  });

  type BadCase = [title: string, input: unknown, option: string, value: unknown];
  const bad: BadCase[] = [
    ['options is null', null, 'options', null],
    ['options is undefined', undefined, 'options', undefined],
    ['options is a string', 'logs/app.log', 'options', 'logs/app.log'],
    ['options is an array', [{ path: 'app.log' }], 'options', [{ path: 'app.log' }]],
    ['options is a class instance', new Date(0), 'options', new Date(0)],
    ['unknown key', { path: 'app.log', frequncy: 'daily' }, 'frequncy', 'daily'],
    ['unknown key inside lock', { path: 'app.log', lock: { stale: 3000 } }, 'lock.stale', 3000],
    ['lock is null', { path: 'app.log', lock: null }, 'lock', null],
    ['lock is a number', { path: 'app.log', lock: 5000 }, 'lock', 5000],
    ['path missing', {}, 'path', undefined],
    ['path empty', { path: '' }, 'path', ''],
    ['path not a string', { path: 42 }, 'path', 42],
    ['path with a NUL byte', { path: 'logs/app\0.log' }, 'path', 'logs/app\0.log'],
    ["path ending in '/'", { path: 'logs/' }, 'path', 'logs/'],
    ["path whose name is '..'", { path: 'logs/..' }, 'path', 'logs/..'],
    ["path whose name is '.'", { path: '.' }, 'path', '.'],
    ['maxSize negative', { path: 'app.log', maxSize: -1 }, 'maxSize', -1],
    ['maxSize below 1024 bytes', { path: 'app.log', maxSize: 100 }, 'maxSize', 100],
    ['maxSize with an unknown unit', { path: 'app.log', maxSize: '10 parsecs' }, 'maxSize', '10 parsecs'],
    ['maxFiles zero', { path: 'app.log', maxFiles: 0 }, 'maxFiles', 0],
    ['maxFiles fractional', { path: 'app.log', maxFiles: 2.5 }, 'maxFiles', 2.5],
    ['maxAge without a unit', { path: 'app.log', maxAge: '14' }, 'maxAge', '14'],
    ['maxAge negative', { path: 'app.log', maxAge: -5 }, 'maxAge', -5],
    ['header as a string', { path: 'app.log', header: 'hello' }, 'header', 'hello'],
    ['compress as a string', { path: 'app.log', compress: 'gzip' }, 'compress', 'gzip'],
    ['compress.delayMs negative', { path: 'app.log', compress: { delayMs: -1 } }, 'compress.delayMs', -1],
    ['compress unknown key', { path: 'app.log', compress: { level: 9 } }, 'compress.level', 9],
    ['path with an unknown token', { path: 'logs/{user}.log' }, 'path', 'logs/{user}.log'],
    ['unknown frequency', { path: 'app.log', frequency: 'fortnightly' }, 'frequency', 'fortnightly'],
    ['frequency in the wrong case', { path: 'app.log', frequency: 'Daily' }, 'frequency', 'Daily'],
    ['period below 100 ms', { path: 'app.log', frequency: 99 }, 'frequency', 99],
    ['period not an integer', { path: 'app.log', frequency: 1500.5 }, 'frequency', 1500.5],
    ['period above 366 days', { path: 'app.log', frequency: 366 * DAY_MS + 1 }, 'frequency', 366 * DAY_MS + 1],
    ['period as a numeric string', { path: 'app.log', frequency: '60000' }, 'frequency', '60000'],
    ['period NaN', { path: 'app.log', frequency: Number.NaN }, 'frequency', Number.NaN],
    ['period Infinity', { path: 'app.log', frequency: Infinity }, 'frequency', Infinity],
    ['negative period', { path: 'app.log', frequency: -60_000 }, 'frequency', -60_000],
    ['unknown time zone', { path: 'app.log', timeZone: 'Mars/Olympus_Mons' }, 'timeZone', 'Mars/Olympus_Mons'],
    ['empty time zone', { path: 'app.log', timeZone: '' }, 'timeZone', ''],
    ['time zone not a string', { path: 'app.log', timeZone: 0 }, 'timeZone', 0],
    ["dateFormat producing '/'", { path: 'app.log', dateFormat: 'yyyy/MM/dd' }, 'dateFormat', 'yyyy/MM/dd'],
    ["dateFormat producing '..'", { path: 'app.log', dateFormat: "'..'" }, 'dateFormat', "'..'"],
    ['dateFormat empty', { path: 'app.log', dateFormat: '' }, 'dateFormat', ''],
    ['dateFormat with minutes for months (every month one name)', { path: 'app.log', dateFormat: 'yyyy-mm-dd' }, 'dateFormat', 'yyyy-mm-dd'],
    ['dateFormat of days for hourly files', { path: 'app.log', frequency: 'hourly', dateFormat: 'yyyy-MM-dd' }, 'dateFormat', 'yyyy-MM-dd'],
    ['dateFormat not a string', { path: 'app.log', dateFormat: 20261125 }, 'dateFormat', 20261125],
    ['sync not a boolean', { path: 'app.log', sync: 'yes' }, 'sync', 'yes'],
    ['mkdir not a boolean', { path: 'app.log', mkdir: 1 }, 'mkdir', 1],
    ['world-writable mode 0o666', { path: 'app.log', mode: 0o666 }, 'mode', 0o666],
    ['world-writable mode 0o777', { path: 'app.log', mode: 0o777 }, 'mode', 0o777],
    ['mode the owner cannot write', { path: 'app.log', mode: 0o444 }, 'mode', 0o444],
    ['negative mode', { path: 'app.log', mode: -1 }, 'mode', -1],
    ['mode above 0o777', { path: 'app.log', mode: 0o1640 }, 'mode', 0o1640],
    ['mode as a string', { path: 'app.log', mode: '0640' }, 'mode', '0640'],
    ['lock.staleMs 1000', { path: 'app.log', lock: { staleMs: 1000 } }, 'lock.staleMs', 1000],
    ['lock.staleMs NaN', { path: 'app.log', lock: { staleMs: Number.NaN } }, 'lock.staleMs', Number.NaN],
    ['lock.staleMs as a string', { path: 'app.log', lock: { staleMs: '5000' } }, 'lock.staleMs', '5000'],
    ['negative settleMs', { path: 'app.log', settleMs: -1 }, 'settleMs', -1],
    ['settleMs above 10000', { path: 'app.log', settleMs: 10_001 }, 'settleMs', 10_001],
    ['settleMs a bigint', { path: 'app.log', settleMs: 25n }, 'settleMs', 25n],
    ['settleMs as long as a period in ms (the rename would never come)', { path: 'app.log', frequency: 1000, settleMs: 1000 }, 'settleMs', 1000],
    ['fallbackMs below settleMs + 100', { path: 'app.log', settleMs: 500, fallbackMs: 599 }, 'fallbackMs', 599],
    ['fallbackMs not an integer', { path: 'app.log', fallbackMs: 7000.5 }, 'fallbackMs', 7000.5],
    ['checkIntervalMs below 50', { path: 'app.log', checkIntervalMs: 49 }, 'checkIntervalMs', 49],
    ['checkIntervalMs above 1 hour', { path: 'app.log', checkIntervalMs: 3_600_001 }, 'checkIntervalMs', 3_600_001],
    ['checkIntervalMs null', { path: 'app.log', checkIntervalMs: null }, 'checkIntervalMs', null],
    ['highWaterMark below 1024', { path: 'app.log', highWaterMark: 1023 }, 'highWaterMark', 1023],
    ['negative highWaterMark', { path: 'app.log', highWaterMark: -MiB }, 'highWaterMark', -MiB],
    ['negative maxBufferBytes', { path: 'app.log', maxBufferBytes: -1 }, 'maxBufferBytes', -1],
    ['maxBufferBytes Infinity', { path: 'app.log', maxBufferBytes: Infinity }, 'maxBufferBytes', Infinity],
    [
      'maxBufferBytes below highWaterMark',
      { path: 'app.log', highWaterMark: 2 * MiB, maxBufferBytes: MiB },
      'maxBufferBytes',
      MiB,
    ],
  ];

  it.each(bad)('rejects %s', (_title, input, option, value) => {
    const error = optionError(input);
    expect(error.code).toBe('ERR_TIMBERLOCK_OPTION');
    expect(error.option).toBe(option);
    expect(error.message).toContain(option);
    expect(error.message).toContain(describeValue(value));
    expect(error.message).toContain('Expected');
  });

  it("names the option that does the job of another library's (winston-daily-rotate-file, rotating-file-stream, pino-roll, log4js)", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ filename: 'logs/app-%DATE%.log' }, '(here: path, the whole file path)'],
      [{ path: 'app.log', dirname: 'logs' }, '(here: path, whose directory is part of it)'],
      [{ path: 'app.log', datePattern: 'YYYY-MM-DD' }, "(here: dateFormat, in date-fns tokens such as 'yyyy-MM-dd')"],
      [{ path: 'app.log', zippedArchive: true }, '(here: compress)'],
      [{ path: 'app.log', size: '10M' }, '(here: maxSize)'],
      [{ path: 'app.log', interval: '1d' }, '(here: frequency)'],
      [{ path: 'app.log', daysToKeep: 14 }, "(here: maxAge, such as '14d')"],
    ];
    for (const [input, hint] of cases) expect(optionError(input).message).toContain(`one of the known option names ${hint}:`);
  });

  it("points a duration given as maxFiles (as winston-daily-rotate-file takes '14d') to maxAge", () => {
    const error = optionError({ path: 'app.log', maxFiles: '14d' });
    expect(error.option).toBe('maxFiles');
    expect(error.message).toContain('for archives younger than a duration, use maxAge: "14d"');
  });

  it('names the upper bound and the units of a size or a duration that is too large', () => {
    expect(optionError({ path: 'app.log', maxSize: 2 ** 60 }).message).toContain('a size from 1024 bytes to 2^53 - 1');
    expect(optionError({ path: 'app.log', maxSize: '1TB' }).message).toContain('(b, k, kb, m, mb, g, gb; powers of 1024)');
    expect(optionError({ path: 'app.log', maxAge: 2 ** 60 }).message).toContain('a duration from 1000 ms to 2^53 - 1 ms');
    expect(optionError({ path: 'app.log', highWaterMark: 2 ** 60 }).message).toContain('from 1024 to 2^53 - 1');
    expect(optionError({ path: 'app.log', maxBufferBytes: 2 ** 60 }).message).toContain('to 2^53 - 1');
  });

  it('reports an unknown name before a missing path, suggesting the known one', () => {
    const error = optionError({ pth: 'app.log' });
    expect(error.option).toBe('pth');
    expect(error.message).toContain('did you mean path?');
  });

  it('lists the known option names when a name is unknown', () => {
    const error = optionError({ path: 'app.log', rotateEvery: 'day' });
    for (const name of ['path', 'frequency', 'timeZone', 'dateFormat', 'lock', 'settleMs', 'maxBufferBytes']) {
      expect(error.message).toContain(name);
    }
    expect(optionError({ path: 'app.log', lock: { retries: 3 } }).message).toContain('lock.staleMs');
  });

  it('suggests the known name for a wrongly cased option', () => {
    expect(optionError({ path: 'app.log', timezone: 'UTC' }).message).toContain('did you mean timeZone?');
    const lockError = optionError({ path: 'app.log', lock: { staleMS: 9000 } });
    expect(lockError.message).toContain('the only lock option, lock.staleMs');
  });

  it('says that numbers are expected when a numeric string is given', () => {
    for (const input of [
      { path: 'app.log', frequency: '60000' },
      { path: 'app.log', settleMs: '25' },
      { path: 'app.log', highWaterMark: '1048576' },
    ]) {
      expect(optionError(input).message).toContain('a number, not a string');
    }
  });

  it('says why settleMs must be shorter than a period given in ms, and takes one just shorter', () => {
    expect(optionError({ path: 'app.log', frequency: 1000, settleMs: 5000 }).message).toContain('from 0 to 999 (less than the period, frequency 1000 ms)');
    expect(normalizeOptions({ path: 'app.log', frequency: 1000, settleMs: 999 }).settleMs).toBe(999);
  });

  it('suggests the frequency name for a wrongly cased one, without asking for a number', () => {
    const error = optionError({ path: 'app.log', frequency: 'Daily' });
    expect(error.message).toMatch(/did you mean 'daily'\?$/); // one mark at the end, not '?.'
    expect(error.message).not.toContain('a number, not a string');
    expect(optionError({ path: 'app.log', frequency: 'yearly' }).message).not.toContain('a number, not a string');
  });

  it("refuses maxAge in 'M', which could mean months or minutes, and says how to write either", () => {
    const error = optionError({ path: 'app.log', maxAge: '6M' });
    expect(error.option).toBe('maxAge');
    expect(error.message).toContain("'M' is ambiguous: write 'm' for minutes, or days for months ('180d')");
    expect(normalizeOptions({ path: 'app.log', frequency: 'minutely', maxAge: '6m' }).maxAgeMs).toBe(6 * 60_000);
  });

  it("refuses an active file name ending in .gz: its archives would read as another file's compressed archives", () => {
    expect(optionError({ path: 'logs/app.gz' }).message).toBe(
      'Invalid option path: "logs/app.gz". Expected a file name that does not end in .gz (its archives would read as compressed archives).',
    );
    expect(optionError({ path: 'logs/app.log.GZ' }).option).toBe('path');
    expect(normalizeOptions({ path: 'logs/app.gzip' }).name).toBe('app.gzip');
  });

  it('refuses a maxAge no longer than a period, which would delete every archive as soon as it is made', () => {
    expect(optionError({ path: 'app.log', maxAge: '12h' }).message).toBe(
      'Invalid option maxAge: "12h". Expected longer than a daily period (up to 27 h): archives are dated by their period\'s start, so every archive would be deleted as soon as it is made.',
    );
    expect(optionError({ path: 'app.log', maxAge: '1d' }).option).toBe('maxAge'); // a day with a fall-back lasts up to 27 h (Antarctica/Casey)
    expect(optionError({ path: 'app.log', timeZone: 'Antarctica/Troll', maxAge: '25h' }).option).toBe('maxAge');
    expect(optionError({ path: 'app.log', timeZone: 'Antarctica/Casey', maxAge: '26.5h' }).option).toBe('maxAge');
    expect(optionError({ path: 'app.log', frequency: 'monthly', maxAge: '30d' }).message).toContain('a monthly period (up to 31 d 3 h)');
    expect(optionError({ path: 'app.log', frequency: 60_000, maxAge: 60_000 }).message).toContain('longer than a period of 60000 ms');
    expect(normalizeOptions({ path: 'app.log', maxAge: '28h' }).maxAgeMs).toBe(28 * 3_600_000);
    expect(normalizeOptions({ path: 'app.log', frequency: 'hourly', maxAge: '61m' }).maxAgeMs).toBe(61 * 60_000);
  });

  it('explains that proper-lockfile clamps lock.staleMs below 2000', () => {
    expect(optionError({ path: 'app.log', lock: { staleMs: 1999 } }).message).toMatch(/proper-lockfile.*2000/);
  });

  it('shows a rejected mode in octal', () => {
    const error = optionError({ path: 'app.log', mode: 0o666 });
    expect(error.message).toContain('0o666');
    expect(error.value).toBe(0o666);
  });

  it('includes the reason dateFormatProblem gives', () => {
    const reason = dateFormatProblem('yyyy/MM/dd', 'UTC');
    expect(reason).not.toBeNull();
    expect(optionError({ path: 'app.log', timeZone: 'UTC', dateFormat: 'yyyy/MM/dd' }).message).toContain(reason);
  });

  it('states the smallest fallbackMs that the given settleMs allows', () => {
    expect(optionError({ path: 'app.log', settleMs: 500, fallbackMs: 599 }).message).toContain('600');
  });

  it('states the highWaterMark that maxBufferBytes must reach', () => {
    const error = optionError({ path: 'app.log', highWaterMark: 2 * MiB, maxBufferBytes: MiB });
    expect(error.message).toContain(String(2 * MiB));
  });
});
