#!/usr/bin/env node
// Runs the C++ tests (ctest) of the cmake-js build in <repo>/build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const buildDir = join(repoRoot, 'build');
if (!existsSync(join(buildDir, 'CTestTestfile.cmake'))) {
  console.error('ctest: no C++ build in build/; run `npx pnpm@10.34.9 build` first.');
  process.exit(1);
}
const r = spawnSync('ctest', ['--test-dir', buildDir, '--output-on-failure'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
