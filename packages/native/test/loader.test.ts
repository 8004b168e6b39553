/**
 * The loader's order and its one error, and the binding's last-line-of-defence checks: bad
 * requests must throw a named error, never crash the process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { NATIVE_ABI_VERSION, loadNativeAddon, nativeCandidates, tryLoadNativeAddon, type NativeSolveRequest } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');
const requireBuild = process.env.CI === 'true';
const cpu = tryLoadNativeAddon('cpu');
const haveCpu = 'addon' in cpu;

/** Runs a loader snippet in a fresh process with extra environment (the loader caches per process). */
function inChild(code: string, env: Record<string, string>): string {
  const script = `import(${JSON.stringify(join(here, '..', 'dist', 'index.js'))}).then(async (m) => { ${code} })`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env } }).toString();
}

describe('candidates', () => {
  it('tries the environment override first, then the local build, then the platform package', () => {
    const out = inChild(`console.log(JSON.stringify(m.nativeCandidates('cpu')))`, { PARASCAN_NATIVE_PATH: '/nowhere/x.node' });
    const list = JSON.parse(out) as { source: string; path: string }[];
    expect(list.map((c) => c.source)).toEqual(['environment', 'local-build', 'platform-package']);
    expect(list[0]!.path).toBe('/nowhere/x.node');
    expect(list[1]!.path).toBe(join(repoRoot, 'build', 'Release', 'parascan.node'));
    expect(nativeCandidates('cuda')[0]!.path).toContain('parascan_cuda.node');
  });

  it('a wrong override is reported with every fix, not silently skipped', () => {
    const out = inChild(`const r = m.tryLoadNativeAddon('cpu'); console.log(JSON.stringify({ code: r.error?.code, message: r.error?.message }))`, {
      PARASCAN_NATIVE_PATH: '/nowhere/parascan.node',
    });
    const r = JSON.parse(out) as { code: string; message: string };
    expect(r.code).toBe('NATIVE_UNAVAILABLE');
    expect(r.message).toContain("loadNativeAddon('cpu')");
    expect(r.message).toContain('environment: /nowhere/parascan.node: not found');
    expect(r.message).toContain('npm install @parascan/native-linux-x64');
    expect(r.message).toContain("backend: 'js'");
  });

  it('a file that is not an addon gives the loader error, not a crash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parascan-bogus-'));
    const bogus = join(dir, 'parascan.node');
    writeFileSync(bogus, 'this is not a shared object');
    const out = inChild(`const r = m.tryLoadNativeAddon('cpu'); console.log(JSON.stringify({ message: r.error?.message }))`, {
      PARASCAN_NATIVE_PATH: bogus,
    });
    expect(JSON.parse(out).message).toMatch(/environment: .*parascan\.node: .*(invalid ELF|too short|header)/);
  });
});

describe.skipIf(!haveCpu && !requireBuild)('cpu addon', () => {
  const addon = () => loadNativeAddon('cpu');

  it('loads with the expected surface and ABI', () => {
    const a = addon();
    expect(a.backend).toBe('cpu');
    expect(a.abiVersion).toBe(NATIVE_ABI_VERSION);
    const info = a.info();
    expect(info.backend).toBe('cpu');
    if (info.backend === 'cpu') {
      expect(info.availableIsas).toContain('baseline');
      expect(info.availableIsas).toContain(info.isa);
      expect(info.threads).toBeGreaterThan(0);
    }
  });

  const base = (): NativeSolveRequest => ({
    reverse: false, batch: 2, length: 3, blockSize: 1, lanes: 4,
    jacobians: new Float32Array(24), rhs: new Float32Array(24), initial: null, out: new Float32Array(24),
  });

  it.each([
    ['a plain Array', { jacobians: [1, 2, 3] }, /argument `jacobians` must be a Float32Array of length 24.*got a plain Array/],
    ['a wrong length', { rhs: new Float32Array(23) }, /argument `rhs` must be a Float32Array of length 24.*got a Float32Array of length 23/],
    ['mixed dtypes', { out: new Float64Array(24) }, /argument `out` must be a Float32Array of length 24 \(all arrays of one call share a dtype\); got a Float64Array/],
    ['batch 0', { batch: 0 }, /argument `batch` must be a positive integer; got 0/],
    ['length 0 (T = 0)', { length: 0 }, /argument `length` must be a positive integer; got 0/],
    ['a fractional size', { lanes: 2.5 }, /argument `lanes` must be a positive integer; got 2.5/],
    ['an initial of the wrong size', { initial: new Float32Array(3) }, /argument `initial` must be a Float32Array of length 8/],
    ['a missing direction', { reverse: undefined }, /argument `reverse` must be a boolean/],
  ])('rejects %s with a named error', (_name, patch, message) => {
    const req = { ...base(), ...patch } as unknown as NativeSolveRequest;
    expect(() => addon().solveLinearRecurrence(req)).toThrow(message);
  });

  it('rejects a detached buffer', () => {
    const req = base();
    const buf = req.rhs.buffer as ArrayBuffer;
    structuredClone(buf, { transfer: [buf] });
    expect(() => addon().solveLinearRecurrence(req)).toThrow(/argument `rhs`.*detached/);
  });

  it('rejects an output overlapping an input, but accepts out === rhs (in place)', () => {
    const shared = new Float32Array(48);
    const req = { ...base(), rhs: shared.subarray(0, 24), out: shared.subarray(12, 36) };
    expect(() => addon().solveLinearRecurrence(req)).toThrow(/argument `out` must be a buffer that does not overlap/);
    const inPlace = base();
    inPlace.rhs.fill(1);
    inPlace.out = inPlace.rhs;
    expect(addon().solveLinearRecurrence(inPlace).status).toBe('ok');
    expect(Array.from(inPlace.rhs)).toEqual(new Array(24).fill(1));
  });

  it('async rejects bad requests through the promise and resolves good ones', async () => {
    await expect(addon().solveLinearRecurrenceAsync({ ...base(), batch: -1 })).rejects.toThrow(/argument `batch`/);
    const req = base();
    req.jacobians.fill(0.5);
    req.rhs.fill(1);
    const r = await addon().solveLinearRecurrenceAsync(req);
    expect(r.status).toBe('ok');
    expect(Array.from(req.out.subarray(0, 12))).toEqual([1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5, 1.75, 1.75, 1.75, 1.75]);
  });

  it('reports a NaN that reached the output instead of hiding it', () => {
    const req = base();
    req.rhs[5] = Number.NaN;
    expect(addon().solveLinearRecurrence(req).status).toBe('non-finite');
  });

  it('setIsa refuses what this CPU cannot run, with the list of what it can', () => {
    const a = addon();
    expect(() => a.setIsa!('sse9000')).toThrow(/setIsa: this CPU cannot run 'sse9000'; available: .*baseline/);
    a.setIsa!('baseline');
    expect((a.info() as { isa: string }).isa).toBe('baseline');
    a.setIsa!('auto');
  });
});

describe('cuda addon', () => {
  const cuda = tryLoadNativeAddon('cuda');
  it('is either absent with a loader error naming the fixes, or loads and reports its devices', () => {
    if ('error' in cuda) {
      expect(cuda.error.code).toBe('NATIVE_UNAVAILABLE');
      expect(cuda.error.message).toContain('PARASCAN_CUDA=ON');
      return;
    }
    const info = cuda.addon.info();
    expect(info.backend).toBe('cuda');
    if (info.backend === 'cuda' && info.deviceCount === 0) expect(info.error).toMatch(/\S/);
  });

  it.skipIf('error' in cuda)('without a GPU a solve throws a device error instead of crashing', () => {
    if ('error' in cuda) return;
    const info = cuda.addon.info();
    if (info.backend !== 'cuda' || info.deviceCount > 0) return;
    const req: NativeSolveRequest = {
      reverse: false, batch: 1, length: 4, blockSize: 1, lanes: 2,
      jacobians: new Float32Array(8), rhs: new Float32Array(8), initial: null, out: new Float32Array(8),
    };
    expect(() => cuda.addon.solveLinearRecurrence(req)).toThrow(/DEVICE_ERROR/);
  });
});
