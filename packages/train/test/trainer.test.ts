import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ParascanError } from '@parascan/core';
import { createDataset, evaluate, fit, loadCheckpoint, type FitOptions, type ProgressEvent } from '../src/index.js';
import { BigramModel, LinearRegressor, parameterBytes } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'parascan-fit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = createDataset({ kind: 'text', maxFiles: 10, length: 32 });

describe('fit with a bigram model (no @parascan/nn)', () => {
  it('lowers the loss below the unigram entropy; history, validations and metrics are consistent', async () => {
    const model = new BigramModel(256, 'float32', 3);
    const events: ProgressEvent[] = [];
    const result = await fit(model, text, { steps: 60, batchSize: 16, lr: 0.05, validEvery: 20, validBatches: 4, onProgress: (e) => events.push(e) });
    expect(result.status).toBe('completed');
    expect(result.step).toBe(60);
    expect(result.history.map((h) => h.step)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(result.validations.map((v) => v.step)).toEqual([20, 40, 60]);
    expect(result.finalValid).toBe(result.validations[2]!.metrics);
    expect(result.finalValid.perplexity).toBeCloseTo(Math.exp(result.finalValid.loss), 12);
    expect(result.finalValid.count).toBe(4 * 16 * 32);
    expect(result.finalValid.loss).toBeLessThan(text.info.unigramEntropy as number);
    expect(events.filter((e) => e.type === 'step')).toHaveLength(60);
    expect(events.at(-1)!.type).toBe('done');
    // warm-up then cosine: lr rises over the first 6 steps, ends at lr/10
    expect(result.history[0]!.lr).toBeCloseTo(0.05 / 6, 12);
    expect(result.history[5]!.lr).toBeCloseTo(0.05, 12);
    expect(result.history[59]!.lr).toBeCloseTo(0.005 + 0.045 * 0.5 * (1 + Math.cos(Math.PI * (53 / 54))), 12);
    // evaluate() agrees with the trainer's validation on the same batches
    const again = await evaluate(model, text, 'valid', { batchSize: 16, maxBatches: 4 });
    expect(again.loss).toBe(result.finalValid.loss);
    await expect(evaluate(model, text, 'test' as never)).rejects.toThrow(/evaluate: argument `split` must be 'train' or 'valid'/);
    const onTrain = await evaluate(model, text, 'train', { batchSize: 16, maxBatches: 2 });
    expect(onTrain.count).toBe(2 * 16 * 32);
  });

  it('passes RunOptions through to the model', async () => {
    const model = new BigramModel(256);
    await fit(model, text, { steps: 2, batchSize: 4, validBatches: 1, run: { mode: 'sequential', backend: 'js' } });
    expect(model.calls.every((c) => c?.mode === 'sequential' && c.backend === 'js')).toBe(true);
  });

  it('early stopping: patience counts validations without improvement', async () => {
    const model = new BigramModel(256);
    // lr 0 after warm-up... use a tiny lr so the validation loss barely moves, and minDelta to call that "no improvement"
    const r = await fit(model, text, { steps: 100, batchSize: 4, lr: 1e-6, validEvery: 5, validBatches: 2, patience: 2, minDelta: 1 });
    expect(r.status).toBe('early-stopped');
    expect(r.step).toBe(15); // best at 5, no improvement at 10 and 15
    expect(r.bestStep).toBe(5);
  });

  it('AbortSignal: finishes the step, saves a checkpoint, returns interrupted', async () => {
    const model = new BigramModel(256);
    const controller = new AbortController();
    const path = join(dir, 'abort.safetensors');
    const r = await fit(model, text, {
      steps: 50, batchSize: 4, validBatches: 1, checkpointPath: path, signal: controller.signal,
      onProgress: (e) => { if (e.type === 'step' && e.step === 7) controller.abort(); },
    });
    expect(r.status).toBe('interrupted');
    expect(r.step).toBe(7);
    expect(r.checkpointPath).toBe(path);
    const ck = await loadCheckpoint(path);
    expect(ck.trainer!.step).toBe(7);
    expect(ck.optimizer!.step).toBe(7);
    expect(ck.dataset).toEqual(text.spec);
  });

  it('a timer keeps firing during fit (the event loop is not blocked)', async () => {
    const model = new BigramModel(256);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await fit(model, text, { steps: 40, batchSize: 16, validBatches: 1 });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(5);
  });

  it('a NaN loss is reported with the step, never trained on', async () => {
    const model = new BigramModel(256);
    model.nanAtCall = 3;
    await expect(fit(model, text, { steps: 10, batchSize: 4, validBatches: 1 })).rejects.toThrow(/fit: step 4: the loss is NaN\. Lower the learning rate/);
  });

  it('refuses a model that does not fit the data, unknown options, and a too-large batch', async () => {
    await expect(fit(new BigramModel(10), text, { steps: 1 })).rejects.toThrow(/a model whose vocab is 256 \(dataset brown\)/);
    await expect(fit(new BigramModel(256), text, { step: 1 } as FitOptions)).rejects.toThrow(/unknown option `step`/);
    const tiny = createDataset({ kind: 'synthetic', task: 'parity', trainSize: 3, validSize: 2 });
    await expect(fit(new BigramModel(2), tiny, { steps: 1, batchSize: 4 })).rejects.toThrow(/batchSize` must be at most the 3 training examples/);
  });

  it('series: a linear regressor gets MAE/RMSE, and RMSE² equals the MSE loss', async () => {
    const series = createDataset({ kind: 'series', length: 16 });
    const model = new LinearRegressor(3, 3);
    const r = await fit(model, series, { steps: 30, batchSize: 8, lr: 0.05, validBatches: 4 });
    expect(r.finalValid.mae).toBeGreaterThan(0);
    expect(r.finalValid.rmse! ** 2).toBeCloseTo(r.finalValid.loss, 10);
    expect(r.finalValid.loss).toBeLessThan(0.5); // next-hour weather is nearly persistent: far below the variance 1
    expect(r.finalValid.accuracy).toBeUndefined();
    await expect(fit(new LinearRegressor(3, 3, 'float64'), series, { steps: 1 })).rejects.toThrow(/argument `dataset` must be series in the model's dtype \(float64\); got float32 series\. Create it with createDataset\(\{ \.\.\.spec, dtype: 'float64' \}\)/);
  });
});

describe('resume (bit-exact) with a bigram model', () => {
  const opts = { steps: 24, batchSize: 8, lr: 0.03, warmupSteps: 4, validEvery: 5, validBatches: 2, seed: 11, weightDecay: 0.1 } satisfies FitOptions;
  it('stop at step k, resume, equal parameters, optimiser state and history at step n', async () => {
    const full = new BigramModel(256, 'float32', 5);
    const fullResult = await fit(full, text, { ...opts, checkpointPath: join(dir, 'full.safetensors') });

    for (const k of [1, 10, 23]) {
      const path = join(dir, `part-${k}.safetensors`);
      const first = new BigramModel(256, 'float32', 5);
      const controller = new AbortController();
      const r1 = await fit(first, text, { ...opts, checkpointPath: path, signal: controller.signal, onProgress: (e) => { if (e.type === 'step' && e.step === k) controller.abort(); } });
      expect(r1.status).toBe('interrupted');
      expect(r1.step).toBe(k);
      // A fresh process would rebuild the model from scratch (different init seed on purpose) and resume.
      const second = new BigramModel(256, 'float32', 999);
      const r2 = await fit(second, text, { resume: path, checkpointPath: path });
      expect(r2.resumedFrom).toBe(k);
      expect(r2.status).toBe('completed');
      expect(parameterBytes(second)).toEqual(parameterBytes(full));
      expect(r2.history.map((h) => h.loss)).toEqual(fullResult.history.map((h) => h.loss));
      expect(r2.validations.map((v) => v.metrics.loss)).toEqual(fullResult.validations.map((v) => v.metrics.loss));
      // the whole checkpoints agree on the tensors: parameters and both moments
      const a = await loadCheckpoint(path);
      const b = await loadCheckpoint(join(dir, 'full.safetensors'));
      for (const [name, t] of b.parameters) expect(Buffer.from(a.parameters.get(name)!.data.buffer)).toEqual(Buffer.from(t.data.buffer));
      for (const [name, m] of b.optimizer!.expAvgSq) expect(Array.from(a.optimizer!.expAvgSq.get(name)!)).toEqual(Array.from(m));
    }
  });

  it('a resume with a different batch size or seed is refused (the data order would differ)', async () => {
    const path = join(dir, 'refuse.safetensors');
    await fit(new BigramModel(256, 'float32', 5), text, { ...opts, steps: 2, checkpointPath: path });
    await expect(fit(new BigramModel(256, 'float32', 5), text, { resume: path, batchSize: 4 })).rejects.toThrow(/options.batchSize` must be the checkpoint's 8/);
    await expect(fit(new BigramModel(256, 'float32', 5), text, { resume: path, seed: 3 })).rejects.toThrow(/data-order seed 11/);
    await expect(fit(new BigramModel(128, 'float32', 5), text, { resume: path })).rejects.toThrow(ParascanError);
    // the same spec with its keys in another order is the same dataset
    const parityPath = join(dir, 'parity.safetensors');
    await fit(new BigramModel(2), createDataset({ kind: 'synthetic', task: 'parity', length: 6, seed: 1 }), { steps: 2, batchSize: 4, validBatches: 1, checkpointPath: parityPath });
    const reordered = createDataset({ seed: 1, length: 6, task: 'parity', kind: 'synthetic' });
    await expect(fit(new BigramModel(2), reordered, { resume: parityPath, steps: 3 })).resolves.toMatchObject({ step: 3, resumedFrom: 2 });
    const other = createDataset({ kind: 'text', maxFiles: 10, length: 16 });
    await expect(fit(new BigramModel(256, 'float32', 5), other, { resume: path })).rejects.toThrow(/a checkpoint of this dataset .*Create the dataset with createDataset\(checkpoint.dataset\)/);
  });

  it('checkpointEvery writes during the run; the file always loads', async () => {
    const path = join(dir, 'every.safetensors');
    const steps: number[] = [];
    await fit(new BigramModel(256), text, { steps: 9, batchSize: 4, validBatches: 1, checkpointPath: path, checkpointEvery: 4, onProgress: (e) => { if (e.type === 'checkpoint') { steps.push(e.step); expect(existsSync(path)).toBe(true); } } });
    expect(steps).toEqual([4, 8, 9]);
    expect((await loadCheckpoint(path)).trainer!.step).toBe(9);
    expect(readFileSync(path).length).toBeGreaterThan(256 * 256 * 4);
  });
});
