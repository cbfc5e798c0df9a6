/**
 * Compile one internal module of src/ (dist/ has only the public entries) for child processes, with the
 * project's tsup, into a git-ignored directory of the repository, so that its dependencies (proper-lockfile)
 * resolve from node_modules. Returns the module's file URL and a function that removes the build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll } from 'vitest';

const repo = path.resolve(import.meta.dirname, '..', '..');

export async function buildInternalModule(name: string): Promise<{ url: string; remove: () => void }> {
  fs.mkdirSync(path.join(repo, '.tmp'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(repo, '.tmp', `${name}-test-`));
  await build({
    entry: { [name]: path.join(repo, 'src', `${name}.ts`) },
    outDir: dir,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    config: false,
    dts: false,
    splitting: false,
    sourcemap: false,
    clean: false,
    silent: true,
  });
  return { url: pathToFileURL(path.join(dir, `${name}.js`)).href, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * In the test file that calls it: build `name` before its tests (buildInternalModule) and remove the build
 * after them. `url` is the module's file URL once the tests run.
 */
export function useInternalModule(name: string): { url: string } {
  const module = { url: '' };
  let remove = (): void => {};
  beforeAll(async () => {
    const built = await buildInternalModule(name);
    module.url = built.url;
    remove = built.remove;
  }, 60_000);
  afterAll(() => remove());
  return module;
}
