/**
 * The package as a user gets it: `npm pack`, then the tarball installed into a fresh temporary project
 * (first alone, then with winston and pino from the registry), used by an ESM and a CJS consumer of
 * all three entries, and type-checked the way TypeScript resolves it for ESM and CJS (node16), and for
 * CommonJS on the older settings (module commonjs, no esModuleInterop).
 *
 * Needs dist/ (`npm test` builds it first) and the npm registry.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killChildren, lastJson, runNode } from './helpers/child.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NPM_TIMEOUT_MS = 240_000;

let project: string;
let tarball: string;

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    timeout: NPM_TIMEOUT_MS,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
}

function write(name: string, text: string): string {
  const file = path.join(project, name);
  fs.writeFileSync(file, text);
  return file;
}

const read = (name: string): string => fs.readFileSync(path.join(project, 'logs', name), 'utf8');

// The consumers use every entry and print what they saw; the test reads the files they wrote.
const ESM_CONSUMER = `
import { createRotatingFile, TimberlockOptionError } from 'timberlock';
import { RotatingFileTransport } from 'timberlock/winston';
import pinoTarget, { destination } from 'timberlock/pino';
import winston from 'winston';
import pino from 'pino';

const file = createRotatingFile({ path: 'logs/core-esm.log', timeZone: 'UTC' });
file.write('core esm');
await file.close();

const logger = winston.createLogger({ transports: [new RotatingFileTransport({ path: 'logs/winston-esm.log' })] });
logger.info('winston esm');
await new Promise((resolve) => { logger.on('finish', resolve); logger.end(); });

pino(destination({ path: 'logs/pino-main-esm.log' })).info('pino main esm');
pino(pino.transport({ target: 'timberlock/pino', options: { path: 'logs/pino-worker-esm.log' } })).info('pino worker esm');

let optionError = null;
try { createRotatingFile({ path: 'logs/x.log', frequency: 'sometimes' }); } catch (err) { optionError = err instanceof TimberlockOptionError ? err.message : String(err); }
console.log(JSON.stringify({ pinoTarget: typeof pinoTarget, optionError }));
`;

const CJS_CONSUMER = `
const core = require('timberlock');
const loadedByCore = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](winston|winston-transport|pino|pino-abstract-transport)[\\\\/]/.test(f));
const { RotatingFileTransport } = require('timberlock/winston');
const timberlockPino = require('timberlock/pino');
const winston = require('winston');
const pino = require('pino');

async function main() {
  const file = core.createRotatingFile({ path: 'logs/core-cjs.log', timeZone: 'UTC' });
  file.write('core cjs');
  await file.close();

  const logger = winston.createLogger({ transports: [new RotatingFileTransport({ path: 'logs/winston-cjs.log' })] });
  logger.info('winston cjs');
  await new Promise((resolve) => { logger.on('finish', resolve); logger.end(); });

  pino(timberlockPino.destination({ path: 'logs/pino-main-cjs.log' })).info('pino main cjs');
  pino(pino.transport({ target: 'timberlock/pino', options: { path: 'logs/pino-worker-cjs.log' } })).info('pino worker cjs');
  console.log(JSON.stringify({ loadedByCore, pinoTarget: typeof timberlockPino.default }));
}
main();
`;

// Type-checked, not run: the declarations resolve for ESM (.mts) and CJS (.cts) consumers.
const TYPED = `
import { createRotatingFile, handleSignals, type RotatingFileOptions, type RotateEvent } from 'timberlock';
import { RotatingFileTransport, type RotatingFileTransportOptions } from 'timberlock/winston';
import pinoTarget, { destination, PinoDestination, type PinoTransportOptions } from 'timberlock/pino';
import winston from 'winston';

const options: RotatingFileOptions = { path: 'logs/a.log', frequency: 'hourly' };
const file = createRotatingFile(options);
file.on('rotate', (event: RotateEvent) => event.archive);
// The listeners are typed by event: a payload's fields, and a misspelt event or field does not compile.
file.on('warning', (warning) => warning.code.toUpperCase());
file.once('error', (error) => error.code.toUpperCase());
// @ts-expect-error: no such event
file.on('rotat', () => {});
// @ts-expect-error: no such field
file.on('open', (event) => event.inode);
// Options read from the environment may be undefined, as the library accepts (exactOptionalPropertyTypes).
const fromEnv: RotatingFileOptions = { path: 'logs/b.log', maxSize: process.env.LOG_MAX_SIZE, lock: { staleMs: undefined } };
handleSignals({ timeoutMs: undefined, onSignal: undefined });
const transportOptions: RotatingFileTransportOptions = { ...options, level: 'warn', handleExceptions: true };
const logger = winston.createLogger({ transports: [new RotatingFileTransport(transportOptions)] });
const pinoOptions: PinoTransportOptions = options;
const dest: PinoDestination = destination(options);
export const used = [logger, pinoTarget(pinoOptions), dest.writable, fromEnv];
`;

// The same, for a CommonJS project on TypeScript's older settings: module commonjs (node10 resolution,
// through typesVersions) without esModuleInterop, where a default import of winston-transport (which
// uses `export =`) does not give its class.
const TYPED_NODE10 = `
import winston = require('winston');
import { createRotatingFile } from 'timberlock';
import { RotatingFileTransport } from 'timberlock/winston';
import { destination } from 'timberlock/pino';

const transport = new RotatingFileTransport({ path: 'logs/a.log', level: 'warn' });
const logger = winston.createLogger({ transports: [transport] });
export const used = [logger, transport.file, createRotatingFile({ path: 'logs/b.log' }), destination({ path: 'logs/c.log' })];
`;

beforeAll(() => {
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'timberlock-consumer-'));
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', project], ROOT)) as { filename: string }[];
  tarball = path.join(project, packed[0]!.filename);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // The tarball alone first: the core must install and load without any logger framework.
  npm(['install', tarball], project);
}, NPM_TIMEOUT_MS);

afterAll(() => {
  killChildren();
  fs.rmSync(project, { recursive: true, force: true });
});

describe('the packed package installed in a fresh project', () => {
  it('ships dist and the package files only', () => {
    const listed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(listed).toContain('package/dist/index.js');
    expect(listed).toContain('package/dist/winston.cjs');
    expect(listed).toContain('package/dist/pino.d.cts');
    expect(listed).toContain('package/LICENSE'); // package.json says MIT: its text goes with every copy
    expect(listed.filter((f) => !/^package\/(dist\/|package\.json$|README\.md$|LICENSE|CHANGELOG\.md$)/.test(f))).toEqual([]);
  });

  it('loads timberlock without winston or pino installed', async () => {
    expect(fs.existsSync(path.join(project, 'node_modules/winston'))).toBe(false);
    expect(fs.existsSync(path.join(project, 'node_modules/pino'))).toBe(false);
    const esm = write('core-only.mjs', "import { createRotatingFile } from 'timberlock';\nconsole.log(typeof createRotatingFile);\n");
    const cjs = write('core-only.cjs', "const { createRotatingFile } = require('timberlock');\nconsole.log(typeof createRotatingFile);\n");
    for (const file of [esm, cjs]) {
      const result = await runNode([file], { cwd: project, timeoutMs: 60_000 });
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('function');
    }
  }, 120_000);

  it('runs one copy of timberlock in a process that both imports and requires it', async () => {
    // Two copies would keep two registries of open files and two handleSignals(): the second would be
    // accepted, and each would wait only for its own files' rotations before the exit.
    const both = write(
      'import-and-require.mjs',
      `import { createRequire } from 'node:module';
import * as imported from 'timberlock';
const required = createRequire(import.meta.url)('timberlock');
let secondHandleSignals = 'accepted';
const uninstall = imported.handleSignals();
try { required.handleSignals(); } catch (err) { secondHandleSignals = err.code; }
uninstall();
let optionError = null;
try { required.createRotatingFile({ path: 'logs/x.log', frequency: 'fortnightly' }); } catch (err) { optionError = err instanceof imported.TimberlockOptionError; }
console.log(JSON.stringify({ sameClass: imported.RotatingFile === required.RotatingFile, secondHandleSignals, optionError }));
`,
    );
    const result = await runNode([both], { cwd: project, timeoutMs: 60_000 });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ sameClass: true, secondHandleSignals: 'ERR_TIMBERLOCK_SIGNALS_HANDLED', optionError: true });
  }, 120_000);

  describe('with winston and pino from the registry', () => {
    beforeAll(() => {
      npm(['install', 'winston@^3', 'pino@^10'], project);
    }, NPM_TIMEOUT_MS);

    it('serves all three entries to an ESM consumer', async () => {
      const result = await runNode([write('consumer.mjs', ESM_CONSUMER)], { cwd: project, timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      const seen = lastJson<{ pinoTarget: string; optionError: string }>(result.stdout);
      expect(seen.pinoTarget).toBe('function');
      expect(seen.optionError).toMatch(/^Invalid option frequency: "sometimes"\. Expected /);
      expect(read('core-esm.log')).toBe('core esm\n');
      expect(JSON.parse(read('winston-esm.log'))).toEqual({ level: 'info', message: 'winston esm' });
      expect(JSON.parse(read('pino-main-esm.log'))).toMatchObject({ level: 30, msg: 'pino main esm' });
      expect(JSON.parse(read('pino-worker-esm.log'))).toMatchObject({ level: 30, msg: 'pino worker esm' });
    }, 120_000);

    it('serves all three entries to a CJS consumer, and require("timberlock") loads no logger framework', async () => {
      const result = await runNode([write('consumer.cjs', CJS_CONSUMER)], { cwd: project, timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      const seen = lastJson<{ loadedByCore: string[]; pinoTarget: string }>(result.stdout);
      expect(seen.loadedByCore).toEqual([]);
      expect(seen.pinoTarget).toBe('function');
      expect(read('core-cjs.log')).toBe('core cjs\n');
      expect(JSON.parse(read('winston-cjs.log'))).toEqual({ level: 'info', message: 'winston cjs' });
      expect(JSON.parse(read('pino-main-cjs.log'))).toMatchObject({ level: 30, msg: 'pino main cjs' });
      expect(JSON.parse(read('pino-worker-cjs.log'))).toMatchObject({ level: 30, msg: 'pino worker cjs' });
    }, 120_000);

    it("gives the classes their own names, as stack traces and Node's messages show them", async () => {
      const names = write(
        'class-names.cjs',
        `const { RotatingFile, TimberlockError, TimberlockOptionError } = require('timberlock');
const { RotatingFileTransport } = require('timberlock/winston');
const { PinoTransportStream } = require('timberlock/pino');
console.log([RotatingFile, TimberlockError, TimberlockOptionError, RotatingFileTransport, PinoTransportStream].map((c) => c.name).join());
`,
      );
      const result = await runNode([names], { cwd: project, timeoutMs: 60_000 });
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('RotatingFile,TimberlockError,TimberlockOptionError,RotatingFileTransport,PinoTransportStream');
    }, 120_000);

    it('type-checks ESM and CJS consumers of all three entries (module node16)', () => {
      write('typed.mts', TYPED);
      write('typed.cts', TYPED);
      write(
        'tsconfig.json',
        JSON.stringify({
          compilerOptions: {
            module: 'node16',
            moduleResolution: 'node16',
            target: 'es2022',
            strict: true,
            exactOptionalPropertyTypes: true,
            noEmit: true,
            esModuleInterop: true,
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [path.join(ROOT, 'node_modules/@types')],
          },
          files: ['typed.mts', 'typed.cts'],
        }),
      );
      expect(typeCheck('tsconfig.json')).toBe('');
    }, 120_000);

    it('type-checks a CommonJS consumer compiled with module commonjs and without esModuleInterop (node10)', () => {
      write('typed-node10.ts', TYPED_NODE10);
      write(
        'tsconfig.node10.json',
        JSON.stringify({
          compilerOptions: {
            module: 'commonjs',
            target: 'es2022',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [path.join(ROOT, 'node_modules/@types')],
          },
          files: ['typed-node10.ts'],
        }),
      );
      expect(typeCheck('tsconfig.node10.json')).toBe('');
    }, 120_000);
  });
});

/** tsc -p on a config of the consumer project: its output (the errors), or '' when it type-checks. */
function typeCheck(config: string): string {
  const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
  try {
    return execFileSync(process.execPath, [tsc, '-p', path.join(project, config)], { cwd: project, encoding: 'utf8', timeout: 110_000 });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}
