/**
 * The per-head input projection of ParaRNN's cells (DESIGN §5):
 *
 *   P[m, g, j] = b[g, j] + Σ_i x[m, h·Din/H + i] · B[h, i, g, j mod (D/H)],  h = ⌊j / (D/H)⌋
 *
 * over M = B·T points, with B [H, Din/H, G, D/H] and b [G, D]. A plain loop in this phase (no BLAS).
 */
import type { FloatArray } from '@parascan/core';

export interface ProjectionShape {
  /** M = batch · length */
  points: number;
  inputSize: number;
  stateSize: number;
  heads: number;
  gates: number;
}

/** P [M, G, D] (the dtype of `out`). Sums in float64, rounds once on store. */
export function project(s: ProjectionShape, x: FloatArray, Bw: FloatArray, bias: FloatArray, out: FloatArray): void {
  const { points: M, inputSize: Din, stateSize: D, heads: H, gates: G } = s;
  const Dih = Din / H;
  const Dh = D / H;
  const row = new Float64Array(G * D);
  for (let m = 0; m < M; m++) {
    for (let q = 0; q < G * D; q++) row[q] = bias[q]!;
    const xo = m * Din;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Dih; i++) {
        const xv = x[xo + h * Dih + i]!;
        if (xv === 0) continue;
        const bo = (h * Dih + i) * G * Dh;
        for (let g = 0; g < G; g++) {
          const ro = g * D + h * Dh;
          const wo = bo + g * Dh;
          for (let jj = 0; jj < Dh; jj++) row[ro + jj] += xv * Bw[wo + jj]!;
        }
      }
    }
    out.set(row, m * G * D);
  }
}

/**
 * Reverse of `project` for a cotangent dP [M, G, D] (float64, or the cell's dtype): accumulates dB and db (float64),
 * and writes dx [M, Din] (when given).
 */
export function projectVjp(
  s: ProjectionShape,
  x: FloatArray,
  Bw: FloatArray,
  dP: FloatArray,
  dB: Float64Array,
  db: Float64Array,
  dx: FloatArray | null,
): void {
  const { points: M, inputSize: Din, stateSize: D, heads: H, gates: G } = s;
  const Dih = Din / H;
  const Dh = D / H;
  for (let m = 0; m < M; m++) {
    const po = m * G * D;
    for (let q = 0; q < G * D; q++) db[q] += dP[po + q]!;
    const xo = m * Din;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Dih; i++) {
        const xv = x[xo + h * Dih + i]!;
        const bo = (h * Dih + i) * G * Dh;
        let acc = 0;
        for (let g = 0; g < G; g++) {
          const ro = po + g * D + h * Dh;
          const wo = bo + g * Dh;
          for (let jj = 0; jj < Dh; jj++) {
            const d = dP[ro + jj]!;
            dB[wo + jj] += xv * d;
            acc += d * Bw[wo + jj]!;
          }
        }
        if (dx) dx[xo + h * Dih + i] = acc;
      }
    }
  }
}
