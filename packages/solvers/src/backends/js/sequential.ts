/**
 * Sequential substitution, the reference loop of the header, computed in the arrays' dtype: every
 * value is stored (and so rounded) in an array of that dtype once per step, like the native
 * kernels. The sum of one row accumulates in a JS double before it is stored.
 *
 * In place (out === rhs) is safe: row t of rhs is read before row t of out is written, and every
 * other read is of a row already final.
 */
import type { RecurrenceArrays } from './arrays.js';

export function solveSequential(p: RecurrenceArrays): void {
  if (p.blockSize === 1) solveDiagonal(p);
  else solveBlocks(p);
}

function solveDiagonal(p: RecurrenceArrays): void {
  const { batch: B, length: T, lanes: N, jacobians: jac, rhs, initial, out } = p;
  for (let b = 0; b < B; b++) {
    const base = b * T * N;
    if (!p.reverse) {
      // x_0 = J_0 x_{-1} + r_0
      if (initial) {
        const ib = b * N;
        for (let n = 0; n < N; n++) out[base + n] = jac[base + n]! * initial[ib + n]! + rhs[base + n]!;
      } else if (out !== rhs) {
        for (let n = 0; n < N; n++) out[base + n] = rhs[base + n]!;
      }
      for (let t = 1; t < T; t++) {
        const o = base + t * N;
        const prev = o - N;
        for (let n = 0; n < N; n++) out[o + n] = jac[o + n]! * out[prev + n]! + rhs[o + n]!;
      }
    } else {
      // x_{T-1} = r_{T-1} + initial;  x_t = r_t + J_{t+1} x_{t+1}
      const last = base + (T - 1) * N;
      if (initial) {
        const ib = b * N;
        for (let n = 0; n < N; n++) out[last + n] = rhs[last + n]! + initial[ib + n]!;
      } else if (out !== rhs) {
        for (let n = 0; n < N; n++) out[last + n] = rhs[last + n]!;
      }
      for (let t = T - 2; t >= 0; t--) {
        const o = base + t * N;
        const next = o + N;
        for (let n = 0; n < N; n++) out[o + n] = jac[next + n]! * out[next + n]! + rhs[o + n]!;
      }
    }
  }
}

function solveBlocks(p: RecurrenceArrays): void {
  const { batch: B, length: T, blockSize: k, lanes: N, jacobians: jac, rhs, initial, out } = p;
  const D = k * N;
  const KKN = k * k * N;
  for (let b = 0; b < B; b++) {
    const jb = b * T * KKN;
    const rb = b * T * D;
    const ib = b * D;
    if (!p.reverse) {
      // t = 0: x_0 = J_0 initial + r_0
      for (let i = 0; i < k; i++) {
        for (let n = 0; n < N; n++) {
          let s = rhs[rb + i * N + n]!;
          if (initial) for (let j = 0; j < k; j++) s += jac[jb + (i * k + j) * N + n]! * initial[ib + j * N + n]!;
          out[rb + i * N + n] = s;
        }
      }
      for (let t = 1; t < T; t++) {
        const jt = jb + t * KKN;
        const rt = rb + t * D;
        const rp = rt - D;
        for (let i = 0; i < k; i++) {
          for (let n = 0; n < N; n++) {
            let s = rhs[rt + i * N + n]!;
            for (let j = 0; j < k; j++) s += jac[jt + (i * k + j) * N + n]! * out[rp + j * N + n]!;
            out[rt + i * N + n] = s;
          }
        }
      }
    } else {
      const rl = rb + (T - 1) * D;
      for (let d = 0; d < D; d++) out[rl + d] = initial ? rhs[rl + d]! + initial[ib + d]! : rhs[rl + d]!;
      for (let t = T - 2; t >= 0; t--) {
        const jn = jb + (t + 1) * KKN; // J_{t+1}, used transposed
        const rt = rb + t * D;
        const rn = rt + D;
        for (let i = 0; i < k; i++) {
          for (let n = 0; n < N; n++) {
            let s = rhs[rt + i * N + n]!;
            for (let j = 0; j < k; j++) s += jac[jn + (j * k + i) * N + n]! * out[rn + j * N + n]!;
            out[rt + i * N + n] = s;
          }
        }
      }
    }
  }
}
