/**
 * The native backends' linear-recurrence kernel: one adapter, parameterised by the addon, serves
 * both 'cpu' (parascan.node) and 'cuda' (parascan_cuda.node). The addon is loaded on first use
 * through @parascan/native; a missing addon, or a CUDA addon that sees no device, makes the kernel
 * unavailable with an error that says why and how to fix it (never a crash).
 *
 * Arguments arrive fully validated (validate.ts); the addon re-checks sizes defensively.
 */
import { tryLoadNativeAddon } from '@parascan/native';
import type { NativeAddon, NativeSolveRequest, NativeSolveResult } from '@parascan/native';
import { ParascanError, deviceError, nativeUnavailable } from '@parascan/core';
import type { KernelAvailability, KernelRunResult, LinearRecurrenceKernel, LinearRecurrenceProblem, Method } from '../../types.js';

export type NativeKind = 'cpu' | 'cuda';
export type AddonLoader = (kind: NativeKind) => { addon: NativeAddon } | { error: ParascanError };

/** cpu schedules of the header: 0 auto, 1 sequential, 2 parallel over batch×lanes, 3 time-chunked. */
const CPU_SCHEDULE: Partial<Record<Method, number>> = { auto: 0, sequential: 1, lanes: 2, chunked: 3 };

const METHODS: Record<NativeKind, readonly Method[]> = {
  cpu: ['auto', 'sequential', 'lanes', 'chunked'],
  cuda: ['auto', 'parallel'],
};

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function probe(kind: NativeKind, load: AddonLoader): { addon: NativeAddon } | { error: ParascanError } {
  let loaded: { addon: NativeAddon } | { error: ParascanError };
  try {
    loaded = load(kind);
  } catch (error) {
    if (error instanceof ParascanError) return { error };
    return {
      error: nativeUnavailable(
        `backend '${kind}'`,
        `loading the native ${kind} addon threw: ${asError(error).message}`,
        ['Rebuild the addon: pnpm --filter @parascan/native build', "Use backend: 'js'"],
        error,
      ),
    };
  }
  if ('error' in loaded) return loaded;
  if (kind === 'cuda') {
    const cudaFixes = [
      'Run on a machine with an NVIDIA GPU and a working driver (nvidia-smi must list it).',
      'Check CUDA_VISIBLE_DEVICES: it must not hide every device.',
      "Use backend: 'cpu' or 'auto' (auto never picks CUDA).",
    ];
    try {
      const info = loaded.addon.info();
      if (info.backend !== 'cuda') {
        return { error: nativeUnavailable("backend 'cuda'", `the CUDA addon reports backend '${info.backend}'.`, ['Rebuild the addon with CUDA enabled.']) };
      }
      if (info.deviceCount === 0) {
        return { error: nativeUnavailable("backend 'cuda'", `the CUDA addon loaded but sees no usable GPU (${info.error ?? 'device count is 0'}).`, cudaFixes) };
      }
    } catch (error) {
      return { error: nativeUnavailable("backend 'cuda'", `querying the CUDA device failed: ${asError(error).message}`, cudaFixes, error) };
    }
  }
  return loaded;
}

/** A kernel for one addon kind. `load` defaults to @parascan/native's loader (tests may pass another). */
export function createNativeKernel(kind: NativeKind, load: AddonLoader = tryLoadNativeAddon): LinearRecurrenceKernel {
  let state: { addon: NativeAddon } | { error: ParascanError } | undefined;
  const addonState = () => (state ??= probe(kind, load));
  const addon = (): NativeAddon => {
    const s = addonState();
    if ('error' in s) throw s.error;
    return s.addon;
  };

  const request = (p: LinearRecurrenceProblem): NativeSolveRequest => ({
    reverse: p.reverse,
    batch: p.batch,
    length: p.length,
    blockSize: p.blockSize,
    lanes: p.lanes,
    jacobians: p.jacobians,
    rhs: p.rhs,
    initial: p.initial,
    out: p.out,
    threads: kind === 'cpu' ? p.threads : 0,
    schedule: kind === 'cpu' ? (CPU_SCHEDULE[p.method] ?? 0) : 0,
    chunkLength: kind === 'cpu' ? p.chunkLength : 0,
  });

  const translate = (p: LinearRecurrenceProblem, error: unknown): Error => {
    if (error instanceof ParascanError) return error;
    // cpu: the addon throws only for malformed requests, which validation rules out: surface as is.
    if (kind === 'cpu') return asError(error);
    return deviceError(p.operation, `the CUDA backend failed: ${asError(error).message}`, undefined, error);
  };

  const result = (r: NativeSolveResult): KernelRunResult => ({ nonFinite: r.status === 'non-finite', schedule: r.schedule });

  return {
    backend: kind,
    methods: METHODS[kind],
    availability(): KernelAvailability {
      const s = addonState();
      return 'error' in s ? { available: false, error: s.error } : { available: true };
    },
    solve(p: LinearRecurrenceProblem): KernelRunResult {
      const a = addon();
      try {
        return result(a.solveLinearRecurrence(request(p)));
      } catch (error) {
        throw translate(p, error);
      }
    },
    async solveAsync(p: LinearRecurrenceProblem): Promise<KernelRunResult> {
      const a = addon();
      try {
        return result(await a.solveLinearRecurrenceAsync(request(p)));
      } catch (error) {
        throw translate(p, error);
      }
    },
  };
}

export const cpuLinearRecurrenceKernel: LinearRecurrenceKernel = createNativeKernel('cpu');
export const cudaLinearRecurrenceKernel: LinearRecurrenceKernel = createNativeKernel('cuda');
