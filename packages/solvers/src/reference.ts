/**
 * The simplest possible solver, in float64 whatever the inputs' dtype: the oracle of every
 * backend's tests. No validation beyond lengths; same maths, layout and reverse convention as
 * native/include/parascan/linear_recurrence.h.
 */
export interface ReferenceProblem {
  direction?: 'forward' | 'reverse';
  batch: number;
  length: number;
  /** k (1 diagonal, D dense) */
  blockSize: number;
  /** D = k·N */
  size: number;
  /** [B, T, k, k, N] */
  jacobians: ArrayLike<number>;
  /** [B, T, D] */
  rhs: ArrayLike<number>;
  /** [B, D] */
  initial?: ArrayLike<number> | null;
}

/** x as a Float64Array [B, T, D]. */
export function referenceSolve(p: ReferenceProblem): Float64Array {
  const B = p.batch;
  const T = p.length;
  const k = p.blockSize;
  const D = p.size;
  const N = D / k;
  if (!Number.isInteger(N)) throw new RangeError(`referenceSolve: blockSize ${k} does not divide size ${D}.`);
  if (p.jacobians.length !== B * T * k * k * N || p.rhs.length !== B * T * D || (p.initial && p.initial.length !== B * D)) {
    throw new RangeError('referenceSolve: array lengths do not match [B, T, k, k, N], [B, T, D] and [B, D].');
  }
  // J_t[i*N + n, j*N + m] = (n == m) ? jac[b, t, i, j, n] : 0
  const J = (b: number, t: number, row: number, col: number): number => {
    const n = row % N;
    if (col % N !== n) return 0;
    const i = (row - n) / N;
    const j = (col - n) / N;
    return p.jacobians[(((b * T + t) * k + i) * k + j) * N + n]!;
  };
  const x = new Float64Array(B * T * D);
  for (let b = 0; b < B; b++) {
    const carry = new Float64Array(D);
    if (p.initial) for (let d = 0; d < D; d++) carry[d] = p.initial[b * D + d]!;
    if (p.direction !== 'reverse') {
      // x_t = J_t x_{t-1} + r_t
      for (let t = 0; t < T; t++) {
        const next = new Float64Array(D);
        for (let r = 0; r < D; r++) {
          let s = p.rhs[(b * T + t) * D + r]!;
          for (let c = r % N; c < D; c += N) s += J(b, t, r, c) * carry[c]!;
          next[r] = s;
        }
        x.set(next, (b * T + t) * D);
        carry.set(next);
      }
    } else {
      // x_{T-1} = r_{T-1} + initial;  x_t = r_t + J_{t+1}^T x_{t+1}
      for (let t = T - 1; t >= 0; t--) {
        const next = new Float64Array(D);
        for (let r = 0; r < D; r++) {
          let s = p.rhs[(b * T + t) * D + r]!;
          if (t === T - 1) s += carry[r]!;
          else for (let c = r % N; c < D; c += N) s += J(b, t + 1, c, r) * carry[c]!;
          next[r] = s;
        }
        x.set(next, (b * T + t) * D);
        carry.set(next);
      }
    }
  }
  return x;
}
