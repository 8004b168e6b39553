import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against the workspace packages' sources (no prior build of their TS needed); the
// native addon itself is loaded from <repo>/build/Release when it is built.
const packages = fileURLToPath(new URL('../', import.meta.url));
const alias = [
  { find: /^@parascan\/core$/, replacement: `${packages}core/src/index.ts` },
  { find: /^@parascan\/core\/testing$/, replacement: `${packages}core/src/testing.ts` },
  { find: /^@parascan\/solvers$/, replacement: `${packages}solvers/src/index.ts` },
  { find: /^@parascan\/cells$/, replacement: `${packages}cells/src/index.ts` },
  { find: /^@parascan\/nn$/, replacement: `${packages}nn/src/index.ts` },
  { find: /^@parascan\/train$/, replacement: `${packages}train/src/index.ts` },
];
if (existsSync(`${packages}native/src/index.ts`)) {
  alias.push({ find: /^@parascan\/native$/, replacement: `${packages}native/src/index.ts` });
}

export default defineConfig({
  resolve: { alias },
  test: {
    pool: 'forks',
    maxWorkers: Math.max(2, availableParallelism()),
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
