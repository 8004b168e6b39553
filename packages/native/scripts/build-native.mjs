#!/usr/bin/env node
// Builds the native addons with cmake-js from the repository's top-level CMakeLists.txt into
// <repo>/build (Release). PARASCAN_CUDA=ON adds the CUDA addon (needs nvcc).
//
// `cmake-js compile` does not reconfigure when options change, so this always runs `configure`
// (cheap and incremental) with the current options, then `build`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = resolve(here, '..');
const repoRoot = resolve(packageDir, '..', '..');
const outDir = join(repoRoot, 'build');
const cuda = ['on', '1', 'true', 'yes'].includes(String(process.env.PARASCAN_CUDA ?? '').toLowerCase());
const cmakeJs = join(packageDir, 'node_modules', 'cmake-js', 'bin', 'cmake-js');

if (!existsSync(cmakeJs)) {
  console.error('build-native: cmake-js is missing; run `npx pnpm@10.34.9 install` at the repository root first.');
  process.exit(1);
}

const common = ['-d', repoRoot, '-O', outDir, '--config', 'Release', '--parallel', String(Math.max(1, cpus().length))];
const defines = [`--CDPARASCAN_CUDA=${cuda ? 'ON' : 'OFF'}`, '--CDPARASCAN_TESTS=ON'];
if (process.env.PARASCAN_CUDA_ARCHITECTURES) defines.push(`--CDPARASCAN_CUDA_ARCHITECTURES=${process.env.PARASCAN_CUDA_ARCHITECTURES}`);

function run(args) {
  console.log(`build-native: cmake-js ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cmakeJs, ...args], { stdio: 'inherit', cwd: packageDir });
  if (r.status !== 0) {
    console.error(`build-native: cmake-js ${args[0]} failed (exit ${r.status}). Needs cmake >= 3.25 and a C++17 compiler` +
      (cuda ? ', and nvcc for PARASCAN_CUDA=ON' : '') + '.');
    process.exit(r.status ?? 1);
  }
}

run(['configure', ...common, ...defines]);
run(['build', ...common]);
console.log(`build-native: built ${join(outDir, 'Release', 'parascan.node')}${cuda ? ' and parascan_cuda.node' : ''}`);
