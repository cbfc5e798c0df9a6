import { defineConfig } from 'tsup';

export default defineConfig({
  // Three entries: the core never loads a logger framework; the adapters share its chunk.
  entry: {
    index: 'src/index.ts',
    winston: 'src/transports/winston.ts',
    pino: 'src/transports/pino.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  splitting: true,
  // Optional peer dependencies: resolved from the user's project, never bundled.
  external: ['winston', 'winston-transport', 'pino'],
});
