/**
 * The whole native surface, declared once. Both addon files (`parascan.node` for the CPU and
 * `parascan_cuda.node` for CUDA) export exactly this shape; the binding in
 * `native/src/binding/` is the only code that implements it.
 *
 * The native side re-checks sizes defensively (it throws a TypeError/RangeError instead of
 * crashing), but the friendly, fully-worded validation happens in TypeScript before the call
 * (`@parascan/solvers`).
 */

export type FloatArray = Float32Array | Float64Array;

/** One call of the linear-recurrence solver; see native/include/parascan/linear_recurrence.h. */
export interface NativeSolveRequest {
  /** false: x_t = J_t x_{t-1} + r_t. true: x_t = r_t + J_{t+1}^T x_{t+1}. */
  reverse: boolean;
  batch: number;
  length: number;
  /** k: every Jacobian is a k×k grid of diagonal blocks (1 = diagonal, D = dense). */
  blockSize: number;
  /** N: size of each diagonal block; the state size is D = k·N. */
  lanes: number;
  /** [B, T, k, k, N] */
  jacobians: FloatArray;
  /** [B, T, k·N] */
  rhs: FloatArray;
  /** [B, k·N] or null for zero */
  initial: FloatArray | null;
  /** [B, T, k·N]; may be the same object as `rhs` (in place). Same dtype as every other array. */
  out: FloatArray;
  /** CPU: worker threads for this call (0 or absent = all). */
  threads?: number;
  /** CPU: 0 auto, 1 sequential, 2 parallel over batch×lanes, 3 time-chunked. */
  schedule?: number;
  /** CPU time-chunked schedule: rows per chunk (0 or absent = automatic). */
  chunkLength?: number;
}

export interface NativeSolveResult {
  /** 'non-finite': a NaN/Inf reached the output; the caller decides what to report. */
  status: 'ok' | 'non-finite';
  /** Which schedule ran (e.g. 'sequential', 'lanes', 'chunked', 'cuda-diagonal'). */
  schedule: string;
}

export interface NativeCpuInfo {
  backend: 'cpu';
  /** The instruction set the runtime dispatch chose: 'avx512', 'avx2' or 'baseline'. */
  isa: string;
  /** The instruction sets this machine supports among those compiled in. */
  availableIsas: string[];
  threads: number;
}

export interface NativeCudaInfo {
  backend: 'cuda';
  /** Number of visible devices (0 when there is no GPU or no driver). */
  deviceCount: number;
  /** Why there is no usable device, when deviceCount is 0. */
  error: string | null;
  deviceName: string | null;
  computeCapability: string | null;
  runtimeVersion: number;
  driverVersion: number;
}

/**
 * One call of the cells' native kernels (native/include/parascan/cells.h). The projection
 * P = x·B + b stays in TypeScript; its dtype sets the dtype of every other array of the call
 * (except dA, dC, which are always Float64Array; dP may also be a Float64Array).
 * S = D (ParaGRU) or 2D (ParaLSTM, state [c; h]); k = 1 or 2.
 */
export interface NativeCellRequest {
  cell: 'gru' | 'lstm';
  batch: number;
  length: number;
  /** D */
  size: number;
  /** P [B, T, 3, D] */
  projection: FloatArray;
  /** [3, D] */
  A: FloatArray;
  /** [2, D]: ParaLSTM only (null/absent for ParaGRU). */
  C?: FloatArray | null;
  /** [B, S] or null for zero. */
  initial?: FloatArray | null;
  /** Worker threads (0 or absent = all). */
  threads?: number;
  /** cellSequential / cellNewton: the states [B, T, S]; cellEvaluate: f at every point [B, T, S] (or null). */
  out?: FloatArray | null;
  /** cellEvaluate / cellBackward: the states [B, T, S] (cellEvaluate: prev of step t is states[t-1]). */
  states?: FloatArray;
  /** cellEvaluate: closed-form Jacobians [B, T, k, k, D] (or null). */
  jacobians?: FloatArray | null;
  /** cellNewton. */
  controls?: {
    maxIterations: number; absTol: number; relTol: number; damping: number; onMaxIterations: 'fallback' | 'return';
    /** The fused loop's unknowns (cells.h FusedSchedule): every state ('global', ParaRNN) or chunk starts ('shooting'). Default 'auto'. */
    schedule?: 'auto' | 'global' | 'shooting';
  };
  /** cellBackward, in/out: dL/dh_t [B, T, S] in (dFinalState added to the last row), λ out. */
  lambda?: FloatArray;
  /** cellBackward outputs: dP [B, T, 3, D] (the call's dtype, or a Float64Array), dA [3, D], dC [2, D] (ParaLSTM) Float64Array; dh0 [B, S]. */
  dP?: FloatArray;
  dA?: Float64Array;
  dC?: Float64Array | null;
  dh0?: FloatArray;
}

export interface NativeCellResult {
  status: 'ok' | 'non-finite';
  schedule: string;
}

/** cellNewton's diagnostics (packages/solvers' NewtonDiagnostics, policy onDivergence 'fallback'). */
export interface NativeCellNewtonResult extends NativeCellResult {
  iterations: number;
  residuals: number[];
  termination: 'converged' | 'max-iterations' | 'fallback-sequential';
  reason: 'non-finite' | 'growing' | 'max-iterations' | 'ill-conditioned' | null;
  stalled: boolean;
  tolerance: number;
  /** Max |δ| of the Newton step after convergence (cells.h's NewtonReport::errorEstimate). */
  errorEstimate: number;
}

export interface NativeAddon {
  readonly backend: 'cpu' | 'cuda';
  /** Bumped whenever this surface changes; the loader refuses a mismatching file. */
  readonly abiVersion: number;
  readonly version: string;
  info(): NativeCpuInfo | NativeCudaInfo;
  /** Blocks the calling thread. Throws on malformed requests and device errors. */
  solveLinearRecurrence(request: NativeSolveRequest): NativeSolveResult;
  /** Runs on the libuv pool; the arrays are kept alive until the promise settles. */
  solveLinearRecurrenceAsync(request: NativeSolveRequest): Promise<NativeSolveResult>;
  /** CPU: size of the worker pool used when a request names no thread count. */
  setThreads?(threads: number): void;
  /** CPU, for tests: force the instruction set ('baseline' | 'avx2' | 'avx512'); throws if unsupported. */
  setIsa?(isa: string): void;
  /**
   * CPU, present when the addon was built with BLAS (OpenBLAS, static): ParaRNN's per-head input
   * projection P[m, g, h·Dh + j] = bias[g, h·Dh + j] + Σ_i x[m, h·Di + i] · weight[h, i, g, j] over
   * M = points rows; x [M, Din], weight [H, Din/H, G, D/H], bias [G, D], out [M, G, D], one dtype.
   */
  projectInputs?(request: {
    points: number; inputSize: number; stateSize: number; heads: number; gates: number;
    x: FloatArray; weight: FloatArray; bias: FloatArray; out: FloatArray;
  }): void;
  /**
   * CPU, present when the addon was built with BLAS: row-major C = alpha·op(A)·op(B) + beta·C
   * (cblas_sgemm/dgemm). transA: A is stored k×m; transB: B is stored n×k. One dtype for a, b, c;
   * c must not overlap a or b. @parascan/nn validates every argument before calling it.
   */
  gemm?(request: {
    transA: boolean; transB: boolean; m: number; n: number; k: number; alpha: number;
    a: FloatArray; lda: number; b: FloatArray; ldb: number; beta: number; c: FloatArray; ldc: number;
  }): void;
  /**
   * CPU, for benchmarks: STREAM-style memory probes on the solver's own thread pool.
   * 'copy': a = b. 'triad': a = b + 3·c. Float32Arrays of one length; threads 0 = all.
   */
  bandwidthProbe?(kind: 'copy' | 'triad', a: Float32Array, b: Float32Array, c: Float32Array, threads: number): void;
  /**
   * ParaGRU/ParaLSTM, on both addons (absent from addons built before the cells kernels); the CUDA
   * addon stages the host arrays through the GPU, ignores `threads` and `controls.schedule` (it runs
   * ParaRNN's global Newton) and throws 'DEVICE_ERROR: …' without a usable device. The sequential loop.
   */
  cellSequential?(request: NativeCellRequest): NativeCellResult;
  cellSequentialAsync?(request: NativeCellRequest): Promise<NativeCellResult>;
  /** f and/or the closed-form Jacobians at every point, in parallel. */
  cellEvaluate?(request: NativeCellRequest): NativeCellResult;
  cellEvaluateAsync?(request: NativeCellRequest): Promise<NativeCellResult>;
  /** The whole Newton loop in one call (fused); divergence falls back to the sequential loop. */
  cellNewton?(request: NativeCellRequest): NativeCellNewtonResult;
  cellNewtonAsync?(request: NativeCellRequest): Promise<NativeCellNewtonResult>;
  /** Jacobians at the solution, one reversed solve, the per-step VJPs. */
  cellBackward?(request: NativeCellRequest): NativeCellResult;
  cellBackwardAsync?(request: NativeCellRequest): Promise<NativeCellResult>;
  /**
   * CPU with BLAS: the reverse of projectInputs for a cotangent dP [M, G, D], one dtype:
   * dx [M, Din] (optional), dW [H, Din/H, G, D/H], db [G, D], all overwritten.
   */
  cellProjectionVjp?(request: {
    points: number; inputSize: number; stateSize: number; heads: number; gates: number;
    x: FloatArray; weight: FloatArray; dP: FloatArray; dx?: FloatArray | null; dW: FloatArray; db: FloatArray;
  }): void;
  /** CPU: the instruction set the cell kernels run with ('avx512' | 'avx2' | 'baseline'). */
  cellKernelIsa?(): string;
}

export const NATIVE_ABI_VERSION = 2;
