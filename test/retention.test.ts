import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { archiveName, type NameScheme } from '../src/naming.js';
import { compressionTempName, planMaintenance, recognizeListing, type ArchiveFile, type RetentionPolicy } from '../src/retention.js';
import { newFileTempPath, stateTempPath } from '../src/state.js';

const scheme: NameScheme = { activeName: 'app.log', dateFormat: 'yyyy-MM-dd', timeZone: 'UTC', frequency: 'daily' };
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
/** Start of the day `n` days before NOW's day. */
const day = (n: number): number => Date.UTC(2026, 10, 25) - n * DAY;

/** An archive of day `daysAgo`, index `index`, last written `ageMs` before NOW, of `size` bytes. */
function archive(daysAgo: number, { index = 0, compressed = false, ageMs = DAY, size = 100 } = {}): ArchiveFile {
  const periodStart = day(daysAgo);
  return { name: archiveName(scheme, periodStart, index, compressed), periodStart, index, compressed, changedMs: NOW - ageMs, size };
}

const policy = (overrides: Partial<RetentionPolicy>): RetentionPolicy => ({
  maxFiles: null,
  maxAgeMs: null,
  delayMs: 5000,
  compress: false,
  ...overrides,
});

const names = (files: ArchiveFile[]): string[] => files.map((file) => file.name);

describe('planMaintenance', () => {
  it('plans nothing without limits and without compression', () => {
    const files = [archive(1), archive(2), archive(3, { compressed: true })];
    expect(planMaintenance(files, policy({}), NOW)).toEqual({ compress: [], remove: [], settlesAt: null });
  });

  it('plans nothing for an empty listing', () => {
    expect(planMaintenance([], policy({ maxFiles: 1, maxAgeMs: DAY, compress: true }), NOW)).toEqual({ compress: [], remove: [], settlesAt: null });
  });

  describe('maxFiles', () => {
    it('keeps the newest maxFiles archives by period and deletes the rest, oldest first', () => {
      const files = [archive(3), archive(1), archive(5), archive(2), archive(4)];
      const plan = planMaintenance(files, policy({ maxFiles: 2 }), NOW);
      expect(plan.remove).toEqual(names([archive(5), archive(4), archive(3)]));
      expect(plan.compress).toEqual([]);
    });

    it('orders archives of one period by index, the highest index being the newest', () => {
      const files = [archive(1, { index: 2 }), archive(1), archive(1, { index: 10 }), archive(1, { index: 1 }), archive(2, { index: 7 })];
      const plan = planMaintenance(files, policy({ maxFiles: 2 }), NOW);
      // Kept: day 1 index 10 and index 2. Index 10 sorts numerically above 2 (not as text).
      expect(plan.remove).toEqual(names([archive(2, { index: 7 }), archive(1), archive(1, { index: 1 })]));
    });

    it('orders by period before index: a size roll of an older period is older than a newer period', () => {
      const files = [archive(2, { index: 9 }), archive(1)];
      expect(planMaintenance(files, policy({ maxFiles: 1 }), NOW).remove).toEqual(names([archive(2, { index: 9 })]));
    });

    it('counts compressed and plain archives alike', () => {
      const files = [archive(1), archive(2, { compressed: true }), archive(3), archive(4, { compressed: true })];
      const plan = planMaintenance(files, policy({ maxFiles: 2 }), NOW);
      expect(plan.remove).toEqual(names([archive(4, { compressed: true }), archive(3)]));
    });

    it('counts an archive that has both a plain and a .gz name once, and deletes both names', () => {
      const files = [archive(1), archive(2), archive(2, { compressed: true }), archive(3), archive(3, { compressed: true })];
      const plan = planMaintenance(files, policy({ maxFiles: 2 }), NOW);
      expect(plan.remove).toEqual(names([archive(3), archive(3, { compressed: true })]));
    });

    it('keeps everything when there are at most maxFiles archives', () => {
      const files = [archive(1), archive(2), archive(3)];
      expect(planMaintenance(files, policy({ maxFiles: 3 }), NOW).remove).toEqual([]);
    });

    it('with maxFiles 0 deletes every archive past the grace delay', () => {
      const files = [archive(1), archive(0, { ageMs: 1000 })];
      expect(planMaintenance(files, policy({ maxFiles: 0 }), NOW).remove).toEqual(names([archive(1)]));
    });
  });

  describe('maxAge', () => {
    it('deletes archives whose period started before now - maxAge', () => {
      const files = [archive(1), archive(2), archive(3), archive(4)];
      // Cutoff: NOW - 3 days = 3 days ago at 12:00; day 3 started at 00:00, before the cutoff.
      const plan = planMaintenance(files, policy({ maxAgeMs: 3 * DAY }), NOW);
      expect(plan.remove).toEqual(names([archive(4), archive(3)]));
    });

    it('keeps an archive whose period started exactly at the cutoff', () => {
      const files = [archive(2)];
      expect(planMaintenance(files, policy({ maxAgeMs: NOW - day(2) }), NOW).remove).toEqual([]);
      expect(planMaintenance(files, policy({ maxAgeMs: NOW - day(2) - 1 }), NOW).remove).toEqual(names(files));
    });

    it('judges age by the period in the name, not by mtime', () => {
      // Written long ago but named for yesterday (copied back from a backup): kept.
      const files = [{ ...archive(1), changedMs: NOW - 100 * DAY }];
      expect(planMaintenance(files, policy({ maxAgeMs: 2 * DAY }), NOW).remove).toEqual([]);
    });

    it('deletes compressed and plain archives alike', () => {
      const files = [archive(5, { compressed: true }), archive(6), archive(1, { compressed: true })];
      const plan = planMaintenance(files, policy({ maxAgeMs: 2 * DAY }), NOW);
      expect(plan.remove).toEqual(names([archive(6), archive(5, { compressed: true })]));
    });
  });

  describe('maxFiles and maxAge together', () => {
    it('deletes what either limit selects', () => {
      const files = [archive(1), archive(2), archive(3), archive(10), archive(11)];
      // maxFiles 4 selects day 11; maxAge 5 days selects days 10 and 11.
      const plan = planMaintenance(files, policy({ maxFiles: 4, maxAgeMs: 5 * DAY }), NOW);
      expect(plan.remove).toEqual(names([archive(11), archive(10)]));
      // maxFiles 2 selects days 3, 10, 11; maxAge 30 days selects none.
      expect(planMaintenance(files, policy({ maxFiles: 2, maxAgeMs: 30 * DAY }), NOW).remove).toEqual(
        names([archive(11), archive(10), archive(3)]),
      );
    });
  });

  describe('grace delay', () => {
    it('never deletes a file modified less than delayMs ago', () => {
      const young = archive(3, { ageMs: 4999 });
      const settled = archive(4, { ageMs: 5000 });
      const plan = planMaintenance([archive(1), young, settled], policy({ maxFiles: 1, delayMs: 5000 }), NOW);
      expect(plan.remove).toEqual([settled.name]);
    });

    it('never compresses a file modified less than delayMs ago', () => {
      const young = archive(1, { ageMs: 10 });
      const settled = archive(2, { ageMs: 5000 });
      expect(planMaintenance([young, settled], policy({ compress: true, delayMs: 5000 }), NOW).compress).toEqual([settled.name]);
    });

    it('says when the first file it left for the delay will have settled, so that the caller can come back then', () => {
      const files = [archive(1, { ageMs: 10 }), archive(2, { ageMs: 3000 }), archive(3, { ageMs: 6000 })];
      expect(planMaintenance(files, policy({ compress: true, delayMs: 5000 }), NOW)).toEqual({
        compress: [archive(3, { ageMs: 6000 }).name],
        remove: [],
        settlesAt: NOW - 3000 + 5000,
      });
      // Nothing left to do for a young file: no time to come back.
      expect(planMaintenance(files, policy({ delayMs: 5000 }), NOW).settlesAt).toBeNull();
    });

    it('treats a file modified in the future (clock skew) as young', () => {
      const future = archive(2, { ageMs: -60_000 });
      expect(planMaintenance([future], policy({ compress: true, maxFiles: 0 }), NOW)).toEqual({ compress: [], remove: [], settlesAt: NOW + 60_000 + 5000 });
    });

    it('counts a young archive towards maxFiles even though it is not deleted yet', () => {
      // Three archives, the two newest still young: maxFiles 2 deletes the old one only.
      const files = [archive(1, { index: 1, ageMs: 10 }), archive(1, { ageMs: 20 }), archive(2)];
      expect(planMaintenance(files, policy({ maxFiles: 2 }), NOW).remove).toEqual(names([archive(2)]));
      // maxFiles 1: the second young one is selected too, but waits for the delay.
      expect(planMaintenance(files, policy({ maxFiles: 1 }), NOW).remove).toEqual(names([archive(2)]));
      expect(planMaintenance(files, policy({ maxFiles: 1 }), NOW + 5000).remove).toEqual(names([archive(2), archive(1, { ageMs: 20 })]));
    });

    it('with delayMs 0 handles a file modified just now', () => {
      const fresh = archive(1, { ageMs: 0 });
      expect(planMaintenance([fresh], policy({ compress: true, delayMs: 0 }), NOW).compress).toEqual([fresh.name]);
    });
  });

  describe('compression', () => {
    it('compresses every settled plain archive, oldest first', () => {
      const files = [archive(1), archive(3), archive(2, { index: 1 }), archive(2)];
      expect(planMaintenance(files, policy({ compress: true }), NOW).compress).toEqual(
        names([archive(3), archive(2), archive(2, { index: 1 }), archive(1)]),
      );
    });

    it('leaves compressed archives alone', () => {
      const files = [archive(1, { compressed: true }), archive(2)];
      expect(planMaintenance(files, policy({ compress: true }), NOW).compress).toEqual(names([archive(2)]));
    });

    it('does not compress a plain archive whose .gz name exists (never overwrites)', () => {
      const files = [archive(1), archive(1, { compressed: true })];
      expect(planMaintenance(files, policy({ compress: true }), NOW).compress).toEqual([]);
    });

    it('does not compress a file that is planned for deletion', () => {
      const files = [archive(1), archive(2), archive(3)];
      const plan = planMaintenance(files, policy({ compress: true, maxFiles: 1 }), NOW);
      expect(plan.remove).toEqual(names([archive(3), archive(2)]));
      expect(plan.compress).toEqual(names([archive(1)]));
      expect(plan.compress.filter((name) => plan.remove.includes(name))).toEqual([]);
    });

    it('compresses nothing when compression is off', () => {
      expect(planMaintenance([archive(1), archive(2)], policy({ compress: false }), NOW).compress).toEqual([]);
    });
  });

  describe('archives of 0 bytes (a file another program put under the active name)', () => {
    it('deletes a settled one, and counts it towards neither maxFiles nor maxAge', () => {
      // logrotate's `create` right after the boundary: an empty archive of the newest period, beside the real ones.
      const empty = archive(0, { size: 0 });
      const files = [empty, archive(0, { index: 1 }), archive(1), archive(2)];
      expect(planMaintenance(files, policy({ maxFiles: 2 }), NOW).remove).toEqual(names([archive(2), empty]));
      expect(planMaintenance(files, policy({ maxAgeMs: 30 * DAY }), NOW).remove).toEqual(names([empty]));
    });

    it('deletes it instead of compressing it', () => {
      const empty = archive(1, { size: 0 });
      expect(planMaintenance([empty, archive(2)], policy({ compress: true }), NOW)).toEqual({ compress: names([archive(2)]), remove: [empty.name], settlesAt: null });
    });

    it('leaves a young one for the delay (a straggler may still write to it), without counting it', () => {
      const young = archive(0, { size: 0, ageMs: 1000 });
      const plan = planMaintenance([young, archive(1), archive(2)], policy({ maxFiles: 2 }), NOW);
      expect(plan).toEqual({ compress: [], remove: [], settlesAt: NOW - 1000 + 5000 });
    });

    it('counts a .gz of 0 bytes and a plain archive of 0 bytes beside its .gz as archives (those pairs have rules of their own)', () => {
      const files = [archive(1, { compressed: true, size: 0 }), archive(2, { size: 0 }), archive(2, { compressed: true }), archive(3)];
      expect(planMaintenance(files, policy({ maxFiles: 2 }), NOW).remove).toEqual(names([archive(3)]));
    });
  });

  it('never plans a name that is not in the listing, and lists no name twice', () => {
    // A mixed listing, every combination of limit; the plan only ever names listed files, each once.
    const files = [archive(1), archive(1, { compressed: true, ageMs: 10 }), archive(2, { index: 3 }), archive(4, { compressed: true }), archive(9, { ageMs: 1 })];
    for (const maxFiles of [null, 0, 1, 2, 5]) {
      for (const maxAgeMs of [null, 0, DAY, 3 * DAY]) {
        for (const compress of [false, true]) {
          const plan = planMaintenance(files, policy({ maxFiles, maxAgeMs, compress }), NOW);
          const all = [...plan.compress, ...plan.remove];
          expect(new Set(all).size).toBe(all.length);
          for (const name of all) expect(names(files)).toContain(name);
          for (const name of plan.compress) expect(name.endsWith('.gz')).toBe(false);
        }
      }
    }
  });

  it('rejects a malformed policy with a RangeError naming the field', () => {
    for (const [bad, field] of [
      [{ maxFiles: -1 }, 'maxFiles'],
      [{ maxFiles: 1.5 }, 'maxFiles'],
      [{ maxAgeMs: Number.NaN }, 'maxAgeMs'],
      [{ delayMs: -1 }, 'delayMs'],
    ] as const) {
      expect(() => planMaintenance([], policy(bad), NOW)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining(field) }));
    }
    expect(() => planMaintenance([], policy({}), Number.NaN)).toThrow(/now NaN/);
  });
});

describe('recognizeListing', () => {
  it('keeps archives of this scheme and ignores foreign names', () => {
    const ours = [
      archiveName(scheme, day(1), 0),
      archiveName(scheme, day(1), 1, true),
      archiveName(scheme, day(30), 12),
    ];
    const temp = compressionTempName(archiveName(scheme, day(2), 0), 4242, '0a1b2c3d');
    const foreign = [
      'app.log', // the active file
      '.app.log.lock',
      '.app.log.archive-lock',
      '.app.log.state',
      'other.2026-11-24.log', // another active file's archive
      'app.2026-11-24.txt', // another extension
      'app.2026-11-24.log.bak',
      'app.2026-11-24.log.gz.gz',
      'app.2026-13-01.log', // not a date
      'app.2026-11-24.0.log', // index 0 is never written out
      'app.2026-11-24.01.log', // leading zero
      'app.24-11-2026.log', // another date format
      'app.2026-11-24T00.log',
      'app..log',
      '.app.2026-11-24.log.gz.tmp', // temp-like, but not of our temp shape
      '.app.2026-11-24.log.gz.12-XYZ.tmp',
      '.other.2026-11-24.log.gz.12-0a1b2c3d.tmp',
      '.app.2026-11-24.log.gz.gz.12-0a1b2c3d.tmp', // temp of a compressed name: never made
      'notes.txt',
    ];
    const listing = recognizeListing(scheme, [...foreign, ...ours, temp]);
    expect(listing.archives.map((a) => a.name).sort()).toEqual([...ours].sort());
    expect(listing.archives.find((a) => a.name === ours[1])).toMatchObject({ periodStart: day(1), index: 1, compressed: true });
    expect(listing.archives.find((a) => a.name === ours[2])).toMatchObject({ periodStart: day(30), index: 12, compressed: false });
    expect(listing.temps).toEqual([temp]);
  });

  it('recognises the state temp files of this active file (with and without the random token), and no other', () => {
    const ours = ['.app.log.state.4242-0a1b2c3d.tmp', '.app.log.state.4242.tmp'];
    const others = [
      '.app.log.state',
      '.app.log.state.tmp',
      '.app.log.state.42x.tmp',
      '.app.log.state.4242-0A1B2C3D.tmp',
      '.app.log.state.4242-0a1b2c.tmp',
      '.app.log.state.4242-0a1b2c3d.tmp.x',
      '.other.log.state.4242-0a1b2c3d.tmp',
      'app.log.state.4242.tmp',
    ];
    expect(recognizeListing(scheme, [...ours, ...others]).temps).toEqual(ours);
    expect(recognizeListing(scheme, [path.basename(stateTempPath(path.join('/logs', '.app.log.state')))]).temps).toHaveLength(1);
  });

  it('recognises the temp names of new active files of this active file, and no other', () => {
    const ours = ['.app.log.new.4242-0a1b2c3d.tmp', path.basename(newFileTempPath('/logs', 'app.log'))];
    const others = ['.app.log.new', '.app.log.new.4242.tmp', '.app.log.new.4242-0A1B2C3D.tmp', '.app.log.new.4242-0a1b2c3d', '.other.log.new.4242-0a1b2c3d.tmp', 'app.log.new.4242-0a1b2c3d.tmp'];
    expect(recognizeListing(scheme, [...ours, ...others]).temps).toEqual(ours);
    // Each file gets its own: two holders at once (one stalled past staleMs) never link or remove each other's.
    expect(newFileTempPath('/logs', 'app.log')).not.toBe(newFileTempPath('/logs', 'app.log'));
  });

  it('recognises archives of an active file without an extension', () => {
    const bare: NameScheme = { ...scheme, activeName: 'app' };
    const listing = recognizeListing(bare, ['app', 'app.2026-11-24', 'app.2026-11-24.2.gz', 'app.2026-11-24.log']);
    expect(listing.archives.map((a) => a.name)).toEqual(['app.2026-11-24', 'app.2026-11-24.2.gz']);
  });

  it('feeds planMaintenance only names of this scheme', () => {
    const listing = recognizeListing(scheme, ['app.log', 'other.2026-11-20.log', archiveName(scheme, day(5), 0), 'app.2026-11-20.log.old']);
    const files = listing.archives.map((a) => ({ ...a, changedMs: NOW - DAY, size: 100 }));
    expect(planMaintenance(files, policy({ maxFiles: 0, compress: true }), NOW)).toEqual({ compress: [], remove: [archiveName(scheme, day(5), 0)], settlesAt: null });
  });
});

describe('compressionTempName', () => {
  it('is hidden, ends in .tmp, and is recognised as a temp of that archive', () => {
    const name = compressionTempName('app.2026-11-24.log', 77, 'deadbeef');
    expect(name).toBe('.app.2026-11-24.log.gz.77-deadbeef.tmp');
    expect(recognizeListing(scheme, [name]).temps).toEqual([name]);
  });

  it('rejects a malformed token or pid', () => {
    expect(() => compressionTempName('app.2026-11-24.log', 1, '../x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => compressionTempName('app.2026-11-24.log', -1, 'deadbeef')).toThrow(RangeError);
  });
});
