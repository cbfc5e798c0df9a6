/**
 * The staged file: at a boundary, the next period's file is made under `.app.log.next` so that lines of the
 * new period are written at once; settleMs later it gets the active name and the old file its archive name.
 * The protocol steps are driven directly (runSync, one system call at a time where another holder acts in
 * between); the writer is tested with real files and, for a process child after staging, a real process.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRotatingFile, RotatingFile, type RotateEvent, type RotatingFileOptions } from '../src/index.js';
import { runSync, type Io, type Op } from '../src/io.js';
import { archiveName, defaultDateFormat, type NameScheme } from '../src/naming.js';
import { followActive, rotateUnderLock, stageNext, takeActive, type ActiveFile, type RotationTarget } from '../src/rotation.js';
import { periodOf } from '../src/schedule.js';
import { readState } from '../src/state.js';
import { killChildren, runNode, type ChildResult } from './helpers/child.js';
import { rotateFailingUnderLock } from './helpers/test-hooks.js';

const STAGE_AND_DIE = fileURLToPath(new URL('./fixtures/stage-and-die.mjs', import.meta.url));
const scheme = { activeName: 'app.log', dateFormat: 'yyyy-MM-dd', timeZone: 'UTC', frequency: 'daily' } as const;
const DAY = 86_400_000;
const dirs: string[] = [];
const files: RotatingFile[] = [];

afterEach(async () => {
  killChildren();
  for (const file of files.splice(0)) await file.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-staged-'));
  dirs.push(dir);
  return dir;
}

/** A directory whose active file, of today, holds `lines`; the target names it with the header 'H <day>'. */
function setup(lines: string): { dir: string; log: string; staged: string; today: number; next: number; target: RotationTarget } {
  const dir = tempDir();
  const log = path.join(dir, 'app.log');
  const today = periodOf(Date.now(), 'daily', 'UTC').start;
  const target: RotationTarget = {
    path: log,
    dir,
    statePath: path.join(dir, '.app.log.state'),
    stagedPath: path.join(dir, '.app.log.next'),
    newPath: path.join(dir, '.app.log.new'),
    mode: 0o640,
    frequency: 'daily',
    timeZone: 'UTC',
    scheme,
    header: (periodStart) => `H ${new Date(periodStart).toISOString().slice(0, 10)}\n`,
    archiveHint: { periodStart: Number.NaN, next: 0 },
    deletesArchives: false,
  };
  const active = runSync(rotateUnderLock(target, today));
  fs.writeSync(active.fd, lines);
  fs.closeSync(active.fd);
  return { dir, log, staged: target.stagedPath, today, next: today + DAY, target };
}

const archiveOf = (dir: string, periodStart: number, index = 0): string => path.join(dir, archiveName(scheme, periodStart, index));
const read = (file: string): string => fs.readFileSync(file, 'utf8');
/** Every line in the log files of `dir` (the active file and the archives; the staged file too, with `staged`). */
const linesOnDisk = (dir: string, staged = false): string[] =>
  fs
    .readdirSync(dir)
    .filter((name) => !name.startsWith('.') || (staged && name === '.app.log.next'))
    .flatMap((name) => read(path.join(dir, name)).split('\n').filter(Boolean));
const ino = (file: string): number | undefined => fs.statSync(file, { throwIfNoEntry: false })?.ino;
const dayOf = (periodStart: number): string => new Date(periodStart).toISOString().slice(0, 10);

/** Stage the next period's file and write `lines` to it, as the processes following it would. */
function stageWith(target: RotationTarget, periodStart: number, lines: string): ActiveFile {
  const staged = runSync(stageNext(target, periodStart));
  if (!staged) throw new Error('nothing staged');
  fs.writeSync(staged.fd, lines);
  fs.closeSync(staged.fd);
  return staged;
}

/** A protocol call run one system call at a time, so that another holder's calls can go in between. */
class Stepper<T> {
  private next: IteratorResult<Op, T>;
  constructor(private readonly steps: Io<T>) {
    this.next = steps.next();
  }

  /** Run system calls until the next one matches `until` (not run yet) or the call ends. Returns whether it matched. */
  runUntil(until: (op: Op) => boolean): boolean {
    while (!this.next.done) {
      if (until(this.next.value)) return true;
      this.step();
    }
    return false;
  }

  finish(): T {
    this.runUntil(() => false);
    return (this.next as IteratorReturnResult<T>).value;
  }

  private step(): void {
    const op = this.next.value as Op;
    try {
      const result = runSync((function* (): Io<unknown> {
        return yield op;
      })());
      this.next = this.steps.next(result);
    } catch (err) {
      this.next = this.steps.throw(err);
    }
  }
}

describe('the staging protocol', () => {
  it('stageNext makes the next period\'s file under the staged name, with its header and a state naming it; the active name keeps the old file', () => {
    const { log, staged, today, next, target } = setup('old line\n');
    const oldIno = ino(log);
    const file = runSync(stageNext(target, next));
    expect(file).not.toBeNull();
    fs.closeSync(file!.fd);
    expect(file).toMatchObject({ periodStart: next, staged: true, previousPeriodStart: today, emptySize: `H ${dayOf(next)}\n`.length });
    expect(ino(staged)).toBe(file!.ino);
    expect(read(staged)).toBe(`H ${dayOf(next)}\n`);
    expect(ino(log)).toBe(oldIno);
    expect(read(log)).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(readState(target.statePath)).toEqual({ periodStart: today, ino: oldIno, emptySize: `H ${dayOf(today)}\n`.length, next: { periodStart: next, ino: file!.ino, emptySize: file!.emptySize } });
  });

  it('followActive opens the staged file for the new period, and the active name once it was published', () => {
    const { log, today, next, target } = setup('old line\n');
    const staged = stageWith(target, next, 'new line\n');
    const followed = runSync(followActive(target, next));
    fs.closeSync(followed!.fd);
    expect(followed).toMatchObject({ ino: staged.ino, periodStart: next, staged: true });
    // Processes still in the old period are not sent to it.
    const stillOld = runSync(followActive(target, today));
    fs.closeSync(stillOld!.fd);
    expect(stillOld).toMatchObject({ ino: ino(log), periodStart: today });
    fs.closeSync(runSync(rotateUnderLock(target, next)).fd);
    const afterPublication = runSync(followActive(target, next));
    fs.closeSync(afterPublication!.fd);
    expect(afterPublication).toMatchObject({ ino: staged.ino, periodStart: next });
    expect(afterPublication!.staged).toBeUndefined();
  });

  it('the rotation after the settle margin archives the old file and gives the staged file the active name, lines and all', () => {
    const { dir, log, staged, today, next, target } = setup('old line\n');
    const file = stageWith(target, next, 'new line\n');
    const active = runSync(rotateUnderLock(target, next));
    fs.closeSync(active.fd);
    expect(active).toMatchObject({ ino: file.ino, periodStart: next, published: { ino: file.ino, periodStart: next, archive: archiveOf(dir, today), previousPeriodStart: today } });
    expect(read(archiveOf(dir, today))).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(read(log)).toBe(`H ${dayOf(next)}\nnew line\n`);
    expect(fs.existsSync(staged)).toBe(false);
    expect(readState(target.statePath)).toEqual({ periodStart: next, ino: file.ino, emptySize: file.emptySize });
  });

  it('a staged file whose maker stopped before publishing it is published by the next rotation, even a period later: no line is lost', () => {
    const { dir, log, staged, today, next, target } = setup('old line\n');
    stageWith(target, next, 'new line\n');
    const active = runSync(rotateUnderLock(target, next + DAY));
    fs.closeSync(active.fd);
    expect(read(archiveOf(dir, today))).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(read(archiveOf(dir, next))).toBe(`H ${dayOf(next)}\nnew line\n`);
    expect(read(log)).toBe(`H ${dayOf(next + DAY)}\n`);
    expect(fs.existsSync(staged)).toBe(false);
  });

  it('nothing is staged for a file without lines (it is relabelled at the settle margin), nor while an earlier staged file waits', () => {
    const empty = setup('');
    expect(runSync(stageNext(empty.target, empty.next))).toBeNull();
    expect(fs.existsSync(empty.staged)).toBe(false);
    const { next, target } = setup('old line\n');
    stageWith(target, next, 'new line\n');
    expect(runSync(stageNext(target, next + DAY))).toBeNull();
  });

  it('a file that logrotate put under the active name meanwhile is archived, not overwritten, and the staged file gets the name', () => {
    const { dir, log, staged, today, next, target } = setup('old line\n');
    stageWith(target, next, 'new line\n');
    fs.renameSync(log, `${log}.1`); // logrotate's rename and create, and a reopened process's line
    fs.writeFileSync(log, 'line in the file logrotate created\n');
    const active = runSync(takeActive(target, next));
    fs.closeSync(active.fd);
    expect(read(log)).toBe(`H ${dayOf(next)}\nnew line\n`);
    expect(read(`${log}.1`)).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(read(archiveOf(dir, today))).toBe('line in the file logrotate created\n');
    expect(fs.existsSync(staged)).toBe(false);
  });

  it('a staged file the state does not name (its maker stopped before the state) is replaced by the next staging', () => {
    const { staged, next, target } = setup('old line\n');
    fs.writeFileSync(staged, ''); // its maker stopped before the header, even
    const file = runSync(stageNext(target, next));
    fs.closeSync(file!.fd);
    expect(ino(staged)).toBe(file!.ino);
    expect(read(staged)).toBe(`H ${dayOf(next)}\n`);
    expect(readState(target.statePath)?.next?.ino).toBe(file!.ino);
  });

  it('a stager that stalled while another holder rotated leaves no staged file behind and stages nothing', () => {
    const { dir, log, staged, today, next, target } = setup('old line\n');
    const stager = new Stepper(stageNext(target, next));
    expect(stager.runUntil((op) => op.kind === 'write')).toBe(true); // right before its header
    fs.closeSync(runSync(rotateUnderLock({ ...target }, next)).fd); // the holder that took the lock over
    expect(stager.finish()).toBeNull();
    expect(fs.existsSync(staged)).toBe(false);
    expect(read(archiveOf(dir, today))).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(read(log)).toBe(`H ${dayOf(next)}\n`);
    expect(readState(target.statePath)?.next).toBeUndefined();
  });

  it('a publisher that stalled before its link while another holder published: the file is published once, no line lost or doubled', () => {
    const { dir, log, staged, today, next, target } = setup('old line\n');
    const file = stageWith(target, next, 'new line\n');
    const publisher = new Stepper(rotateUnderLock(target, next));
    expect(publisher.runUntil((op) => op.kind === 'link' && op.from === staged)).toBe(true);
    fs.closeSync(runSync(rotateUnderLock({ ...target }, next)).fd); // the holder that took the lock over
    fs.appendFileSync(log, 'written after the publication\n');
    const active = publisher.finish();
    fs.closeSync(active.fd);
    expect(active.ino).toBe(file.ino);
    expect(read(log)).toBe(`H ${dayOf(next)}\nnew line\nwritten after the publication\n`);
    expect(read(archiveOf(dir, today))).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(fs.readdirSync(dir).filter((name) => !name.startsWith('.')).sort()).toEqual([path.basename(archiveOf(dir, today)), 'app.log']);
    expect(fs.existsSync(staged)).toBe(false);
  });
  it("two holders at once each make their new file under their own temp name: the one that resumes takes the other's file, with its header first, and neither leaves a temp name", () => {
    const { dir, log, next, target } = setup('old line\n');
    const a = new Stepper(rotateUnderLock({ ...target, newPath: path.join(dir, '.app.log.new.1-0000000a.tmp') }, next, 'force'));
    expect(a.runUntil((op) => op.kind === 'write')).toBe(true); // its file made, about to write its header
    // A stalled past staleMs: B took the lock over and is about to give its new file the active name.
    const b = new Stepper(rotateUnderLock({ ...target, newPath: path.join(dir, '.app.log.new.2-0000000b.tmp') }, next, 'force'));
    expect(b.runUntil((op) => op.kind === 'link' && op.to === log)).toBe(true);
    const fromB = b.finish();
    fs.writeSync(fromB.fd, 'B line\n');
    fs.closeSync(fromB.fd);
    const fromA = a.finish();
    fs.writeSync(fromA.fd, 'A line\n');
    fs.closeSync(fromA.fd);
    expect(fromA.ino).toBe(fromB.ino);
    expect(read(log)).toBe(`H ${dayOf(next)}\nB line\nA line\n`);
    expect(readState(target.statePath)).toMatchObject({ ino: fromB.ino, emptySize: `H ${dayOf(next)}\n`.length });
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('.app.log.new'))).toEqual([]);
  });
  it('without hard links, a new file is created under the active name, exclusively: a file a process ending created there meanwhile is kept', () => {
    const { dir, log, today, next, target } = setup('old line\n');
    const holder = new Stepper(rotateUnderLock(target, next));
    expect(holder.runUntil((op) => op.kind === 'link' && op.from === target.newPath)).toBe(true);
    const linkSync = vi.spyOn(fs, 'linkSync').mockImplementation(() => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    });
    try {
      expect(holder.runUntil((op) => op.kind === 'open' && op.path === log)).toBe(true);
      fs.appendFileSync(log, 'ending\n'); // a process ending appends to the active name (and creates it)
      const active = holder.finish();
      fs.writeSync(active.fd, 'new line\n');
      fs.closeSync(active.fd);
    } finally {
      linkSync.mockRestore();
    }
    expect(read(log)).toBe('ending\nnew line\n');
    expect(read(archiveOf(dir, today))).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('.app.log.new'))).toEqual([]);
  });
  it('a stager that stalled past staleMs writes its state in the middle of the rotation of the holder that took over: lines written to its file end up in an archive', () => {
    const { dir, log, staged, today, next, target } = setup('old line\n');
    const stager = new Stepper(stageNext(target, next));
    expect(stager.runUntil((op) => op.kind === 'rename')).toBe(true); // checked the state, about to write it
    const takeover = new Stepper(rotateUnderLock({ ...target }, next));
    // Archived the old file, about to give the new one (made under the temp name with its header) the active name.
    expect(takeover.runUntil((op) => op.kind === 'link' && op.from === target.newPath)).toBe(true);
    const stagedFile = stager.finish(); // the stalled stager resumes: its state names its staged file
    expect(stagedFile).not.toBeNull();
    fs.writeSync(stagedFile!.fd, 'line in the staged file\n');
    fs.closeSync(stagedFile!.fd);
    const active = takeover.finish(); // its state names the new active file, and no staged file
    fs.writeSync(active.fd, 'line in the active file\n');
    fs.closeSync(active.fd);
    expect(readState(target.statePath)?.next).toBeUndefined();
    // The holder that took over found the staged file that no state named yet and archived it (or the next
    // rotation, here rotate(), does): the lines written to it are in that archive.
    fs.closeSync(runSync(rotateUnderLock(target, next, 'force')).fd);
    expect(fs.existsSync(staged)).toBe(false);
    const lines = linesOnDisk(dir);
    expect(lines.sort()).toEqual(['H ' + dayOf(next), 'H ' + dayOf(next), 'H ' + dayOf(next), 'H ' + dayOf(today), 'line in the active file', 'line in the staged file', 'old line'].sort());
  });
  it('a stager without a header that stalled past staleMs before writing its state, whose empty file the holder that took over removed, does not take that nameless file', () => {
    const setUp = setup('old line\n');
    const { dir, log, next } = setUp;
    const target = { ...setUp.target, header: null };
    const stager = new Stepper(stageNext(target, next));
    expect(stager.runUntil((op) => op.kind === 'rename')).toBe(true); // checked the state, about to write it
    // The holder that took over finds the empty staged file unnamed in the state, removes it, archives the
    // old file and is about to create the new one.
    const takeover = new Stepper(rotateUnderLock({ ...target }, next));
    expect(takeover.runUntil((op) => op.kind === 'open' && op.path === log)).toBe(true);
    expect(fs.existsSync(setUp.staged)).toBe(false);
    expect(stager.finish()).toBeNull(); // its state is written, but its file has no name: lines there would be lost
    const active = takeover.finish();
    fs.writeSync(active.fd, 'line in the active file\n');
    fs.closeSync(active.fd);
    // Its state names a file that is gone: the next rotation forgets it, and the active file stays.
    const again = runSync(rotateUnderLock(target, next));
    fs.closeSync(again.fd);
    expect(again.ino).toBe(active.ino);
    expect(readState(target.statePath)?.next).toBeUndefined();
    const lines = linesOnDisk(dir);
    expect(lines.sort()).toEqual(['H ' + dayOf(setUp.today), 'line in the active file', 'old line'].sort());
    expect(read(log)).toBe('line in the active file\n');
  });

  it('a holder that took over does not remove an empty staged file that the state came to name while it looked (its stalled stager resumed)', () => {
    const setUp = setup('old line\n');
    const { dir, staged, next } = setUp;
    const target = { ...setUp.target, header: null };
    const stager = new Stepper(stageNext(target, next));
    expect(stager.runUntil((op) => op.kind === 'rename')).toBe(true);
    // The holder that took over read the state (no staged file in it) and found the staged file: a stray,
    // empty. It stalls before its second look.
    const takeover = new Stepper(rotateUnderLock({ ...target }, next));
    let looks = 0;
    expect(takeover.runUntil((op) => op.kind === 'stat' && op.path === staged && ++looks === 2)).toBe(true);
    const stagedFile = stager.finish(); // the stager resumes: its state names its file, which still has its name
    expect(stagedFile).not.toBeNull();
    const active = takeover.finish();
    fs.writeSync(active.fd, 'line in the active file\n');
    fs.closeSync(active.fd);
    expect(ino(staged)).toBe(stagedFile!.ino); // still named
    fs.writeSync(stagedFile!.fd, 'line in the staged file\n');
    fs.closeSync(stagedFile!.fd);
    fs.closeSync(runSync(rotateUnderLock(target, next, 'force')).fd);
    const lines = linesOnDisk(dir);
    expect(lines.sort()).toEqual(['H ' + dayOf(setUp.today), 'line in the active file', 'line in the staged file', 'old line'].sort());
  });

  it('a publisher that stalled before its link while the holder that took over published reports the archive it made', () => {
    const { dir, log, today, next, target } = setup('old line\n');
    const stagedFile = stageWith(target, next, 'new line\n');
    const publisher = new Stepper(rotateUnderLock({ ...target }, next));
    // It archived the old file and stalls before the link that gives the staged file the active name.
    expect(publisher.runUntil((op) => op.kind === 'link' && op.from === target.stagedPath)).toBe(true);
    const takeover = runSync(rotateUnderLock({ ...target }, next)); // publishes the staged file: no file to archive
    fs.closeSync(takeover.fd);
    expect(takeover.published).toMatchObject({ ino: stagedFile.ino, archive: null });
    const resumed = publisher.finish();
    fs.closeSync(resumed.fd);
    expect(resumed).toMatchObject({ ino: stagedFile.ino, published: { ino: stagedFile.ino, periodStart: next, archive: archiveOf(dir, today), previousPeriodStart: today } });
    expect(read(archiveOf(dir, today))).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(read(log)).toBe(`H ${dayOf(next)}\nnew line\n`);
  });

  it('a holder that stalled past staleMs before archiving, and ends right after a link, leaves no newer file under an archive name', () => {
    const { dir, log, today, next, target } = setup('old line\n');
    const stalled = new Stepper(rotateUnderLock({ ...target }, next));
    const first = archiveOf(dir, today);
    // It looked at the active file and picked the first archive name; it stalls before its link.
    expect(stalled.runUntil((op) => op.kind === 'stat' && op.path === `${first}.gz`)).toBe(true);
    // Meanwhile the holder that took over archived that file and made the new one, and compression
    // replaced the archive by its .gz (the plain name is free again).
    const active = runSync(rotateUnderLock({ ...target }, next));
    fs.writeSync(active.fd, 'new line\n');
    fs.closeSync(active.fd);
    fs.writeFileSync(`${first}.gz`, zlib.gzipSync(fs.readFileSync(first)));
    fs.rmSync(first);
    // The stalled holder resumes and ends (SIGTERM) right after whatever link it makes.
    let linked = false;
    stalled.runUntil((op) => {
      if (linked) return true;
      linked = op.kind === 'link';
      return false;
    });
    expect(fs.statSync(log).nlink).toBe(1); // the new active file has no archive name of the old period
    expect(read(log)).toBe(`H ${dayOf(next)}\nnew line\n`);
  });

  it('a publisher that stalled before its link reports the archive it made also when the holder that took over published the staged file and rolled it away', () => {
    const { dir, today, next, target } = setup('old line\n');
    const stagedFile = stageWith(target, next, 'new line\n');
    const publisher = new Stepper(rotateUnderLock({ ...target }, next));
    expect(publisher.runUntil((op) => op.kind === 'link' && op.from === target.stagedPath)).toBe(true);
    fs.closeSync(runSync(rotateUnderLock({ ...target }, next)).fd); // publishes the staged file
    fs.closeSync(runSync(rotateUnderLock({ ...target }, next, 'force')).fd); // and rolls it away
    const resumed = publisher.finish();
    fs.closeSync(resumed.fd);
    expect(resumed.published).toMatchObject({ ino: stagedFile.ino, archive: archiveOf(dir, today) });
    expect(read(archiveOf(dir, today))).toBe(`H ${dayOf(today)}\nold line\n`);
  });

  it('a holder that stalled since before the boundary and writes its state after the staging keeps the staged file named: it is published', () => {
    const { dir, log, staged, today, next, target } = setup('old line\n');
    const roller = new Stepper(rotateUnderLock({ ...target }, today, 'force')); // a size roll, or rotate()
    expect(roller.runUntil((op) => op.kind === 'link')).toBe(true); // it stalls before its link
    const stagedFile = stageWith(target, next, 'new line\n'); // the lock went stale: another process stages
    const rolled = roller.finish(); // the stalled holder resumes: archives the old file, makes a new one
    fs.writeSync(rolled.fd, 'line in the rolled file\n');
    fs.closeSync(rolled.fd);
    expect(readState(target.statePath)?.next?.ino).toBe(stagedFile.ino);
    const active = runSync(rotateUnderLock(target, next));
    fs.closeSync(active.fd);
    expect(active.ino).toBe(stagedFile.ino);
    expect(read(log)).toBe(`H ${dayOf(next)}\nnew line\n`);
    expect(fs.existsSync(staged)).toBe(false);
    expect(read(archiveOf(dir, today))).toBe(`H ${dayOf(today)}\nold line\n`);
    expect(read(archiveOf(dir, today, 1))).toBe(`H ${dayOf(today)}\nline in the rolled file\n`);
  });
  it('a stalled holder that finds the staged file under the active name (its publisher stopped after the link) leaves it one file, published under its own period', () => {
    const { dir, log, staged, today, next, target } = setup('old line\n');
    const roller = new Stepper(rotateUnderLock({ ...target }, today, 'force'));
    expect(roller.runUntil((op) => op.kind === 'link')).toBe(true); // stalls before its link
    const stagedFile = stageWith(target, next, 'new line\n');
    const publisher = new Stepper(rotateUnderLock({ ...target }, next));
    // The publisher stops (SIGKILL) right after linking the staged file to the active name.
    expect(publisher.runUntil((op) => op.kind === 'unlink' && op.path === staged)).toBe(true);
    const rolled = roller.finish(); // finds the staged file under the active name and takes it
    expect(rolled.ino).toBe(stagedFile.ino);
    fs.writeSync(rolled.fd, 'line by the stalled holder\n');
    fs.closeSync(rolled.fd);
    const active = runSync(rotateUnderLock(target, next));
    fs.closeSync(active.fd);
    expect(active).toMatchObject({ ino: stagedFile.ino, periodStart: next });
    expect(fs.existsSync(staged)).toBe(false);
    expect(fs.readdirSync(dir).filter((name) => !name.startsWith('.')).sort()).toEqual([path.basename(archiveOf(dir, today)), 'app.log']);
    expect(read(log)).toBe(`H ${dayOf(next)}\nnew line\nline by the stalled holder\n`);
    expect(fs.statSync(log).nlink).toBe(1);
  });
});

describe('a RotatingFile at a boundary', () => {
  const periodMs = 2000;
  const settleMs = 1000;

  function open(dir: string, extra: { fallbackMs?: number; maxSize?: string } = {}): RotatingFile {
    const file = createRotatingFile({ path: path.join(dir, 'app.log'), frequency: periodMs, timeZone: 'UTC', settleMs, ...extra });
    files.push(file);
    return file;
  }

  /** Resolves just after the next boundary (what was written before is in the period before it). */
  async function nextBoundary(): Promise<number> {
    const boundary = Math.floor(Date.now() / periodMs) * periodMs + periodMs;
    await new Promise((resolve) => setTimeout(resolve, boundary + 10 - Date.now()));
    return boundary;
  }

  /** Resolves just after the next boundary, so that a child process started now has most of a period ahead of it. */
  const periodBegun = nextBoundary;

  /** A log holding 'before' of this period, and a child (stage-and-die.mjs) that stages the next one and ends as `end` says. */
  async function childAfterBoundary(end: 'exit' | 'flush'): Promise<{ dir: string; log: string; child: ChildResult }> {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    await periodBegun(); // the child picks the next boundary, which ends the period of 'before'
    fs.writeFileSync(log, 'before\n');
    const child = await runNode([STAGE_AND_DIE, JSON.stringify({ path: log, periodMs, settleMs, end })], { timeoutMs: 20_000 });
    return { dir, log, child };
  }

  /** A file with a line before the next boundary and one just after it, staged (the line is in `.app.log.next`). */
  async function stagedAfterBoundary(dir: string, extra: { fallbackMs?: number; maxSize?: string } = {}): Promise<{ file: RotatingFile; boundary: number }> {
    const file = open(dir, extra);
    file.write('before\n');
    await file.flush();
    const boundary = await nextBoundary();
    file.write('after\n');
    await vi.waitFor(() => expect(read(path.join(dir, '.app.log.next'))).toBe('after\n'), { timeout: settleMs / 2, interval: 5 });
    return { file, boundary };
  }

  it('writes the lines logged just after a boundary to the staged file at once; settleMs later they are in the active file', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, boundary } = await stagedAfterBoundary(dir);
    const rotated = once(file, 'rotate') as Promise<[RotateEvent]>;
    expect(read(log)).toBe('before\n'); // the old file keeps the active name until the settle margin
    const [event] = await rotated;
    expect(Date.now()).toBeGreaterThanOrEqual(boundary + settleMs);
    expect(event).toMatchObject({ periodStart: boundary, previousPeriodStart: boundary - periodMs });
    expect(read(event.archive!)).toBe('before\n');
    expect(read(log)).toBe('after\n');
    expect(fs.existsSync(path.join(dir, '.app.log.next'))).toBe(false);
    expect(file.stats()).toMatchObject({ rotations: 1, reopens: 0, lateLines: 0 });
  });

  /**
   * A file of 30 s periods (settleMs 300) on a clock of the test's own that runs with the real one: its
   * next boundary comes in 300 ms. `offset` turns real time into the file's.
   */
  function boundaryIn300ms(log: string, extra: Partial<RotatingFileOptions> = {}): { file: RotatingFile; boundary: number; offset: number } {
    const period = 30_000;
    const boundary = (Math.ceil(Date.now() / period) + 10) * period;
    const offset = boundary - 300 - Date.now();
    const file = new RotatingFile({ path: log, frequency: period, timeZone: 'UTC', settleMs: 300, ...extra }, { now: () => Date.now() + offset });
    files.push(file);
    return { file, boundary, offset };
  }

  it.each([
    ['', {}],
    [', with maxSize', { maxSize: '1MB' }],
  ])('stops waiting for a publication whose lock another process has held for fallbackMs past the settle margin: flush() resolves, the attempts go on%s', async (_, extra) => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, boundary, offset } = boundaryIn300ms(log, { fallbackMs: 400, ...extra });
    file.write('before\n');
    await file.flush();
    await new Promise((resolve) => setTimeout(resolve, 320)); // past the boundary
    file.write('after\n');
    await vi.waitFor(() => expect(read(path.join(dir, '.app.log.next'))).toBe('after\n'), { timeout: 250, interval: 5 });
    const lockDir = path.join(dir, '.app.log.lock');
    fs.mkdirSync(lockDir); // another process holds the lock, and keeps it fresh (its own disk stalls)
    const refresher = setInterval(() => fs.utimesSync(lockDir, new Date(), new Date()), 200);
    try {
      const flushed = await Promise.race([file.flush().then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000))]);
      expect(flushed).toBe(true);
      expect(Date.now() + offset).toBeGreaterThanOrEqual(boundary + 300 + 400);
      file.write('once stalled\n'); // to the staged file at once (with maxSize, it waited for the publication)
      const again = await Promise.race([file.flush().then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000))]);
      expect(again).toBe(true);
      expect(read(path.join(dir, '.app.log.next'))).toBe('after\nonce stalled\n');
    } finally {
      clearInterval(refresher);
    }
    fs.rmdirSync(lockDir);
    const [event] = (await once(file, 'rotate')) as [RotateEvent]; // the next attempt publishes it
    expect(event.periodStart).toBe(boundary);
    expect(read(log)).toBe('after\nonce stalled\n');
  });

  it('writes no line to a staged file that lost its name: they wait for the file the publication makes', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, boundary } = await stagedAfterBoundary(dir);
    const warnings: Array<{ code: string; details?: { lines?: number } }> = [];
    file.on('warning', (w: { code: string; details?: { lines?: number } }) => warnings.push(w));
    fs.rmSync(path.join(dir, '.app.log.next')); // removed by hand, with the line 'after' in it
    file.write('later\n');
    await file.flush(); // the publication made the period's file
    expect(Date.now()).toBeGreaterThanOrEqual(boundary + settleMs);
    expect(read(log)).toBe('later\n');
    // 'after', in the file removed by hand, is not counted: a staged file without a name was most often
    // published, archived and compressed by other processes while this one stalled (see the next test).
    expect(warnings).toEqual([]);
    expect(file.stats()).toMatchObject({ droppedLines: 0, lateLines: 0 });
  });

  it('counts nothing as lost when its staged file lost its name because other processes published, rotated and compressed it while this one stalled', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file, boundary } = await stagedAfterBoundary(dir);
    const warnings: string[] = [];
    file.on('warning', (w: { code: string }) => warnings.push(w.code));
    // While this process does not run: another one gives the staged file the active name and rotates it
    // away (rotate(), or a size roll); its compression then replaces the archive with a .gz.
    const archive = publishRollAndCompress(dir, boundary);
    file.write('later\n');
    await file.flush();
    expect(read(log)).toBe('later\n');
    expect(zlib.gunzipSync(fs.readFileSync(`${archive}.gz`)).toString()).toBe('after\n');
    expect(warnings).toEqual([]);
    expect(file.stats()).toMatchObject({ droppedLines: 0, lateLines: 0 });
  });

  for (const [what, extra] of [
    ['', {}],
    [' (with maxSize too)', { maxSize: '1MB' }],
  ] as const) {
    it(`lines for a staged file that lost its name wait fallbackMs at most while the lock stays busy, then go to the old file as late${what}`, async () => {
      const dir = tempDir();
      const log = path.join(dir, 'app.log');
      const lock = path.join(dir, '.app.log.lock');
      const { file } = await stagedAfterBoundary(dir, { fallbackMs: settleMs + 100, ...extra });
      fs.mkdirSync(lock); // another process holds the lock (and stays alive: the lock is fresh)
      try {
        fs.rmSync(path.join(dir, '.app.log.next'));
        file.write('later\n');
        await vi.waitFor(() => expect(read(log)).toBe('before\nlater\n'), { timeout: 3 * settleMs, interval: 20 });
        expect(file.stats()).toMatchObject({ lateLines: 1, droppedLines: 0, bufferedLines: 0 });
      } finally {
        fs.rmdirSync(lock);
      }
    });
  }

  it('flushSync() with its staged file nameless and the lock busy writes to the period\'s file other processes gave the active name, not late', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const lock = path.join(dir, '.app.log.lock');
    const { file, boundary } = await stagedAfterBoundary(dir);
    publishRollAndCompress(dir, boundary);
    fs.mkdirSync(lock); // and another process holds the lock
    try {
      file.write('later\n');
      file.flushSync();
      expect(read(log)).toBe('later\n');
      expect(file.stats()).toMatchObject({ lateLines: 0, bufferedLines: 0 });
    } finally {
      fs.rmdirSync(lock);
    }
  });

  it('flushSync() with its staged file nameless and a state that cannot be read throws nothing: the line goes to the old file, late', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const lock = path.join(dir, '.app.log.lock');
    const state = path.join(dir, '.app.log.state');
    const { file } = await stagedAfterBoundary(dir);
    fs.mkdirSync(lock); // another process holds the lock
    fs.rmSync(path.join(dir, '.app.log.next'));
    fs.rmSync(state);
    fs.mkdirSync(state); // reading it fails: EISDIR
    try {
      file.write('later\n');
      expect(() => file.flushSync()).not.toThrow();
      expect(read(log)).toBe('before\nlater\n');
      expect(file.stats()).toMatchObject({ lateLines: 1, droppedLines: 0, bufferedLines: 0 });
    } finally {
      fs.rmdirSync(lock);
      fs.rmdirSync(state);
    }
  });

  it("counts as late ('unpublished') the lines of a staged file whose staging lost the lock to another process, which archived it as a stray", async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const lock = path.join(dir, '.app.log.lock');
    const file = open(dir);
    const warnings: Array<{ code: string; details?: { why?: string } }> = [];
    file.on('warning', (w: { code: string; details?: { why?: string } }) => warnings.push(w));
    file.write('before\n');
    await file.flush();
    const key = Symbol.for('timberlock.testHooks');
    const hooks = globalThis as Record<symbol, unknown>;
    hooks[key] = {
      at(step: string) {
        if (step !== 'state-written' || !fs.existsSync(path.join(dir, '.app.log.next'))) return;
        hooks[key] = undefined;
        // As if this process had stalled past staleMs here, about to rename its state: another one took the
        // lock over, and its own state, which does not name the staged file, lands last.
        fs.rmdirSync(lock);
        fs.mkdirSync(lock);
        const temp = path.join(dir, fs.readdirSync(dir).find((name) => name.startsWith('.app.log.state.')) as string);
        const state = JSON.parse(fs.readFileSync(temp, 'utf8')) as Record<string, unknown>;
        delete state.next;
        fs.writeFileSync(temp, JSON.stringify(state));
      },
    };
    try {
      await nextBoundary();
      file.write('staged\n');
      await vi.waitFor(() => expect(warnings.map((w) => w.code)).toContain('LOCK_COMPROMISED'), { timeout: settleMs / 2, interval: 5 });
    } finally {
      hooks[key] = undefined;
    }
    fs.rmdirSync(lock); // the other process is done
    expect(read(path.join(dir, '.app.log.next'))).toBe('staged\n');
    await file.flush(); // settleMs after the boundary: the staged file, a stray now, is archived; a new file gets the name
    expect(file.stats().lateLines).toBe(1);
    expect(warnings).toContainEqual(expect.objectContaining({ code: 'LATE_LINES', details: expect.objectContaining({ why: 'unpublished' }) }));
    const archived = fs.readdirSync(dir).filter((name) => !name.startsWith('.') && name !== 'app.log');
    expect(archived.map((name) => read(path.join(dir, name))).sort()).toEqual(['before\n', 'staged\n']);
    expect(fs.existsSync(log)).toBe(true);
  });

  it('a second file on the path follows the staged file and reports the rotation once, without the archive', async () => {
    const dir = tempDir();
    const first = open(dir);
    const second = open(dir);
    first.write('first before\n');
    second.write('second before\n');
    await Promise.all([first.flush(), second.flush()]);
    const boundary = await nextBoundary();
    const events: Array<[string, RotateEvent]> = [];
    first.on('rotate', (event: RotateEvent) => events.push(['first', event]));
    second.on('rotate', (event: RotateEvent) => events.push(['second', event]));
    first.write('first after\n');
    second.write('second after\n');
    await Promise.all([first.flush(), second.flush()]);
    await vi.waitFor(() => expect(events).toHaveLength(2), { timeout: 5000, interval: 5 });
    expect(events.filter(([, event]) => event.archive !== null)).toHaveLength(1);
    for (const [, event] of events) expect(event).toMatchObject({ periodStart: boundary, previousPeriodStart: boundary - periodMs });
    expect(read(path.join(dir, 'app.log')).split('\n').filter(Boolean).sort()).toEqual(['first after', 'second after']);
    expect(first.stats().rotations + second.stats().rotations).toBe(1);
    expect(first.stats().reopens + second.stats().reopens).toBe(1);
  });

  it('a file opened while a staged file waits writes to it, and announces no switch from a file it never had', async () => {
    const dir = tempDir();
    const { file, boundary } = await stagedAfterBoundary(dir);
    const late = open(dir);
    const lateEvents: RotateEvent[] = [];
    late.on('rotate', (event: RotateEvent) => lateEvents.push(event));
    late.write('from the file opened late\n');
    await vi.waitFor(() => expect(read(path.join(dir, '.app.log.next'))).toBe('after\nfrom the file opened late\n'), { timeout: settleMs / 2, interval: 5 });
    const [event] = (await once(file, 'rotate')) as [RotateEvent];
    expect(event).toMatchObject({ periodStart: boundary, previousPeriodStart: boundary - periodMs });
    await late.flush(); // resolves once the staged file has the active name
    expect(read(path.join(dir, 'app.log'))).toBe('after\nfrom the file opened late\n');
    // It announces only an archive it made itself (either file may be the one that gives the staged file the
    // active name), never a switch away from a file it had.
    expect(lateEvents.filter((e) => e.archive === null || e.previousPeriodStart !== boundary - periodMs)).toEqual([]);
    expect(late.stats()).toMatchObject({ rotations: lateEvents.length, reopens: 0 });
  });

  it('rotate() within the settle margin reports both archives it makes: the old period\'s and the staged file\'s', async () => {
    const dir = tempDir();
    const { file, boundary } = await stagedAfterBoundary(dir);
    const events: RotateEvent[] = [];
    file.on('rotate', (event: RotateEvent) => events.push(event));
    expect(await file.rotate()).toBe(true);
    expect(events.map((event) => [event.previousPeriodStart, event.periodStart, read(event.archive!)])).toEqual([
      [boundary - periodMs, boundary, 'before\n'],
      [boundary, boundary, 'after\n'],
    ]);
    expect(file.stats()).toMatchObject({ rotations: 2, lateLines: 0 });
  });

  it('reopen() within the settle margin gives the staged file the active name and reports the archive of the file that had it', async () => {
    const dir = tempDir();
    const { file, boundary } = await stagedAfterBoundary(dir);
    const rotated = once(file, 'rotate') as Promise<[RotateEvent]>;
    file.reopen();
    const [event] = await rotated;
    expect(event).toMatchObject({ periodStart: boundary, previousPeriodStart: boundary - periodMs });
    expect(read(event.archive!)).toBe('before\n');
    expect(read(path.join(dir, 'app.log'))).toBe('after\n');
    expect(file.stats().rotations).toBe(1);
  });

  it('when giving the staged file the active name fails, flush() resolves with the lines in the staged file, and a later attempt publishes it', async () => {
    const dir = tempDir();
    const { file, boundary } = await stagedAfterBoundary(dir);
    const errors: Error[] = [];
    file.on('error', (err: Error) => errors.push(err));
    const publications = failingPublications();
    try {
      await file.flush();
      expect(Date.now()).toBeGreaterThanOrEqual(boundary + settleMs);
      expect(errors.map((err) => (err as NodeJS.ErrnoException).code)).toEqual(['EACCES']);
      expect(read(path.join(dir, '.app.log.next'))).toBe('after\n');
    } finally {
      publications.stop();
    }
    const [event] = (await once(file, 'rotate')) as [RotateEvent];
    expect(event).toMatchObject({ periodStart: boundary, previousPeriodStart: boundary - periodMs });
    expect(read(path.join(dir, 'app.log'))).toBe('after\n');
    // The failed attempt had archived the old file already (the simulated failure came after that step).
    const archives = fs.readdirSync(dir).filter((name) => !name.startsWith('.') && name !== 'app.log');
    expect(archives.map((name) => read(path.join(dir, name)))).toEqual(['before\n']);
    expect(file.stats().lateLines).toBe(0);
  });

  /** From now until stop(): every attempt to give a staged file the active name fails (EACCES), and is counted. */
  function failingPublications(): { readonly attempts: number; stop: () => void } {
    const key = Symbol.for('timberlock.testHooks');
    const hooks = globalThis as Record<symbol, unknown>;
    let attempts = 0;
    hooks[key] = {
      at(step: string) {
        if (step !== 'before-publish') return;
        attempts++;
        throw Object.assign(new Error('EACCES: permission denied (simulated)'), { code: 'EACCES' });
      },
    };
    return {
      get attempts() {
        return attempts;
      },
      stop: () => {
        hooks[key] = undefined;
      },
    };
  }

  it('a publication that keeps failing is one error episode, however many lines the staged file takes meanwhile; the publication that works ends it', async () => {
    const dir = tempDir();
    const { file } = await stagedAfterBoundary(dir);
    const errors: Error[] = [];
    file.on('error', (err: Error) => errors.push(err));
    const publications = failingPublications();
    let written = 0;
    const writer = setInterval(() => file.write(`line ${written++}\n`), 10);
    try {
      // With the episode ended by every write, each attempt was an 'error' of its own, 100 ms apart.
      await vi.waitFor(() => expect(publications.attempts).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 10 });
      expect(errors.map((err) => (err as NodeJS.ErrnoException).code)).toEqual(['EACCES']);
    } finally {
      clearInterval(writer);
      publications.stop();
    }
    await once(file, 'rotate');
    expect(errors).toHaveLength(1);
    await file.flush();
    // Every line in the files, once (a later boundary may have rotated the file since).
    const lines = linesOnDisk(dir);
    expect([...lines].sort()).toEqual(['after', 'before', ...Array.from({ length: written }, (_, i) => `line ${i}`)].sort());
    // The episode is over: the next failure is told.
    expect(await rotateFailingUnderLock(file)).toBe(false);
    expect(errors.map((err) => (err as NodeJS.ErrnoException).code)).toEqual(['EACCES', 'EIO']);
  });

  it.each([
    ['', {}],
    [' (with maxSize, tried only as often)', { maxSize: '1MB' }],
  ])('while a publication keeps failing, lines go on to the staged file at once, not at the pace of its back-off%s', async (_, extra) => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file } = boundaryIn300ms(log, extra);
    const errors: Error[] = [];
    file.on('error', (err: Error) => errors.push(err));
    const publications = failingPublications();
    let written = 0;
    let mostBuffered = 0;
    const writer = setInterval(() => {
      file.write(`line ${written++}\n`);
      mostBuffered = Math.max(mostBuffered, file.stats().bufferedLines);
    }, 10);
    try {
      // Attempts 100, 200, 400 and 800 ms apart: past the fifth, lines held back until the next attempt would
      // be 80 and more.
      await vi.waitFor(() => expect(publications.attempts).toBeGreaterThanOrEqual(5), { timeout: 10_000, interval: 10 });
      await new Promise((resolve) => setTimeout(resolve, 500)); // half-way to the sixth attempt
    } finally {
      clearInterval(writer);
      publications.stop();
    }
    expect(mostBuffered).toBeLessThan(40);
    expect(publications.attempts).toBeLessThanOrEqual(6);
    expect(errors.map((err) => (err as NodeJS.ErrnoException).code)).toEqual(['EACCES']);
    await once(file, 'rotate'); // the next attempt publishes it
    await file.flush();
    const lines = linesOnDisk(dir);
    expect([...lines].sort()).toEqual(Array.from({ length: written }, (_, i) => `line ${i}`).sort());
  });

  /**
   * A file of 1 s periods whose staged files are never published while `during` runs, with a line logged
   * every 10 ms; then it is closed, and every line must be on disk (those still waiting go, late, to the
   * staged file).
   */
  async function loggingWhilePublicationsFail(fallbackMs: number, during: (file: RotatingFile, publications: { readonly attempts: number }) => Promise<void>): Promise<void> {
    const dir = tempDir();
    const file = new RotatingFile({ path: path.join(dir, 'app.log'), frequency: 1000, timeZone: 'UTC', settleMs: 100, fallbackMs });
    files.push(file);
    file.on('error', () => {});
    file.write('first\n');
    await file.flush();
    const publications = failingPublications();
    let written = 0;
    const writer = setInterval(() => file.write(`line ${written++}\n`), 10);
    try {
      await during(file, publications);
    } finally {
      clearInterval(writer);
      publications.stop();
    }
    await file.close();
    const lines = linesOnDisk(dir, true);
    expect([...lines].sort()).toEqual(['first', ...Array.from({ length: written }, (_, i) => `line ${i}`)].sort());
  }

  it('a publication that fails past the end of the staged file\'s period: the rotation to the next period keeps its back-off (not one attempt per turn of the event loop), and the lines are written', async () => {
    await loggingWhilePublicationsFail(500, async (file, publications) => {
      // Two boundaries and more: the file staged at the first is never published.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      // With its back-off, a rotation is tried some 10 times in 3 s; without it, as fast as the event loop
      // turns (hundreds of times).
      expect(publications.attempts).toBeLessThan(40);
      expect(file.stats().errors).toBeLessThan(40);
    });
  });

  it("a publication that fails past the end of the staged file's period: the next period's lines wait fallbackMs at most, then go on to the staged file at once, late", async () => {
    // fallbackMs above the longest back-off (5 s): attempts to publish come more often than that.
    await loggingWhilePublicationsFail(5200, async (file) => {
      // Each attempt to publish started the lines' wait anew: they never went.
      await vi.waitFor(() => expect(file.stats().lateLines).toBeGreaterThan(0), { timeout: 15_000, interval: 20 });
      // From then on each line goes at once, not at the rotation's next retry (up to 5 s away).
      let mostBuffered = 0;
      const sampleUntil = Date.now() + 1000;
      while (Date.now() < sampleUntil) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        mostBuffered = Math.max(mostBuffered, file.stats().bufferedLines);
      }
      expect(mostBuffered).toBeLessThan(30);
    });
  }, 30_000);

  /**
   * Two files on one path, on a clock of the test's own: a stager, and a writer with `sync: true` and
   * maxSize. At the boundary the stager stages the new file, and both have written a line to it.
   */
  async function stagedWithSizedWriter(dir: string): Promise<{ log: string; options: { path: string; frequency: number; timeZone: string; settleMs: number }; boundary: number; clock: { now: number }; writer: RotatingFile }> {
    const log = path.join(dir, 'app.log');
    const boundary = Math.floor(Date.now() / periodMs) * periodMs + 100 * periodMs;
    const clock = { now: boundary - 500 };
    const options = { path: log, frequency: periodMs, timeZone: 'UTC', settleMs } as const;
    const stager = new RotatingFile(options, { now: () => clock.now });
    const writer = new RotatingFile({ ...options, sync: true, maxSize: '1MB' }, { now: () => clock.now });
    files.push(stager, writer);
    stager.write('stager before\n');
    writer.write('writer before\n');
    await stager.flush();
    clock.now = boundary + 10;
    stager.write('stager after\n'); // stages the new file
    await vi.waitFor(() => expect(read(path.join(dir, '.app.log.next'))).toBe('stager after\n'), { timeout: 5000, interval: 5 });
    writer.write('writer after\n'); // sync: true, so written now, to the staged file
    expect(read(path.join(dir, '.app.log.next'))).toBe('stager after\nwriter after\n');
    return { log, options, boundary, clock, writer };
  }

  /** The protocol as another process on the path of `options` runs it (see rotation.ts), and its names. */
  function anotherProcess(dir: string, options: { path: string; frequency: number; timeZone: string }): { scheme: NameScheme; other: RotationTarget } {
    const scheme = { activeName: 'app.log', dateFormat: defaultDateFormat(periodMs), timeZone: 'UTC', frequency: periodMs };
    const other: RotationTarget = {
      ...options,
      dir,
      statePath: path.join(dir, '.app.log.state'),
      stagedPath: path.join(dir, '.app.log.next'),
      newPath: path.join(dir, '.app.log.new'),
      mode: 0o640,
      scheme,
      header: null,
      archiveHint: { periodStart: Number.NaN, next: 0 },
      deletesArchives: false,
    };
    return { scheme, other };
  }

  /**
   * As another process: give the staged file the active name, roll it away (rotate(), a size roll), and
   * compress its archive (a .gz replaces it). Returns the archive's plain name.
   */
  function publishRollAndCompress(dir: string, boundary: number): string {
    const { scheme, other } = anotherProcess(dir, { path: path.join(dir, 'app.log'), frequency: periodMs, timeZone: 'UTC' });
    fs.closeSync(runSync(rotateUnderLock(other, boundary)).fd);
    fs.closeSync(runSync(rotateUnderLock(other, boundary, 'force')).fd);
    const archive = path.join(dir, archiveName(scheme, boundary, 0));
    fs.writeFileSync(`${archive}.gz`, zlib.gzipSync(fs.readFileSync(archive)));
    fs.rmSync(archive);
    return archive;
  }

  it('with maxSize, a batch after the settle margin does not go to a staged file that another process published and rolled away', async () => {
    const dir = tempDir();
    const { log, options, boundary, clock, writer } = await stagedWithSizedWriter(dir);
    // Another process publishes the staged file and rolls it (rotate(), a size roll) before this one looks.
    const { scheme, other } = anotherProcess(dir, options);
    const rolled = runSync(rotateUnderLock(other, boundary, 'force'));
    fs.closeSync(rolled.fd);
    clock.now = boundary + settleMs + 5;
    writer.write('writer late\n');
    await vi.waitFor(() => expect(read(log)).toBe('writer late\n'), { timeout: 5000, interval: 5 });
    expect(read(path.join(dir, archiveName(scheme, boundary, 0)))).toBe('stager after\nwriter after\n');
  });

  it('with maxSize, flushSync() past the settle margin writes waiting lines to the staged file when its publication finds the lock busy', async () => {
    const dir = tempDir();
    const { boundary, clock, writer } = await stagedWithSizedWriter(dir);
    const lock = path.join(dir, '.app.log.lock');
    fs.mkdirSync(lock); // another process holds the lock: nobody can publish the staged file
    try {
      clock.now = boundary + settleMs + 5;
      writer.write('writer waiting\n'); // waits for the publication
      expect(writer.stats().bufferedLines).toBe(1);
      writer.flushSync(); // as on process exit
      expect(writer.stats()).toMatchObject({ bufferedLines: 0, droppedLines: 0 });
      expect(read(path.join(dir, '.app.log.next'))).toBe('stager after\nwriter after\nwriter waiting\n');
    } finally {
      fs.rmdirSync(lock);
    }
  });

  it('with maxSize, counts a line flushSync() writes to a staged file that was published and rolled away as late once', async () => {
    const dir = tempDir();
    const { options, boundary, clock, writer } = await stagedWithSizedWriter(dir);
    clock.now = boundary + settleMs + 5;
    // Another process publishes the staged file and rolls it away, and then holds the lock.
    const { scheme, other } = anotherProcess(dir, options);
    fs.closeSync(runSync(rotateUnderLock(other, boundary)).fd); // publishes it
    fs.closeSync(runSync(rotateUnderLock(other, boundary, 'force')).fd); // rolls it away
    const lock = path.join(dir, '.app.log.lock');
    fs.mkdirSync(lock);
    try {
      writer.write('writer waiting\n');
      writer.flushSync(); // as on process exit: to the file it has, as late
      expect(writer.stats()).toMatchObject({ bufferedLines: 0, lateLines: 1 });
    } finally {
      fs.rmdirSync(lock);
    }
    await writer.flush(); // follows the active name
    // 'writer after' went to the staged file in its period: it is not late, though this process never saw
    // that file get the active name.
    expect(read(path.join(dir, archiveName(scheme, boundary, 0)))).toBe('stager after\nwriter after\nwriter waiting\n');
    expect(writer.stats().lateLines).toBe(1);
  });

  it('close() within the settle margin gives the staged file the active name', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    const { file } = await stagedAfterBoundary(dir);
    await file.close();
    expect(read(log)).toBe('after\n');
    expect(fs.existsSync(path.join(dir, '.app.log.next'))).toBe(false);
  });

  it('lines a process wrote to the staged file before it was killed are published by another process', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'app.log');
    await periodBegun(); // the child picks the next boundary, which ends the period of 'survivor before'
    const file = open(dir); // idle over the boundary: its boundary timer finds the staged file
    file.write('survivor before\n');
    await file.flush();
    const child = await runNode([STAGE_AND_DIE, JSON.stringify({ path: log, periodMs, settleMs, end: 'kill' })], { timeoutMs: 20_000 });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    const { boundary } = JSON.parse(child.stdout) as { boundary: number };
    expect(read(path.join(dir, '.app.log.next'))).toBe('child after\n');
    const [event] = (await once(file, 'rotate')) as [RotateEvent];
    expect(event.periodStart).toBe(boundary);
    expect(event.archive).not.toBeNull();
    expect(read(log)).toBe('child after\n');
    expect(read(event.archive!)).toBe('survivor before\n');
  });

  it('a process that exits within the settle margin gives its staged file the active name on the way out', async () => {
    const { dir, log, child } = await childAfterBoundary('exit');
    expect(child.code, child.stderr).toBe(0);
    const { boundary } = JSON.parse(child.stdout) as { boundary: number };
    expect(child.exitedAt).toBeLessThan(boundary + settleMs);
    expect(read(log)).toBe('child after\n');
    expect(fs.existsSync(path.join(dir, '.app.log.next'))).toBe(false);
    const archives = fs.readdirSync(dir).filter((name) => !name.startsWith('.') && name !== 'app.log');
    expect(archives.map((name) => read(path.join(dir, name)))).toEqual(['before\n']);
  });

  it('flush() in the settle margin keeps the process alive until the staged file has the active name', async () => {
    // The process has nothing else to do: the publication timer itself must keep it running.
    const { log, child } = await childAfterBoundary('flush');
    expect(child.code, child.stderr).toBe(0);
    const { boundary, flushedAt, closed } = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { boundary: number; flushedAt: number; closed: boolean };
    expect(closed).toBe(true);
    expect(flushedAt).toBeGreaterThanOrEqual(boundary + settleMs);
    expect(read(log)).toBe('child after\n');
  });
});
