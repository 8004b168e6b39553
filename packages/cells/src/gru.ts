/**
 * ParaGRU (DESIGN §5; ParaRNN's GRUDiagMH): diagonal state Jacobian. A, b [3, D], gate rows z, r, c.
 *
 *   z = σ(A_z ⊙ h + P_z),  r = σ(A_r ⊙ h + P_r),  c = tanh(A_c ⊙ (h ⊙ r) + P_c)
 *   f(h, x) = z ⊙ c + (1 − z) ⊙ h
 */
import type { FloatArray } from '@parascan/core';
import { ParaCell, type CellOptions } from './cell.js';

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

export class ParaGRU extends ParaCell {
  readonly gates = 3;
  readonly blocks = 1;
  protected readonly nativeKind = 'gru';

  constructor(options: CellOptions) {
    super('ParaGRU', options, 3, false);
  }

  protected evalPoint(P: FloatArray, po: number, prev: FloatArray, ho: number, out: FloatArray, oo: number, jac: FloatArray | null, jo: number): void {
    const D = this.stateSize;
    const A = this.A;
    for (let j = 0; j < D; j++) {
      const hp = prev[ho + j]!;
      const Az = A[j]!;
      const Ar = A[D + j]!;
      const Ac = A[2 * D + j]!;
      const z = sigmoid(Az * hp + P[po + j]!);
      const r = sigmoid(Ar * hp + P[po + D + j]!);
      const c = Math.tanh(Ac * hp * r + P[po + 2 * D + j]!);
      out[oo + j] = z * c + (1 - z) * hp;
      if (jac) jac[jo + j] = 1 - z + (c - hp) * z * (1 - z) * Az + z * (1 - c * c) * Ac * (r + hp * r * (1 - r) * Ar);
    }
  }

  protected tangentPoint(P: FloatArray, po: number, prev: FloatArray, ho: number, v: FloatArray, vo: number, out: FloatArray, oo: number): void {
    const D = this.stateSize;
    const A = this.A;
    for (let j = 0; j < D; j++) {
      const hp = prev[ho + j]!;
      const dh = v[vo + j]!;
      const Az = A[j]!;
      const Ar = A[D + j]!;
      const Ac = A[2 * D + j]!;
      const z = sigmoid(Az * hp + P[po + j]!);
      const dz = z * (1 - z) * Az * dh;
      const r = sigmoid(Ar * hp + P[po + D + j]!);
      const dr = r * (1 - r) * Ar * dh;
      const c = Math.tanh(Ac * hp * r + P[po + 2 * D + j]!);
      const dc = (1 - c * c) * Ac * (dh * r + hp * dr);
      out[oo + j] = dz * c + z * dc - dz * hp + (1 - z) * dh;
    }
  }

  protected cotangentPoint(
    P: FloatArray, po: number, prev: FloatArray, ho: number, u: FloatArray, uo: number,
    dprev: FloatArray, dho: number, dP: Float64Array, gA: Float64Array,
  ): void {
    const D = this.stateSize;
    const A = this.A;
    for (let j = 0; j < D; j++) {
      const hp = prev[ho + j]!;
      const g = u[uo + j]!;
      const Az = A[j]!;
      const Ar = A[D + j]!;
      const Ac = A[2 * D + j]!;
      const z = sigmoid(Az * hp + P[po + j]!);
      const r = sigmoid(Ar * hp + P[po + D + j]!);
      const c = Math.tanh(Ac * hp * r + P[po + 2 * D + j]!);
      const daz = g * (c - hp) * z * (1 - z);
      const dac = g * z * (1 - c * c);
      const dar = dac * Ac * hp * r * (1 - r);
      dprev[dho + j] = g * (1 - z) + daz * Az + dar * Ar + dac * Ac * r;
      gA[j] += daz * hp;
      gA[D + j] += dar * hp;
      gA[2 * D + j] += dac * hp * r;
      dP[j] = daz;
      dP[D + j] = dar;
      dP[2 * D + j] = dac;
    }
  }
}
