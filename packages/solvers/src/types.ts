import type { Dtype, FloatArray, ParascanError } from '@parascan/core';

export type Structure = 'diagonal' | 'block' | 'dense';
export type Direction = 'forward' | 'reverse';
export type BackendName = 'auto' | 'js' | 'cpu' | 'cuda';
export type Method = 'auto' | 'sequential' | 'parallel' | 'lanes' | 'chunked';
export type NonFinitePolicy = 'error' | 'allow';

export const STRUCTURES: readonly Structure[] = ['diagonal', 'block', 'dense'];
export const DIRECTIONS: readonly Direction[] = ['forward', 'reverse'];
export const METHODS: readonly Method[] = ['auto', 'sequential', 'parallel', 'lanes', 'chunked'];
export const NON_FINITE_POLICIES: readonly NonFinitePolicy[] = ['error', 'allow'];

/**
 * One linear recurrence (see native/include/parascan/linear_recurrence.h):
 *
 *   forward:  x_t = J_t x_{t-1} + r_t,        t = 0..T-1,  x_{-1} = initial (0 if absent)
 *   reverse:  x_t = r_t + J_{t+1}^T x_{t+1},  t = T-1..0,  the term for t = T-1 being `initial`
 *
 * All arrays are flat, contiguous, batch-first and of one dtype.
 */
export interface LinearRecurrenceOptions<A extends FloatArray = FloatArray> {
  structure: Structure;
  /** k: required for 'block' (k ≥ 1 dividing `size`); 1 for 'diagonal', `size` for 'dense'. */
  blockSize?: number;
  /** B */
  batch: number;
  /** T ≥ 1 */
  length: number;
  /** D */
  size: number;
  /** diagonal [B, T, D]; block [B, T, k, k, D/k]; dense [B, T, D, D] (row-major, J[i][j] = ∂f_i/∂h_j). */
  jacobians: A;
  /** [B, T, D], the dtype of `jacobians`. */
  rhs: A;
  /** [B, D] or null/absent for zero. */
  initial?: A | null;
  /** [B, T, D]; may be the very same array as `rhs` (in place); allocated when absent. */
  out?: A | null;
  /** Default 'forward'. */
  direction?: Direction;
  /** Default 'auto': 'cpu' when the native addon loads, else 'js'. */
  backend?: BackendName;
  /** js: auto | sequential | parallel; cpu: auto | sequential | lanes | chunked; cuda: auto | parallel. */
  method?: Method;
  /** cpu: worker threads for this call (absent or 0: the pool's default). Ignored by js and cuda. */
  threads?: number;
  /** cpu 'chunked': time steps per chunk (absent or 0: automatic). Ignored otherwise. */
  chunkLength?: number;
  /** Default 'error' (see README: non-finite policy). */
  nonFinite?: NonFinitePolicy;
}

/** A validated call, in the kernels' terms (k, N), with the method resolved for the chosen kernel. */
export interface LinearRecurrenceProblem {
  /** The public operation, for messages ('solveLinearRecurrence' | 'solveLinearRecurrenceAsync'). */
  operation: string;
  structure: Structure;
  dtype: Dtype;
  reverse: boolean;
  batch: number;
  length: number;
  /** k */
  blockSize: number;
  /** N = D / k */
  lanes: number;
  /** D */
  size: number;
  jacobians: FloatArray;
  rhs: FloatArray;
  initial: FloatArray | null;
  /** Same object as `rhs` for an in-place solve. */
  out: FloatArray;
  /** A method the kernel lists (never 'auto' unless the kernel takes 'auto' itself). */
  method: Method;
  /** 0: default. */
  threads: number;
  /** 0: automatic. */
  chunkLength: number;
}

export interface KernelRunResult {
  /** True when a NaN or Inf reached `out`. */
  nonFinite: boolean;
  /** Which schedule ran (diagnostics, benchmarks). */
  schedule: string;
}

export type KernelAvailability = { available: true } | { available: false; error: ParascanError };

/** The contract every backend's linear-recurrence kernel implements (one kernel per backend). */
export interface LinearRecurrenceKernel {
  /** Registry name: 'js', 'cpu', 'cuda', … */
  readonly backend: string;
  /** The methods it accepts; 'auto' must be one of them. */
  readonly methods: readonly Method[];
  /** Whether the backend can run here (addon loaded, device present); never throws. */
  availability(): KernelAvailability;
  /** Solves into `problem.out`, blocking the calling thread. */
  solve(problem: LinearRecurrenceProblem): KernelRunResult;
  /** Solves into `problem.out` off the main thread. */
  solveAsync(problem: LinearRecurrenceProblem): Promise<KernelRunResult>;
}
