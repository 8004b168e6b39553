/**
 * forwardAsync / backwardAsync: the same results (bit for bit) and the same errors (as rejections)
 * as forward / backward, for both cells, every mode and backend, both dtypes; and the event loop
 * really turns while a long native solve is in flight (which the sync call cannot do).
 */
import { describe, expect, it } from 'vitest';
import { DTYPES, type FloatArray } from '@parascan/core';
import { assertEqualArrays } from '@parascan/core/testing';
import { tryLoadNativeAddon } from '@parascan/native';
import type { BackwardResult, ForwardResult, Mode, ParaCell } from '../src/index.js';
import { caseRng, makeCell, normal, type CellName } from './helpers.js';

const loaded = tryLoadNativeAddon('cpu');
const cpuOk = !('error' in loaded) && typeof loaded.addon.cellNewtonAsync === 'function';
if (!cpuOk) {
  if (process.env['CI']) throw new Error('async.test: the cpu addon with the cells kernels must load in CI');
  console.warn('async.test: native addon not loaded, backend cpu skipped');
}
const CELL_NAMES: CellName[] = ['ParaGRU', 'ParaLSTM'];

function sameForward(a: ForwardResult, s: ForwardResult, label: string): void {
  expect(a.mode, label).toBe(s.mode);
  expect(a.schedule, label).toBe(s.schedule);
  expect(a.diagnostics, label).toEqual(s.diagnostics);
  assertEqualArrays(a.y, s.y, { label: `${label} y` });
  assertEqualArrays(a.finalState, s.finalState, { label: `${label} finalState` });
  assertEqualArrays(a.cache.states, s.cache.states, { label: `${label} states` });
}

function sameBackward(a: BackwardResult, s: BackwardResult, label: string): void {
  assertEqualArrays(a.dx, s.dx, { label: `${label} dx` });
  assertEqualArrays(a.dh0, s.dh0, { label: `${label} dh0` });
  expect(Object.keys(a.grads).sort(), label).toEqual(Object.keys(s.grads).sort());
  for (const k of Object.keys(s.grads)) assertEqualArrays(a.grads[k]!, s.grads[k]!, { label: `${label} d${k}` });
}

describe.each(CELL_NAMES)('%s: async == sync, bit for bit', (cellName) => {
  for (const dtype of DTYPES) {
    it(`${dtype}: every mode and backend, T ∈ {1, 37}, B = 2 with h0 and dFinalState`, async () => {
      const runs: Array<['js' | 'cpu', Mode]> = [['js', 'sequential'], ['js', 'parallel'], ['js', 'picard'], ['js', 'auto']];
      if (cpuOk) for (const mode of ['sequential', 'parallel', 'picard', 'fused', 'auto'] as const) runs.push(['cpu', mode]);
      for (const T of [1, 37]) {
        const { rng } = caseRng(`${cellName} ${dtype} async T=${T}`);
        const B = 2;
        const cell = makeCell(cellName, { inputSize: 6, stateSize: 8, heads: 2, dtype, seed: rng.int(0, 2 ** 30) });
        const S = cell.stateWidth;
        const x = normal(rng, dtype, B * T * 6);
        const h0 = normal(rng, dtype, B * S, 0.5);
        const dy = normal(rng, dtype, B * T * 8);
        const dFinalState = normal(rng, dtype, B * S);
        for (const [backend, mode] of runs) {
          const label = `${cellName} ${dtype} T=${T} ${backend}/${mode}`;
          const options = { batch: B, mode, backend, h0 };
          const s = cell.forward(x, options);
          const a = await cell.forwardAsync(x, options);
          sameForward(a, s, label);
          const sb = cell.backward(dy, s.cache, { dFinalState });
          const ab = await cell.backwardAsync(dy, a.cache, { dFinalState });
          sameBackward(ab, sb, label);
        }
      }
    });
  }
});

/** How many times a 1 ms interval fires between the call of `work` and its settling. */
async function ticksDuring(work: () => Promise<unknown>): Promise<{ ticks: number; ms: number }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const t0 = performance.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return { ticks, ms: performance.now() - t0 };
}

describe.skipIf(!cpuOk)('the event loop turns during a long native solve', () => {
  // ParaGRU float32, D = 64, B = 1: T is doubled until the sync solve takes ≥ 60 ms.
  const cell = makeCell('ParaGRU', { inputSize: 64, stateSize: 64, dtype: 'float32', seed: 7 });
  const rng = caseRng('async event loop').rng;
  function sized(mode: 'sequential' | 'fused' | 'parallel'): { x: FloatArray; T: number } {
    for (let T = 1 << 13; ; T *= 2) {
      const x = normal(rng, 'float32', T * 64);
      const t0 = performance.now();
      cell.forward(x, { mode, backend: 'cpu' });
      if (performance.now() - t0 >= 60 || T >= 1 << 20) return { x, T };
    }
  }
  // parallel: the TS Newton loop (solveNewtonAsync) awaits each native evaluate and linear solve.
  for (const mode of ['sequential', 'fused', 'parallel'] as const) {
    it(`forwardAsync and backwardAsync, mode ${mode}: ticks while in flight; the sync calls: none`, async () => {
      const { x, T } = sized(mode);
      const options = { mode, backend: 'cpu' as const };
      let fwd: ForwardResult | null = null;
      const syncF = await ticksDuring(async () => (fwd = cell.forward(x, options)));
      const asyncF = await ticksDuring(() => cell.forwardAsync(x, options));
      const dy = normal(rng, 'float32', T * 64);
      const syncB = await ticksDuring(async () => cell.backward(dy, fwd!.cache));
      const asyncB = await ticksDuring(() => cell.backwardAsync(dy, fwd!.cache));
      const what = `T=${T}: sync forward ${syncF.ms.toFixed(0)} ms ${syncF.ticks} ticks, async ${asyncF.ms.toFixed(0)} ms ${asyncF.ticks} ticks; sync backward ${syncB.ms.toFixed(0)} ms ${syncB.ticks} ticks, async ${asyncB.ms.toFixed(0)} ms ${asyncB.ticks} ticks`;
      console.log(`async.test ${mode}: ${what}`);
      expect(syncF.ticks, what).toBe(0);
      expect(syncB.ticks, what).toBe(0);
      expect(asyncF.ticks, what).toBeGreaterThanOrEqual(1);
      expect(asyncB.ticks, what).toBeGreaterThanOrEqual(1);
    });
  }
});

describe.each(CELL_NAMES)('%s: async errors are rejections with the sync messages', (cellName) => {
  const cell: ParaCell = makeCell(cellName, { inputSize: 4, stateSize: 4, dtype: 'float32', seed: 3 });
  const S = cell.stateWidth;
  const x = new Float32Array(2 * 4);
  const good = cell.forward(x, { batch: 1 });
  const nan = new Float32Array(8);
  nan[5] = NaN;
  const forwardCases: Array<[string, unknown, unknown]> = [
    ['x of the wrong length', new Float32Array(7), {}],
    ['x of the other dtype', new Float64Array(8), {}],
    ['a NaN in x', nan, {}],
    ['an unknown option', x, { speed: 1 }],
    ['an unknown mode', x, { mode: 'fast' }],
    ['fused with backend js', x, { mode: 'fused' }],
    ['h0 of the wrong length', x, { h0: new Float32Array(S + 1) }],
    ...(cpuOk ? ([['fused with onDivergence damp', x, { mode: 'fused', backend: 'cpu', newton: { onDivergence: 'damp' } }]] as Array<[string, unknown, unknown]>) : []),
  ];
  for (const [name, input, options] of forwardCases) {
    it(`forwardAsync: ${name}`, async () => {
      let syncMessage = '';
      try {
        cell.forward(input as FloatArray, options as object);
      } catch (e) {
        syncMessage = (e as Error).message;
      }
      expect(syncMessage).toMatch(/^Para(GRU|LSTM)\.forward: /);
      let promise: Promise<unknown> | null = null;
      expect(() => (promise = cell.forwardAsync(input as FloatArray, options as object))).not.toThrow();
      await expect(promise).rejects.toThrow(syncMessage.replace(/\.forward\b/g, '.forwardAsync'));
    });
  }
  const backwardCases: Array<[string, unknown, unknown, unknown]> = [
    ['dy of the wrong length', new Float32Array(3), good.cache, {}],
    ['not a cache', new Float32Array(8), { states: 1 }, {}],
    ['a bad backend', new Float32Array(8), good.cache, { backend: 'gpu' }],
    ['dFinalState with a NaN', new Float32Array(8), good.cache, { dFinalState: new Float32Array(S).fill(NaN) }],
  ];
  for (const [name, dy, cache, options] of backwardCases) {
    it(`backwardAsync: ${name}`, async () => {
      let syncMessage = '';
      try {
        cell.backward(dy as FloatArray, cache as ForwardResult['cache'], options as object);
      } catch (e) {
        syncMessage = (e as Error).message;
      }
      expect(syncMessage).toMatch(/^Para(GRU|LSTM)\.backward: /);
      await expect(cell.backwardAsync(dy as FloatArray, cache as ForwardResult['cache'], options as object)).rejects.toThrow(
        syncMessage.replace(/\.backward\b/g, '.backwardAsync'),
      );
    });
  }
  it('SharedArrayBuffer-backed x, h0, dy and dFinalState are refused by the async calls (accepted by the sync ones)', async () => {
    const shared = (n: number) => new Float32Array(new SharedArrayBuffer(4 * n));
    expect(() => cell.forward(shared(8), {})).not.toThrow();
    await expect(cell.forwardAsync(shared(8), {})).rejects.toThrow(/forwardAsync: argument `x` must be a Float32Array on an ordinary ArrayBuffer; got a Float32Array of length 8 on a SharedArrayBuffer/);
    await expect(cell.forwardAsync(x, { h0: shared(S) })).rejects.toThrow(/argument `options.h0` must be a Float32Array on an ordinary ArrayBuffer/);
    await expect(cell.backwardAsync(shared(8), good.cache)).rejects.toThrow(/backwardAsync: argument `dy` must be a Float32Array on an ordinary ArrayBuffer/);
    await expect(cell.backwardAsync(new Float32Array(8), good.cache, { dFinalState: shared(S) })).rejects.toThrow(/argument `options.dFinalState`/);
  });
  it('h0 is copied: changing it while forwardAsync is in flight changes nothing', async () => {
    const h0 = new Float32Array(S).fill(0.25);
    const ref = cell.forward(x, { h0, mode: cpuOk ? 'sequential' : 'parallel', backend: cpuOk ? 'cpu' : 'js' });
    const pending = cell.forwardAsync(x, { h0, mode: cpuOk ? 'sequential' : 'parallel', backend: cpuOk ? 'cpu' : 'js' });
    h0.fill(100);
    const r = await pending;
    assertEqualArrays(r.y, ref.y, { label: 'y' });
    assertEqualArrays(r.cache.h0!, ref.cache.h0!, { label: 'cached h0' });
  });
});
