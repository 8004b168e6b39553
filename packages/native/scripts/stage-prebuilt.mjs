#!/usr/bin/env node
// Copies a built addon from <repo>/build/Release into its per-platform package so that
// `pnpm pack` of that package yields the prebuilt binary users install (no compiler needed).
//   node stage-prebuilt.mjs cpu    -> packages/native-<platform>-<arch>/parascan.node
//   node stage-prebuilt.mjs cuda   -> packages/native-<platform>-<arch>-cuda/parascan_cuda.node
import { execSync } from 'node:child_process';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const kind = process.argv[2] === 'cuda' ? 'cuda' : 'cpu';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const file = kind === 'cuda' ? 'parascan_cuda.node' : 'parascan.node';
const source = join(repoRoot, 'build', 'Release', file);
const pkgDir = join(repoRoot, 'packages', `native-${process.platform}-${process.arch}${kind === 'cuda' ? '-cuda' : ''}`);

if (!existsSync(source)) {
  console.error(`stage-prebuilt: ${source} does not exist. Build it first: ` +
    (kind === 'cuda' ? '`PARASCAN_CUDA=ON npx pnpm@10.34.9 build`' : '`npx pnpm@10.34.9 build`'));
  process.exit(1);
}
if (!existsSync(pkgDir)) {
  console.error(`stage-prebuilt: no platform package at ${pkgDir} for ${process.platform}-${process.arch}.`);
  process.exit(1);
}
copyFileSync(source, join(pkgDir, file));
let commit = 'unknown';
try {
  commit = execSync('git rev-parse HEAD', { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {}
writeFileSync(join(pkgDir, 'BUILD-INFO.json'), JSON.stringify({
  file, kind, platform: process.platform, arch: process.arch, napiVersion: 8, commit, builtWith: `node ${process.versions.node}`,
}, null, 2) + '\n');
console.log(`stage-prebuilt: ${file} -> ${pkgDir}`);
