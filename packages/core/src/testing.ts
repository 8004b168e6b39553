/**
 * Test helpers (import from `@parascan/core/testing`): the tolerance table, `assertClose`, and
 * seeds that change every run but can be pinned to reproduce one.
 *
 * A tolerance is `atol + rtol·|ref|` (DESIGN §6), one row per dtype. The error of a scan grows with
 * its length: each output is a sum of up to T products, and a float rounds once per operation.
 * `toleranceFor(dtype, T)` scales both terms of the row by `growth(T) = √T`, the statistical
 * growth of T independent rounding errors. (The worst case eps·T of DESIGN §6 is a bound, not the
 * typical error: scaling by it would let float32 tests at T = 65539 accept almost anything.)
 * Calibration (the solver sweeps, |J| up to 1, unit-variance rhs, two seeds): the worst error was
 * 0.14 of this tolerance for the js kernels and 0.21 for the native cpu schedules in float32, and
 * ≤ 0.1 in float64; so a failure means a real defect, not noise, while an error 5× above the
 * rounding actually seen still fails.
 */

import { EPSILON, type Dtype } from './dtype.js';
import { unravelIndex } from './validate.js';
import { randomSeed } from './random.js';

export interface Tolerance {
  /** Absolute term. */
  atol: number;
  /** Relative term, times |reference|. */
  rtol: number;
}

/** The base tolerance per dtype: for one step of a computation whose reference is float64. */
export const TOLERANCES: Readonly<Record<Dtype, Readonly<Tolerance>>> = Object.freeze({
  // 8 ulp relative (≈ 1e-6), with the same absolute floor for outputs that cancel to ~0.
  float32: Object.freeze({ atol: 8 * EPSILON.float32, rtol: 8 * EPSILON.float32 }),
  // 16 ulp (≈ 3.6e-15): float64 against a float64 reference that sums in another order.
  float64: Object.freeze({ atol: 16 * EPSILON.float64, rtol: 16 * EPSILON.float64 }),
});

/** How the table's tolerance grows with the length T of a scan: √T (at least 1). */
export function growth(length: number): number {
  return Math.sqrt(Math.max(1, length));
}

/** The table's tolerance for `dtype`, scaled for a scan of `length` steps (and an optional extra factor). */
export function toleranceFor(dtype: Dtype, length = 1, factor = 1): Tolerance {
  const base = TOLERANCES[dtype];
  const g = growth(length) * factor;
  return { atol: base.atol * g, rtol: base.rtol * g };
}

export interface CloseOptions {
  /** Name of the compared quantity, for the message. */
  label?: string;
  /** Row-major shape of the arrays, to print the failing index as [b, t, d]. */
  shape?: readonly number[];
  /** Seed of the random inputs, printed on failure so the run can be repeated. */
  seed?: number;
  /** Extra context for the message (the case being tested). */
  context?: string;
}

export interface CloseReport {
  /** Number of elements outside the tolerance. */
  failures: number;
  /** First failing flat index, or -1. */
  firstIndex: number;
  /** Largest |actual − expected| / (atol + rtol·|expected|) over all elements (≤ 1 passes). */
  worstRatio: number;
  worstIndex: number;
  maxAbsError: number;
}

function sameNonFinite(a: number, e: number): boolean {
  return (Number.isNaN(a) && Number.isNaN(e)) || (a === e && !Number.isFinite(e));
}

/** Compares element-wise: |actual − expected| ≤ atol + rtol·|expected|. Non-finite values must match exactly. */
export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): CloseReport {
  if (actual.length !== expected.length) {
    throw new Error(`compareClose: lengths differ (actual ${actual.length}, expected ${expected.length}).`);
  }
  let failures = 0;
  let firstIndex = -1;
  let worstRatio = 0;
  let worstIndex = -1;
  let maxAbsError = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let ratio: number;
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      ratio = sameNonFinite(a, e) ? 0 : Infinity;
    } else {
      const err = Math.abs(a - e);
      if (err > maxAbsError) maxAbsError = err;
      const allowed = tol.atol + tol.rtol * Math.abs(e);
      ratio = err === 0 ? 0 : allowed > 0 ? err / allowed : Infinity;
    }
    if (worstIndex < 0 || ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = i;
    }
    if (ratio > 1) {
      failures++;
      if (firstIndex < 0) firstIndex = i;
    }
  }
  return { failures, firstIndex, worstRatio, worstIndex, maxAbsError };
}

function formatIndex(i: number, shape?: readonly number[]): string {
  return shape && shape.length > 0 ? `[${unravelIndex(i, shape).join(', ')}]` : `[${i}]`;
}

/** Throws an Error naming the first and the worst failing element (and the seed) unless all elements are close. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, options: CloseOptions = {}): CloseReport {
  const report = compareClose(actual, expected, tol);
  if (report.failures > 0) {
    const label = options.label ?? 'array';
    const f = report.firstIndex;
    const w = report.worstIndex;
    const lines = [
      `${label}: ${report.failures} of ${expected.length} elements differ by more than atol + rtol·|expected| (atol=${tol.atol.toExponential(2)}, rtol=${tol.rtol.toExponential(2)}).`,
      `  first ${formatIndex(f, options.shape)}: actual ${actual[f]}, expected ${expected[f]}`,
      `  worst ${formatIndex(w, options.shape)}: actual ${actual[w]}, expected ${expected[w]} (${report.worstRatio.toPrecision(3)}× the tolerance)`,
    ];
    if (options.context) lines.push(`  case: ${options.context}`);
    if (options.seed !== undefined) lines.push(`  seed: ${options.seed} (rerun with PARASCAN_SEED=${options.seed})`);
    throw new Error(lines.join('\n'));
  }
  return report;
}

/** Throws unless the two arrays are equal element by element (NaN equals NaN, 0 equals −0). */
export function assertEqualArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, options: CloseOptions = {}): void {
  if (actual.length !== expected.length) {
    throw new Error(`${options.label ?? 'array'}: lengths differ (actual ${actual.length}, expected ${expected.length}).`);
  }
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) continue;
    const lines = [`${options.label ?? 'array'}: element ${formatIndex(i, options.shape)} is ${a}; expected exactly ${e}.`];
    if (options.context) lines.push(`  case: ${options.context}`);
    if (options.seed !== undefined) lines.push(`  seed: ${options.seed} (rerun with PARASCAN_SEED=${options.seed})`);
    throw new Error(lines.join('\n'));
  }
}

/**
 * The seed for a test run: PARASCAN_SEED from the environment when set (to reproduce a failure),
 * otherwise a fresh random one. Print it, or pass it to `assertClose`.
 */
export function testSeed(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const pinned = env?.['PARASCAN_SEED'];
  if (pinned !== undefined && pinned !== '') {
    const seed = Number(pinned);
    if (!Number.isSafeInteger(seed)) throw new Error(`PARASCAN_SEED must be an integer; got ${JSON.stringify(pinned)}.`);
    return seed;
  }
  return randomSeed();
}
