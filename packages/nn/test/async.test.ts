/**
 * lossAndGradAsync / evaluateAsync await the cells' forwardAsync/backwardAsync: the same numbers as
 * the sync calls, bit for bit, for every mode and backend; and the event loop turns while a cell's
 * native solve is in flight (not only between layers).
 */
import { describe, expect, it } from 'vitest';
import type { Rng } from '@parascan/core';
import { tryLoadNativeAddon } from '@parascan/native';
import { createModel, type Batch, type ModelConfig, type ParaRNNModel, type RunOptions } from '../src/index.js';
import { caseRng } from './helpers.js';

const nativeCells = (() => {
  const r = tryLoadNativeAddon('cpu');
  return !('error' in r) && typeof r.addon.cellNewtonAsync === 'function';
})();
if (!nativeCells) console.log('async tests: no native cells kernels here; backend cpu cases are skipped');

function tokens(rng: Rng, B: number, T: number, vocab: number): Batch {
  const ids = (): Int32Array => Int32Array.from({ length: B * T }, () => rng.int(0, vocab - 1));
  return { kind: 'tokens', batch: B, length: T, inputs: ids(), targets: ids(), mask: Uint8Array.from({ length: B * T }, (_, i) => (i % 3 === 1 ? 0 : 1)) };
}

function series(rng: Rng, B: number, T: number, F: number, O: number): Batch {
  return { kind: 'series', batch: B, length: T, inputs: rng.normalArray('float64', B * T * F) as Float64Array, targets: rng.normalArray('float64', B * T * O) as Float64Array };
}

function grads(model: ParaRNNModel): Float64Array[] {
  return model.parameters().map((p) => Float64Array.from(p.grad));
}

const RUNS: RunOptions[] = [
  { backend: 'js', mode: 'sequential' },
  { backend: 'js', mode: 'parallel' },
  ...(nativeCells
    ? ([
        { backend: 'cpu', mode: 'sequential' },
        { backend: 'cpu', mode: 'parallel' },
        { backend: 'cpu', mode: 'picard' },
        { backend: 'cpu', mode: 'fused' },
        { backend: 'cpu', mode: 'auto' },
      ] as RunOptions[])
    : []),
];

describe('async steps == sync steps, bit for bit', () => {
  const configs: Array<[string, ModelConfig, (rng: Rng) => Batch]> = [
    ['lm gru + mlp', { type: 'lm', cell: 'gru', layers: 2, width: 8, heads: 2, vocab: 7, convKernel: 3, mlpRatio: 1.5 }, (rng) => tokens(rng, 2, 13, 7)],
    ['regressor lstm', { type: 'regressor', cell: 'lstm', layers: 2, width: 8, heads: 1, inputFeatures: 3, outputFeatures: 2, convKernel: 2 }, (rng) => series(rng, 2, 11, 3, 2)],
  ];
  for (const [name, config, makeBatch] of configs) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${name} ${dtype}: lossAndGradAsync and evaluateAsync, every mode and backend`, async () => {
        const rng = caseRng(`async ${name} ${dtype}`);
        const model = createModel({ ...config, dtype, seed: rng.int(0, 1000) });
        const batch = makeBatch(rng);
        for (const run of RUNS) {
          const label = `${name} ${dtype} ${run.backend}/${run.mode}`;
          const sync = model.lossAndGrad(batch, run);
          const syncGrads = grads(model);
          const r = await model.lossAndGradAsync(batch, run);
          expect(r, label).toEqual(sync);
          const asyncGrads = grads(model);
          asyncGrads.forEach((g, i) => expect(g, `${label} grad of ${model.parameters()[i]!.name}`).toEqual(syncGrads[i]));
          expect(await model.evaluateAsync(batch, run), label).toEqual(model.evaluate(batch, run));
          const B = batch.batch;
          expect(await model.forwardAsync(batch.inputs, { ...run, batch: B }), `${label} forwardAsync`).toEqual(model.forward(batch.inputs, { ...run, batch: B }));
        }
      });
    }
  }

  it('a failing cell solve rejects, and the model takes the next step (the step guard is released)', async () => {
    const rng = caseRng('async failure');
    const model = createModel({ type: 'lm', cell: 'gru', layers: 1, width: 4, heads: 1, vocab: 5, dtype: 'float64' });
    const batch = tokens(rng, 1, 5, 5);
    const cell = model.blocks[0]!.cell;
    const original = cell.forwardAsync;
    cell.forwardAsync = () => Promise.reject(new Error('cell solve failed'));
    try {
      await expect(model.lossAndGradAsync(batch, { backend: 'js' })).rejects.toThrow('cell solve failed');
    } finally {
      cell.forwardAsync = original;
    }
    expect(await model.evaluateAsync(batch, { backend: 'js' })).toEqual(model.evaluate(batch, { backend: 'js' }));
  });
});

describe.skipIf(!nativeCells)('the event loop turns during the cells\' native solves', () => {
  it('lossAndGradAsync, backend cpu, mode sequential: a 1 ms interval fires while forwardAsync and backwardAsync are in flight', async () => {
    const rng = caseRng('async event loop');
    // One layer, d = 64, T = 16384: each cell solve takes tens of milliseconds.
    const model = createModel({ type: 'lm', cell: 'gru', layers: 1, width: 64, heads: 1, vocab: 8, dtype: 'float32' });
    const batch = tokens(rng, 1, 16384, 8);
    const cell = model.blocks[0]!.cell;
    let inFlight = 0;
    let ticksInFlight = 0;
    let calls = 0;
    const forwardAsync = cell.forwardAsync.bind(cell);
    const backwardAsync = cell.backwardAsync.bind(cell);
    const track = <R>(p: Promise<R>): Promise<R> => {
      calls++;
      inFlight++;
      return p.finally(() => inFlight--);
    };
    cell.forwardAsync = (...a) => track(forwardAsync(...a));
    cell.backwardAsync = (...a) => track(backwardAsync(...a));
    const timer = setInterval(() => {
      if (inFlight > 0) ticksInFlight++;
    }, 1);
    try {
      await model.lossAndGradAsync(batch, { backend: 'cpu', mode: 'sequential' });
    } finally {
      clearInterval(timer);
    }
    expect(calls).toBe(2);
    expect(ticksInFlight).toBeGreaterThanOrEqual(2);
  });
});
