/** Bad input: clear ParascanErrors naming the operation, the argument, what was expected and what arrived. */
import { describe, expect, it } from 'vitest';
import { ParascanError } from '@parascan/core';
import { ParaGRU, ParaLSTM } from '../src/index.js';

function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(ParascanError);
  expect((err as ParascanError).code).toBe(code);
  expect((err as Error).message).toMatch(pattern);
}

describe('validation', () => {
  it('heads must divide D and Din', () => {
    expectError(() => new ParaGRU({ inputSize: 8, stateSize: 6, heads: 4 }), 'INVALID_ARGUMENT', /^ParaGRU: argument `options.heads` must be a divisor of stateSize \(6\) and inputSize \(8\); got 4, which does not divide stateSize 6\./);
    expectError(() => new ParaLSTM({ inputSize: 6, stateSize: 8, heads: 4 }), 'INVALID_ARGUMENT', /argument `options.heads`.*does not divide inputSize 6/);
    expectError(() => new ParaGRU({ inputSize: 0, stateSize: 4 }), 'INVALID_ARGUMENT', /`options.inputSize` must be a positive integer; got 0/);
    expectError(() => new ParaGRU({ inputSize: 4, stateSize: 4, dtype: 'float16' as never }), 'INVALID_ARGUMENT', /`options.dtype` must be one of 'float32', 'float64'/);
    expectError(() => new ParaGRU({ inputSize: 4, stateSize: 4, init: { A: 'nope' as never } }), 'INVALID_ARGUMENT', /`options.init.A` must be one of 'xlstm'/);
  });

  it('wrong shapes and dtypes of x, h0, dy', () => {
    const cell = new ParaGRU({ inputSize: 4, stateSize: 4, seed: 1 });
    expectError(() => cell.forward(new Float32Array(10), { batch: 1 }), 'INVALID_ARGUMENT', /^ParaGRU.forward: argument `x` must be a Float32Array \[B=1, T, Din=4\].*; got a Float32Array of length 10\./);
    expectError(() => cell.forward(new Float64Array(8)), 'INVALID_ARGUMENT', /argument `x` must be a Float32Array of length 8 \(\[B=1, T=2, Din=4\]\); got a Float64Array of length 8\. The cell's dtype is float32\./);
    expectError(() => cell.forward([1, 2, 3, 4] as never), 'INVALID_ARGUMENT', /argument `x` must be a Float32Array.*got a plain Array of length 4/);
    expectError(() => cell.forward(new Float32Array(8), { batch: 2, h0: new Float32Array(4) }), 'INVALID_ARGUMENT', /argument `options.h0` must be a Float32Array of length 8 \(\[B=2, S=4\]\); got a Float32Array of length 4/);
    expectError(() => cell.forward(new Float32Array(8), { mode: 'fast' as never }), 'INVALID_ARGUMENT', /`options.mode` must be one of 'sequential', 'parallel', 'picard'/);
    expectError(() => cell.forward(new Float32Array(8), { modes: 'parallel' } as never), 'INVALID_ARGUMENT', /unknown option `modes`/);
    expectError(() => cell.forward(new Float32Array(8), { newton: { maxIter: 3 } as never }), 'INVALID_ARGUMENT', /solveNewton: argument `controls`.*unknown option `maxIter`/);
    const lstm = new ParaLSTM({ inputSize: 4, stateSize: 4, seed: 1, dtype: 'float64' });
    const r = lstm.forward(new Float64Array(12));
    expectError(() => lstm.backward(new Float64Array(8), r.cache), 'INVALID_ARGUMENT', /^ParaLSTM.backward: argument `dy` must be a Float64Array of length 12 \(\[B=1, T=3, D=4\]\); got a Float64Array of length 8/);
    expectError(() => lstm.step(new Float64Array(4), new Float64Array(4)), 'INVALID_ARGUMENT', /ParaLSTM.step: argument `state` must be a Float64Array of length 8 \(\[B=1, S=8\]\)/);
  });

  it('NaN in x or h0', () => {
    const cell = new ParaLSTM({ inputSize: 4, stateSize: 4, seed: 1 });
    const x = new Float32Array(3 * 2 * 4);
    x[13] = NaN;
    expectError(() => cell.forward(x, { batch: 3 }), 'NON_FINITE', /^ParaLSTM.forward: argument `x` holds a non-finite value, x\[1, 1, 1\] = NaN/);
    const h0 = new Float32Array(8);
    h0[2] = Infinity;
    expectError(() => cell.forward(new Float32Array(8), { h0 }), 'NON_FINITE', /argument `options.h0` holds a non-finite value, options.h0\[0, 2\] = Infinity/);
  });

  it('parameter records: missing, mis-shaped, wrong dtype, unknown, non-finite', () => {
    const cell = new ParaLSTM({ inputSize: 4, stateSize: 6, heads: 2, seed: 1 });
    const p = cell.parameters();
    expect(Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.length]))).toEqual({ A: 18, B: 36, b: 18, C: 12 });
    const { C: _c, ...noC } = p;
    expectError(() => cell.loadParameters(noC), 'INVALID_ARGUMENT', /^ParaLSTM.loadParameters: argument `record.C` must be a Float32Array of length 12 \(\[2=2, D=6\]\); got nothing \(the tensor is missing\)\./);
    expectError(() => cell.loadParameters({ ...p, B: new Float32Array(35) }), 'INVALID_ARGUMENT', /argument `record.B` must be a Float32Array of length 36 \(\[H=2, Din\/H=2, G=3, D\/H=3\]\); got a Float32Array of length 35/);
    expectError(() => cell.loadParameters({ ...p, A: new Float64Array(18) }), 'INVALID_ARGUMENT', /argument `record.A` must be a Float32Array of length 18.*got a Float64Array of length 18/);
    expectError(() => cell.loadParameters({ ...p, W: new Float32Array(1) }), 'INVALID_ARGUMENT', /unknown option `W`/);
    const bad = p['b']!.slice();
    bad[7] = NaN;
    expectError(() => cell.loadParameters({ ...p, b: bad }), 'NON_FINITE', /argument `record.b` holds a non-finite value, b\[1, 1\] = NaN/);
    // A failed load changes nothing.
    expect(cell.parameters()['A']).toEqual(p['A']);
  });
});
