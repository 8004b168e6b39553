/**
 * The native adapter and the backend choice, with fake addons: runs everywhere (no addon, no GPU),
 * so the request mapping, the CUDA error paths and backend 'auto' are always tested.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ParascanError, nativeUnavailable } from '@parascan/core';
import type { NativeAddon, NativeCudaInfo, NativeSolveRequest, NativeSolveResult } from '@parascan/native';
import {
  createNativeKernel,
  getLinearRecurrenceKernel,
  registerLinearRecurrenceKernel,
  solveLinearRecurrence,
  solveLinearRecurrenceAsync,
  type AddonLoader,
  type LinearRecurrenceKernel,
  type LinearRecurrenceOptions,
} from '../src/index.js';
import { solveSequential } from '../src/backends/js/sequential.js';
import { hasNonFinite } from '../src/backends/js/finite.js';

const originals = new Map<string, LinearRecurrenceKernel>();
function swap(kernel: LinearRecurrenceKernel): void {
  if (!originals.has(kernel.backend)) originals.set(kernel.backend, getLinearRecurrenceKernel(kernel.backend)!);
  registerLinearRecurrenceKernel(kernel, { replace: true });
}
afterEach(() => {
  for (const kernel of originals.values()) registerLinearRecurrenceKernel(kernel, { replace: true });
  originals.clear();
});

interface FakeAddon extends NativeAddon {
  requests: NativeSolveRequest[];
}

function fakeAddon(backend: 'cpu' | 'cuda', info?: Partial<NativeCudaInfo>, fail?: string): FakeAddon {
  const requests: NativeSolveRequest[] = [];
  const solve = (r: NativeSolveRequest): NativeSolveResult => {
    requests.push(r);
    if (fail) throw new Error(fail);
    solveSequential(r);
    return { status: hasNonFinite(r.out) ? 'non-finite' : 'ok', schedule: `fake-${r.schedule ?? 0}` };
  };
  return {
    backend,
    abiVersion: 1,
    version: 'fake',
    requests,
    info: () =>
      backend === 'cpu'
        ? { backend: 'cpu', isa: 'baseline', availableIsas: ['baseline'], threads: 1 }
        : { backend: 'cuda', deviceCount: 1, error: null, deviceName: 'Fake GPU', computeCapability: '9.0', runtimeVersion: 12000, driverVersion: 12000, ...info },
    solveLinearRecurrence: solve,
    solveLinearRecurrenceAsync: async (r) => solve(r),
  };
}

const loaderOf = (addon: NativeAddon): AddonLoader => () => ({ addon });
const failingLoader: AddonLoader = (kind) => ({
  error: nativeUnavailable(`loadNativeAddon('${kind}')`, `no usable ${kind} addon (fake).`, ['build it', "use backend: 'js'"]),
});

const problem = (overrides: Record<string, unknown> = {}) =>
  ({
    structure: 'block',
    blockSize: 2,
    batch: 2,
    length: 5,
    size: 6,
    jacobians: new Float64Array(120).fill(0.5),
    rhs: new Float64Array(60).fill(1),
    ...overrides,
  }) as unknown as LinearRecurrenceOptions<Float64Array>;

describe('native adapter request mapping', () => {
  it('maps cpu methods to schedules 0..3 and passes threads, chunkLength, direction and the (k, N) layout', () => {
    const addon = fakeAddon('cpu');
    swap(createNativeKernel('cpu', loaderOf(addon)));
    const methods = { auto: 0, sequential: 1, lanes: 2, chunked: 3 } as const;
    for (const [method, schedule] of Object.entries(methods)) {
      solveLinearRecurrence(problem({ backend: 'cpu', method, threads: 3, chunkLength: 16, direction: 'reverse' }));
      const r = addon.requests.at(-1)!;
      expect(r).toMatchObject({ schedule, threads: 3, chunkLength: 16, reverse: true, batch: 2, length: 5, blockSize: 2, lanes: 3, initial: null });
    }
    solveLinearRecurrence(problem({ backend: 'cpu', structure: 'diagonal', blockSize: undefined, jacobians: new Float64Array(60) }));
    expect(addon.requests.at(-1)).toMatchObject({ blockSize: 1, lanes: 6, reverse: false, schedule: 0, threads: 0, chunkLength: 0 });
    solveLinearRecurrence(problem({ backend: 'cpu', structure: 'dense', blockSize: undefined, jacobians: new Float64Array(360) }));
    expect(addon.requests.at(-1)).toMatchObject({ blockSize: 6, lanes: 1 });
  });

  it('passes the very same arrays (no copies), and rhs as out for an in-place solve', () => {
    const addon = fakeAddon('cpu');
    swap(createNativeKernel('cpu', loaderOf(addon)));
    const p = problem({ backend: 'cpu', initial: new Float64Array(12) });
    const result = solveLinearRecurrence({ ...p, out: p.rhs });
    const r = addon.requests.at(-1)!;
    expect(r.jacobians).toBe(p.jacobians);
    expect(r.rhs).toBe(p.rhs);
    expect(r.out).toBe(p.rhs);
    expect(r.initial).toBe(p.initial);
    expect(result).toBe(p.rhs);
  });

  it("turns status 'non-finite' into a NON_FINITE error (sync and async), or returns the output with 'allow'", async () => {
    const addon = fakeAddon('cpu');
    swap(createNativeKernel('cpu', loaderOf(addon)));
    const rhs = new Float64Array(60).fill(1);
    rhs[13] = NaN; // [b=0, t=2, d=1]
    expect(() => solveLinearRecurrence(problem({ backend: 'cpu', rhs }))).toThrow('argument `rhs` holds a non-finite value, rhs[b=0, t=2, d=1] = NaN');
    await expect(solveLinearRecurrenceAsync(problem({ backend: 'cpu', rhs }))).rejects.toMatchObject({ code: 'NON_FINITE', argument: 'rhs' });
    expect(Number.isNaN(solveLinearRecurrence(problem({ backend: 'cpu', rhs, nonFinite: 'allow' }))[13])).toBe(true);
  });

  it('uses the addon async entry point for solveLinearRecurrenceAsync', async () => {
    const addon = fakeAddon('cpu');
    let asyncCalls = 0;
    const inner = addon.solveLinearRecurrenceAsync;
    addon.solveLinearRecurrenceAsync = (r) => {
      asyncCalls++;
      return inner(r);
    };
    swap(createNativeKernel('cpu', loaderOf(addon)));
    const out = await solveLinearRecurrenceAsync(problem({ backend: 'cpu' }));
    expect(asyncCalls).toBe(1);
    expect(out[0]).toBe(1);
  });
});

describe("backend 'cuda' errors (never a crash)", () => {
  it('reports a missing CUDA addon with the loader error (NATIVE_UNAVAILABLE, fixes listed)', () => {
    swap(createNativeKernel('cuda', failingLoader));
    let error: unknown;
    try {
      solveLinearRecurrence(problem({ backend: 'cuda' }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ParascanError);
    expect((error as ParascanError).code).toBe('NATIVE_UNAVAILABLE');
    expect((error as ParascanError).message).toContain("loadNativeAddon('cuda'): no usable cuda addon (fake).\nTo fix it, any one of:\n  1. build it");
  });

  it('reports a CUDA addon that sees no device, with its reason and the fixes', async () => {
    swap(createNativeKernel('cuda', loaderOf(fakeAddon('cuda', { deviceCount: 0, error: 'cudaGetDeviceCount: no CUDA-capable device is detected' }))));
    const expected =
      "backend 'cuda': the CUDA addon loaded but sees no usable GPU (cudaGetDeviceCount: no CUDA-capable device is detected).\nTo fix it, any one of:\n" +
      '  1. Run on a machine with an NVIDIA GPU and a working driver (nvidia-smi must list it).\n' +
      '  2. Check CUDA_VISIBLE_DEVICES: it must not hide every device.\n' +
      "  3. Use backend: 'cpu' or 'auto' (auto never picks CUDA).";
    expect(() => solveLinearRecurrence(problem({ backend: 'cuda' }))).toThrow(expected);
    await expect(solveLinearRecurrenceAsync(problem({ backend: 'cuda' }))).rejects.toMatchObject({ code: 'NATIVE_UNAVAILABLE' });
  });

  it('wraps a CUDA failure during the solve as DEVICE_ERROR', async () => {
    swap(createNativeKernel('cuda', loaderOf(fakeAddon('cuda', {}, 'cudaMalloc: out of memory'))));
    expect(() => solveLinearRecurrence(problem({ backend: 'cuda' }))).toThrow('solveLinearRecurrence: the CUDA backend failed: cudaMalloc: out of memory');
    await expect(solveLinearRecurrenceAsync(problem({ backend: 'cuda' }))).rejects.toMatchObject({
      code: 'DEVICE_ERROR',
      message: 'solveLinearRecurrenceAsync: the CUDA backend failed: cudaMalloc: out of memory',
    });
  });

  it('offers auto and parallel on cuda, and schedule 0 whatever the method', () => {
    const addon = fakeAddon('cuda');
    swap(createNativeKernel('cuda', loaderOf(addon)));
    solveLinearRecurrence(problem({ backend: 'cuda', method: 'parallel', threads: 4 }));
    expect(addon.requests.at(-1)).toMatchObject({ schedule: 0, threads: 0 });
    expect(() => solveLinearRecurrence(problem({ backend: 'cuda', method: 'lanes' }))).toThrow(
      "solveLinearRecurrence: argument `method` must be one of 'auto', 'parallel' for backend 'cuda'; got the string \"lanes\". 'lanes' is a schedule of backend 'cpu'.",
    );
  });
});

describe("backend 'auto'", () => {
  it('uses cpu when its addon loads', () => {
    const addon = fakeAddon('cpu');
    swap(createNativeKernel('cpu', loaderOf(addon)));
    solveLinearRecurrence(problem());
    expect(addon.requests.length).toBe(1);
  });

  it('falls back to js when the cpu addon is missing, with the same result', () => {
    swap(createNativeKernel('cpu', failingLoader));
    const auto = solveLinearRecurrence(problem());
    const js = solveLinearRecurrence(problem({ backend: 'js' }));
    expect([...auto]).toEqual([...js]);
  });

  it("sends method 'parallel' to js and 'lanes'/'chunked' to cpu, which must then be available", () => {
    const addon = fakeAddon('cpu');
    swap(createNativeKernel('cpu', loaderOf(addon)));
    solveLinearRecurrence(problem({ method: 'parallel' }));
    expect(addon.requests.length).toBe(0);
    solveLinearRecurrence(problem({ method: 'chunked' }));
    expect(addon.requests.at(-1)).toMatchObject({ schedule: 3 });
    swap(createNativeKernel('cpu', failingLoader));
    expect(() => solveLinearRecurrence(problem({ method: 'lanes' }))).toThrow("loadNativeAddon('cpu'): no usable cpu addon (fake).");
  });
});

describe('registry', () => {
  it('refuses duplicate and reserved names and kernels without auto', () => {
    const js = getLinearRecurrenceKernel('js')!;
    expect(() => registerLinearRecurrenceKernel(js)).toThrow("backend 'js' already has a kernel");
    expect(() => registerLinearRecurrenceKernel({ ...js, backend: 'auto' })).toThrow('is reserved');
    expect(() => registerLinearRecurrenceKernel({ ...js, backend: 'mine', methods: ['sequential'] })).toThrow("must accept method 'auto'");
  });
});
