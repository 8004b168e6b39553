/**
 * Whole models: gradients against float64 finite differences on tiny models, parallel (Newton) and
 * fused modes against sequential, native against js, and what lossAndGrad/evaluate/forward report.
 */
import { describe, expect, it } from 'vitest';
import type { Rng } from '@parascan/core';
import { assertClose, toleranceFor } from '@parascan/core/testing';
import { tryLoadNativeAddon } from '@parascan/native';
import { createModel, softmaxCrossEntropy, type Batch, type ModelConfig, type ParaRNNModel, type RunOptions } from '../src/index.js';
import { RUN_SEED, caseRng, checkFiniteDifferences, sampleIndices } from './helpers.js';

const nativeCells = (() => {
  const r = tryLoadNativeAddon('cpu');
  return !('error' in r) && typeof r.addon.cellNewton === 'function';
})();
if (!nativeCells) console.log('model tests: no native cells kernels here; backend cpu cases are skipped');

function tokenBatch(rng: Rng, B: number, T: number, vocab: number, masked: boolean): Batch {
  return {
    kind: 'tokens',
    batch: B,
    length: T,
    inputs: Int32Array.from({ length: B * T }, () => rng.int(0, vocab - 1)),
    targets: Int32Array.from({ length: B * T }, () => rng.int(0, vocab - 1)),
    ...(masked ? { mask: Uint8Array.from({ length: B * T }, (_, i) => (i % 3 === 1 ? 0 : 1)) } : {}),
  };
}

function seriesBatch(rng: Rng, B: number, T: number, F: number, O: number, masked: boolean): Batch {
  return {
    kind: 'series',
    batch: B,
    length: T,
    inputs: rng.normalArray('float64', B * T * F) as Float64Array,
    targets: rng.normalArray('float64', B * T * O) as Float64Array,
    ...(masked ? { mask: Uint8Array.from({ length: B * T }, (_, i) => (i % 4 === 2 ? 0 : 1)) } : {}),
  };
}

/** Parameters moved off their initial values so that no gradient term is trivially zero. */
function perturb(model: ParaRNNModel, rng: Rng, std: number): void {
  for (const p of model.parameters()) for (let i = 0; i < p.data.length; i++) p.data[i] = p.data[i]! + rng.normal(0, std);
}

function grads(model: ParaRNNModel): Float64Array[] {
  return model.parameters().map((p) => Float64Array.from(p.grad));
}

const LM: ModelConfig = { type: 'lm', cell: 'gru', layers: 2, width: 4, heads: 2, vocab: 5, convKernel: 3, mlpRatio: 1.5, dtype: 'float64' };
const REG: ModelConfig = { type: 'regressor', cell: 'lstm', layers: 2, width: 4, heads: 1, inputFeatures: 3, outputFeatures: 2, convKernel: 2, dtype: 'float64' };

describe('whole-model gradients == central finite differences (float64, tiny models)', () => {
  it.each([
    ['lm gru + mlp', LM],
    ['regressor lstm', REG],
    ['lm lstm', { ...LM, cell: 'lstm', mlpRatio: 0, layers: 1 } as ModelConfig],
    ['regressor gru + mlp', { ...REG, cell: 'gru', mlpRatio: 1 } as ModelConfig],
  ])('%s', (label, config) => {
    const rng = caseRng(`model fd ${label}`);
    const model = createModel({ ...config, seed: rng.int(0, 1e6) });
    perturb(model, rng, 0.2);
    const batch = config.type === 'lm' ? tokenBatch(rng, 2, 5, config.vocab!, true) : seriesBatch(rng, 2, 5, config.inputFeatures!, config.outputFeatures!, true);
    const run: RunOptions = { mode: 'sequential', backend: 'js' };
    model.lossAndGrad(batch, run);
    const analytic = grads(model);
    const loss = (): number => model.evaluate(batch, run).loss;
    model.parameters().forEach((p, i) => {
      checkFiniteDifferences(`${label} ${p.name}`, p.data, analytic[i]!, loss, sampleIndices(rng, p.data.length, 6));
    });
  });
});

describe('parallel (Newton), fused and auto modes give the sequential gradients', () => {
  const backends = nativeCells ? (['js', 'cpu'] as const) : (['js'] as const);
  it.each([
    ['lm gru', { ...LM, width: 8, heads: 2 }],
    ['lm lstm', { ...LM, cell: 'lstm', width: 8, heads: 4 }],
    ['regressor gru', { ...REG, cell: 'gru', width: 6, heads: 3 }],
    ['regressor lstm', { ...REG, width: 6, heads: 2, mlpRatio: 2 }],
  ] as Array<[string, ModelConfig]>)('%s', (label, config) => {
    const rng = caseRng(`modes ${label}`);
    const model = createModel({ ...config, seed: rng.int(0, 1e6) });
    const T = 37;
    const batch = config.type === 'lm' ? tokenBatch(rng, 2, T, config.vocab!, true) : seriesBatch(rng, 2, T, config.inputFeatures!, config.outputFeatures!, false);
    const ref = model.lossAndGrad(batch, { mode: 'sequential', backend: 'js' });
    const refGrads = grads(model);
    for (const backend of backends) {
      for (const mode of backend === 'cpu' ? (['sequential', 'parallel', 'fused', 'auto'] as const) : (['parallel', 'auto'] as const)) {
        const r = model.lossAndGrad(batch, { mode, backend });
        // Global Newton iterates; fused may run the plain loop (its multiple-shooting schedule with one chunk).
        if (mode === 'parallel') expect(r.newtonIterations).toBeGreaterThan(0);
        // Newton stops at a residual of 4 eps; everything after it is the same float64 arithmetic
        // in another order, accumulated over T steps and two layers.
        const tol = toleranceFor('float64', T, 64);
        assertClose([r.loss], [ref.loss], tol, { label: `${label} loss ${backend} ${mode}`, seed: RUN_SEED });
        model.parameters().forEach((p, i) => {
          assertClose(p.grad, refGrads[i]!, tol, { label: `${label} ${p.name} ${backend} ${mode}`, seed: RUN_SEED });
        });
      }
    }
  });
});

describe('training signal', () => {
  it.each(['lm', 'regressor'] as const)('%s: plain gradient descent on one batch lowers the loss', (type) => {
    const rng = caseRng(`sgd ${type}`);
    const config: ModelConfig = type === 'lm' ? { ...LM, width: 8, dtype: 'float32' } : { ...REG, width: 8, dtype: 'float32' };
    const model = createModel(config);
    const batch = type === 'lm' ? tokenBatch(rng, 2, 12, config.vocab!, false) : seriesBatch(rng, 2, 12, 3, 2, false);
    const first = model.lossAndGrad(batch, { backend: 'js' }).loss;
    let last = first;
    for (let step = 0; step < 60; step++) {
      for (const p of model.parameters()) for (let i = 0; i < p.data.length; i++) p.data[i] = p.data[i]! - 0.3 * p.grad[i]!;
      last = model.lossAndGrad(batch, { backend: 'js' }).loss;
    }
    // The direction of -grad must reduce a smooth loss; 60 small steps reduce it clearly.
    expect(last).toBeLessThan(0.8 * first);
  });
});

describe('reports', () => {
  it('lossAndGrad, evaluate and forward agree; counts, accuracy; seeds reproduce', () => {
    const rng = caseRng('reports');
    const config: ModelConfig = { ...LM, width: 8, vocab: 7, dtype: 'float32', seed: 5 };
    const model = createModel(config);
    const batch = tokenBatch(rng, 3, 6, 7, true) as Extract<Batch, { kind: 'tokens' }>;
    const e = model.evaluate(batch, { backend: 'js' });
    const g = model.lossAndGrad(batch, { backend: 'js' });
    expect(g.loss).toBe(e.loss);
    expect(e.count).toBe(batch.mask!.reduce((s, v) => s + v, 0));
    const logits = model.forward(batch.inputs, { batch: 3, backend: 'js' });
    expect(logits.length).toBe(3 * 6 * 7);
    const ce = softmaxCrossEntropy(logits, batch.targets, 7, batch.mask!, false);
    expect(e.loss).toBe(ce.loss);
    expect(e.correct).toBe(ce.correct);
    // Same config, same parameters; another seed, others.
    const twin = createModel(config);
    expect(Array.from(twin.parameters()[3]!.data)).toEqual(Array.from(model.parameters()[3]!.data));
    const other = createModel({ ...config, seed: 6 });
    expect(Array.from(other.parameters()[3]!.data)).not.toEqual(Array.from(model.parameters()[3]!.data));
    // The config round-trips through JSON with its defaults filled in.
    expect(JSON.parse(JSON.stringify(model.config))).toEqual({ ...config, heads: 2, convKernel: 3, mlpRatio: 1.5 });
    expect(model.parameters().every((p) => p.data.length === p.shape.reduce((a, b) => a * b, 1) && p.grad.length === p.data.length)).toBe(true);
  });

  it('lossAndGradAsync / evaluateAsync give the sync results and let the event loop run between layers', async () => {
    const rng = caseRng('async');
    const model = createModel({ ...LM, layers: 3, dtype: 'float64' });
    const batch = tokenBatch(rng, 2, 9, LM.vocab!, false);
    const sync = model.lossAndGrad(batch, { backend: 'js' });
    const syncGrads = grads(model);
    let ticks = 0;
    const tick = (): void => {
      ticks++;
      if (ticks < 1000) timer = setImmediate(tick);
    };
    let timer = setImmediate(tick);
    const r = await model.lossAndGradAsync(batch, { backend: 'js' });
    clearImmediate(timer);
    // 3 blocks forward + 3 backward: the event loop got at least that many turns.
    expect(ticks).toBeGreaterThanOrEqual(6);
    expect(r).toEqual(sync);
    model.parameters().forEach((p, i) => expect(Array.from(p.grad)).toEqual(Array.from(syncGrads[i]!)));
    expect(await model.evaluateAsync(batch, { backend: 'js' })).toEqual(model.evaluate(batch, { backend: 'js' }));
    await expect(model.evaluateAsync({ ...batch, length: 0 } as Batch)).rejects.toThrow(/LanguageModel\.evaluateAsync: argument `batch.length` must be a positive integer/);
    // Inference too: forwardAsync == forward, a turn per layer, errors as rejections.
    ticks = 0;
    timer = setImmediate(tick);
    const logits = await model.forwardAsync(batch.inputs, { batch: 2, backend: 'js' });
    clearImmediate(timer);
    expect(ticks).toBeGreaterThanOrEqual(3);
    expect(logits).toEqual(model.forward(batch.inputs, { batch: 2, backend: 'js' }));
    await expect(model.forwardAsync(new Int32Array(3), { batch: 2 })).rejects.toThrow(/LanguageModel\.forwardAsync: argument `inputs` must be an Int32Array \[B=2, T\]/);
  });

  it('reused work arrays: steps on other batches and shapes in between change nothing; one step at a time', async () => {
    const rng = caseRng('arena');
    const model = createModel({ ...LM, dtype: 'float64' });
    const a = tokenBatch(rng, 2, 7, LM.vocab!, true);
    const b = tokenBatch(rng, 3, 4, LM.vocab!, false);
    const c = tokenBatch(rng, 2, 7, LM.vocab!, false);
    const first = model.lossAndGrad(a, { backend: 'js' });
    const firstGrads = grads(model);
    model.lossAndGrad(b, { backend: 'js' });
    model.evaluate(c, { backend: 'js' });
    model.lossAndGrad(c, { backend: 'js' });
    expect(model.lossAndGrad(a, { backend: 'js' })).toEqual(first);
    model.parameters().forEach((p, i) => expect(Array.from(p.grad)).toEqual(Array.from(firstGrads[i]!)));
    // While an async step is in flight, another step is refused (they would share arrays).
    const pending = model.lossAndGradAsync(a, { backend: 'js' });
    expect(() => model.evaluate(b, { backend: 'js' })).toThrow(/LanguageModel\.evaluate: LanguageModel\.lossAndGradAsync of this model is still running; await it/);
    await expect(model.evaluateAsync(b, { backend: 'js' })).rejects.toThrow(/still running/);
    await expect(model.forwardAsync(b.inputs, { batch: 3, backend: 'js' })).rejects.toThrow(/LanguageModel\.forwardAsync: LanguageModel\.lossAndGradAsync of this model is still running/);
    expect(await pending).toEqual(first);
    const inference = model.forwardAsync(c.inputs, { batch: 2, backend: 'js' });
    expect(() => model.lossAndGrad(a, { backend: 'js' })).toThrow(/LanguageModel\.lossAndGrad: LanguageModel\.forwardAsync of this model is still running/);
    await inference;
    // And after it settled (or failed), steps run again.
    await expect(model.lossAndGradAsync({ ...a, length: 3 } as Batch)).rejects.toThrow(/LanguageModel\.lossAndGradAsync: argument `batch\./);
    expect(model.evaluate(a, { backend: 'js' }).loss).toBe(first.loss);
  });

  it('series: MSE counts scored values, absError/sqError sums', () => {
    const rng = caseRng('reports series');
    const model = createModel({ ...REG, dtype: 'float32' });
    const batch = seriesBatch(rng, 2, 4, 3, 2, true) as Extract<Batch, { kind: 'series' }>;
    const r = model.evaluate(batch, { backend: 'js' });
    const scoredRows = batch.mask!.reduce((s, v) => s + v, 0);
    expect(r.count).toBe(scoredRows * 2);
    const out = model.forward(batch.inputs, { batch: 2, backend: 'js' });
    let sq = 0;
    for (let i = 0; i < 8; i++) if (batch.mask![i]) for (let j = 0; j < 2; j++) sq += (out[i * 2 + j]! - batch.targets[i * 2 + j]!) ** 2;
    expect(r.sqError).toBeCloseTo(sq, 4);
    expect(r.loss).toBeCloseTo(sq / r.count, 5);
  });

  it.runIf(nativeCells)('float32: the native backend (OpenBLAS + cell kernels) agrees with the js backend', () => {
    const rng = caseRng('f32 native');
    const model = createModel({ ...LM, width: 16, heads: 4, vocab: 11, dtype: 'float32' });
    const batch = tokenBatch(rng, 2, 33, 11, false);
    const js = model.lossAndGrad(batch, { backend: 'js' });
    const jsGrads = grads(model);
    const cpu = model.lossAndGrad(batch, { backend: 'cpu' });
    // float32 rounding in another order through two layers and Newton (tolerance 4 eps), per step.
    const tol = toleranceFor('float32', 33, 64);
    assertClose([cpu.loss], [js.loss], tol, { label: 'loss', seed: RUN_SEED });
    model.parameters().forEach((p, i) => assertClose(p.grad, jsGrads[i]!, { atol: tol.atol * 10, rtol: tol.rtol }, { label: p.name, seed: RUN_SEED }));
  });
});
