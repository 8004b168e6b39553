/**
 * Shared pieces of the solver tests: random problems with the hard features (|J| near 1, exact
 * zeros), the sweep of sizes, and the comparison against the float64 reference.
 */
import { Rng, allocate, toDtype, type Dtype, type FloatArray } from '@parascan/core';
import { assertClose, toleranceFor } from '@parascan/core/testing';
import { referenceSolve } from '../src/reference.js';
import type { Direction, Structure } from '../src/types.js';

const TWO_POW_M32 = 2 ** -32;

export interface Case {
  structure: Structure;
  /** k (1 diagonal, D dense) */
  k: number;
  B: number;
  T: number;
  D: number;
  dtype: Dtype;
  direction: Direction;
  withInitial: boolean;
}

export interface Inputs {
  jacobians: FloatArray;
  rhs: FloatArray;
  initial: FloatArray | null;
  /** [b, t, lane] triples whose whole k×k lane block (all of J_t for dense) is exactly 0. */
  zeros: Array<[number, number, number]>;
}

export function describeCase(c: Case): string {
  const s = c.structure === 'block' ? `block k=${c.k}` : c.structure;
  return `${s} ${c.dtype} ${c.direction} B=${c.B} T=${c.T} D=${c.D}${c.withInitial ? ' +initial' : ''}`;
}

/** FNV-1a of a string: a per-test offset for the run's seed, so one PARASCAN_SEED reproduces every test. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Random inputs. Each lane's k×k block is diagonally dominant with rows scaled to an absolute sum
 * ρ ≤ 1 (so the recurrence neither explodes nor loses everything): half the blocks have ρ near 1
 * (0.97 … 1), the rest ρ in 0.3 … 0.97, and about 4% are exactly zero. rhs is uniform with unit
 * variance, initial standard normal.
 */
export function makeInputs(rng: Rng, c: Case, zeroFraction = 0.04): Inputs {
  const { B, T, k, D } = c;
  const N = D / k;
  const jac = new Float64Array(B * T * k * k * N);
  const zeros: Array<[number, number, number]> = [];
  const m = new Float64Array(k * k);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * k * k * N;
      for (let n = 0; n < N; n++) {
        // One 32-bit draw picks zero / sign / near 1, a second the magnitude (the long sweeps need it fast).
        const u = rng.nextUint32() * TWO_POW_M32;
        if (u < zeroFraction) {
          zeros.push([b, t, n]);
          continue; // already 0
        }
        if (k === 1) {
          const w = (u - zeroFraction) / (1 - zeroFraction);
          const v = rng.nextUint32() * TWO_POW_M32;
          const rho = w % 0.5 < 0.25 ? 0.97 + 0.03 * v : 0.3 + 0.67 * v;
          jac[row + n] = w < 0.5 ? rho : -rho;
          continue;
        }
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            m[i * k + j] = i === j ? (rng.bernoulli(0.5) ? 1 : -1) * rng.uniform(0.5, 1) : (rng.uniform(-0.5, 0.5) * 2) / k;
          }
        }
        for (let i = 0; i < k; i++) {
          const rho = rng.bernoulli(0.5) ? rng.uniform(0.97, 1) : rng.uniform(0.3, 0.97);
          let sum = 0;
          for (let j = 0; j < k; j++) sum += Math.abs(m[i * k + j]!);
          for (let j = 0; j < k; j++) jac[row + (i * k + j) * N + n] = (m[i * k + j]! * rho) / sum;
        }
      }
    }
  }
  // rhs and initial: uniform with unit variance (as informative as normal draws here, and several times cheaper).
  const rhs = new Float64Array(B * T * D);
  for (let i = 0; i < rhs.length; i++) rhs[i] = (rng.nextUint32() * TWO_POW_M32 - 0.5) * 2 * Math.sqrt(3);
  let initial: Float64Array | null = null;
  if (c.withInitial) {
    initial = new Float64Array(B * D);
    for (let i = 0; i < initial.length; i++) initial[i] = rng.normal();
  }
  return {
    jacobians: toDtype(c.dtype, jac),
    rhs: toDtype(c.dtype, rhs),
    initial: initial ? toDtype(c.dtype, initial) : null,
    zeros,
  };
}

export const SWEEP_T = [1, 2, 3, 17, 63, 64, 65, 1000];
export const SWEEP_B = [1, 3];
export const SWEEP_LANES = [1, 5, 64];
export const SWEEP_DENSE_D = [1, 5, 16];
export const LONG_T = 2 ** 16 + 3;

export interface StructureSpec {
  name: string;
  structure: Structure;
  /** k for a lane count (dense: D = lanes). */
  k: (lanesOrD: number) => number;
  sizes: number[];
}

export const STRUCTURE_SPECS: StructureSpec[] = [
  { name: 'diagonal', structure: 'diagonal', k: () => 1, sizes: SWEEP_LANES },
  { name: 'block k=2', structure: 'block', k: () => 2, sizes: SWEEP_LANES },
  { name: 'block k=3', structure: 'block', k: () => 3, sizes: SWEEP_LANES },
  { name: 'dense', structure: 'dense', k: (d) => d, sizes: SWEEP_DENSE_D },
];

/** Every case of the sweep for one structure, dtype and direction. */
export function sweepCases(spec: StructureSpec, dtype: Dtype, direction: Direction): Case[] {
  const cases: Case[] = [];
  for (const T of SWEEP_T) {
    for (const B of SWEEP_B) {
      for (const s of spec.sizes) {
        const k = spec.k(s);
        const D = spec.structure === 'dense' ? s : k * s;
        for (const withInitial of [false, true]) cases.push({ structure: spec.structure, k, B, T, D, dtype, direction, withInitial });
      }
    }
  }
  return cases;
}

/** The long diagonal cases (T = 2^16 + 3): kept few, they dominate the run time. */
export function longCases(dtype: Dtype, direction: Direction): Case[] {
  return [
    { structure: 'diagonal', k: 1, B: 1, T: LONG_T, D: 64, dtype, direction, withInitial: true },
    { structure: 'diagonal', k: 1, B: 3, T: LONG_T, D: 5, dtype, direction, withInitial: false },
  ];
}

export function reference(c: Case, inputs: Inputs): Float64Array {
  return referenceSolve({
    direction: c.direction,
    batch: c.B,
    length: c.T,
    blockSize: c.k,
    size: c.D,
    jacobians: inputs.jacobians,
    rhs: inputs.rhs,
    initial: inputs.initial,
  });
}

/** Asserts `actual` is within the table's tolerance (scaled for T) of the float64 reference. */
export function expectCloseToReference(actual: FloatArray, expected: Float64Array, c: Case, seed: number, label: string): void {
  assertClose(actual, expected, toleranceFor(c.dtype, c.T), {
    label,
    shape: [c.B, c.T, c.D],
    seed,
    context: describeCase(c),
  });
}

/** x_t must equal r_t exactly where the Jacobian coupling x_t to its neighbour is exactly 0. */
export function expectZerosCut(out: FloatArray, c: Case, inputs: Inputs, seed: number, label: string): void {
  const N = c.D / c.k;
  for (const [b, t, n] of inputs.zeros) {
    // forward: J_t = 0 cuts x_t from x_{t-1}; reverse: J_t = 0 cuts x_{t-1} from x_t.
    const tt = c.direction === 'forward' ? t : t - 1;
    if (tt < 0) continue;
    if (c.direction === 'reverse' && tt === c.T - 1) continue;
    if (c.direction === 'forward' && tt === 0 && !c.withInitial) continue; // x_0 = r_0 anyway
    const lanes = c.structure === 'dense' ? Array.from({ length: c.D }, (_, i) => i) : Array.from({ length: c.k }, (_, i) => i * N + n);
    for (const d of lanes) {
      const o = (b * c.T + tt) * c.D + d;
      if (out[o] !== inputs.rhs[o]) {
        throw new Error(
          `${label}: J is exactly 0 at [b=${b}, t=${t}, lane ${n}] but out[b=${b}, t=${tt}, d=${d}] = ${out[o]} != rhs = ${inputs.rhs[o]} (something leaked across the zero).\n  case: ${describeCase(c)}\n  seed: ${seed} (rerun with PARASCAN_SEED=${seed})`,
        );
      }
    }
  }
}

/**
 * The forward problem whose solution, read backwards in time, is the reverse solution of `c`:
 * y_s = x_{T-1-s} obeys y_s = J'_s y_{s-1} + r'_s with J'_s = J_{T-s}^T (s ≥ 1), J'_0 = I,
 * r'_s = r_{T-1-s} and the same initial state.
 */
export function reverseAsForward(c: Case, inputs: Inputs): { forward: Case; inputs: Inputs } {
  const { B, T, k, D } = c;
  const N = D / k;
  const KKN = k * k * N;
  const jac = allocate(c.dtype, B * T * KKN);
  const rhs = allocate(c.dtype, B * T * D);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < T; s++) {
      const dst = (b * T + s) * KKN;
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++)
          for (let n = 0; n < N; n++) {
            jac[dst + (i * k + j) * N + n] = s === 0 ? (i === j ? 1 : 0) : inputs.jacobians[(b * T + (T - s)) * KKN + (j * k + i) * N + n]!;
          }
      rhs.set(inputs.rhs.subarray((b * T + (T - 1 - s)) * D, (b * T + (T - s)) * D), (b * T + s) * D);
    }
  }
  return { forward: { ...c, direction: 'forward' }, inputs: { jacobians: jac, rhs, initial: inputs.initial, zeros: [] } };
}

/** [B, T, D] → the same rows in reversed time order. */
export function timeReversed<A extends FloatArray>(x: A, B: number, T: number, D: number): A {
  const y = (x instanceof Float32Array ? new Float32Array(x.length) : new Float64Array(x.length)) as A;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) y.set(x.subarray((b * T + t) * D, (b * T + t + 1) * D), (b * T + (T - 1 - t)) * D);
  return y;
}
