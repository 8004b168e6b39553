import { createRng, type FloatArray, type Rng } from '@parascan/core';
import { assertClose, testSeed, type Tolerance } from '@parascan/core/testing';

/** FNV-1a: a per-test offset, so one PARASCAN_SEED reproduces every test. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export const RUN_SEED = testSeed();
console.log(`nn tests: seed ${RUN_SEED} (rerun with PARASCAN_SEED=${RUN_SEED})`);

/** An rng for one named case, derived from the run's seed. */
export function caseRng(label: string): Rng {
  return createRng((RUN_SEED + hashString(label)) % 2 ** 52);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Tolerance of a float64 central difference (step FD_STEP) against an analytic gradient: the
 * truncation error is O(h²·f''') ≈ 1e-12 and the rounding error O(eps·|f|/h) ≈ 1e-10 for the O(1)
 * losses here, so 1e-7 absolute plus 1e-6 relative sits three orders above both, and a wrong term
 * of a gradient (typically O(0.01..1)) still fails by orders of magnitude.
 */
export const FD_STEP = 1e-6;
export const FD_TOLERANCE: Tolerance = { atol: 1e-7, rtol: 1e-6 };

/**
 * Central differences of `loss` w.r.t. `data[i]` for the given indices (all by default), checked
 * against `analytic[i]` with FD_TOLERANCE. `data` is restored.
 */
export function checkFiniteDifferences(
  label: string, data: FloatArray, analytic: ArrayLike<number>, loss: () => number, indices?: readonly number[], tol: Tolerance = FD_TOLERANCE,
): void {
  const idx = indices ?? Array.from({ length: data.length }, (_, i) => i);
  const fd = new Float64Array(idx.length);
  const an = new Float64Array(idx.length);
  idx.forEach((i, n) => {
    const keep = data[i]!;
    data[i] = keep + FD_STEP;
    const up = loss();
    data[i] = keep - FD_STEP;
    const down = loss();
    data[i] = keep;
    fd[n] = (up - down) / (2 * FD_STEP);
    an[n] = analytic[i]!;
  });
  assertClose(an, fd, tol, { label: `${label} (analytic vs central differences at indices ${idx.length > 12 ? `${idx.slice(0, 12).join(',')}…` : idx.join(',')})`, seed: RUN_SEED });
}

/** Up to `count` distinct indices in [0, n), always including 0 and n−1. */
export function sampleIndices(rng: Rng, n: number, count: number): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const s = new Set<number>([0, n - 1]);
  while (s.size < count) s.add(rng.int(0, n - 1));
  return [...s].sort((a, b) => a - b);
}
