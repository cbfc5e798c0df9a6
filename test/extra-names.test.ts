/**
 * A rotation links the active file to an archive name; when archive maintenance has just compressed an
 * older archive of that index, a `.gz` of the name is already there, and the link is an extra name to take
 * away again. These tests run a rotation one system call at a time (rotateUnderLock, each call through
 * runSync) and, between two calls, let another holder or a maintenance run act: no interleaving may lose
 * the active file's lines, fail the rotation, or remove a name that is not an extra one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { maintainArchives, type ArchiveTarget } from '../src/archive.js';
import { runSync, type Io, type Op } from '../src/io.js';
import { archiveName } from '../src/naming.js';
import { rotateUnderLock, type ActiveFile, type RotationTarget } from '../src/rotation.js';
import { periodOf } from '../src/schedule.js';

const scheme = { activeName: 'app.log', dateFormat: 'yyyy-MM-dd', timeZone: 'UTC', frequency: 'daily' } as const;
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function setup(): { dir: string; log: string; next: number; indexZero: string; rotation: RotationTarget; maintenance: ArchiveTarget } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-extra-'));
  dirs.push(dir);
  const log = path.join(dir, 'app.log');
  const today = periodOf(Date.now(), 'daily', 'UTC');
  return {
    dir,
    log,
    next: today.next,
    indexZero: path.join(dir, archiveName(scheme, today.start, 0)),
    rotation: {
      path: log,
      dir,
      statePath: path.join(dir, '.app.log.state'),
      stagedPath: path.join(dir, '.app.log.next'),
      newPath: path.join(dir, '.app.log.new'),
      mode: 0o640,
      frequency: 'daily',
      timeZone: 'UTC',
      scheme,
      header: null,
      archiveHint: { periodStart: Number.NaN, next: 0 },
      deletesArchives: false,
    },
    maintenance: { dir, activeName: 'app.log', scheme, mode: 0o640, staleMs: 10_000, policy: { maxFiles: null, maxAgeMs: null, delayMs: 0, compress: true } },
  };
}

/** The maintenance runs' clock: an hour ahead, so that every archive here is settled. */
const hourLater = (): number => Date.now() + 3_600_000;

/** Run the rotation to the next boundary; `after` is called after each system call with it and its result. */
async function rotate(
  target: RotationTarget,
  periodStart: number,
  after: (op: Op, result: unknown) => Promise<void> | void,
  roll: 'force' | null = null,
): Promise<ActiveFile> {
  const steps = rotateUnderLock(target, periodStart, roll);
  let next = steps.next();
  while (!next.done) {
    const op = next.value;
    let result: unknown;
    let failure: unknown = null;
    try {
      result = runSync((function* (): Io<unknown> {
        return yield op;
      })());
    } catch (err) {
      failure = err;
    }
    await after(op, result);
    next = failure === null ? steps.next(result) : steps.throw(failure);
  }
  fs.closeSync(next.value.fd);
  return next.value;
}

/** Another holder's forced rotation (rotate(), a size roll), all at once, with its own index hint. */
function rotateAtOnce(target: RotationTarget, periodStart: number): void {
  fs.closeSync(runSync(rotateUnderLock({ ...target, archiveHint: { periodStart: Number.NaN, next: 0 } }, periodStart, 'force')).fd);
}

/** Every line of every file in `dir` (gunzipped), and the names. */
function contents(dir: string): { names: string[]; lines: string[] } {
  const names = fs.readdirSync(dir).filter((name) => !name.startsWith('.')).sort();
  const lines = names.flatMap((name) => {
    const raw = fs.readFileSync(path.join(dir, name));
    return (name.endsWith('.gz') ? zlib.gunzipSync(raw) : raw).toString().split('\n').filter(Boolean);
  });
  return { names, lines };
}

describe('an extra name beside a .gz', () => {
  it("a rotation working from a look taken before another holder finished never removes the name that has become an archive's only one", async () => {
    const { log, next, indexZero, rotation } = setup();
    fs.writeFileSync(log, 'kept\n');
    fs.linkSync(log, indexZero); // holder A gave the active file its archive name, and stalled
    let finished = false;
    await rotate(rotation, next, (op) => {
      if (finished || op.kind !== 'stat' || op.path !== log) return;
      // This rotation has seen the active file with two names. A finishes: the active name goes to a new
      // file; then maintenance compresses A's archive but keeps the plain file, which a straggler wrote to.
      finished = true;
      fs.unlinkSync(log);
      fs.writeFileSync(log, '');
      fs.writeFileSync(`${indexZero}.gz`, zlib.gzipSync('kept\n'));
      fs.appendFileSync(indexZero, 'straggler\n');
    });
    expect(fs.readFileSync(indexZero, 'utf8')).toBe('kept\nstraggler\n');
  });

  it('a holder that stalled links the active file to a compressed index while another rotates: the rotation does not take that name for its archive, maintenance leaves it, no line is lost', async () => {
    const { dir, log, next, indexZero, rotation, maintenance } = setup();
    fs.writeFileSync(log, 'lines of the period\n');
    let stage = 'look';
    const active = await rotate(rotation, next, async (op) => {
      if (stage === 'look' && op.kind === 'stat' && op.path === `${indexZero}.gz`) {
        // After this rotation's look (no .gz): maintenance finishes compressing the old archive of index 0,
        // and the holder this one took the lock from, stalled before its link, links the active file there.
        stage = 'link';
        fs.writeFileSync(`${indexZero}.gz`, zlib.gzipSync('old archive of index 0\n'));
        fs.linkSync(log, indexZero);
      } else if (stage === 'link' && op.kind === 'link') {
        stage = 'maintain';
        await maintainArchives(maintenance, hourLater); // while the active name still holds the file
      }
    });
    expect(active.archive).toBe(path.join(dir, archiveName(scheme, periodOf(Date.now(), 'daily', 'UTC').start, 1)));
    const after = contents(dir);
    expect(after.lines).toContain('lines of the period');
    // The other holder's link is left: only the maintenance run after this rotation takes it away.
    const cleanup = await maintainArchives(maintenance, hourLater);
    expect(cleanup.repaired).toEqual([path.basename(indexZero)]);
    expect(contents(dir).lines.filter((line) => line === 'lines of the period')).toHaveLength(1);
  });

  it('a maintenance run right after the link does not make the rotation fail', async () => {
    const { dir, log, next, indexZero, rotation, maintenance } = setup();
    fs.writeFileSync(log, 'lines\n');
    let stage = 'look';
    const active = await rotate(rotation, next, async (op) => {
      if (stage === 'look' && op.kind === 'stat' && op.path === `${indexZero}.gz`) {
        stage = 'link';
        fs.writeFileSync(`${indexZero}.gz`, zlib.gzipSync('old\n')); // maintenance compressed index 0 meanwhile
      } else if (stage === 'link' && op.kind === 'link') {
        stage = 'done';
        await maintainArchives(maintenance, hourLater);
      }
    });
    expect(active.action).toBe('archived');
    expect(contents(dir).lines.filter((line) => line === 'lines')).toHaveLength(1);
  });

  it("maintenance never removes a plain archive beside its .gz because a backup hard-linked it", async () => {
    const { dir, indexZero, maintenance } = setup();
    const backup = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-backup-'));
    dirs.push(backup);
    fs.writeFileSync(indexZero, 'new data, not in the gz\n');
    fs.writeFileSync(`${indexZero}.gz`, zlib.gzipSync('old data\n'));
    fs.linkSync(indexZero, path.join(backup, path.basename(indexZero))); // a hard-link snapshot (rsnapshot, cp -al)

    const result = await maintainArchives(maintenance, hourLater);

    expect(result.repaired).toEqual([]);
    expect(fs.readFileSync(indexZero, 'utf8')).toBe('new data, not in the gz\n');
  });
});

describe('a holder that stalled before its link, which then names a newer active file', () => {
  it('leaves the name once another holder made it that file\'s archive (retention: it probed from the disk)', async () => {
    const { dir, log, rotation } = setup();
    const today = periodOf(Date.now(), 'daily', 'UTC').start;
    // This holder's last archive of the period had index 4; retention has deleted them all since.
    const stalled = { ...rotation, deletesArchives: true, archiveHint: { periodStart: today, next: 5 } };
    const five = path.join(dir, archiveName(scheme, today, 5));
    fs.writeFileSync(log, 'first\n');
    let stage = 'look';
    await rotate(
      stalled,
      today,
      (op) => {
        if (stage === 'look' && op.kind === 'stat' && op.path === `${five}.gz`) {
          // It stalls before its link; the holder that took the lock over archives the file, a new one fills.
          stage = 'link';
          rotateAtOnce(stalled, today);
          fs.appendFileSync(log, 'second\n');
        } else if (stage === 'link' && op.kind === 'link') {
          // Its link named the new active file .5; the next holder rolls that file and finds it named so.
          stage = 'done';
          rotateAtOnce(stalled, today);
        }
      },
      'force',
    );
    expect(contents(dir).lines.sort()).toEqual(['first', 'second']);
  });

  it('does not fail when the next holder removed its link, an extra name beside a .gz, first', async () => {
    const { dir, log, indexZero, rotation } = setup();
    const today = periodOf(Date.now(), 'daily', 'UTC').start;
    fs.writeFileSync(log, 'first\n');
    let stage = 'look';
    const active = await rotate(
      rotation,
      today,
      (op) => {
        if (stage === 'look' && op.kind === 'stat' && op.path === `${indexZero}.gz`) {
          // It stalls before its link; the holder that took over archives the file at index 0, maintenance
          // compresses that, and a new file fills.
          stage = 'link';
          rotateAtOnce(rotation, today);
          fs.writeFileSync(`${indexZero}.gz`, zlib.gzipSync('first\n'));
          fs.unlinkSync(indexZero);
          fs.appendFileSync(log, 'second\n');
        } else if (stage === 'link' && op.kind === 'stat' && op.path === indexZero) {
          // It sees its link names another file; the next holder rolls that file and removes the link first.
          stage = 'done';
          rotateAtOnce(rotation, today);
        }
      },
      'force',
    );
    expect(active.archive).toBeNull();
    expect(contents(dir).lines.sort()).toEqual(['first', 'second']);
  });
});

/** A rotation run one system call at a time, for interleaving several holders by hand. */
class Stepper {
  private next: IteratorResult<Op, unknown>;
  constructor(private readonly steps: Io<unknown>) {
    this.next = steps.next();
  }

  /** Run the calls up to the first one `stop` picks (not run), or to the end. */
  runUntil(stop: (op: Op) => boolean = () => false): void {
    while (!this.next.done) {
      const op = this.next.value;
      if (stop(op)) return;
      let result: unknown;
      try {
        result = runSync((function* (): Io<unknown> {
          return yield op;
        })());
      } catch (err) {
        this.next = this.steps.throw(err);
        continue;
      }
      this.next = this.steps.next(result);
    }
  }
}

/** Two stalled holders go on together: each looks before either removes anything, then both finish. */
function goOnTogether(a: Stepper, b: Stepper): void {
  const isUnlink = (op: Op): boolean => op.kind === 'unlink';
  a.runUntil(isUnlink);
  b.runUntil(isUnlink);
  a.runUntil();
  b.runUntil();
}

describe('holders that stalled between their link and their unlink of the active name', () => {
  it('two of them with archive names of their own, resuming together after a third rotated: one name stays, the lines are in it', () => {
    const { dir, log, next, rotation } = setup();
    fs.writeFileSync(log, 'the line\n');
    const { ino } = fs.statSync(log);
    const today = periodOf(next - 1, 'daily', 'UTC');
    let reached = '';
    const hooks = globalThis as Record<symbol, unknown>;
    hooks[Symbol.for('timberlock.testHooks')] = { at: (step: string) => (reached = step) };
    try {
      const atUnlink = (): boolean => reached === 'before-unlink';
      // A links the file to index 0 and stalls; B, which took over, links it to index 1 and stalls.
      const a = new Stepper(rotateUnderLock({ ...rotation, archiveHint: { periodStart: today.start, next: 0 } }, next));
      a.runUntil(atUnlink);
      reached = '';
      const b = new Stepper(rotateUnderLock({ ...rotation, archiveHint: { periodStart: today.start, next: 1 } }, next));
      b.runUntil(atUnlink);
      // C took over from B: index 0 holds the file already, so it unlinks the active name and makes a new file.
      new Stepper(rotateUnderLock({ ...rotation }, next)).runUntil();
      goOnTogether(a, b);
    } finally {
      hooks[Symbol.for('timberlock.testHooks')] = undefined;
    }
    const names = fs.readdirSync(dir).filter((name) => fs.statSync(path.join(dir, name)).ino === ino);
    expect(names).toEqual([archiveName(scheme, today.start, 0)]);
    expect(fs.readFileSync(path.join(dir, names[0] as string), 'utf8')).toBe('the line\n');
  });

  /**
   * A links the file to index 1 (an old archive holds index 0) and stalls. B, which took over, finds no
   * index-0 `.gz`; maintenance then finishes compressing the old archive 0; B links the file to index 0, an
   * extra name beside that `.gz`, and stalls before it looks for the `.gz`. C finds the file at index 1 and
   * rotates. The file has two names: index 0 (which B removes as extra) and index 1.
   */
  function extraNameBesideGz(): { dir: string; a: Stepper; b: Stepper; ino: number } {
    const { dir, log, next, indexZero, rotation } = setup();
    const today = periodOf(next - 1, 'daily', 'UTC');
    fs.writeFileSync(indexZero, 'old archive 0\n');
    fs.writeFileSync(log, 'the line\n');
    const { ino } = fs.statSync(log);
    let reached = '';
    (globalThis as Record<symbol, unknown>)[Symbol.for('timberlock.testHooks')] = { at: (step: string) => (reached = step) };
    const a = new Stepper(rotateUnderLock({ ...rotation, archiveHint: { periodStart: today.start, next: 0 } }, next));
    a.runUntil(() => reached === 'before-unlink');
    const b = new Stepper(rotateUnderLock({ ...rotation, archiveHint: { periodStart: today.start, next: 0 } }, next));
    b.runUntil((op) => op.kind === 'link');
    fs.writeFileSync(`${indexZero}.gz`, zlib.gzipSync('old archive 0\n'));
    fs.unlinkSync(indexZero);
    let linked = false;
    b.runUntil((op) => {
      if (op.kind === 'link') linked = true;
      return linked && op.kind === 'stat' && op.path === `${indexZero}.gz`;
    });
    new Stepper(rotateUnderLock({ ...rotation, archiveHint: { periodStart: today.start, next: 1 } }, next)).runUntil();
    return { dir, a, b, ino };
  }

  const namesOf = (dir: string, ino: number): string[] => fs.readdirSync(dir).filter((name) => fs.statSync(path.join(dir, name)).ino === ino);

  it('never keeps an extra name beside a .gz: two holders going on together leave the file its other name', () => {
    const { dir, a, b, ino } = extraNameBesideGz();
    try {
      goOnTogether(a, b);
    } finally {
      (globalThis as Record<symbol, unknown>)[Symbol.for('timberlock.testHooks')] = undefined;
    }
    const names = namesOf(dir, ino);
    expect(names).toHaveLength(1);
    expect(fs.existsSync(path.join(dir, `${names[0]}.gz`))).toBe(false);
  });

  it('looks again when a name goes while it looks (logrotate shifting app.log.1 to app.log.2): one name stays', () => {
    const { dir, log, next, rotation } = setup();
    const today = periodOf(next - 1, 'daily', 'UTC');
    fs.writeFileSync(log, 'the line\n');
    const { ino } = fs.statSync(log);
    let reached = '';
    (globalThis as Record<symbol, unknown>)[Symbol.for('timberlock.testHooks')] = { at: (step: string) => (reached = step) };
    try {
      const a = new Stepper(rotateUnderLock({ ...rotation, archiveHint: { periodStart: today.start, next: 0 } }, next));
      a.runUntil(() => reached === 'before-unlink');
      reached = '';
      const b = new Stepper(rotateUnderLock({ ...rotation, archiveHint: { periodStart: today.start, next: 1 } }, next));
      b.runUntil(() => reached === 'before-unlink');
      fs.renameSync(log, path.join(dir, 'app.log.1')); // logrotate, then its `create`
      fs.writeFileSync(log, '');
      a.runUntil((op) => op.kind === 'stat' && op.path === path.join(dir, 'app.log.1')); // A has listed the directory
      fs.renameSync(path.join(dir, 'app.log.1'), path.join(dir, 'app.log.2')); // logrotate's next run
      a.runUntil();
      b.runUntil();
    } finally {
      (globalThis as Record<symbol, unknown>)[Symbol.for('timberlock.testHooks')] = undefined;
    }
    expect(namesOf(dir, ino)).toEqual(['app.log.2']);
  });
});
