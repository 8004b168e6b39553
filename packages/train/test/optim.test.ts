import { describe, expect, it } from 'vitest';
import { Rng, ParascanError, type Dtype } from '@parascan/core';
import { testSeed, toleranceFor, assertClose } from '@parascan/core/testing';
import { AdamW, clipGradNorm, cosineWithWarmup } from '../src/index.js';
import type { Parameter } from '../src/contract.js';

const seed = testSeed();

function makeParams(dtype: Dtype, rng: Rng): Parameter[] {
  const mk = (name: string, shape: number[], decay: boolean): Parameter => {
    const n = shape.reduce((a, b) => a * b, 1);
    const Arr = dtype === 'float32' ? Float32Array : Float64Array;
    const data = new Arr(n);
    for (let i = 0; i < n; i++) data[i] = rng.normal(0, 1);
    return { name, shape, data, grad: new Arr(n), decay };
  };
  // Awkward sizes: 1 element, a non-power-of-two matrix, a vector.
  return [mk('w', [3, 5], true), mk('b', [5], false), mk('s', [1], true)];
}

/**
 * PyTorch's AdamW (torch.optim.AdamW, foreach=False, amsgrad=False) written out in float64 in its own
 * form: decay first, then the moment updates, then step_size = lr / bias1 and
 * denom = √v / √bias2 + eps.
 */
function referenceAdamW(p: number[], grads: number[][], lrs: number[], o: { b1: number; b2: number; eps: number; wd: number; decay: boolean }): number[] {
  const x = [...p];
  const m = x.map(() => 0);
  const v = x.map(() => 0);
  grads.forEach((g, k) => {
    const t = k + 1;
    const lr = lrs[k]!;
    for (let i = 0; i < x.length; i++) {
      if (o.decay) x[i] = x[i]! * (1 - lr * o.wd);
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g[i]!;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g[i]! * g[i]!;
      const stepSize = lr / (1 - o.b1 ** t);
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - o.b2 ** t) + o.eps;
      x[i] = x[i]! - (stepSize * m[i]!) / denom;
    }
  });
  return x;
}

describe(`AdamW (seed ${seed})`, () => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const wd of [0, 0.1]) {
      it(`${dtype}, weight decay ${wd}: 5 steps equal the float64 reference; decay only where Parameter.decay`, () => {
        const rng = new Rng(seed);
        const params = makeParams(dtype, rng);
        const initial = params.map((p) => Array.from(p.data));
        const opts = { lr: 0.05, betas: [0.8, 0.95] as [number, number], eps: 1e-6, weightDecay: wd };
        const opt = new AdamW(params, opts);
        const lrs = [0.05, 0.03, 0.05, 0.01, 0.02];
        const grads = params.map(() => [] as number[][]);
        for (let k = 0; k < lrs.length; k++) {
          params.forEach((p, j) => {
            for (let i = 0; i < p.grad.length; i++) p.grad[i] = rng.normal(0, k === 2 ? 1e-3 : 2); // a tiny-gradient step too
            grads[j]!.push(Array.from(p.grad)); // the values as stored (rounded to the dtype)
          });
          opt.step(lrs[k]);
        }
        expect(opt.steps).toBe(5);
        params.forEach((p, j) => {
          // float64 params: the reference is the same arithmetic in another order -> a few ulp.
          // float32 params: rounded once per step -> float32 precision relative to the step sizes.
          const ref = referenceAdamW(initial[j]!, grads[j]!, lrs, { b1: 0.8, b2: 0.95, eps: 1e-6, wd, decay: p.decay });
          // The table's tolerance for 5 dependent steps: float64 params agree to a few ulp (same maths,
          // another order); float32 params are rounded once per step.
          assertClose(p.data, ref, toleranceFor(dtype, lrs.length), { label: p.name, seed });
          if (wd > 0) {
            // Decay matters: the no-decay reference must differ for decayed params (so the test can fail).
            const noDecay = referenceAdamW(initial[j]!, grads[j]!, lrs, { b1: 0.8, b2: 0.95, eps: 1e-6, wd, decay: !p.decay });
            const diff = Math.max(...noDecay.map((r, i) => Math.abs(r - ref[i]!)));
            expect(diff).toBeGreaterThan(1e-4);
          }
        });
      });
    }
  }

  it('first step moves every element by about lr (Adam normalises the gradient)', () => {
    const p: Parameter = { name: 'x', shape: [4], data: new Float64Array([1, -2, 3, 0]), grad: new Float64Array([0.5, -3, 1e-4, 2]), decay: false };
    new AdamW([p], { lr: 0.1, eps: 0, weightDecay: 0 }).step();
    const expected = [0.9, -1.9, 2.9, -0.1];
    expected.forEach((e, i) => expect(p.data[i]).toBeCloseTo(e, 12));
  });

  it('state() / loadState() continue bit-exactly', () => {
    const rng = new Rng(seed + 1);
    const a = makeParams('float32', rng);
    const b = a.map((p) => ({ ...p, data: Float32Array.from(p.data), grad: Float32Array.from(p.grad) }));
    const optA = new AdamW(a, { lr: 0.01 });
    const grads = Array.from({ length: 6 }, () => a.map((p) => Array.from({ length: p.data.length }, () => rng.normal())));
    const apply = (ps: Parameter[], k: number) => ps.forEach((p, j) => p.grad.set(grads[k]![j]!));
    for (let k = 0; k < 3; k++) {
      apply(a, k);
      optA.step();
    }
    b.forEach((p, j) => p.data.set(a[j]!.data));
    const optB = new AdamW(b, { lr: 0.01 });
    optB.loadState(optA.state());
    for (let k = 3; k < 6; k++) {
      apply(a, k);
      optA.step();
      apply(b, k);
      optB.step();
    }
    a.forEach((p, j) => expect(Array.from(b[j]!.data)).toEqual(Array.from(p.data)));
    expect(optB.steps).toBe(6);
  });

  it('refuses bad options and foreign state by name', () => {
    const p = makeParams('float64', new Rng(1));
    expect(() => new AdamW(p, { lr: -1 })).toThrow(/AdamW: argument `options.lr` must be a finite number/);
    expect(() => new AdamW(p, { betas: [0.9, 1] })).toThrow(/options.betas\[1\]/);
    expect(() => new AdamW(p, { lr: 1, momentum: 0.9 } as never)).toThrow(/unknown option `momentum`/);
    expect(() => new AdamW([p[0]!, p[0]!])).toThrow(/distinct names/);
    const opt = new AdamW(p);
    const state = opt.state();
    const bad = new Map(state.expAvg);
    bad.set('w', new Float64Array(2));
    expect(() => opt.loadState({ ...state, expAvg: bad })).toThrow(ParascanError);
    expect(() => opt.loadState({ ...state, expAvg: bad })).toThrow(/expAvg\[w\]` must be of length 15/);
  });
});

describe('cosineWithWarmup', () => {
  it('warms up linearly, then follows the half cosine to minLr, then stays there', () => {
    const lr = cosineWithWarmup({ peakLr: 1, minLr: 0.1, warmupSteps: 4, totalSteps: 14 });
    expect([0, 1, 2, 3].map(lr)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(lr(4)).toBe(1);
    // half way through the 10 decay steps: min + (peak − min)/2
    expect(lr(9)).toBeCloseTo(0.55, 15);
    // a quarter: min + (peak − min)(1 + cos(π/4))/2
    expect(lr(6.5)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.SQRT1_2), 15);
    expect(lr(14)).toBeCloseTo(0.1, 15);
    expect(lr(100)).toBeCloseTo(0.1, 15);
    // monotone after warm-up
    for (let s = 4; s < 14; s++) expect(lr(s + 1)).toBeLessThanOrEqual(lr(s));
  });
  it('no warm-up starts at the peak; refuses bad settings', () => {
    expect(cosineWithWarmup({ peakLr: 0.5, warmupSteps: 0, totalSteps: 10 })(0)).toBe(0.5);
    expect(() => cosineWithWarmup({ peakLr: 0.5, warmupSteps: -1, totalSteps: 10 })).toThrow(/options.warmupSteps/);
    expect(() => cosineWithWarmup({ peakLr: 0.5, minLr: 1, warmupSteps: 1, totalSteps: 10 })).toThrow(/options.minLr/);
  });
});

describe('clipGradNorm', () => {
  const mk = (g: number[]): Parameter => ({ name: String(g.length), shape: [g.length], data: new Float64Array(g.length), grad: Float64Array.from(g), decay: true });
  it('returns the global norm over all parameters and scales to maxNorm when above', () => {
    const ps = [mk([3, 0]), mk([0, 4, 0])];
    expect(clipGradNorm(ps, 10)).toBe(5);
    expect(Array.from(ps[1]!.grad)).toEqual([0, 4, 0]); // below the limit: untouched
    expect(clipGradNorm(ps, 1)).toBe(5);
    const scale = 1 / (5 + 1e-6);
    expect(Array.from(ps[0]!.grad)).toEqual([3 * scale, 0]);
    expect(Array.from(ps[1]!.grad)).toEqual([0, 4 * scale, 0]);
    const after = Math.hypot(...ps.flatMap((p) => Array.from(p.grad)));
    expect(after).toBeLessThanOrEqual(1);
    expect(after).toBeGreaterThan(1 - 1e-6);
  });
  it('a non-finite norm is returned and nothing is scaled', () => {
    const ps = [mk([1, NaN]), mk([2])];
    expect(clipGradNorm(ps, 1)).toBeNaN();
    expect(ps[1]!.grad[0]).toBe(2);
  });
});
