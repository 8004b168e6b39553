/**
 * solveNewton / solvePicard / solveSequential on a small diagonal test system
 * h_t = tanh(a ⊙ h_{t-1} + x_t) (and a 2×2-block variant), including forced divergence.
 */
import { describe, expect, it } from 'vitest';
import { ParascanError, createRng, type FloatArray } from '@parascan/core';
import { assertClose, assertEqualArrays, testSeed, toleranceFor } from '@parascan/core/testing';
import { acceptableStep, solveNewton, solveNewtonAsync, solvePicard, solvePicardAsync, solveSequential, type NewtonSystem } from '../src/index.js';

const seed = testSeed();
console.log(`newton tests: seed ${seed} (rerun with PARASCAN_SEED=${seed})`);

/** h_t = tanh(a ⊙ h_{t-1} + x_t); `poison` makes f return NaN at one t while the iterate is not exact. */
function tanhSystem(B: number, T: number, D: number, a: Float64Array, x: Float64Array, opts: { poisonAt?: number } = {}): NewtonSystem<Float64Array> {
  return {
    dtype: 'float64',
    batch: B,
    length: T,
    size: D,
    structure: 'diagonal',
    evaluate(states, initial, out, jac) {
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          for (let d = 0; d < D; d++) {
            const hp = t > 0 ? states[(b * T + t - 1) * D + d]! : initial ? initial[b * D + d]! : 0;
            const v = Math.tanh(a[d]! * hp + x[(b * T + t) * D + d]!);
            out[(b * T + t) * D + d] = opts.poisonAt === t ? NaN : v;
            if (jac) jac[(b * T + t) * D + d] = a[d]! * (1 - v * v);
          }
        }
      }
    },
    sequential(initial, out) {
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          for (let d = 0; d < D; d++) {
            const hp = t > 0 ? out[(b * T + t - 1) * D + d]! : initial ? initial[b * D + d]! : 0;
            out[(b * T + t) * D + d] = Math.tanh(a[d]! * hp + x[(b * T + t) * D + d]!);
          }
        }
      }
    },
  };
}

function setup(label: string, B: number, T: number, D: number, scale: number) {
  const rng = createRng(seed + label.length * 7919);
  const a = new Float64Array(D).map(() => rng.uniform(-scale, scale));
  const x = rng.normalArray('float64', B * T * D) as Float64Array;
  const h0 = rng.normalArray('float64', B * D) as Float64Array;
  return { a, x, h0 };
}

describe('solveNewton', () => {
  it('agrees with the sequential solve and with Picard, js and auto backends', () => {
    const { a, x, h0 } = setup('agree', 2, 1000, 3, 0.9);
    const sys = tanhSystem(2, 1000, 3, a, x);
    const seq = solveSequential(sys, { initial: h0 });
    for (const backend of ['js', 'auto'] as const) {
      const n = solveNewton(sys, { initial: h0, controls: { backend } });
      expect(n.diagnostics.termination).toBe('converged');
      expect(n.diagnostics.iterations).toBeLessThanOrEqual(8);
      assertClose(n.states, seq.states, toleranceFor('float64', 1000), { label: `newton/${backend}`, seed });
    }
    const p = solvePicard(sys, { initial: h0 });
    expect(p.diagnostics.termination).toBe('converged');
    assertClose(p.states, seq.states, toleranceFor('float64', 1000), { label: 'picard', seed });
  });

  it('absTol and relTol stop the iteration; the first guess is f(0, x_t) (f(h0, x_0) at t = 0)', () => {
    const { a, x, h0 } = setup('tol', 1, 500, 4, 0.9);
    const sys = tanhSystem(1, 500, 4, a, x);
    const full = solveNewton(sys, { initial: h0 }).diagnostics;
    const loose = solveNewton(sys, { initial: h0, controls: { absTol: 1e-2 } }).diagnostics;
    expect(loose.iterations).toBeLessThan(full.iterations);
    expect(loose.residuals.at(-1)!).toBeLessThanOrEqual(1e-2);
    expect(loose.residuals.at(-2)!).toBeGreaterThan(1e-2);
    const rel = solveNewton(sys, { initial: h0, controls: { absTol: 0, relTol: 1e-3 } }).diagnostics;
    expect(rel.residuals.at(-1)!).toBeLessThanOrEqual(1e-3 * rel.residuals[0]!);
    // With maxIterations 0 updates allowed and 'return', the answer is the first guess.
    const guess = solveNewton(sys, { initial: h0, controls: { maxIterations: 1, onMaxIterations: 'return', absTol: 0 } });
    expect(guess.diagnostics.termination).toBe('max-iterations');
    expect(guess.diagnostics.iterations).toBe(1);
    // Newton is exact on the first k steps after k iterations: after 1, t = 0 equals sequential.
    const seq = solveSequential(sys, { initial: h0 }).states;
    for (let d = 0; d < 4; d++) expect(guess.states[d]).toBeCloseTo(seq[d]!, 14);
  });

  it('Picard is exact after T updates even for an expansive map', () => {
    const T = 12;
    const { a, x } = setup('picard', 1, T, 2, 3);
    const sys = tanhSystem(1, T, 2, a, x);
    const p = solvePicard(sys, { controls: { absTol: 0 } });
    expect(p.diagnostics.iterations).toBeLessThanOrEqual(T);
    assertClose(p.states, solveSequential(sys).states, toleranceFor('float64', T, 4), { label: 'picard', seed });
  });

  it('a non-finite residual is detected: fallback, damping, or a DIVERGED error — never garbage', () => {
    const { a, x } = setup('nan', 1, 50, 2, 0.5);
    const sys = tanhSystem(1, 50, 2, a, x, { poisonAt: 10 });
    const ref = solveSequential(sys).states;
    const fb = solveNewton(sys);
    expect(fb.diagnostics.termination).toBe('fallback-sequential');
    expect(fb.diagnostics.fellBack).toBe(true);
    expect(fb.diagnostics.reason).toBe('non-finite');
    assertEqualArrays(fb.states, ref, { label: 'fallback', seed });
    expect(() => solveNewton(sys, { controls: { onDivergence: 'error' } })).toThrow(/solveNewton: the newton iteration diverged \(a non-finite residual\)/);
    try {
      solvePicard(sys, { controls: { onDivergence: 'error' } });
      expect.unreachable();
    } catch (e) {
      expect((e as ParascanError).code).toBe('DIVERGED');
    }
    // 'damp' cannot heal a NaN-producing cell: it halves ω down to minDamping, then falls back.
    const dm = solveNewton(sys, { controls: { onDivergence: 'damp', minDamping: 0.25 } });
    expect(dm.diagnostics.fellBack).toBe(true);
    assertEqualArrays(dm.states, ref, { label: 'damp fallback', seed });
  });

  it('a residual growing 2 iterations in a row is detected (chaotic map)', () => {
    // h_t = tanh(a h + x) with |a| = 40: sequentially fine, Newton's linearisation explodes.
    const B = 1;
    const T = 400;
    const D = 4;
    const rng = createRng(seed);
    const a = new Float64Array(D).map(() => (rng.bernoulli(0.5) ? 40 : -40));
    const x = rng.normalArray('float64', B * T * D) as Float64Array;
    const sys = tanhSystem(B, T, D, a, x);
    const ref = solveSequential(sys).states;
    const r = solveNewton(sys, { controls: { maxIterations: 25 } });
    const d = r.diagnostics;
    expect(d.termination === 'converged' || d.fellBack, `seed ${seed}`).toBe(true);
    if (d.fellBack) {
      expect(['growing', 'non-finite', 'max-iterations', 'ill-conditioned']).toContain(d.reason);
      assertEqualArrays(r.states, ref, { label: 'fallback', seed });
    } else {
      assertClose(r.states, ref, toleranceFor('float64', T, 4), { label: 'converged', seed });
    }
  });

  it('a tiny residual that hides an ill-conditioned answer is refused (reason ill-conditioned)', () => {
    // h_t = 0.5 h_{t-1} + x_t, then 4 amplifying steps h_t = 40 (h_{t-1} - g_{t-1}) + g_t around a
    // bounded path g, each evaluation off by up to 4 ulp as a function of the bits of h (rounding:
    // what a real cell's arithmetic does). Newton meets absTol = 16·eps, yet its answer can sit
    // 40^4 times the rounding away from the sequential loop's: the step after convergence shows it.
    const T = 12, amplifyFrom = 8, gain = 40;
    const x = Float64Array.from({ length: T }, (_, t) => Math.sin(1.7 * t + 0.3));
    const g = new Float64Array(T);
    for (let t = 0; t < T; t++) g[t] = t < amplifyFrom ? 0.5 * (t > 0 ? g[t - 1]! : 0) + x[t]! : 0.5 * Math.cos(t);
    const bits = new DataView(new ArrayBuffer(8));
    const rounding = (h: number): number => {
      bits.setFloat64(0, h);
      const lo = bits.getUint32(4);
      return ((Math.imul(lo ^ (lo >>> 15), 0x2c1b3c6d) >>> 0) / 2 ** 32 - 0.5) * 8 * Number.EPSILON;
    };
    const step = (t: number, hp: number): number =>
      t < amplifyFrom ? 0.5 * hp + x[t]! : gain * (hp - g[t - 1]!) + g[t]! + rounding(hp);
    const system = (length: number): NewtonSystem<Float64Array> => ({
      dtype: 'float64', batch: 1, length, size: 1, structure: 'diagonal',
      evaluate(states, _initial, out, jac) {
        for (let t = 0; t < length; t++) {
          out[t] = step(t, t > 0 ? states[t - 1]! : 0);
          if (jac) jac[t] = t < amplifyFrom ? 0.5 : gain;
        }
      },
      sequential(_initial, out) {
        for (let t = 0; t < length; t++) out[t] = step(t, t > 0 ? out[t - 1]! : 0);
      },
    });
    const sys = system(T);
    const ref = solveSequential(sys).states;
    const r = solveNewton(sys, { controls: { absTol: 16 * Number.EPSILON } });
    const d = r.diagnostics;
    expect(d.reason, JSON.stringify(d)).toBe('ill-conditioned');
    expect(d.termination).toBe('fallback-sequential');
    expect(d.errorEstimate).toBeGreaterThan(acceptableStep(16 * Number.EPSILON, Number.EPSILON, T, 1));
    expect(d.residuals[d.residuals.length - 1]!).toBeLessThanOrEqual(16 * Number.EPSILON);
    assertEqualArrays(r.states, ref, { label: 'ill-conditioned fallback' });
    expect(() => solveNewton(sys, { controls: { absTol: 16 * Number.EPSILON, onDivergence: 'error' } })).toThrow(
      /reached a residual of .* but the system is ill-conditioned: the next step would still move the answer by/,
    );
    // The same system without the amplifying tail converges and passes the check.
    const c = solveNewton(system(amplifyFrom), { controls: { absTol: 16 * Number.EPSILON } });
    expect(c.diagnostics.termination).toBe('converged');
    expect(c.diagnostics.errorEstimate).toBeLessThanOrEqual(acceptableStep(16 * Number.EPSILON, Number.EPSILON, amplifyFrom, 4));
  });

  it('max-iterations policies: fallback (default), return, error', () => {
    const { a, x } = setup('max', 1, 200, 2, 0.9);
    const sys = tanhSystem(1, 200, 2, a, x);
    const ref = solveSequential(sys).states;
    const fb = solveNewton(sys, { controls: { maxIterations: 1, absTol: 0 } });
    expect(fb.diagnostics.termination).toBe('fallback-sequential');
    expect(fb.diagnostics.reason).toBe('max-iterations');
    assertEqualArrays(fb.states, ref, { label: 'fallback', seed });
    expect(() => solveNewton(sys, { controls: { maxIterations: 1, absTol: 0, onMaxIterations: 'error' } })).toThrow(/did not converge in 1 iterations/);
  });

  it('validates controls and the system', () => {
    const { a, x } = setup('val', 1, 5, 2, 0.5);
    const sys = tanhSystem(1, 5, 2, a, x);
    expect(() => solveNewton(sys, { controls: { damping: 0 } })).toThrow(/solveNewton: argument `controls.damping` must be a number in \(0, 1\]; got 0\./);
    expect(() => solveNewton(sys, { controls: { absTol: -1 } })).toThrow(/`controls.absTol` must be a finite number ≥ 0; got -1/);
    expect(() => solveNewton(sys, { initial: new Float32Array(2) as unknown as Float64Array })).toThrow(/`initial` must be a Float64Array of length 2 \(\[B=1, S=2\]\); got a Float32Array/);
    expect(() => solveNewton({ ...sys, structure: 'dense' as never })).toThrow(/`system.structure` must be one of 'diagonal', 'block'/);
    const damped = solveNewton(sys, { controls: { damping: 0.5, maxIterations: 80 } });
    expect(damped.diagnostics.termination).toBe('converged');
    expect(damped.diagnostics.damping).toBe(0.5);
  });
});

describe('solveNewtonAsync / solvePicardAsync', () => {
  it('the same iterates and diagnostics as the sync solvers (converged, Picard, chaotic fallback), on js and auto', async () => {
    const { a, x, h0 } = setup('async', 2, 300, 3, 0.9);
    const calm = tanhSystem(2, 300, 3, a, x);
    const chaotic = tanhSystem(1, 200, 3, new Float64Array([40, -40, 40]), x.subarray(0, 600));
    for (const backend of ['js', 'auto'] as const) {
      const controls = { backend };
      const pairs: Array<[string, ReturnType<typeof solveNewton>, Awaited<ReturnType<typeof solveNewtonAsync>>]> = [
        ['newton', solveNewton(calm, { initial: h0, controls }), await solveNewtonAsync(calm, { initial: h0, controls })],
        ['picard', solvePicard(calm, { initial: h0, controls }), await solvePicardAsync(calm, { initial: h0, controls })],
        ['chaotic', solveNewton(chaotic, { controls: { ...controls, maxIterations: 25 } }), await solveNewtonAsync(chaotic, { controls: { ...controls, maxIterations: 25 } })],
      ];
      for (const [name, sync, async_] of pairs) {
        assertEqualArrays(async_.states, sync.states, { label: `${name} ${backend} states`, seed });
        expect(async_.diagnostics, `${name} ${backend}`).toEqual(sync.diagnostics);
      }
      expect(pairs[2]![1].diagnostics.fellBack || pairs[2]![1].diagnostics.termination === 'converged').toBe(true);
    }
  });

  it('uses the system\'s async evaluate/sequential when present, and lets the event loop turn between pieces', async () => {
    const { a, x } = setup('async2', 1, 500, 2, 0.9);
    const base = tanhSystem(1, 500, 2, a, x);
    let evaluations = 0;
    const sys: NewtonSystem<Float64Array> = {
      ...base,
      async evaluateAsync(states, initial, out, jac) {
        evaluations++;
        await new Promise((r) => setTimeout(r, 1));
        base.evaluate(states, initial, out, jac);
      },
    };
    let turns = 0;
    let turning = true;
    const spin = (): void => {
      if (!turning) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const r = await solveNewtonAsync(sys, { controls: { backend: 'js' } });
    turning = false;
    expect(evaluations).toBe(r.diagnostics.residuals.length + 1); // the first guess, then one per residual
    expect(turns).toBeGreaterThanOrEqual(evaluations);
    assertEqualArrays(r.states, solveNewton(base, { controls: { backend: 'js' } }).states, { label: 'async evaluate', seed });
  });

  it('errors are rejections with the operation named', async () => {
    const { a, x } = setup('async3', 1, 5, 2, 0.5);
    const sys = tanhSystem(1, 5, 2, a, x);
    await expect(solveNewtonAsync(sys, { controls: { damping: 0 } })).rejects.toThrow(/solveNewtonAsync: argument `controls.damping` must be a number in \(0, 1\]/);
    await expect(solvePicardAsync(sys, { controls: { speed: 1 } as never })).rejects.toThrow(/solvePicardAsync/);
    const poisoned = tanhSystem(1, 5, 2, a, x, { poisonAt: 2 });
    await expect(solveNewtonAsync(poisoned, { controls: { onDivergence: 'error' } })).rejects.toThrow(/diverged/);
  });
});

// keep FloatArray referenced for type-only import hygiene
export type _F = FloatArray;
