/**
 * mode 'auto': picks the forward mode expected to be fastest for a shape and backend, from a cost
 * model fitted to `bench` runs on the development machine (2-core AMD EPYC, AVX2; the numbers and
 * the command are in bench/README.md, section cells). README.md of this package explains the rules.
 *
 * Model: every mode costs (ns per state element, B·T·S) × B·T·S, divided by the threads it can
 * keep busy. The per-element costs are the measured single-thread ones; what differs between modes
 * is the amount of work (sequential: one pass of the cell; fused/shooting: about 1.4 passes per
 * sweep and 1.75-2 sweeps; parallel/global Newton: ~4 evaluations with Jacobians, 3 solves and the
 * TypeScript loops) and the parallelism each can use (sequential: rows × lane tiles of at least one
 * SIMD vector; the Newton modes: time chunks, so every thread).
 */
import type { CellBackend } from './cell.js';

export type ForwardMode = 'sequential' | 'parallel' | 'picard' | 'fused';

export interface AutoInput {
  backend: CellBackend;
  batch: number;
  length: number;
  /** D */
  size: number;
  /** k: 1 (ParaGRU) or 2 (ParaLSTM). */
  blocks: number;
  dtype: 'float32' | 'float64';
  /** CPU threads the native kernels may use. */
  threads: number;
}

/**
 * Work of each mode in units of one sequential pass over B·T·S (measured, bench/README.md):
 * the multiple-shooting fused loop runs ~1.75 sweeps (the first chunk of a row is final after its
 * first sweep) at ~1.4× a plain pass (the Jacobian products); the global Newton modes ~5×.
 */
export const MODE_WORK = Object.freeze({ sequential: 1, fused: 2.5, parallel: 6 });

/** SIMD lanes of one vector on the development machine (AVX2): 8 float32 or 4 float64. */
function vectorLanes(dtype: 'float32' | 'float64'): number {
  return dtype === 'float32' ? 8 : 4;
}

/** Threads the native sequential loop can keep busy: rows, or whole vectors of lanes per row. */
export function sequentialParallelism(i: AutoInput): number {
  const vectors = i.blocks * Math.ceil(i.size / vectorLanes(i.dtype));
  return Math.max(1, Math.min(i.threads, i.batch >= i.threads ? i.threads : i.batch * vectors));
}

/** The fused loop's chunks per row (cells_cpu.cc shooting()): 1 chunk when rows fill the threads. */
export function fusedChunks(i: AutoInput): number {
  const vectors = i.blocks * Math.ceil(i.size / vectorLanes(i.dtype));
  const group = Math.min(8, Math.max(1, Math.ceil(8 / vectors)));
  if (Math.floor(i.batch / i.threads) * vectors >= 8) return 1;
  return Math.max(1, Math.min(group * Math.max(1, Math.ceil(i.threads / i.batch)), Math.floor(i.length / 16)));
}

/** Relative cost of a mode (smaller is faster); Infinity where the mode does not run. */
export function modeCost(mode: ForwardMode, i: AutoInput): number {
  const n = i.batch * i.length * i.size * i.blocks;
  if (i.backend === 'js') return mode === 'sequential' ? n : mode === 'fused' ? Infinity : n * 20;
  if (mode === 'sequential') return (n * MODE_WORK.sequential) / sequentialParallelism(i);
  if (mode === 'fused') {
    const chunks = fusedChunks(i);
    // One chunk per row is the sequential loop itself (plus nothing: no propagators are formed).
    if (chunks === 1) return (n * MODE_WORK.sequential) / sequentialParallelism(i);
    return (n * MODE_WORK.fused) / Math.min(i.threads, i.batch * chunks);
  }
  return (n * MODE_WORK.parallel) / i.threads;
}

/** The mode 'auto' runs: the cheapest by modeCost, ties to the simplest (sequential first). */
export function chooseMode(i: AutoInput): 'sequential' | 'parallel' | 'fused' {
  const order = ['sequential', 'fused', 'parallel'] as const;
  let best: 'sequential' | 'parallel' | 'fused' = 'sequential';
  let bestCost = Infinity;
  for (const m of order) {
    const c = modeCost(m, i);
    if (c < bestCost * 0.999) {
      best = m;
      bestCost = c;
    }
  }
  return best;
}
