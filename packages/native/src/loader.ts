/**
 * Finds and loads a native addon file. Candidates, in order:
 *   1. an environment override: PARASCAN_NATIVE_PATH (cpu) / PARASCAN_CUDA_NATIVE_PATH (cuda);
 *   2. a local build of this repository: <repo>/build/Release/<file>;
 *   3. the platform package: @parascan/native-<platform>-<arch>[-cuda];
 * and, when none loads, one error that lists every candidate tried, why it failed, and the fixes.
 * The CUDA addon is only looked for when a caller asks for it (it is large and needs a driver).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nativeUnavailable, type ParascanError } from '@parascan/core';

import { NATIVE_ABI_VERSION, type NativeAddon } from './surface.js';

export type NativeKind = 'cpu' | 'cuda';

export interface NativeCandidate {
  source: 'environment' | 'local-build' | 'platform-package';
  path: string;
}

const require = createRequire(import.meta.url);
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(packageDir, '..', '..');

const FILE: Record<NativeKind, string> = { cpu: 'parascan.node', cuda: 'parascan_cuda.node' };
const ENV: Record<NativeKind, string> = { cpu: 'PARASCAN_NATIVE_PATH', cuda: 'PARASCAN_CUDA_NATIVE_PATH' };

export function platformPackageName(kind: NativeKind): string {
  return `@parascan/native-${process.platform}-${process.arch}${kind === 'cuda' ? '-cuda' : ''}`;
}

/** The candidate files for `kind`, in the order the loader tries them. */
export function nativeCandidates(kind: NativeKind): NativeCandidate[] {
  const out: NativeCandidate[] = [];
  const override = process.env[ENV[kind]];
  if (override) out.push({ source: 'environment', path: resolve(override) });
  out.push({ source: 'local-build', path: join(repoRoot, 'build', 'Release', FILE[kind]) });
  try {
    const pkg = require(platformPackageName(kind)) as { addonPath?: string };
    if (pkg.addonPath) out.push({ source: 'platform-package', path: pkg.addonPath });
  } catch {
    out.push({ source: 'platform-package', path: `${platformPackageName(kind)}/${FILE[kind]} (package not installed)` });
  }
  return out;
}

type LoadResult = { addon: NativeAddon; path: string } | { error: ParascanError };
const cache = new Map<NativeKind, LoadResult>();

function isNativeAddon(x: unknown): x is NativeAddon {
  const a = x as Partial<NativeAddon> | null;
  return !!a && typeof a.solveLinearRecurrence === 'function' && typeof a.info === 'function';
}

function attempt(kind: NativeKind): LoadResult {
  const tried: string[] = [];
  for (const c of nativeCandidates(kind)) {
    if (!existsSync(c.path)) {
      tried.push(`${c.source}: ${c.path}: not found`);
      if (c.source === 'environment') break; // an explicit override that is wrong is reported, not skipped
      continue;
    }
    try {
      const mod = require(c.path) as unknown;
      if (!isNativeAddon(mod)) {
        tried.push(`${c.source}: ${c.path}: not a parascan addon`);
        continue;
      }
      if (mod.abiVersion !== NATIVE_ABI_VERSION || mod.backend !== kind) {
        tried.push(`${c.source}: ${c.path}: built for ${mod.backend} ABI ${mod.abiVersion}, this package needs ${kind} ABI ${NATIVE_ABI_VERSION} (stale build?)`);
        continue;
      }
      return { addon: mod, path: c.path };
    } catch (e) {
      tried.push(`${c.source}: ${c.path}: ${(e as Error).message.split('\n')[0]}`);
      if (c.source === 'environment') break;
    }
  }
  const fixes =
    kind === 'cpu'
      ? [
          `install the prebuilt binary: \`npm install ${platformPackageName('cpu')}\` (it is an optional dependency of @parascan/native; check that optional dependencies were not omitted)`,
          'or build from source in the parascan repository: `npx pnpm@10.34.9 install && npx pnpm@10.34.9 build` (needs cmake >= 3.25 and a C++17 compiler)',
          `or point ${ENV.cpu} at a parascan.node file`,
          "or use backend: 'js' (pure TypeScript, no native code)",
        ]
      : [
          `install the prebuilt CUDA binary: \`npm install ${platformPackageName('cuda')}\``,
          'or build it: `PARASCAN_CUDA=ON npx pnpm@10.34.9 build` in the parascan repository (needs nvcc)',
          `or point ${ENV.cuda} at a parascan_cuda.node file`,
          "or use backend: 'cpu'",
        ];
  const reason = `no usable ${kind} addon (${FILE[kind]}) for ${process.platform}-${process.arch}, Node ${process.versions.node}. Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}`;
  return { error: nativeUnavailable(`loadNativeAddon('${kind}')`, reason, fixes) };
}

/** Loads (once) and returns the addon, or throws a NATIVE_UNAVAILABLE ParascanError listing fixes. */
export function loadNativeAddon(kind: NativeKind): NativeAddon {
  const r = tryLoadNativeAddon(kind);
  if ('error' in r) throw r.error;
  return r.addon;
}

/** Like loadNativeAddon, but returns the error instead of throwing. */
export function tryLoadNativeAddon(kind: NativeKind): { addon: NativeAddon; path: string } | { error: ParascanError } {
  let r = cache.get(kind);
  if (!r) {
    r = attempt(kind);
    cache.set(kind, r);
  }
  return r;
}

/** Forgets cached load results (tests that change PARASCAN_NATIVE_PATH). */
export function resetNativeLoaderCache(): void {
  cache.clear();
}
