/**
 * gemm against a float64 triple loop: every transpose combination, odd shapes, padded leading
 * dimensions, alpha/beta, both dtypes, on the native (OpenBLAS) backend when the addon has it and on
 * the js loop; and the argument checks.
 */
import { describe, expect, it } from 'vitest';
import { ParascanError, type Dtype, type FloatArray } from '@parascan/core';
import { assertClose, toleranceFor } from '@parascan/core/testing';
import { gemm, nativeGemmAddon, type GemmRequest } from '../src/index.js';
import { RUN_SEED, caseRng } from './helpers.js';

const native = nativeGemmAddon();
const BACKENDS = native ? (['js', 'cpu'] as const) : (['js'] as const);
if (!native) console.log('gemm tests: no native addon with gemm here; only the js backend is tested');

/** C = alpha·op(A)·op(B) + beta·C in float64, straight from the definition. */
function reference(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: FloatArray, lda: number, b: FloatArray, ldb: number, beta: number, c: FloatArray, ldc: number): Float64Array {
  const out = Float64Array.from(c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (transA ? a[p * lda + i]! : a[i * lda + p]!) * (transB ? b[j * ldb + p]! : b[p * ldb + j]!);
      out[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * ldc + j]!);
    }
  }
  return out;
}

const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [1, 7, 3],
  [5, 1, 9],
  [3, 4, 1],
  [17, 13, 11],
  [33, 65, 31],
  [64, 3, 127],
];

describe.each(BACKENDS)('gemm backend %s', (backend) => {
  it.each(['float32', 'float64'] as Dtype[])('matches a float64 reference for every transpose combination and odd shapes (%s)', (dtype) => {
    const rng = caseRng(`gemm ${backend} ${dtype}`);
    let cases = 0;
    for (const [m, n, k] of SHAPES) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          // Padded leading dimensions on some cases: only the first `cols` of each stored row count.
          const pad = rng.int(0, 2);
          const lda = (transA ? m : k) + pad;
          const ldb = (transB ? k : n) + pad;
          const ldc = n + pad;
          const a = rng.uniformArray(dtype, ((transA ? k : m) - 1) * lda + (transA ? m : k), -1, 1);
          const b = rng.uniformArray(dtype, ((transB ? n : k) - 1) * ldb + (transB ? k : n), -1, 1);
          const c = rng.uniformArray(dtype, (m - 1) * ldc + n, -1, 1);
          const [alpha, beta] = [[1, 0], [0.5, 1], [-1.25, -0.5]][cases % 3]!;
          const expected = reference(transA, transB, m, n, k, alpha!, a, lda, b, ldb, beta!, c, ldc);
          const out = c.slice();
          gemm({ transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c: out, ldc, backend });
          // Padding between rows stays untouched.
          for (let i = 0; i < m - 1; i++) for (let j = n; j < ldc; j++) expect(out[i * ldc + j]).toBe(c[i * ldc + j]);
          // Each entry is a sum of k products of numbers in [-1, 1]: the error grows like √k.
          assertClose(out, expected, toleranceFor(dtype, k, 2), { label: 'C', context: `${backend} ${dtype} m=${m} n=${n} k=${k} transA=${transA} transB=${transB} lda=${lda} ldb=${ldb} ldc=${ldc} alpha=${alpha} beta=${beta}`, seed: RUN_SEED });
          cases++;
        }
      }
    }
    expect(cases).toBe(SHAPES.length * 4);
  });

  it('beta = 0 does not read C (NaN in C does not leak into the product)', () => {
    const a = new Float64Array([1, 2, 3, 4]);
    const b = new Float64Array([1, 0, 0, 1]);
    const c = new Float64Array([NaN, NaN, NaN, NaN]);
    gemm({ m: 2, n: 2, k: 2, a, b, c, backend });
    expect(Array.from(c)).toEqual([1, 2, 3, 4]);
  });
});

describe('gemm argument checks', () => {
  const a = new Float32Array(6);
  const b = new Float32Array(12);
  const ok: GemmRequest = { m: 2, n: 4, k: 3, a, b, c: new Float32Array(8) };
  const bad = (patch: Record<string, unknown>, pattern: RegExp): void => {
    let thrown: unknown;
    try {
      gemm({ ...ok, c: new Float32Array(8), ...patch } as GemmRequest);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ParascanError);
    expect((thrown as ParascanError).code).toBe('INVALID_ARGUMENT');
    expect((thrown as Error).message).toMatch(pattern);
  };

  it('accepts the well-formed request', () => {
    expect(() => gemm({ ...ok, c: new Float32Array(8) })).not.toThrow();
  });

  it('rejects bad sizes, leading dimensions, lengths, dtypes, overlap and options with clear errors', () => {
    bad({ m: 0 }, /^gemm: argument `m` must be a positive integer ≤ 2147483647; got 0\./);
    bad({ k: 2.5 }, /argument `k` must be a positive integer/);
    bad({ n: 2 ** 31 }, /argument `n` must be a positive integer ≤ 2147483647/);
    bad({ lda: 2 }, /argument `lda` must be an integer ≥ 3 \(the stored row width of A, m×k, 2×3\); got 2\./);
    bad({ transA: true, lda: 1 }, /argument `lda` must be an integer ≥ 2 \(the stored row width of A stored k×m \(transA\), 3×2\); got 1\./);
    bad({ a: new Float32Array(5) }, /argument `a` must be a Float32Array of at least 6 elements \(A, m×k, 2×3 with leading dimension 3\); got a Float32Array of length 5\./);
    bad({ b: new Float64Array(12) }, /argument `b` must be a Float32Array \(every array of one call has the dtype of `a`\); got a Float64Array of length 12\./);
    bad({ c: [0, 0, 0, 0, 0, 0, 0, 0] }, /argument `c` must be a Float32Array .*; got a plain Array of length 8\./);
    bad({ ldc: 5, c: new Float32Array(8) }, /argument `c` must be a Float32Array of at least 9 elements \(C, m×n, 2×4 with leading dimension 5\)/);
    bad({ transB: 'yes' }, /argument `transB` must be a boolean; got the string "yes"\./);
    bad({ alpha: NaN }, /argument `alpha` must be a finite number; got NaN\./);
    bad({ backend: 'gpu' }, /argument `backend` must be one of 'auto', 'js', 'cpu'/);
    bad({ tranA: true }, /unknown option `tranA`/);
    const shared = new Float32Array(20);
    bad({ a: shared.subarray(0, 6), c: shared.subarray(4, 12) }, /argument `c` must be an array that shares no memory with `a` or `b`/);
  });

  it.runIf(native)('the native binding itself refuses malformed calls with a TypeError/RangeError instead of crashing', () => {
    const g = native!.gemm!.bind(native);
    const base = { transA: false, transB: false, m: 2, n: 4, k: 3, alpha: 1, a, lda: 3, b, ldb: 4, beta: 0, c: new Float32Array(8), ldc: 4 };
    expect(() => g({ ...base, m: 0 })).toThrow(/gemm \(native cpu\): argument `m` must be an integer/);
    expect(() => g({ ...base, a: new Float32Array(5) })).toThrow(/argument `a` must hold at least 6 elements; got 5/);
    expect(() => g({ ...base, lda: 2 })).toThrow(/leading dimension of `a` must be >= 3/);
    expect(() => g({ ...base, b: new Float64Array(12) })).toThrow(/argument `b` must be a Float32Array/);
    const buf = new Float32Array(16);
    expect(() => g({ ...base, a: buf.subarray(0, 6), c: buf.subarray(5, 13) })).toThrow(/argument `c` must not overlap `a`/);
  });
});
