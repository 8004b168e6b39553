/**
 * Every layer's backward (input and parameter gradients) against float64 central finite
 * differences of L = Σ y ⊙ R for a fixed random R, on small awkward shapes; the losses likewise.
 * Matrix products run on OpenBLAS when the addon has it (and on the js loop too for Linear).
 */
import { describe, expect, it } from 'vitest';
import type { FloatArray } from '@parascan/core';
import {
  CausalConv,
  Embedding,
  Linear,
  ParaRNNBlock,
  RMSNorm,
  SwiGLU,
  defaultGemmBackend,
  meanSquaredError,
  siluBackward,
  siluForward,
  softmaxCrossEntropy,
  type LayerContext,
  type LiveParameter,
} from '../src/index.js';
import { caseRng, checkFiniteDifferences, dot, sampleIndices } from './helpers.js';

const CTX: LayerContext = { gemm: defaultGemmBackend() };

/** Checks the input gradient and every parameter's gradient of L = Σ forward(x) ⊙ R. */
function checkLayer(label: string, params: LiveParameter[], x: FloatArray, forward: () => FloatArray, backward: (R: FloatArray) => FloatArray | null, seedLabel = label): void {
  const rng = caseRng(seedLabel);
  const y0 = forward();
  const R = rng.normalArray('float64', y0.length);
  for (const p of params) p.grad.fill(0);
  const dx = backward(R);
  const loss = (): number => dot(forward(), R);
  if (dx) checkFiniteDifferences(`${label} dx`, x, dx, loss, sampleIndices(rng, x.length, 40));
  for (const p of params) {
    // Parameters start at non-trivial values (norm weights at 1, biases at 0 otherwise).
    checkFiniteDifferences(`${label} d${p.name}`, p.data, p.grad.slice(), loss, sampleIndices(rng, p.data.length, 40));
  }
}

function randomize(params: LiveParameter[], label: string, std = 0.7): void {
  const rng = caseRng(`${label} params`);
  for (const p of params) for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal(0, std);
}

describe('layer gradients == central finite differences (float64)', () => {
  it.each([
    [1, 1, 1, true],
    [7, 5, 3, true],
    [4, 3, 9, false],
  ] as const)('Linear rows=%i in=%i out=%i bias=%s, on both gemm backends', (rows, inF, outF, bias) => {
    for (const gemm of ['js', CTX.gemm] as const) {
      const label = `Linear ${rows} ${inF} ${outF} ${bias} ${gemm}`;
      const rng = caseRng(label);
      const layer = new Linear('lin', inF, outF, 'float64', rng, { bias });
      randomize(layer.parameters(), label);
      const x = rng.normalArray('float64', rows * inF);
      checkLayer(label, layer.parameters(), x, () => layer.forward(x, rows, { gemm }), (R) => layer.backward(x, R, rows, { gemm }));
    }
  });

  it('Embedding (repeated ids add up)', () => {
    const rng = caseRng('Embedding');
    const emb = new Embedding('emb', 5, 3, 'float64', rng);
    const ids = Int32Array.from([4, 0, 4, 2, 4, 1]);
    checkLayer('Embedding', emb.parameters(), new Float64Array(0), () => emb.forward(ids), (R) => {
      emb.backward(ids, R);
      return null;
    });
  });

  it.each([
    [1, 1],
    [5, 7],
  ])('RMSNorm plain and gated, rows=%i d=%i', (rows, d) => {
    for (const gated of [false, true]) {
      const label = `RMSNorm ${rows} ${d} ${gated}`;
      const rng = caseRng(label);
      const norm = new RMSNorm('norm', d, 'float64');
      randomize(norm.parameters(), label);
      const x = rng.normalArray('float64', rows * d);
      const g = rng.normalArray('float64', rows * d, 0, 1.5);
      let dgate: FloatArray | null = null;
      checkLayer(label, norm.parameters(), x, () => norm.forward(x, rows, gated ? g : null).y, (R) => {
        const r = norm.backward(R, norm.forward(x, rows, gated ? g : null).cache, rows);
        dgate = r.dgate;
        return r.dx;
      });
      if (gated) {
        const R = caseRng(label).normalArray('float64', rows * d);
        const r = norm.backward(R, norm.forward(x, rows, g).cache, rows);
        checkFiniteDifferences(`${label} dgate`, g, r.dgate!, () => dot(norm.forward(x, rows, g).y, R));
        expect(dgate).not.toBeNull();
      }
    }
  });

  it.each([
    [1, 1, 3, 4],
    [2, 5, 3, 1],
    [3, 2, 5, 3],
    [1, 9, 2, 2],
  ])('CausalConv B=%i T=%i C=%i k=%i (T < k included)', (B, T, C, k) => {
    const label = `CausalConv ${B} ${T} ${C} ${k}`;
    const rng = caseRng(label);
    const conv = new CausalConv('conv', C, k, 'float64', rng);
    randomize(conv.parameters(), label);
    const x = rng.normalArray('float64', B * T * C);
    checkLayer(label, conv.parameters(), x, () => conv.forward(x, B, T), (R) => conv.backward(x, R, B, T));
  });

  it('CausalConv is causal: y[t] does not depend on x[t+1..]', () => {
    const rng = caseRng('conv causal');
    const conv = new CausalConv('conv', 2, 3, 'float64', rng);
    const x = rng.normalArray('float64', 6 * 2);
    const y = conv.forward(x, 1, 6);
    const x2 = x.slice();
    for (let i = 4 * 2; i < x2.length; i++) x2[i] = 100;
    const y2 = conv.forward(x2, 1, 6);
    expect(Array.from(y2.subarray(0, 8))).toEqual(Array.from(y.subarray(0, 8)));
    expect(y2[8]).not.toBe(y[8]);
  });

  it('SiLU', () => {
    const rng = caseRng('silu');
    const x = rng.normalArray('float64', 17, 0, 3);
    checkLayer('silu', [], x, () => siluForward(x), (R) => siluBackward(x, R));
    // With σ(x) kept from the forward.
    const sig = new Float64Array(x.length);
    siluForward(x, undefined, sig);
    checkLayer('silu (kept sigmoid)', [], x, () => siluForward(x), (R) => siluBackward(x, R, undefined, sig.slice()));
  });

  it.each([
    [1, 3, 2],
    [6, 5, 7],
  ])('SwiGLU rows=%i d=%i hidden=%i', (rows, d, hidden) => {
    const label = `SwiGLU ${rows} ${d} ${hidden}`;
    const rng = caseRng(label);
    const mlp = new SwiGLU('mlp', d, hidden, 'float64', rng);
    randomize(mlp.parameters(), label);
    const x = rng.normalArray('float64', rows * d);
    checkLayer(label, mlp.parameters(), x, () => mlp.forward(x, rows, CTX).y, (R) => mlp.backward(R, mlp.forward(x, rows, CTX).cache, rows, CTX));
  });

  it.each([
    ['gru', 0, 2, 3, 4, 2, 3],
    ['lstm', 0, 1, 5, 6, 3, 2],
    ['gru', 2, 2, 1, 4, 1, 4],
    ['lstm', 1.5, 1, 4, 4, 2, 1],
  ] as const)('ParaRNNBlock cell=%s mlpRatio=%s B=%i T=%i d=%i heads=%i k=%i', (cell, mlpRatio, B, T, d, heads, k) => {
    const label = `block ${cell} ${mlpRatio} ${B} ${T} ${d}`;
    const rng = caseRng(label);
    const block = new ParaRNNBlock('layers.0', { cell, width: d, heads, convKernel: k, mlpHidden: Math.round(mlpRatio * d), alpha: 0.6, dtype: 'float64' }, rng);
    randomize(block.parameters(), label, 0.5);
    const x = rng.normalArray('float64', B * T * d);
    const run = { ...CTX, mode: 'sequential' as const, cellBackend: 'js' as const };
    checkLayer(label, block.parameters(), x, () => block.forward(x, B, T, run).y, (R) => block.backward(R, block.forward(x, B, T, run).cache, B, T, run));
  });
});

describe('losses', () => {
  it('softmax cross-entropy: value, gradient == finite differences, masking, stability', () => {
    const rng = caseRng('ce');
    const rows = 6;
    const V = 5;
    const logits = rng.normalArray('float64', rows * V, 0, 2);
    const targets = Int32Array.from({ length: rows }, () => rng.int(0, V - 1));
    const mask = Uint8Array.from([1, 0, 1, 1, 0, 1]);
    const r = softmaxCrossEntropy(logits, targets, V, mask);
    expect(r.count).toBe(4);
    // The value from the definition, row by row.
    let ref = 0;
    let correct = 0;
    for (let i = 0; i < rows; i++) {
      if (!mask[i]) continue;
      const row = Array.from(logits.subarray(i * V, (i + 1) * V));
      ref += -Math.log(Math.exp(row[targets[i]!]!) / row.reduce((s, z) => s + Math.exp(z), 0));
      if (row.indexOf(Math.max(...row)) === targets[i]) correct++;
    }
    expect(r.loss).toBeCloseTo(ref / 4, 12);
    expect(r.correct).toBe(correct);
    checkFiniteDifferences('cross-entropy dlogits', logits, r.dlogits!, () => softmaxCrossEntropy(logits, targets, V, mask, false).loss);
    // Masked rows get no gradient.
    for (let v = 0; v < V; v++) expect(r.dlogits![1 * V + v]).toBe(0);
    // Huge logits: no overflow (the maximum is subtracted first).
    const big = Float64Array.from([1000, 0, -1000]);
    const rb = softmaxCrossEntropy(big, Int32Array.from([1]), 3);
    expect(rb.loss).toBeCloseTo(1000, 9);
    expect(Number.isFinite(rb.dlogits![0]!)).toBe(true);
    // Nothing scored: zero loss, zero gradient.
    const none = softmaxCrossEntropy(logits, targets, V, new Uint8Array(rows));
    expect(none.loss).toBe(0);
    expect(none.count).toBe(0);
    expect(none.dlogits!.every((v) => v === 0)).toBe(true);
  });

  it('mean squared error: value, gradient == finite differences, masking', () => {
    const rng = caseRng('mse');
    const rows = 5;
    const O = 3;
    const pred = rng.normalArray('float64', rows * O);
    const target = rng.normalArray('float64', rows * O);
    const mask = Uint8Array.from([1, 1, 0, 1, 0]);
    const r = meanSquaredError(pred, target, O, mask);
    let sq = 0;
    let abs = 0;
    for (const i of [0, 1, 3]) for (let j = 0; j < O; j++) {
      const e = pred[i * O + j]! - target[i * O + j]!;
      sq += e * e;
      abs += Math.abs(e);
    }
    expect(r.count).toBe(9);
    expect(r.loss).toBeCloseTo(sq / 9, 13);
    expect(r.sqError).toBeCloseTo(sq, 13);
    expect(r.absError).toBeCloseTo(abs, 13);
    checkFiniteDifferences('mse dpred', pred, r.dpred!, () => meanSquaredError(pred, target, O, mask, false).loss);
  });
});

describe('the finite-difference check can fail', () => {
  it('rejects a gradient with one wrong term', () => {
    const rng = caseRng('fd mutant');
    const layer = new Linear('lin', 3, 2, 'float64', rng, { bias: true });
    const x = rng.normalArray('float64', 4 * 3);
    const R = rng.normalArray('float64', 4 * 2);
    layer.weight.grad.fill(0);
    layer.backward(x, R, 4, CTX);
    const wrong = layer.weight.grad.slice();
    wrong[3] = wrong[3]! * 1.001;
    expect(() => checkFiniteDifferences('mutant', layer.weight.data, wrong, () => dot(layer.forward(x, 4, CTX), R))).toThrow(/mutant/);
  });
});
