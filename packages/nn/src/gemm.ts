/**
 * General row-major matrix product, the one place every layer's matrix product goes through:
 *
 *   C[m×n] = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ
 *
 * Row-major storage with leading dimensions: element (i, j) of a stored matrix X is X[i·ldX + j].
 * `transA` means A is stored k×m (op(A) = Aᵀ is m×k); `transB` means B is stored n×k.
 *
 * Backends: 'cpu' calls the native addon's `gemm` (OpenBLAS sgemm/dgemm, linked statically into
 * parascan.node, see native/src/cpu/gemm.cc); 'js' is a plain loop that sums in float64 and rounds
 * once on store. 'auto' (the default) takes 'cpu' when the addon loads and was built with BLAS.
 * Everything is validated here, before native code sees it.
 *
 * beta = 0 follows the BLAS convention: C is not read, so garbage or NaN in C does not leak in.
 */
import {
  ParascanError,
  checkOneOf,
  checkOptionsObject,
  checkKnownKeys,
  describeValue,
  invalidArgument,
  isDetached,
  viewsOverlap,
  type FloatArray,
} from '@parascan/core';
import { tryLoadNativeAddon, type NativeAddon } from '@parascan/native';

export type GemmBackend = 'auto' | 'js' | 'cpu';

export interface GemmRequest {
  /** A stored k×m (use Aᵀ). Default false. */
  transA?: boolean;
  /** B stored n×k (use Bᵀ). Default false. */
  transB?: boolean;
  m: number;
  n: number;
  k: number;
  /** Default 1. */
  alpha?: number;
  a: FloatArray;
  /** Default: the stored row width (transA ? m : k). */
  lda?: number;
  b: FloatArray;
  /** Default: transB ? k : n. */
  ldb?: number;
  /** Default 0 (C is then not read). */
  beta?: number;
  /** Written in place; must not overlap a or b. */
  c: FloatArray;
  /** Default n. */
  ldc?: number;
  backend?: GemmBackend;
}

const KEYS = ['transA', 'transB', 'm', 'n', 'k', 'alpha', 'a', 'lda', 'b', 'ldb', 'beta', 'c', 'ldc', 'backend'] as const;
/** cblas takes 32-bit ints for sizes and leading dimensions. */
const INT32_MAX = 2147483647;

let cachedAddon: NativeAddon | null | undefined;

/** The native addon when it loads and exports `gemm` (built with BLAS), else null. Cached. */
export function nativeGemmAddon(): NativeAddon | null {
  if (cachedAddon === undefined) {
    const r = tryLoadNativeAddon('cpu');
    cachedAddon = 'error' in r || typeof r.addon.gemm !== 'function' ? null : r.addon;
  }
  return cachedAddon;
}

/** Which backend 'auto' resolves to on this machine. */
export function defaultGemmBackend(): 'js' | 'cpu' {
  return nativeGemmAddon() ? 'cpu' : 'js';
}

function checkDim(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > INT32_MAX) {
    throw invalidArgument(op, name, `a positive integer ≤ ${INT32_MAX}`, describeValue(v));
  }
  return v;
}

function checkScalar(op: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidArgument(op, name, 'a finite number', describeValue(v));
  return v;
}

function checkBool(op: string, name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalidArgument(op, name, 'a boolean', describeValue(v));
  return v;
}

/**
 * A stored rows×cols matrix with leading dimension ld: ld ≥ cols and at least (rows−1)·ld + cols
 * elements.
 */
function checkMatrix(op: string, name: string, v: unknown, rows: number, cols: number, ldName: string, ld: unknown, what: string, arrayType: string | null): { arr: FloatArray; ld: number } {
  const lead = ld === undefined ? cols : ld;
  if (typeof lead !== 'number' || !Number.isSafeInteger(lead) || lead < cols || lead > INT32_MAX) {
    throw invalidArgument(op, ldName, `an integer ≥ ${cols} (the stored row width of ${what}, ${rows}×${cols})`, describeValue(lead));
  }
  const need = (rows - 1) * lead + cols;
  if (!(v instanceof Float32Array || v instanceof Float64Array)) {
    throw invalidArgument(op, name, `a ${arrayType ?? 'Float32Array or Float64Array'} of at least ${need} elements (${what}, ${rows}×${cols} with leading dimension ${lead})`, describeValue(v));
  }
  if (arrayType !== null && v.constructor.name !== arrayType) {
    throw invalidArgument(op, name, `a ${arrayType} (every array of one call has the dtype of \`a\`)`, describeValue(v));
  }
  if (isDetached(v)) throw invalidArgument(op, name, 'an array whose buffer is attached', `a ${v.constructor.name} whose ArrayBuffer is detached`);
  if (v.length < need) {
    throw invalidArgument(op, name, `a ${v.constructor.name} of at least ${need} elements (${what}, ${rows}×${cols} with leading dimension ${lead})`, describeValue(v));
  }
  return { arr: v, ld: lead };
}

/** C = alpha·op(A)·op(B) + beta·C. Throws INVALID_ARGUMENT naming the argument on any malformed input. */
export function gemm(request: GemmRequest): void {
  const op = 'gemm';
  const r = checkOptionsObject(op, 'request', request);
  checkKnownKeys(op, 'request', r, KEYS);
  const transA = checkBool(op, 'transA', r['transA']);
  const transB = checkBool(op, 'transB', r['transB']);
  const m = checkDim(op, 'm', r['m']);
  const n = checkDim(op, 'n', r['n']);
  const k = checkDim(op, 'k', r['k']);
  const alpha = checkScalar(op, 'alpha', r['alpha'], 1);
  const beta = checkScalar(op, 'beta', r['beta'], 0);
  const backend = r['backend'] === undefined ? 'auto' : checkOneOf(op, 'backend', r['backend'], ['auto', 'js', 'cpu'] as const);
  const A = checkMatrix(op, 'a', r['a'], transA ? k : m, transA ? m : k, 'lda', r['lda'], transA ? 'A stored k×m (transA)' : 'A, m×k', null);
  const type = A.arr.constructor.name;
  const B = checkMatrix(op, 'b', r['b'], transB ? n : k, transB ? k : n, 'ldb', r['ldb'], transB ? 'B stored n×k (transB)' : 'B, k×n', type);
  const C = checkMatrix(op, 'c', r['c'], m, n, 'ldc', r['ldc'], 'C, m×n', type);
  if (viewsOverlap(C.arr, A.arr) || viewsOverlap(C.arr, B.arr)) {
    throw invalidArgument(op, 'c', 'an array that shares no memory with `a` or `b`', 'a view that overlaps one of them', 'The product cannot be written in place; pass a separate output.');
  }
  const addon = backend === 'js' ? null : nativeGemmAddon();
  if (backend === 'cpu' && !addon) {
    throw new ParascanError(
      'NATIVE_UNAVAILABLE',
      `${op}: backend 'cpu' needs the native addon built with OpenBLAS (it exports \`gemm\`); it is not available here. Rebuild it (cd packages/native && node scripts/build-native.mjs, with libopenblas-pthread-dev installed) or use backend 'js' or 'auto'.`,
      { operation: op, argument: 'backend', hint: "backend: 'auto'" },
    );
  }
  if (addon) {
    addon.gemm!({ transA, transB, m, n, k, alpha, a: A.arr, lda: A.ld, b: B.arr, ldb: B.ld, beta, c: C.arr, ldc: C.ld });
  } else {
    gemmJs(transA, transB, m, n, k, alpha, A.arr, A.ld, B.arr, B.ld, beta, C.arr, C.ld);
  }
}

/**
 * The plain loop (no validation): row i of C accumulates Σ_p op(A)[i, p] · op(B)[p, :] in a float64
 * row, then stores alpha·row + beta·C once.
 */
export function gemmJs(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: FloatArray, lda: number, b: FloatArray, ldb: number, beta: number, c: FloatArray, ldc: number,
): void {
  const row = new Float64Array(n);
  // op(A)[i, p] = a[i·sai + p·sap]; op(B)[p, j] = b[p·sbp + j·sbj]
  const sai = transA ? 1 : lda;
  const sap = transA ? lda : 1;
  const sbp = transB ? 1 : ldb;
  const sbj = transB ? ldb : 1;
  for (let i = 0; i < m; i++) {
    row.fill(0);
    if (!transB) {
      for (let p = 0; p < k; p++) {
        const av = a[i * sai + p * sap]!;
        const bo = p * sbp;
        for (let j = 0; j < n; j++) row[j] = row[j]! + av * b[bo + j]!;
      }
    } else {
      for (let j = 0; j < n; j++) {
        let s = 0;
        const bo = j * sbj;
        for (let p = 0; p < k; p++) s += a[i * sai + p * sap]! * b[bo + p]!;
        row[j] = s;
      }
    }
    const co = i * ldc;
    if (beta === 0) for (let j = 0; j < n; j++) c[co + j] = alpha * row[j]!;
    else for (let j = 0; j < n; j++) c[co + j] = alpha * row[j]! + beta * c[co + j]!;
  }
}
