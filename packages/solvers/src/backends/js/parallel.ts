/**
 * The log-step parallel reduction (Hillis–Steele scan), written for one thread: the point is to
 * run, test and study the exact combine order that a parallel machine would use, not speed.
 *
 * One equation per time step is an affine map of the previous state, x_e = A_e x_{e-1} + b_e.
 * At step s (distance d = 2^s) every equation e ≥ d is combined with equation e − d:
 *
 *     (A_e, b_e) ∘ (A_{e-d}, b_{e-d}) = (A_e A_{e-d}, A_e b_{e-d} + b_e)
 *
 * on k×k blocks of diagonals, one lane at a time. After ⌈log2 T⌉ steps b_e is the solution.
 * Equation 0 has the initial state folded into b_0 (and no A), so every equation whose chain
 * reaches 0 (e < 2d after step d) is final and its A is never needed again: it is not computed.
 *
 * The reverse recurrence x_t = r_t + J_{t+1}^T x_{t+1} is the same scan on the time-reversed
 * equations e = T−1−t with A_e = J_{T−e}^T and b_0 = r_{T−1} + initial.
 *
 * Memory: two ping-pong buffers for the A's (T·k²·N) and two for the b's (T·k·N), allocated once
 * per call and reused for every batch element — O(1) copies of the arrays, never O(log T).
 * All intermediates are stored in the arrays' dtype.
 */
import type { FloatArray, RecurrenceArrays } from './arrays.js';

function like(array: FloatArray, length: number): FloatArray {
  return array instanceof Float32Array ? new Float32Array(length) : new Float64Array(length);
}

export function solveParallel(p: RecurrenceArrays): void {
  const { batch: B, length: T, blockSize: k, lanes: N, jacobians: jac, rhs, initial, out, reverse } = p;
  const D = k * N;
  const KKN = k * k * N;
  let aSrc = like(rhs, T * KKN);
  let aDst = like(rhs, T * KKN);
  let bSrc = like(rhs, T * D);
  let bDst = like(rhs, T * D);

  for (let b = 0; b < B; b++) {
    const jb = b * T * KKN;
    const rb = b * T * D;
    const ib = b * D;

    // ---- load the equations ------------------------------------------------------------
    if (!reverse) {
      aSrc.set(jac.subarray(jb, jb + T * KKN));
      bSrc.set(rhs.subarray(rb, rb + T * D));
      if (initial) {
        // b_0 = r_0 + J_0 initial
        for (let i = 0; i < k; i++) {
          for (let n = 0; n < N; n++) {
            let s = bSrc[i * N + n]!;
            for (let j = 0; j < k; j++) s += aSrc[(i * k + j) * N + n]! * initial[ib + j * N + n]!;
            bSrc[i * N + n] = s;
          }
        }
      }
    } else {
      for (let e = 0; e < T; e++) bSrc.set(rhs.subarray(rb + (T - 1 - e) * D, rb + (T - e) * D), e * D);
      if (initial) for (let d = 0; d < D; d++) bSrc[d] = bSrc[d]! + initial[ib + d]!;
      // A_e = J_{T-e}^T for e ≥ 1 (row T-e of this batch's Jacobians, transposed).
      for (let e = 1; e < T; e++) {
        const src = jb + (T - e) * KKN;
        const dst = e * KKN;
        if (k === 1) {
          aSrc.set(jac.subarray(src, src + N), dst);
        } else {
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++)
              for (let n = 0; n < N; n++) aSrc[dst + (i * k + j) * N + n] = jac[src + (j * k + i) * N + n]!;
        }
      }
    }

    // ---- log-step combine (ping-pong) ----------------------------------------------------
    for (let d = 1; d < T; d *= 2) {
      if (k === 1) stepDiagonal(T, N, d, aSrc, bSrc, aDst, bDst);
      else stepBlocks(T, k, N, d, aSrc, bSrc, aDst, bDst);
      [aSrc, aDst] = [aDst, aSrc];
      [bSrc, bDst] = [bDst, bSrc];
    }

    // ---- store --------------------------------------------------------------------------
    if (!reverse) out.set(bSrc.subarray(0, T * D), rb);
    else for (let e = 0; e < T; e++) out.set(bSrc.subarray(e * D, (e + 1) * D), rb + (T - 1 - e) * D);
  }
}

/** One step at distance d, k = 1: b'_e = A_e b_{e-d} + b_e, A'_e = A_e A_{e-d}. */
function stepDiagonal(T: number, N: number, d: number, aSrc: FloatArray, bSrc: FloatArray, aDst: FloatArray, bDst: FloatArray): void {
  bDst.set(bSrc.subarray(0, d * N)); // equations e < d are final: carried over
  for (let e = d; e < T; e++) {
    const o = e * N;
    const p = o - d * N;
    for (let n = 0; n < N; n++) bDst[o + n] = aSrc[o + n]! * bSrc[p + n]! + bSrc[o + n]!;
    if (e >= 2 * d) for (let n = 0; n < N; n++) aDst[o + n] = aSrc[o + n]! * aSrc[p + n]!;
  }
}

/**
 * One step at distance d, k×k blocks of diagonals over N lanes. The loops run over the lanes
 * innermost (contiguous); partial sums are stored in the dtype as they accumulate.
 */
function stepBlocks(T: number, k: number, N: number, d: number, aSrc: FloatArray, bSrc: FloatArray, aDst: FloatArray, bDst: FloatArray): void {
  if (N === 1) return stepDense(T, k, d, aSrc, bSrc, aDst, bDst);
  const D = k * N;
  const KKN = k * k * N;
  bDst.set(bSrc.subarray(0, d * D));
  for (let e = d; e < T; e++) {
    const ao = e * KKN;
    const ap = ao - d * KKN;
    const bo = e * D;
    const bp = bo - d * D;
    // b'_e = b_e + A_e b_{e-d}
    for (let i = 0; i < k; i++) {
      const dst = bo + i * N;
      for (let n = 0; n < N; n++) bDst[dst + n] = bSrc[dst + n]!;
      for (let j = 0; j < k; j++) {
        const a = ao + (i * k + j) * N;
        const x = bp + j * N;
        for (let n = 0; n < N; n++) bDst[dst + n] = bDst[dst + n]! + aSrc[a + n]! * bSrc[x + n]!;
      }
    }
    // A'_e = A_e A_{e-d}, only while equation e is not final
    if (e >= 2 * d) {
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          const dst = ao + (i * k + j) * N;
          const a0 = ao + i * k * N;
          const p0 = ap + j * N;
          for (let n = 0; n < N; n++) aDst[dst + n] = aSrc[a0 + n]! * aSrc[p0 + n]!;
          for (let l = 1; l < k; l++) {
            const a = ao + (i * k + l) * N;
            const q = ap + (l * k + j) * N;
            for (let n = 0; n < N; n++) aDst[dst + n] = aDst[dst + n]! + aSrc[a + n]! * aSrc[q + n]!;
          }
        }
      }
    }
  }
}

/** One step at distance d for dense k×k matrices (N = 1), row-major with contiguous inner loops. */
function stepDense(T: number, k: number, d: number, aSrc: FloatArray, bSrc: FloatArray, aDst: FloatArray, bDst: FloatArray): void {
  const KK = k * k;
  bDst.set(bSrc.subarray(0, d * k));
  for (let e = d; e < T; e++) {
    const ao = e * KK;
    const ap = ao - d * KK;
    const bo = e * k;
    const bp = bo - d * k;
    for (let i = 0; i < k; i++) {
      let s = bSrc[bo + i]!;
      const row = ao + i * k;
      for (let j = 0; j < k; j++) s += aSrc[row + j]! * bSrc[bp + j]!;
      bDst[bo + i] = s;
    }
    if (e >= 2 * d) {
      for (let i = 0; i < k; i++) {
        const out = ao + i * k;
        const row = ao + i * k;
        const a0 = aSrc[row]!;
        for (let j = 0; j < k; j++) aDst[out + j] = a0 * aSrc[ap + j]!;
        for (let l = 1; l < k; l++) {
          const a = aSrc[row + l]!;
          const q = ap + l * k;
          for (let j = 0; j < k; j++) aDst[out + j] = aDst[out + j]! + a * aSrc[q + j]!;
        }
      }
    }
  }
}
