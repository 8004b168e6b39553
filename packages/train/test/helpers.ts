/**
 * Tiny TrainableModels for the trainer's tests (independent of @parascan/nn): a bigram language model
 * (logits = W[x_t] + b) and a linear next-step regressor (y_t = W x_t + b). Both compute in float64
 * and store in their dtype, like the real models.
 */
import { Rng, allocate, type Dtype, type FloatArray } from '@parascan/core';
import type { Batch, ModelConfig, Parameter, RunOptions, StepResult, TrainableModel } from '../src/contract.js';

function param(name: string, shape: number[], dtype: Dtype, decay: boolean, init: (i: number) => number): Parameter {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = init(i);
  return { name, shape, data, grad: allocate(dtype, n), decay };
}

export class BigramModel implements TrainableModel {
  readonly config: ModelConfig;
  private readonly params: Parameter[];
  /** Calls of lossAndGrad/evaluate with their run options (to check what fit passes). */
  readonly calls: (RunOptions | undefined)[] = [];
  /** Test hook: return a NaN loss at this call index of lossAndGrad. */
  nanAtCall = -1;
  private gradCalls = 0;

  constructor(readonly vocab: number, readonly dtype: Dtype = 'float32', seed = 1) {
    this.config = { type: 'lm', cell: 'gru', layers: 0, width: vocab, heads: 1, vocab, dtype, seed };
    const rng = new Rng(seed);
    this.params = [
      param('logits.weight', [vocab, vocab], dtype, true, () => rng.normal(0, 0.1)),
      param('logits.bias', [vocab], dtype, false, () => 0),
    ];
  }

  parameters(): Parameter[] {
    return this.params;
  }

  private run(batch: Batch, grad: boolean): StepResult {
    if (batch.kind !== 'tokens') throw new Error('BigramModel takes tokens');
    const V = this.vocab;
    const [W, b] = this.params as [Parameter, Parameter];
    if (grad) {
      W.grad.fill(0);
      b.grad.fill(0);
    }
    const n = batch.batch * batch.length;
    let count = 0;
    for (let i = 0; i < n; i++) if (!batch.mask || batch.mask[i]) count++;
    let loss = 0;
    let correct = 0;
    const logits = new Float64Array(V);
    for (let i = 0; i < n; i++) {
      if (batch.mask && !batch.mask[i]) continue;
      const x = batch.inputs[i]!;
      const y = batch.targets[i]!;
      let max = -Infinity;
      let arg = 0;
      for (let v = 0; v < V; v++) {
        logits[v] = W.data[x * V + v]! + b.data[v]!;
        if (logits[v]! > max) {
          max = logits[v]!;
          arg = v;
        }
      }
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[v]! - max);
      loss += Math.log(z) + max - logits[y]!;
      if (arg === y) correct++;
      if (grad) {
        for (let v = 0; v < V; v++) {
          const g = (Math.exp(logits[v]! - max) / z - (v === y ? 1 : 0)) / count;
          W.grad[x * V + v] = W.grad[x * V + v]! + g;
          b.grad[v] = b.grad[v]! + g;
        }
      }
    }
    return { loss: loss / count, count, correct, newtonIterations: 0 };
  }

  lossAndGrad(batch: Batch, options?: RunOptions): StepResult {
    this.calls.push(options);
    const r = this.run(batch, true);
    if (this.gradCalls++ === this.nanAtCall) return { ...r, loss: NaN };
    return r;
  }

  evaluate(batch: Batch, options?: RunOptions): StepResult {
    this.calls.push(options);
    return this.run(batch, false);
  }
}

export class LinearRegressor implements TrainableModel {
  readonly config: ModelConfig;
  private readonly params: Parameter[];

  constructor(readonly inputFeatures: number, readonly outputFeatures: number, readonly dtype: Dtype = 'float32', seed = 1) {
    this.config = { type: 'regressor', cell: 'gru', layers: 0, width: 1, heads: 1, inputFeatures, outputFeatures, dtype, seed };
    const rng = new Rng(seed);
    this.params = [
      param('head.weight', [outputFeatures, inputFeatures], dtype, true, () => rng.normal(0, 0.1)),
      param('head.bias', [outputFeatures], dtype, false, () => 0),
    ];
  }

  parameters(): Parameter[] {
    return this.params;
  }

  private run(batch: Batch, grad: boolean): StepResult {
    if (batch.kind !== 'series') throw new Error('LinearRegressor takes series');
    const F = this.inputFeatures;
    const O = this.outputFeatures;
    const [W, b] = this.params as [Parameter, Parameter];
    if (grad) {
      W.grad.fill(0);
      b.grad.fill(0);
    }
    const points = batch.batch * batch.length;
    const count = points * O;
    let sq = 0;
    let abs = 0;
    for (let i = 0; i < points; i++) {
      for (let o = 0; o < O; o++) {
        let y = b.data[o]!;
        for (let f = 0; f < F; f++) y += W.data[o * F + f]! * batch.inputs[i * F + f]!;
        const e = y - batch.targets[i * O + o]!;
        sq += e * e;
        abs += Math.abs(e);
        if (grad) {
          const g = (2 * e) / count;
          b.grad[o] = b.grad[o]! + g;
          for (let f = 0; f < F; f++) W.grad[o * F + f] = W.grad[o * F + f]! + g * batch.inputs[i * F + f]!;
        }
      }
    }
    return { loss: sq / count, count, absError: abs, sqError: sq, newtonIterations: 0 };
  }

  lossAndGrad(batch: Batch): StepResult {
    return this.run(batch, true);
  }

  evaluate(batch: Batch): StepResult {
    return this.run(batch, false);
  }
}

/** Bytes of every parameter, concatenated (for bit-exact comparisons). */
export function parameterBytes(model: TrainableModel): Uint8Array {
  const parts = model.parameters().map((p) => new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

export type { FloatArray };
