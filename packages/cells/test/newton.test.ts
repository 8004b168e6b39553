/** Newton iteration counts at initialisation, divergence handling, streaming and step. */
import { describe, expect, it } from 'vitest';
import { ParascanError } from '@parascan/core';
import { assertClose, assertEqualArrays, toleranceFor } from '@parascan/core/testing';
import { caseRng, makeCell, normal, type CellName } from './helpers.js';

describe.each(['ParaGRU', 'ParaLSTM'] as CellName[])('%s Newton', (cellName) => {
  it('reaches max-norm residual < 1e-5 (float32) within 4 iterations on fresh cells, T up to 65536', () => {
    const counts: string[] = [];
    for (const [T, D, B] of [[256, 16, 3], [4096, 16, 1], [65536, 4, 1]] as const) {
      const { seed, rng } = caseRng(`${cellName} newton ${T}`);
      const cell = makeCell(cellName, { inputSize: D, stateSize: D, heads: 2, seed: rng.int(0, 2 ** 30) });
      const x = normal(rng, 'float32', B * T * D);
      const r = cell.forward(x, { batch: B, mode: 'parallel', backend: 'js', newton: { absTol: 1e-5, onMaxIterations: 'error', maxIterations: 4 } });
      const d = r.diagnostics;
      counts.push(`T=${T}: ${d.iterations} (${d.residuals.map((v) => v.toExponential(1)).join(' → ')})`);
      expect(d.termination, `seed ${seed}`).toBe('converged');
      expect(d.iterations, `seed ${seed}`).toBeLessThanOrEqual(4);
      expect(d.residuals[d.residuals.length - 1]!).toBeLessThan(1e-5);
      expect(d.fellBack).toBe(false);
    }
    console.log(`${cellName} Newton iterations to 1e-5: ${counts.join('; ')}`);
  });

  it('the tolerances stop the iteration: a looser absTol takes fewer iterations', () => {
    const { rng } = caseRng(`${cellName} tol`);
    const cell = makeCell(cellName, { inputSize: 8, stateSize: 8, heads: 2, seed: rng.int(0, 2 ** 30) });
    const x = normal(rng, 'float32', 512 * 8);
    const tight = cell.forward(x, { mode: 'parallel' }).diagnostics;
    const loose = cell.forward(x, { mode: 'parallel', newton: { absTol: 0.5 } }).diagnostics;
    const rel = cell.forward(x, { mode: 'parallel', newton: { absTol: 0, relTol: 0.5 } }).diagnostics;
    expect(loose.iterations).toBeLessThan(tight.iterations);
    expect(loose.residuals[loose.residuals.length - 1]!).toBeLessThanOrEqual(0.5);
    expect(rel.iterations).toBeLessThan(tight.iterations);
    expect(rel.tolerance).toBeCloseTo(0.5 * rel.residuals[0]!, 12);
  });

  it('an unstable cell (weights ×100) is detected: the answer is sequential (fallback), damped, or an error says why', () => {
    const { seed, rng } = caseRng(`${cellName} unstable`);
    const D = 8;
    const T = 300;
    const cell = makeCell(cellName, { inputSize: D, stateSize: D, heads: 2, dtype: 'float64', seed: rng.int(0, 2 ** 30) });
    const p = cell.parameters();
    for (const k of Object.keys(p)) for (let i = 0; i < p[k]!.length; i++) p[k]![i] *= 100;
    cell.loadParameters(p);
    const x = normal(rng, 'float64', T * D);
    const seq = cell.forward(x, { mode: 'sequential' });
    const par = cell.forward(x, { mode: 'parallel', newton: { maxIterations: 20 } });
    const d = par.diagnostics;
    console.log(`${cellName} ×100: termination ${d.termination}, reason ${d.reason}, iterations ${d.iterations}, residuals ${d.residuals.map((v) => v.toExponential(1)).join(' ')}`);
    expect(d.termination === 'fallback-sequential' || d.termination === 'converged', `seed ${seed}`).toBe(true);
    if (d.termination === 'fallback-sequential') {
      expect(d.fellBack).toBe(true);
      expect(d.reason).not.toBeNull();
      assertEqualArrays(par.y, seq.y, { label: 'y (fallback)', seed });
    } else {
      assertClose(par.y, seq.y, toleranceFor('float64', T, 4), { label: 'y', seed });
    }
    // With onDivergence 'error' (and no fallback at max iterations), a failure is an error that says why.
    let err: unknown = null;
    try {
      const r = cell.forward(x, { mode: 'parallel', newton: { maxIterations: 20, onDivergence: 'error', onMaxIterations: 'error' } });
      expect(r.diagnostics.termination).toBe('converged');
    } catch (e) {
      err = e;
    }
    if (d.fellBack) {
      expect(err).toBeInstanceOf(ParascanError);
      expect((err as ParascanError).code).toBe('DIVERGED');
      expect((err as Error).message).toMatch(/diverged|did not converge/);
    }
    // 'damp' returns either a converged answer or the sequential fallback, never garbage.
    const damp = cell.forward(x, { mode: 'parallel', newton: { maxIterations: 40, onDivergence: 'damp' } });
    if (damp.diagnostics.termination === 'fallback-sequential') assertEqualArrays(damp.y, seq.y, { label: 'y (damp fallback)', seed });
    else assertClose(damp.y, seq.y, toleranceFor('float64', T, 4), { label: 'y (damped)', seed });
  });

  it('chunked streaming (h0 in, final state out) == one long call; step == sequential', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const { seed, rng } = caseRng(`${cellName} stream ${dtype}`);
      const B = 2;
      const T = 300;
      const Din = 6;
      const cell = makeCell(cellName, { inputSize: Din, stateSize: 4, heads: 2, dtype, seed: rng.int(0, 2 ** 30) });
      const x = normal(rng, dtype, B * T * Din);
      const cuts = [0, 1, 100, 257, 300];
      for (const mode of ['sequential', 'parallel', 'picard'] as const) {
        const whole = cell.forward(x, { batch: B, mode });
        let state = null as Float32Array | Float64Array | null;
        const y = dtype === 'float32' ? new Float32Array(whole.y.length) : new Float64Array(whole.y.length);
        for (let c = 0; c + 1 < cuts.length; c++) {
          const [a, e] = [cuts[c]!, cuts[c + 1]!];
          const chunk = dtype === 'float32' ? new Float32Array(B * (e - a) * Din) : new Float64Array(B * (e - a) * Din);
          for (let b = 0; b < B; b++) chunk.set(x.subarray((b * T + a) * Din, (b * T + e) * Din), b * (e - a) * Din);
          const r = cell.forward(chunk, { batch: B, mode, h0: state });
          for (let b = 0; b < B; b++) y.set(r.y.subarray(b * (e - a) * 4, (b + 1) * (e - a) * 4), (b * T + a) * 4);
          state = r.finalState;
        }
        if (mode === 'sequential') {
          assertEqualArrays(y, whole.y, { label: `chunked y (${mode})`, seed });
          assertEqualArrays(state!, whole.finalState, { label: `chunked final state (${mode})`, seed });
        } else {
          assertClose(y, whole.y, toleranceFor(dtype, T), { label: `chunked y (${mode})`, seed });
          assertClose(state!, whole.finalState, toleranceFor(dtype, T), { label: `chunked final state (${mode})`, seed });
        }
      }
      // step by step
      const seq = cell.forward(x, { batch: B, mode: 'sequential' });
      let s: Float32Array | Float64Array | null = null;
      for (let t = 0; t < T; t++) {
        const xt = dtype === 'float32' ? new Float32Array(B * Din) : new Float64Array(B * Din);
        for (let b = 0; b < B; b++) xt.set(x.subarray((b * T + t) * Din, (b * T + t + 1) * Din), b * Din);
        const r = cell.step(xt, s);
        for (let b = 0; b < B; b++) {
          assertEqualArrays(r.y.subarray(b * 4, b * 4 + 4), seq.y.subarray((b * T + t) * 4, (b * T + t + 1) * 4), { label: `step y t=${t}`, seed });
        }
        s = r.state;
      }
      assertEqualArrays(s!, seq.finalState, { label: 'step final state', seed });
    }
  });
});
