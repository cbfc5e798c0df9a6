import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineConfig } from 'tsup';

const entry = {
  index: 'src/index.ts',
  winston: 'src/transports/winston.ts',
  pino: 'src/transports/pino.ts',
};

export default defineConfig({
  // Three entries: the core never loads a logger framework; the adapters share its chunk.
  entry,
  format: ['esm', 'cjs'],
  dts: true,
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  splitting: true,
  // Rollup writes the CommonJS chunks. Without it tsup turns esbuild's ESM chunks into CommonJS with
  // sucrase, which also rewrites class fields and optional chaining: the classes were then named
  // `_class3` and the like in stack traces and in Node's messages ("Emitted 'error' event on _class3").
  treeshake: true,
  // Optional peer dependencies: resolved from the user's project, never bundled.
  external: ['winston', 'winston-transport', 'pino'],
  onSuccess: esmEntriesLoadTheCommonJsBuild,
});

/**
 * Replace each ESM entry with a module that re-exports the CommonJS build. An app that imports timberlock
 * in one module and requires it in another (ESM code with `timberlock/pino`, a CommonJS module with
 * `timberlock/winston`) then runs one copy of it: one registry of open files for the signal flush, one
 * handleSignals(), one set of error classes for `instanceof`. Node 20 cannot require() ESM, so the
 * CommonJS build is the one both load. The ESM declaration files stay: the names and types are the same.
 */
async function esmEntriesLoadTheCommonJsBuild(): Promise<void> {
  const requireBuilt = createRequire(import.meta.url);
  for (const name of Object.keys(entry)) {
    const esmFile = path.resolve('dist', `${name}.js`);
    const esmNames = Object.keys(await import(pathToFileURL(esmFile).href)).sort();
    const cjsNames = Object.keys(requireBuilt(path.resolve('dist', `${name}.cjs`)) as object).sort();
    if (esmNames.join() !== cjsNames.join()) {
      throw new Error(`dist/${name}: the ESM build exports ${esmNames.join(', ')} and the CommonJS build ${cjsNames.join(', ')}`);
    }
    const named = esmNames.filter((n) => n !== 'default');
    const lines = [
      `// The ESM entry of timberlock loads its CommonJS build: a process that both imports and requires`,
      `// timberlock runs one copy of it (one registry of open files, one handleSignals(), one set of classes).`,
      `import cjs from './${name}.cjs';`,
      `export const { ${named.join(', ')} } = cjs;`,
      ...(esmNames.includes('default') ? ['export default cjs.default;'] : []),
      '',
    ];
    fs.writeFileSync(esmFile, lines.join('\n'));
  }
  for (const file of fs.readdirSync('dist')) {
    const where = path.join('dist', file);
    // The ESM chunks and maps nothing loads any more.
    if (/\.js(\.map)?$/.test(file) && !(file.endsWith('.js') && file.slice(0, -3) in entry)) fs.rmSync(where);
    // Rollup appends its source map comment after esbuild's, the same line twice: keep one.
    if (file.endsWith('.cjs')) {
      const code = fs.readFileSync(where, 'utf8');
      const comment = `//# sourceMappingURL=${file}.map`;
      const twice = `${comment}\n${comment}`;
      if (code.trimEnd().endsWith(twice)) fs.writeFileSync(where, `${code.trimEnd().slice(0, -twice.length)}${comment}\n`);
    }
    // tsup's CommonJS code splitting may name the build's own absolute path in the maps: make it relative.
    if (file.endsWith('.cjs.map')) {
      const map = JSON.parse(fs.readFileSync(where, 'utf8')) as { file?: string; sources: string[] };
      const relative = (name: string): string => (path.isAbsolute(name) ? path.relative(path.resolve('dist'), name) : name);
      if (map.file !== undefined) map.file = relative(map.file);
      map.sources = map.sources.map(relative);
      fs.writeFileSync(where, JSON.stringify(map));
    }
  }
}
