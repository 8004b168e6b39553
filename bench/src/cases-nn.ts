/**
 * `nn-gemm`: the matrix products of @parascan/nn's layers against raw OpenBLAS on the same shapes,
 * in the same process, one right after the other.
 *
 * Shapes: the Linear layers of a d = 128, 2-layer language model (vocab 256) over N = B·T = 8·256
 * rows: per layer in_proj 128→256 and out_proj 128→128, then the head 128→256. One "step" is, for
 * every Linear, its forward (y = x·Wᵀ) and backward (dW += dyᵀ·x, dx = dy·W): 15 products.
 *
 *   raw-sgemm-Pt:       the 15 products through the addon's `gemm` directly, outputs preallocated
 *   nn-linear-Pt:       Linear.forward + Linear.backward of @parascan/nn as lossAndGrad runs them
 *                       (validation and all; outputs from the model's reused work arrays, an Arena);
 *                       target on P = --threads: ≥ 70 % of raw-sgemm's speed (raw time / ours ≥ 0.7)
 *   nn-linear-fresh-Pt: the same with a fresh array per output (as forward() for inference does)
 *   raw-sgemm-again-Pt: raw-sgemm once more, after nn-linear (a gap to the first says the load moved)
 * each for P threads (OpenBLAS and parascan's pool, setThreads) and for 1 thread.
 */
import { tryLoadNativeAddon } from '@parascan/native';

import { createRng } from '@parascan/core';

import { Arena, Linear } from '@parascan/nn';

import type { CaseDef } from './cases.js';
import { MiB, fillUniform, timeIt } from './measure.js';
import { UNCOMPARED, type Row, type Timing } from './types.js';

interface Shape {
  name: string;
  inF: number;
  outF: number;
}

function lmShapes(d: number, layers: number, vocab: number): Shape[] {
  const s: Shape[] = [];
  for (let l = 0; l < layers; l++) {
    s.push({ name: `layers.${l}.in_proj`, inF: d, outF: 2 * d }, { name: `layers.${l}.out_proj`, inF: d, outF: d });
  }
  s.push({ name: 'head', inF: d, outF: vocab });
  return s;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One Timing from several rounds: median of the medians, overall min/max, summed samples. */
function mergeRounds(ts: Timing[]): Timing {
  return {
    medianMs: median(ts.map((t) => t.medianMs)),
    meanMs: ts.reduce((a, t) => a + t.meanMs, 0) / ts.length,
    minMs: Math.min(...ts.map((t) => t.minMs)),
    maxMs: Math.max(...ts.map((t) => t.maxMs)),
    sdMs: Math.sqrt(ts.reduce((a, t) => a + t.sdMs * t.sdMs, 0) / ts.length),
    rmePct: Math.max(...ts.map((t) => t.rmePct)),
    samples: ts.reduce((a, t) => a + t.samples, 0),
  };
}

export const nnGemm: CaseDef = {
  name: 'nn-gemm',
  title: '@parascan/nn Linear forward+backward vs raw OpenBLAS sgemm, shapes of a d=128 2-layer LM (vocab 256), float32',
  async run(ctx) {
    const r = tryLoadNativeAddon('cpu');
    if ('error' in r || typeof r.addon.gemm !== 'function') {
      return { case: 'nn-gemm', rows: [], skipped: 'the native addon has no gemm (built without OpenBLAS, or stale: rebuild @parascan/native)', arraysMiB: 0 };
    }
    const addon = r.addon;
    const gemm = addon.gemm!.bind(addon);
    const [B, T] = ctx.profile === 'smoke' ? [2, 32] : [8, 256];
    const N = B * T;
    const d = 128;
    const shapes = lmShapes(d, 2, 256);
    const rng = createRng(17);
    // As lossAndGrad runs them: work arrays from an Arena, reused from step to step.
    const arena = new Arena();
    const ctxArena = { gemm: 'cpu' as const, alloc: arena.alloc };
    // As forward() (inference) runs them: a fresh array per output.
    const ctxFresh = { gemm: 'cpu' as const };
    let bytes = 0;
    let flops = 0;
    const items = shapes.map((s, i) => {
      const layer = new Linear(s.name, s.inF, s.outF, 'float32', rng);
      const x = new Float32Array(N * s.inF);
      const dy = new Float32Array(N * s.outF);
      fillUniform(x, -1, 1, 100 + i);
      fillUniform(dy, -1, 1, 200 + i);
      // Preallocated outputs of the raw calls.
      const y = new Float32Array(N * s.outF);
      const dx = new Float32Array(N * s.inF);
      const dW = new Float32Array(s.outF * s.inF);
      // Operand bytes of the three products (A, B read, C written), and their flops.
      bytes += 3 * (N * s.inF + s.inF * s.outF + N * s.outF) * 4;
      flops += 3 * 2 * N * s.inF * s.outF;
      return { s, layer, x, dy, y, dx, dW };
    });
    let mib = 0;
    for (const it of items) mib += (it.x.length + it.dy.length + it.y.length + it.dx.length + it.dW.length * 3) * 4;
    mib /= MiB;

    const raw = (): void => {
      for (const { s, layer, x, dy, y, dx, dW } of items) {
        const W = layer.weight.data;
        gemm({ transA: false, transB: true, m: N, n: s.outF, k: s.inF, alpha: 1, a: x, lda: s.inF, b: W, ldb: s.inF, beta: 0, c: y, ldc: s.outF });
        gemm({ transA: true, transB: false, m: s.outF, n: s.inF, k: N, alpha: 1, a: dy, lda: s.outF, b: x, ldb: s.inF, beta: 1, c: dW, ldc: s.inF });
        gemm({ transA: false, transB: false, m: N, n: s.inF, k: s.outF, alpha: 1, a: dy, lda: s.outF, b: W, ldb: s.inF, beta: 0, c: dx, ldc: s.inF });
      }
    };
    const layers = (): void => {
      arena.reset();
      for (const { layer, x, dy } of items) {
        layer.forward(x, N, ctxArena);
        layer.backward(x, dy, N, ctxArena);
      }
    };
    const layersFresh = (): void => {
      for (const { layer, x, dy } of items) {
        layer.forward(x, N, ctxFresh);
        layer.backward(x, dy, N, ctxFresh);
      }
    };

    const shape = `N=B·T=${B}·${T} d=128 L=2 V=256`;
    const row = (id: string, method: string, timing: Timing, threads: number, baseline: string | null, withTarget = true): Row => ({
      id: `nn-gemm/${id}`,
      case: 'nn-gemm',
      section: 'throughput',
      backend: 'cpu',
      method,
      schedule: 'openblas sgemm',
      dtype: 'float32',
      structure: null,
      shape,
      threads,
      bytesMoved: bytes,
      timing,
      gbps: bytes / (timing.medianMs * 1e6),
      gbpsBest: bytes / (timing.minMs * 1e6),
      ...UNCOMPARED,
      baselineRef: baseline,
      baselineLabel: baseline ? `raw sgemm ${threads}t (speed fraction)` : null,
      // The target is on the multi-threaded rows (what the models run with by default).
      target: baseline && withTarget && threads === ctx.threads ? { metric: 'speedup', min: 0.7, text: '>= 0.7x raw sgemm' } : null,
      note: `${(flops / 1e9).toFixed(2)} GFLOP per step (15 products); ${(flops / (timing.medianMs * 1e6)).toFixed(1)} GFLOP/s at the median`,
    });
    const rows: Row[] = [];
    // Rounds of raw, ours, raw: the machine's load drifts over seconds, so each pair is measured
    // back to back several times and each row reports the median of its rounds' medians.
    const rounds = ctx.profile === 'smoke' ? 1 : 5;
    const budget = { ...ctx.budget, timeMs: ctx.budget.timeMs / rounds, iterations: Math.max(2, Math.ceil(ctx.budget.iterations / rounds)) };
    try {
      // Both thread counts: OpenBLAS's threads share the cores with everything else (see packages/nn/README.md).
      for (const threads of [...new Set([ctx.threads, 1])]) {
        addon.setThreads?.(threads);
        const t: Timing[][] = [[], [], [], []];
        for (let k = 0; k < rounds; k++) {
          t[0]!.push(await timeIt(`nn-gemm/raw-sgemm-${threads}t`, raw, budget));
          t[1]!.push(await timeIt(`nn-gemm/nn-linear-${threads}t`, layers, budget));
          t[3]!.push(await timeIt(`nn-gemm/nn-linear-fresh-${threads}t`, layersFresh, budget));
          t[2]!.push(await timeIt(`nn-gemm/raw-sgemm-again-${threads}t`, raw, budget));
        }
        const rawId = `raw-sgemm-${threads}t`;
        rows.push(row(rawId, 'raw gemm', mergeRounds(t[0]!), threads, null));
        rows.push(row(`nn-linear-${threads}t`, 'Linear fwd+bwd (arena)', mergeRounds(t[1]!), threads, `nn-gemm/${rawId}`));
        rows.push(row(`nn-linear-fresh-${threads}t`, 'Linear fwd+bwd (fresh arrays)', mergeRounds(t[3]!), threads, `nn-gemm/${rawId}`, false));
        // Raw again, right after ours in every round: a gap to the first raw row says the load moved within rounds.
        rows.push(row(`raw-sgemm-again-${threads}t`, 'raw gemm (again)', mergeRounds(t[2]!), threads, null));
      }
    } finally {
      addon.setThreads?.(0);
    }
    return { case: 'nn-gemm', rows, arraysMiB: mib };
  },
};
