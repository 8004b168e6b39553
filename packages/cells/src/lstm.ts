/**
 * ParaLSTM (DESIGN §5; ParaRNN's LSTMCIFGDiagMH): coupled input/forget gate with peepholes, state
 * s = [c; h] (2D wide), Jacobian in 2×2 blocks of diagonals [[∂c'/∂c, ∂c'/∂h], [∂h'/∂c, ∂h'/∂h]].
 * A, b [3, D], gate rows f, o, c; C [2, D], rows f, o.
 *
 *   f  = σ(A_f ⊙ h + P_f + C_f ⊙ c)
 *   c̃  = tanh(A_c ⊙ h + P_c)
 *   c' = f ⊙ c + (1 − f) ⊙ c̃
 *   o  = σ(A_o ⊙ h + P_o + C_o ⊙ c')        (peephole on the new cell value)
 *   h' = o ⊙ tanh(c'),  y = h'
 */
import type { FloatArray } from '@parascan/core';
import { ParaCell, type CellOptions } from './cell.js';

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

export class ParaLSTM extends ParaCell {
  readonly gates = 3;
  readonly blocks = 2;
  protected readonly nativeKind = 'lstm';

  constructor(options: CellOptions) {
    super('ParaLSTM', options, 3, true);
  }

  protected evalPoint(P: FloatArray, po: number, prev: FloatArray, ho: number, out: FloatArray, oo: number, jac: FloatArray | null, jo: number): void {
    const D = this.stateSize;
    const A = this.A;
    const C = this.C!;
    for (let j = 0; j < D; j++) {
      const cp = prev[ho + j]!;
      const hp = prev[ho + D + j]!;
      const Af = A[j]!;
      const Ao = A[D + j]!;
      const Ac = A[2 * D + j]!;
      const Cf = C[j]!;
      const Co = C[D + j]!;
      const f = sigmoid(Af * hp + P[po + j]! + Cf * cp);
      const g = Math.tanh(Ac * hp + P[po + 2 * D + j]!);
      const cn = f * cp + (1 - f) * g;
      const o = sigmoid(Ao * hp + P[po + D + j]! + Co * cn);
      const tc = Math.tanh(cn);
      out[oo + j] = cn;
      out[oo + D + j] = o * tc;
      if (jac) {
        const sf = f * (1 - f);
        const so = o * (1 - o);
        const Jcc = f + (cp - g) * sf * Cf;
        const Jch = (cp - g) * sf * Af + (1 - f) * (1 - g * g) * Ac;
        const dhdc = so * Co * tc + o * (1 - tc * tc);
        jac[jo + j] = Jcc;
        jac[jo + D + j] = Jch;
        jac[jo + 2 * D + j] = dhdc * Jcc;
        jac[jo + 3 * D + j] = so * Ao * tc + dhdc * Jch;
      }
    }
  }

  protected tangentPoint(P: FloatArray, po: number, prev: FloatArray, ho: number, v: FloatArray, vo: number, out: FloatArray, oo: number): void {
    const D = this.stateSize;
    const A = this.A;
    const C = this.C!;
    for (let j = 0; j < D; j++) {
      const cp = prev[ho + j]!;
      const hp = prev[ho + D + j]!;
      const vc = v[vo + j]!;
      const vh = v[vo + D + j]!;
      const Af = A[j]!;
      const Ao = A[D + j]!;
      const Ac = A[2 * D + j]!;
      const Cf = C[j]!;
      const Co = C[D + j]!;
      const f = sigmoid(Af * hp + P[po + j]! + Cf * cp);
      const df = f * (1 - f) * (Af * vh + Cf * vc);
      const g = Math.tanh(Ac * hp + P[po + 2 * D + j]!);
      const dg = (1 - g * g) * Ac * vh;
      const cn = f * cp + (1 - f) * g;
      const dcn = df * cp + f * vc - df * g + (1 - f) * dg;
      const o = sigmoid(Ao * hp + P[po + D + j]! + Co * cn);
      const dO = o * (1 - o) * (Ao * vh + Co * dcn);
      const tc = Math.tanh(cn);
      const dtc = (1 - tc * tc) * dcn;
      out[oo + j] = dcn;
      out[oo + D + j] = dO * tc + o * dtc;
    }
  }

  protected cotangentPoint(
    P: FloatArray, po: number, prev: FloatArray, ho: number, u: FloatArray, uo: number,
    dprev: FloatArray, dho: number, dP: Float64Array, gA: Float64Array, gC: Float64Array | null,
  ): void {
    const D = this.stateSize;
    const A = this.A;
    const C = this.C!;
    const GC = gC!;
    for (let j = 0; j < D; j++) {
      const cp = prev[ho + j]!;
      const hp = prev[ho + D + j]!;
      const uc = u[uo + j]!;
      const uh = u[uo + D + j]!;
      const Af = A[j]!;
      const Ao = A[D + j]!;
      const Ac = A[2 * D + j]!;
      const Cf = C[j]!;
      const Co = C[D + j]!;
      const f = sigmoid(Af * hp + P[po + j]! + Cf * cp);
      const g = Math.tanh(Ac * hp + P[po + 2 * D + j]!);
      const cn = f * cp + (1 - f) * g;
      const o = sigmoid(Ao * hp + P[po + D + j]! + Co * cn);
      const tc = Math.tanh(cn);
      const dao = uh * tc * o * (1 - o);
      const dcn = uc + uh * o * (1 - tc * tc) + dao * Co;
      const daf = dcn * (cp - g) * f * (1 - f);
      const dag = dcn * (1 - f) * (1 - g * g);
      dprev[dho + j] = dcn * f + daf * Cf;
      dprev[dho + D + j] = daf * Af + dag * Ac + dao * Ao;
      gA[j] += daf * hp;
      gA[D + j] += dao * hp;
      gA[2 * D + j] += dag * hp;
      GC[j] += daf * cp;
      GC[D + j] += dao * cn;
      dP[j] = daf;
      dP[D + j] = dao;
      dP[2 * D + j] = dag;
    }
  }
}
