/**
 * ParaRNN's initialisation schemes (pararnn/utils/init.py in apple/ml-pararnn), re-implemented on
 * the seeded PRNG of @parascan/core. Defaults as ParaRNN's cell configs: A 'xlstm', B
 * 'xavier_uniform', b 'bias_minus_linspace' (and C, for ParaLSTM, the scheme of A).
 */
import type { Rng } from '@parascan/core';

/** Schemes for A (and C): the recurrent diagonals. */
export const A_INITS = ['xlstm', 'small_gaussian', 'negative_exponential', 'negative_exponential_mamba', 'uniform', 'zero'] as const;
/** Schemes for B: the per-head input projection. */
export const W_INITS = ['xavier_uniform', 'kaiming_uniform', 'xavier_gaussian', 'xlstm'] as const;
/** Schemes for b: the gate biases (all zero except, for most, row 0 — the first gate). */
export const BIAS_INITS = ['bias_minus_linspace', 'constant_zero', 'bias_linspace', 'bias_uniform', 'bias_constant_1', 'bias_constant_minus_1', 'bias_constant_2'] as const;

export type AInit = (typeof A_INITS)[number];
export type WInit = (typeof W_INITS)[number];
export type BiasInit = (typeof BIAS_INITS)[number];

function truncNormal(rng: Rng, std: number, lo: number, hi: number): number {
  for (;;) {
    const v = rng.normal(0, std);
    if (v >= lo && v <= hi) return v;
  }
}

/** Fills `out` with the weight/diagonal scheme `name` (fanIn/fanOut as ParaRNN passes them). */
export function fillWeights(rng: Rng, name: AInit | WInit, out: Float64Array, fanIn: number, fanOut: number): void {
  const n = out.length;
  switch (name) {
    case 'xavier_uniform': {
      const a = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < n; i++) out[i] = rng.uniform(-a, a);
      return;
    }
    case 'kaiming_uniform': {
      const a = Math.sqrt(3 / fanIn);
      for (let i = 0; i < n; i++) out[i] = rng.uniform(-a, a);
      return;
    }
    case 'xavier_gaussian': {
      const s = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) out[i] = truncNormal(rng, s, -0.9, 0.9);
      return;
    }
    case 'xlstm': {
      const s = 2 / Math.sqrt(5 * fanIn);
      for (let i = 0; i < n; i++) out[i] = rng.normal(0, s);
      return;
    }
    case 'small_gaussian':
      for (let i = 0; i < n; i++) out[i] = truncNormal(rng, 0.01, -2, 2);
      return;
    case 'negative_exponential':
      for (let i = 0; i < n; i++) out[i] = Math.exp(-rng.uniform(0, 8));
      return;
    case 'negative_exponential_mamba':
      for (let i = 0; i < n; i++) out[i] = Math.exp(-rng.uniform(1, 16));
      return;
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = rng.uniform(-0.9, 0.9);
      return;
    case 'zero':
      out.fill(0);
      return;
  }
}

/** Fills the bias [G, D] with the scheme `name`. */
export function fillBias(rng: Rng, name: BiasInit, out: Float64Array, D: number): void {
  out.fill(0);
  switch (name) {
    case 'constant_zero':
      return;
    case 'bias_uniform':
      for (let j = 0; j < D; j++) out[j] = rng.uniform(-0.9, 0.9);
      return;
    case 'bias_linspace':
      for (let j = 0; j < D; j++) out[j] = D === 1 ? 3 : 3 + (3 * j) / (D - 1);
      return;
    case 'bias_minus_linspace':
      for (let j = 0; j < D; j++) out[j] = D === 1 ? 0 : -j / (D - 1);
      return;
    case 'bias_constant_1':
      out.fill(1, 0, D);
      return;
    case 'bias_constant_minus_1':
      out.fill(-1, 0, D);
      return;
    case 'bias_constant_2':
      out.fill(2, 0, D);
      return;
  }
}
