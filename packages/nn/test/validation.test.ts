/** Bad configs, batches and options fail with INVALID_ARGUMENT errors that name the argument. */
import { describe, expect, it } from 'vitest';
import { ParascanError } from '@parascan/core';
import { createModel, type Batch, type ModelConfig } from '../src/index.js';

function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected a ParascanError matching ${pattern}`).toBeInstanceOf(ParascanError);
  expect((thrown as ParascanError).code).toBe(code);
  expect((thrown as Error).message).toMatch(pattern);
}

const LM: ModelConfig = { type: 'lm', cell: 'gru', layers: 1, width: 4, heads: 2, vocab: 5 };
const REG: ModelConfig = { type: 'regressor', cell: 'lstm', layers: 1, width: 4, heads: 1, inputFeatures: 3, outputFeatures: 2 };

describe('createModel rejects bad configs', () => {
  it.each([
    [{ ...LM, type: 'gpt' }, /^createModel: argument `config.type` must be one of 'lm', 'regressor'; got the string "gpt"\./],
    [{ ...LM, cell: 'rnn' }, /argument `config.cell` must be one of 'gru', 'lstm'/],
    [{ ...LM, layers: 0 }, /argument `config.layers` must be a positive integer; got 0\./],
    [{ ...LM, width: 6, heads: 4 }, /argument `config.heads` must be a divisor of config.width \(6\); got 4\./],
    [{ ...LM, vocab: undefined }, /argument `config.vocab` must be a positive integer \(the number of token ids, required for type 'lm'\); got undefined\./],
    [{ ...LM, inputFeatures: 3 }, /argument `config.inputFeatures` must be absent for type 'lm'/],
    [{ ...REG, vocab: 5 }, /argument `config.vocab` must be absent for type 'regressor'/],
    [{ ...REG, outputFeatures: 1.5 }, /argument `config.outputFeatures` must be a positive integer/],
    [{ ...LM, convKernel: 0 }, /argument `config.convKernel` must be a positive integer; got 0\./],
    [{ ...LM, mlpRatio: -1 }, /argument `config.mlpRatio` must be 0 \(no MLP\) or a positive number/],
    [{ ...LM, dtype: 'float16' }, /argument `config.dtype` must be one of 'float32', 'float64'/],
    [{ ...LM, seed: 0.5 }, /argument `config.seed` must be a safe integer; got 0.5\./],
    [{ ...LM, widht: 4 }, /unknown option `widht`/],
  ])('%o', (config, pattern) => {
    expectError(() => createModel(config as ModelConfig), 'INVALID_ARGUMENT', pattern);
  });
  it('a non-object config', () => expectError(() => createModel(null as unknown as ModelConfig), 'INVALID_ARGUMENT', /argument `config` must be an options object; got null/));
});

describe('lossAndGrad / evaluate / forward reject bad batches and options', () => {
  const lm = createModel(LM);
  const reg = createModel(REG);
  const ids = (n: number, v = 1) => new Int32Array(n).fill(v);
  const tokens = (patch: Record<string, unknown> = {}): Batch => ({ kind: 'tokens', batch: 2, length: 3, inputs: ids(6), targets: ids(6), ...patch }) as Batch;
  const series = (patch: Record<string, unknown> = {}): Batch =>
    ({ kind: 'series', batch: 2, length: 3, inputs: new Float32Array(18), targets: new Float32Array(12), ...patch }) as Batch;

  it('accepts the well-formed batches', () => {
    expect(lm.lossAndGrad(tokens(), { backend: 'js' }).count).toBe(6);
    expect(reg.lossAndGrad(series(), { backend: 'js' }).count).toBe(12);
  });

  it('token ids out of range, wrong lengths and types, bad masks', () => {
    const op = /^LanguageModel\.lossAndGrad: /;
    expectError(() => lm.lossAndGrad(tokens({ inputs: Int32Array.from([0, 1, 2, 3, 5, 0]) })), 'INVALID_ARGUMENT', /argument `batch.inputs\[1, 1\]` must be a token id in \[0, 5\); got 5\./);
    expectError(() => lm.lossAndGrad(tokens({ targets: Int32Array.from([0, -1, 0, 0, 0, 0]) })), 'INVALID_ARGUMENT', /argument `batch.targets\[0, 1\]` must be a token id in \[0, 5\); got -1\./);
    expectError(() => lm.lossAndGrad(tokens({ inputs: ids(5) })), 'INVALID_ARGUMENT', /argument `batch.inputs` must be an Int32Array of length 6 \(\[B=2, T=3\]\) of token ids in \[0, 5\); got an Int32Array of length 5\./);
    expectError(() => lm.lossAndGrad(tokens({ inputs: new Float32Array(6) })), 'INVALID_ARGUMENT', /got a Float32Array of length 6/);
    expectError(() => lm.lossAndGrad(tokens({ length: 0 })), 'INVALID_ARGUMENT', /argument `batch.length` must be a positive integer; got 0\./);
    expectError(() => lm.lossAndGrad(tokens({ mask: new Uint8Array(5) })), 'INVALID_ARGUMENT', /argument `batch.mask` must be a Uint8Array of length 6/);
    expectError(() => lm.lossAndGrad(tokens({ mask: Uint8Array.from([1, 1, 2, 1, 1, 1]) })), 'INVALID_ARGUMENT', /argument `batch.mask\[0, 2\]` must be 0 \(ignored\) or 1 \(scored\); got 2\./);
    expectError(() => lm.lossAndGrad(series()), 'INVALID_ARGUMENT', /argument `batch.kind` must be 'tokens' \(this model's type is 'lm'\)/);
    expectError(() => lm.evaluate(tokens({ extra: 1 })), 'INVALID_ARGUMENT', /unknown option `extra`/);
    expectError(() => lm.lossAndGrad(tokens({ inputs: ids(5) })), 'INVALID_ARGUMENT', op);
  });

  it('series of the wrong length or with NaN', () => {
    expectError(() => reg.lossAndGrad(series({ inputs: new Float32Array(17) })), 'INVALID_ARGUMENT', /^Regressor\.lossAndGrad: argument `batch.inputs` must be a Float32Array or Float64Array of length 18 \(\[B=2, T=3, F=3\]\)/);
    expectError(() => reg.lossAndGrad(series({ targets: new Float64Array(18) })), 'INVALID_ARGUMENT', /argument `batch.targets` must be a Float32Array or Float64Array of length 12 \(\[B=2, T=3, O=2\]\)/);
    const bad = new Float32Array(18);
    bad[7] = NaN;
    expectError(() => reg.evaluate(series({ inputs: bad })), 'NON_FINITE', /argument `batch.inputs` holds a non-finite value, batch.inputs\[0, 2, 1\] = NaN/);
    expectError(() => reg.evaluate(tokens()), 'INVALID_ARGUMENT', /argument `batch.kind` must be 'series'/);
  });

  it('run options and forward inputs', () => {
    expectError(() => lm.lossAndGrad(tokens(), { mode: 'newton' as 'parallel' }), 'INVALID_ARGUMENT', /argument `options.mode` must be one of 'sequential', 'parallel', 'fused', 'picard', 'auto'/);
    expectError(() => lm.lossAndGrad(tokens(), { backend: 'cuda' as 'cpu' }), 'INVALID_ARGUMENT', /argument `options.backend` must be one of 'js', 'cpu'/);
    expectError(() => lm.lossAndGrad(tokens(), { mode: 'fused', backend: 'js' }), 'INVALID_ARGUMENT', /argument `options.mode` must be 'sequential', 'parallel' or 'picard' with backend 'js'/);
    expectError(() => lm.forward(ids(7), { batch: 2 }), 'INVALID_ARGUMENT', /^LanguageModel\.forward: argument `inputs` must be an Int32Array \[B=2, T\] of token ids \(a positive multiple of 2 elements\); got an Int32Array of length 7\./);
    expectError(() => lm.forward(ids(4, 9), { batch: 2 }), 'INVALID_ARGUMENT', /argument `inputs\[0, 0\]` must be a token id in \[0, 5\); got 9\./);
    expectError(() => reg.forward(new Float32Array(8), { batch: 2 }), 'INVALID_ARGUMENT', /argument `inputs` must be a Float32Array or Float64Array \[B=2, T, F=3\]/);
  });

  it('a parameter driven to NaN is reported, not returned', () => {
    const m = createModel(LM);
    m.parameters()[2]!.data[5] = NaN;
    expectError(() => m.lossAndGrad(tokens(), { backend: 'js' }), 'NON_FINITE', /^LanguageModel\.lossAndGrad: parameter layers\.0\.in_proj\.weight holds a non-finite value at \[1, 1\] \(NaN\)/);
    expectError(() => m.evaluate(tokens(), { backend: 'js' }), 'NON_FINITE', /layers\.0\.in_proj\.weight/);
  });
});
