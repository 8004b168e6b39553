/**
 * The layers, each a forward that returns its output and what its backward needs, and a backward
 * that ACCUMULATES parameter gradients into `Parameter.grad` (the model zeroes them once per
 * step) and returns the gradient with respect to its input.
 *
 * Activations are row-major [rows, features] with rows = B·T (batch-first, DESIGN §6). Every
 * matrix product goes through `gemm` (OpenBLAS on backend 'cpu', a float64-summing loop on 'js');
 * the element-wise parts are plain loops, which cost O(rows·features) against the products'
 * O(rows·features²).
 */
import { allocate, type Dtype, type FloatArray, type Rng } from '@parascan/core';
import { gemm } from './gemm.js';
import { createParameter, fillNormal, fillUniform, take, type LayerContext, type LiveParameter } from './parameter.js';

// ---- activations -------------------------------------------------------------------------------

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** silu(v) = v·σ(v) */
export function silu(v: number): number {
  return v * sigmoid(v);
}

/** silu'(v) = σ(v)·(1 + v·(1 − σ(v))) */
export function siluGrad(v: number): number {
  const s = sigmoid(v);
  return s * (1 + v * (1 - s));
}

/** y = silu(x), elementwise; σ(x) also goes into `sigmoidOut` when given (for the backward). */
export function siluForward(x: FloatArray, ctx?: LayerContext, sigmoidOut: FloatArray | null = null): FloatArray {
  const y = take(ctx, x instanceof Float32Array ? 'float32' : 'float64', x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const sg = 1 / (1 + Math.exp(-v));
    y[i] = v * sg;
    if (sigmoidOut) sigmoidOut[i] = sg;
  }
  return y;
}

/** dx = dy ⊙ silu'(x); with σ(x) from the forward (`sig`) no exponential is recomputed. */
export function siluBackward(x: FloatArray, dy: FloatArray, ctx?: LayerContext, sig: FloatArray | null = null): FloatArray {
  const dx = take(ctx, x instanceof Float32Array ? 'float32' : 'float64', x.length);
  if (sig) {
    for (let i = 0; i < x.length; i++) {
      const s = sig[i]!;
      dx[i] = dy[i]! * s * (1 + x[i]! * (1 - s));
    }
  } else {
    for (let i = 0; i < x.length; i++) dx[i] = dy[i]! * siluGrad(x[i]!);
  }
  return dx;
}

const onesCache = new Map<string, FloatArray>();
/** A read-only row of ones (for the bias gradient as a product: db = 1ᵀ·dy). */
function ones(dtype: Dtype, n: number): FloatArray {
  const key = `${dtype}:${n}`;
  let o = onesCache.get(key);
  if (!o) {
    o = allocate(dtype, n).fill(1);
    if (onesCache.size > 64) onesCache.clear();
    onesCache.set(key, o);
  }
  return o;
}

// ---- Linear ------------------------------------------------------------------------------------

/**
 * y = x·Wᵀ + b with W [out, in] (PyTorch's layout) and b [out]. Initialised uniform in
 * ±1/√in (PyTorch's default bound), bias zero.
 */
export class Linear {
  readonly weight: LiveParameter;
  readonly bias: LiveParameter | null;
  constructor(
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    dtype: Dtype,
    rng: Rng,
    options: { bias?: boolean; initBound?: number } = {},
  ) {
    this.weight = createParameter(`${name}.weight`, [outFeatures, inFeatures], dtype, true);
    fillUniform(this.weight, rng, options.initBound ?? 1 / Math.sqrt(inFeatures));
    this.bias = options.bias ? createParameter(`${name}.bias`, [outFeatures], dtype, false) : null;
  }

  parameters(): LiveParameter[] {
    return this.bias ? [this.weight, this.bias] : [this.weight];
  }

  /** x [rows, in] → y [rows, out]. */
  forward(x: FloatArray, rows: number, ctx: LayerContext): FloatArray {
    const out = this.outFeatures;
    const y = take(ctx, this.weight.data instanceof Float32Array ? 'float32' : 'float64', rows * out);
    if (this.bias) for (let r = 0; r < rows; r++) y.set(this.bias.data, r * out);
    gemm({ transB: true, m: rows, n: out, k: this.inFeatures, a: x, b: this.weight.data, c: y, beta: this.bias ? 1 : 0, backend: ctx.gemm });
    return y;
  }

  /** dW += dyᵀ·x, db += 1ᵀ·dy; returns dx = dy·W [rows, in] (null when `needInput` is false). */
  backward(x: FloatArray, dy: FloatArray, rows: number, ctx: LayerContext, needInput = true): FloatArray | null {
    const inF = this.inFeatures;
    const out = this.outFeatures;
    gemm({ transA: true, m: out, n: inF, k: rows, a: dy, b: x, c: this.weight.grad, beta: 1, backend: ctx.gemm });
    if (this.bias) {
      const dtype = this.weight.data instanceof Float32Array ? 'float32' : 'float64';
      gemm({ m: 1, n: out, k: rows, a: ones(dtype, rows), b: dy, c: this.bias.grad, beta: 1, backend: ctx.gemm });
    }
    if (!needInput) return null;
    const dx = take(ctx, this.weight.data instanceof Float32Array ? 'float32' : 'float64', rows * inF);
    gemm({ m: rows, n: inF, k: out, a: dy, b: this.weight.data, c: dx, beta: 0, backend: ctx.gemm });
    return dx;
  }
}

// ---- Embedding ---------------------------------------------------------------------------------

/** y[r] = W[id[r]] with W [vocab, d], initialised N(0, 1) (the blocks normalise their input). */
export class Embedding {
  readonly weight: LiveParameter;
  constructor(readonly name: string, readonly vocab: number, readonly width: number, dtype: Dtype, rng: Rng) {
    this.weight = createParameter(`${name}.weight`, [vocab, width], dtype, true);
    fillNormal(this.weight, rng, 1);
  }

  parameters(): LiveParameter[] {
    return [this.weight];
  }

  /** ids [rows] (already checked to lie in [0, vocab)) → [rows, d]. */
  forward(ids: Int32Array, ctx?: LayerContext): FloatArray {
    const d = this.width;
    const W = this.weight.data;
    const y = take(ctx, W instanceof Float32Array ? 'float32' : 'float64', ids.length * d);
    for (let r = 0; r < ids.length; r++) {
      const wo = ids[r]! * d;
      const yo = r * d;
      for (let j = 0; j < d; j++) y[yo + j] = W[wo + j]!;
    }
    return y;
  }

  /** dW[id[r]] += dy[r] (rows sharing an id add up). */
  backward(ids: Int32Array, dy: FloatArray): void {
    const d = this.width;
    const G = this.weight.grad;
    for (let r = 0; r < ids.length; r++) {
      const go = ids[r]! * d;
      const yo = r * d;
      for (let j = 0; j < d; j++) G[go + j] = G[go + j]! + dy[yo + j]!;
    }
  }
}

// ---- RMSNorm (plain and gated) -----------------------------------------------------------------

/** 1/√(mean(x[r]²) + eps) per row, in float64. */
function inverseRms(x: FloatArray, rows: number, d: number, eps: number): Float64Array {
  const rinv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * d;
    for (let j = 0; j < d; j++) s += x[o + j]! * x[o + j]!;
    rinv[r] = 1 / Math.sqrt(s / d + eps);
  }
  return rinv;
}

export interface NormCache {
  x: FloatArray;
  rinv: Float64Array;
  /** Gated only. */
  gate?: FloatArray;
  /** Gated only: σ(gate), kept from the forward. */
  gateSigmoid?: FloatArray;
}

/**
 * y = x / √(mean(x²) + eps) ⊙ w, per row of width d; w [d] starts at 1.
 * Gated (`gated: true`): y = rmsnorm(x) ⊙ w ⊙ silu(gate), the gate a second input of the same shape.
 */
export class RMSNorm {
  readonly weight: LiveParameter;
  constructor(readonly name: string, readonly width: number, dtype: Dtype, readonly eps = 1e-5) {
    this.weight = createParameter(`${name}.weight`, [width], dtype, false);
    this.weight.data.fill(1);
  }

  parameters(): LiveParameter[] {
    return [this.weight];
  }

  forward(x: FloatArray, rows: number, gate: FloatArray | null = null, ctx?: LayerContext): { y: FloatArray; cache: NormCache } {
    const d = this.width;
    const w = this.weight.data;
    const rinv = inverseRms(x, rows, d, this.eps);
    const dtype = w instanceof Float32Array ? 'float32' : 'float64';
    const y = take(ctx, dtype, rows * d);
    const sg = gate ? take(ctx, dtype, rows * d) : null;
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      const ri = rinv[r]!;
      if (gate) {
        for (let j = 0; j < d; j++) {
          const gv = gate[o + j]!;
          const s = 1 / (1 + Math.exp(-gv));
          sg![o + j] = s;
          y[o + j] = x[o + j]! * ri * w[j]! * gv * s;
        }
      } else {
        for (let j = 0; j < d; j++) y[o + j] = x[o + j]! * ri * w[j]!;
      }
    }
    return { y, cache: gate ? { x, rinv, gate, gateSigmoid: sg! } : { x, rinv } };
  }

  /**
   * With n = x·rinv and u = dy ⊙ w (⊙ silu(gate)): dw += Σ_r dy ⊙ n (⊙ silu(gate)),
   * dx = rinv·(u − n·mean(u ⊙ n)), dgate = dy ⊙ n ⊙ w ⊙ silu'(gate).
   */
  backward(dy: FloatArray, cache: NormCache, rows: number, ctx?: LayerContext): { dx: FloatArray; dgate: FloatArray | null } {
    const d = this.width;
    const w = this.weight.data;
    const gw = this.weight.grad;
    const { x, rinv, gate, gateSigmoid } = cache;
    const dtype = w instanceof Float32Array ? 'float32' : 'float64';
    const dx = take(ctx, dtype, rows * d);
    const dgate = gate ? take(ctx, dtype, rows * d) : null;
    const u = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      const ri = rinv[r]!;
      let dot = 0;
      for (let j = 0; j < d; j++) {
        const n = x[o + j]! * ri;
        let g = dy[o + j]!;
        if (gate) {
          const gv = gate[o + j]!;
          // σ(gate) from the forward (or recomputed for a cache built elsewhere).
          const s = gateSigmoid ? gateSigmoid[o + j]! : sigmoid(gv);
          dgate![o + j] = g * n * w[j]! * s * (1 + gv * (1 - s));
          g *= gv * s;
        }
        gw[j] = gw[j]! + g * n;
        u[j] = g * w[j]!;
        dot += u[j]! * n;
      }
      dot /= d;
      for (let j = 0; j < d; j++) dx[o + j] = ri * (u[j]! - x[o + j]! * ri * dot);
    }
    return { dx, dgate };
  }
}

// ---- causal depthwise convolution --------------------------------------------------------------

/**
 * Per channel c, over time within each sequence (zero history before t = 0):
 *   y[b, t, c] = bias[c] + Σ_{j<k} w[c, j] · x[b, t − (k−1) + j, c]
 * so w[c, k−1] weighs the current step. w [C, k] initialised uniform ±1/√k, bias [C] zero.
 */
export class CausalConv {
  readonly weight: LiveParameter;
  readonly bias: LiveParameter;
  constructor(readonly name: string, readonly channels: number, readonly kernel: number, dtype: Dtype, rng: Rng) {
    this.weight = createParameter(`${name}.weight`, [channels, kernel], dtype, true);
    fillUniform(this.weight, rng, 1 / Math.sqrt(kernel));
    this.bias = createParameter(`${name}.bias`, [channels], dtype, false);
  }

  parameters(): LiveParameter[] {
    return [this.weight, this.bias];
  }

  /** x [B, T, C] → y [B, T, C]. */
  forward(x: FloatArray, batch: number, length: number, ctx?: LayerContext): FloatArray {
    const C = this.channels;
    const K = this.kernel;
    const w = this.weight.data;
    const bias = this.bias.data;
    const y = take(ctx, w instanceof Float32Array ? 'float32' : 'float64', x.length);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < length; t++) {
        const yo = (b * length + t) * C;
        for (let c = 0; c < C; c++) y[yo + c] = bias[c]!;
        for (let j = Math.max(0, K - 1 - t); j < K; j++) {
          const xo = (b * length + t - (K - 1) + j) * C;
          for (let c = 0; c < C; c++) y[yo + c] = y[yo + c]! + w[c * K + j]! * x[xo + c]!;
        }
      }
    }
    return y;
  }

  /** dw, dbias accumulated; returns dx [B, T, C]. */
  backward(x: FloatArray, dy: FloatArray, batch: number, length: number, ctx?: LayerContext): FloatArray {
    const C = this.channels;
    const K = this.kernel;
    const w = this.weight.data;
    const gw = this.weight.grad;
    const gb = this.bias.grad;
    const dx = take(ctx, w instanceof Float32Array ? 'float32' : 'float64', x.length);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < length; t++) {
        const yo = (b * length + t) * C;
        for (let c = 0; c < C; c++) gb[c] = gb[c]! + dy[yo + c]!;
        for (let j = Math.max(0, K - 1 - t); j < K; j++) {
          const xo = (b * length + t - (K - 1) + j) * C;
          for (let c = 0; c < C; c++) {
            const g = dy[yo + c]!;
            gw[c * K + j] = gw[c * K + j]! + g * x[xo + c]!;
            dx[xo + c] = dx[xo + c]! + g * w[c * K + j]!;
          }
        }
      }
    }
    return dx;
  }
}

// ---- SwiGLU MLP --------------------------------------------------------------------------------

export interface SwiGLUCache {
  x: FloatArray;
  /** [rows, 2H]: gate pre-activations, then the linear ("up") half. */
  p: FloatArray;
  /** [rows, H] = silu(gate) ⊙ up */
  h: FloatArray;
}

/**
 * y = down(silu(x·Wgᵀ) ⊙ (x·Wuᵀ)), hidden H. The gate and up projections are one Linear `in`
 * [2H, d] (rows 0..H−1 gate, H..2H−1 up: one product instead of two); `out` is [d, H]. No biases.
 */
export class SwiGLU {
  readonly input: Linear;
  readonly output: Linear;
  constructor(readonly name: string, readonly width: number, readonly hidden: number, dtype: Dtype, rng: Rng) {
    this.input = new Linear(`${name}.in`, width, 2 * hidden, dtype, rng);
    this.output = new Linear(`${name}.out`, hidden, width, dtype, rng);
  }

  parameters(): LiveParameter[] {
    return [...this.input.parameters(), ...this.output.parameters()];
  }

  forward(x: FloatArray, rows: number, ctx: LayerContext): { y: FloatArray; cache: SwiGLUCache } {
    const H = this.hidden;
    const p = this.input.forward(x, rows, ctx);
    const h = take(ctx, p instanceof Float32Array ? 'float32' : 'float64', rows * H);
    for (let r = 0; r < rows; r++) {
      const po = r * 2 * H;
      for (let j = 0; j < H; j++) h[r * H + j] = silu(p[po + j]!) * p[po + H + j]!;
    }
    return { y: this.output.forward(h, rows, ctx), cache: { x, p, h } };
  }

  backward(dy: FloatArray, cache: SwiGLUCache, rows: number, ctx: LayerContext): FloatArray {
    const H = this.hidden;
    const { x, p, h } = cache;
    const dh = this.output.backward(h, dy, rows, ctx)!;
    const dp = take(ctx, p instanceof Float32Array ? 'float32' : 'float64', p.length);
    for (let r = 0; r < rows; r++) {
      const po = r * 2 * H;
      for (let j = 0; j < H; j++) {
        const g = dh[r * H + j]!;
        const a = p[po + j]!;
        dp[po + j] = g * p[po + H + j]! * siluGrad(a);
        dp[po + H + j] = g * silu(a);
      }
    }
    return this.input.backward(x, dp, rows, ctx)!;
  }
}
