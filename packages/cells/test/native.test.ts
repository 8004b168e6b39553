/**
 * backend 'cpu' (the native kernels of native/src/cells): sequential, parallel (TS Newton over native
 * evaluations and solves) and fused (the whole Newton loop in one native call) equal the TS
 * sequential reference — y, final state, diagnostics — and the native backward pass equals the TS
 * one (dx, every gradient, dh0); both cells, both dtypes, T ∈ {1, 7, 256, 4099}, B ∈ {1, 3},
 * heads ∈ {1, 2, 4}. Unstable cells fall back (or converge) to the sequential answer; bad native
 * arguments throw errors that name the argument.
 */
import { describe, expect, it } from 'vitest';
import { DTYPES, EPSILON, ParascanError } from '@parascan/core';
import { assertClose, assertEqualArrays, toleranceFor } from '@parascan/core/testing';
import { tryLoadNativeAddon, type NativeAddon, type NativeCellRequest } from '@parascan/native';
import { acceptableStep } from '@parascan/solvers';
import { agreementCase, caseRng, makeCell, normal, type CellName } from './helpers.js';

const loaded = tryLoadNativeAddon('cpu');
const addon: NativeAddon | null = 'error' in loaded || typeof loaded.addon.cellNewton !== 'function' ? null : loaded.addon;
if (!addon) {
  if (process.env['CI']) throw new Error(`native.test: the cpu addon with the cells' kernels must load in CI: ${'error' in loaded ? loaded.error.message : 'cellNewton missing (stale build)'}`);
  console.warn('native.test: native addon (with cellNewton) not loaded, skipped');
}

const D = 8;
const Din = 8;
const CELL_NAMES = ['ParaGRU', 'ParaLSTM'] as CellName[];

describe.skipIf(!addon).each(CELL_NAMES)('%s backend cpu == TS sequential', (cellName) => {
  for (const dtype of DTYPES) {
    for (const T of [1, 7, 256, 4099]) {
      it(`${dtype} T=${T}, B ∈ {1, 3}, heads ∈ {1, 2, 4}: forward (sequential, parallel, fused) and backward`, () => {
        for (const B of [1, 3]) {
          for (const heads of [1, 2, 4]) {
            const label = `${cellName} native ${dtype} T=${T} B=${B} H=${heads}`;
            const { seed, rng, cell, S, x, h0, dy } = agreementCase(cellName, label, { dtype, B, T, Din, D, heads });
            const dFinal = B === 3 ? normal(rng, dtype, B * S) : undefined;
            const ref = cell.forward(x, { batch: B, mode: 'sequential', backend: 'js', h0 });
            const gref = cell.backward(dy, ref.cache, { dFinalState: dFinal });
            const tol = toleranceFor(dtype, T);
            const gtol = toleranceFor(dtype, T, 4);
            const iterations: Record<string, number> = {};
            for (const variant of ['sequential', 'parallel', 'fused', 'fused-global', 'auto'] as const) {
              const mode = variant === 'fused-global' ? 'fused' : variant;
              const context = `${label} ${variant}`;
              const run = cell.forward(x, { batch: B, mode, backend: 'cpu', h0, fusedSchedule: variant === 'fused-global' ? 'global' : 'auto' });
              if (variant === 'auto') {
                // whatever the cost model picks, the answer is the reference's
                assertClose(run.y, ref.y, tol, { label: `y (auto ran ${run.mode})`, shape: [B, T, D], seed, context });
                continue;
              }
              expect(run.schedule, context).toBe(variant === 'sequential' ? 'cells-sequential' : variant === 'fused' ? 'cells-fused-shooting' : variant === 'fused-global' ? 'cells-fused-global' : null);
              const d = run.diagnostics;
              expect(run.cache.backend, context).toBe('cpu');
              if (mode === 'sequential') {
                expect(d.termination, context).toBe('sequential');
                // Same formulas, evaluated in double like the TS code: equal up to libm rounding.
                assertClose(run.y, ref.y, toleranceFor(dtype, T, 0.25), { label: 'y', shape: [B, T, D], seed, context });
              } else {
                expect(d.termination, context).toBe('converged');
                expect(d.fellBack, context).toBe(false);
                expect(d.method, context).toBe('newton');
                expect(d.residuals.length, context).toBe(d.iterations + 1);
                expect(d.residuals[d.residuals.length - 1]! <= d.tolerance || d.stalled, context).toBe(true);
                expect(d.iterations, context).toBeLessThanOrEqual(6);
                iterations[variant] = d.iterations;
                assertClose(run.y, ref.y, tol, { label: 'y', shape: [B, T, D], seed, context });
              }
              assertClose(run.finalState, ref.finalState, tol, { label: 'finalState', shape: [B, S], seed, context });
              const g = cell.backward(dy, run.cache, { dFinalState: dFinal });
              assertClose(g.dx, gref.dx, gtol, { label: 'dx', shape: [B, T, Din], seed, context });
              assertClose(g.dh0, gref.dh0, gtol, { label: 'dh0', shape: [B, S], seed, context });
              expect(Object.keys(g.grads).sort(), context).toEqual(Object.keys(gref.grads).sort());
              for (const k of Object.keys(gref.grads)) assertClose(g.grads[k]!, gref.grads[k]!, gtol, { label: `grads.${k}`, seed, context });
            }
            // The fused loop is solveNewton's: the same number of updates, give or take one at the tolerance's edge.
            expect(Math.abs(iterations['fused-global']! - iterations['parallel']!), label).toBeLessThanOrEqual(1);
            // Multiple shooting: the chunk starts converge no slower than the global iteration.
            expect(iterations['fused']!, label).toBeLessThanOrEqual(iterations['parallel']! + 1);
            // And the native backward of a js forward equals the js backward.
            const gcpu = cell.backward(dy, ref.cache, { dFinalState: dFinal, backend: 'cpu' });
            assertClose(gcpu.dx, gref.dx, gtol, { label: 'dx (cpu backward of a js forward)', seed, context: label });
          }
        }
      });
    }
  }

  it('fresh cells: fused converges to 1e-5 (float32) within 4 iterations, T up to 65536', () => {
    const counts: string[] = [];
    for (const [T, Dn, B] of [[256, 16, 3], [4096, 16, 1], [65536, 4, 1]] as const) {
      const { seed, rng } = caseRng(`${cellName} fused iterations ${T}`);
      const cell = makeCell(cellName, { inputSize: Dn, stateSize: Dn, heads: 2, seed: rng.int(0, 2 ** 30) });
      const x = normal(rng, 'float32', B * T * Dn);
      const seq = cell.forward(x, { batch: B, mode: 'sequential' });
      for (const fusedSchedule of ['global', 'shooting'] as const) {
        const r = cell.forward(x, { batch: B, mode: 'fused', backend: 'cpu', fusedSchedule, newton: { absTol: 1e-5, onMaxIterations: 'error', maxIterations: 4 } });
        const d = r.diagnostics;
        counts.push(`T=${T} ${fusedSchedule}: ${d.iterations}`);
        expect(d.termination, `seed ${seed}`).toBe('converged');
        expect(d.iterations, `seed ${seed}`).toBeLessThanOrEqual(4);
        expect(d.residuals[d.residuals.length - 1]!).toBeLessThan(1e-5);
        assertClose(r.y, seq.y, { atol: 1e-4, rtol: 1e-4 }, { label: `y ${fusedSchedule}`, seed });
      }
    }
    console.log(`${cellName} fused iterations to 1e-5: ${counts.join('; ')}`);
  });

  it('an unstable cell (weights ×100): fused and parallel fall back (or converge) and equal sequential', () => {
    for (const dtype of DTYPES) {
      const { seed, rng } = caseRng(`${cellName} native unstable ${dtype}`);
      const T = 300;
      const cell = makeCell(cellName, { inputSize: D, stateSize: D, heads: 2, dtype, seed: rng.int(0, 2 ** 30) });
      const p = cell.parameters();
      for (const k of Object.keys(p)) for (let i = 0; i < p[k]!.length; i++) p[k]![i] *= 100;
      cell.loadParameters(p);
      const x = normal(rng, dtype, 2 * T * D);
      const seq = cell.forward(x, { batch: 2, mode: 'sequential', backend: 'cpu' });
      const ref = cell.forward(x, { batch: 2, mode: 'sequential', backend: 'js' });
      assertClose(seq.y, ref.y, toleranceFor(dtype, T, 1e3), { label: 'native sequential y', seed });
      for (const variant of ['fused', 'fused-global', 'parallel'] as const) {
        const mode = variant === 'parallel' ? 'parallel' : 'fused';
        const fusedSchedule = variant === 'fused-global' ? 'global' : 'auto';
        const r = cell.forward(x, { batch: 2, mode, backend: 'cpu', fusedSchedule, newton: { maxIterations: 20 } });
        const d = r.diagnostics;
        console.log(`${cellName} ${dtype} ×100 ${variant}: ${d.termination} (${d.reason}), ${d.iterations} iterations`);
        expect(d.termination === 'fallback-sequential' || d.termination === 'converged', `${variant} seed ${seed}`).toBe(true);
        if (d.termination === 'fallback-sequential') {
          expect(d.fellBack).toBe(true);
          expect(d.reason).not.toBeNull();
          assertEqualArrays(r.y, seq.y, { label: `${mode} y (fallback)`, seed });
        } else {
          // Converged means accepted by the check after convergence (the next step is at rounding
          // level), so the answer is the sequential one to the table's tolerance, ill-conditioned or not.
          expect(d.errorEstimate, `${variant} seed ${seed}`).toBeLessThanOrEqual(acceptableStep(d.tolerance, EPSILON[dtype], T, 4));
          assertClose(r.y, seq.y, toleranceFor(dtype, T, 4), { label: `${mode} y`, seed });
        }
        if (mode === 'fused' && d.fellBack && d.reason !== 'max-iterations') {
          let err: unknown = null;
          try {
            cell.forward(x, { batch: 2, mode, backend: 'cpu', fusedSchedule, newton: { maxIterations: 20, onDivergence: 'error' } });
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(ParascanError);
          expect((err as ParascanError).code).toBe('DIVERGED');
        }
      }
    }
  });

  it("fused 'shooting' honours damping and relTol, and equals sequential", () => {
    const { seed, rng } = caseRng(`${cellName} shooting controls`);
    const cell = makeCell(cellName, { inputSize: D, stateSize: D, heads: 2, dtype: 'float64', seed: rng.int(0, 2 ** 30) });
    const B = 1;
    const T = 600;
    const x = normal(rng, 'float64', B * T * D);
    const seq = cell.forward(x, { batch: B, mode: 'sequential', backend: 'cpu' });
    const plain = cell.forward(x, { batch: B, mode: 'fused', backend: 'cpu', fusedSchedule: 'shooting', newton: { absTol: 1e-12 } });
    const damped = cell.forward(x, { batch: B, mode: 'fused', backend: 'cpu', fusedSchedule: 'shooting', newton: { absTol: 1e-12, damping: 0.5, maxIterations: 80 } });
    const loose = cell.forward(x, { batch: B, mode: 'fused', backend: 'cpu', fusedSchedule: 'shooting', newton: { absTol: 0, relTol: 0.5 } });
    for (const [name, r] of [['plain', plain], ['damped', damped]] as const) {
      expect(r.diagnostics.termination, name).toBe('converged');
      expect(r.diagnostics.residuals.length, name).toBe(r.diagnostics.iterations + 1);
      assertClose(r.y, seq.y, { atol: 1e-11, rtol: 1e-11 }, { label: `shooting ${name} y`, seed });
    }
    // B = 1 on a multi-thread pool: several chunks, so at least one update of their starts.
    expect(plain.diagnostics.iterations).toBeGreaterThanOrEqual(1);
    expect(damped.diagnostics.iterations).toBeGreaterThan(plain.diagnostics.iterations);
    expect(damped.diagnostics.damping).toBe(0.5);
    expect(loose.diagnostics.tolerance).toBeCloseTo(0.5 * loose.diagnostics.residuals[0]!, 14);
    expect(loose.diagnostics.iterations).toBeLessThanOrEqual(plain.diagnostics.iterations);
  });

  it("fused 'global' honours maxIterations / onMaxIterations, damping and relTol like solveNewton", () => {
    const { seed, rng } = caseRng(`${cellName} fused controls`);
    const cell = makeCell(cellName, { inputSize: D, stateSize: D, heads: 2, dtype: 'float64', seed: rng.int(0, 2 ** 30) });
    const B = 2;
    const T = 200;
    const x = normal(rng, 'float64', B * T * D);
    const seq = cell.forward(x, { batch: B, mode: 'sequential', backend: 'cpu' });
    const ret = cell.forward(x, { batch: B, mode: 'fused', backend: 'cpu', fusedSchedule: 'global', newton: { maxIterations: 1, onMaxIterations: 'return' } }).diagnostics;
    expect(ret.termination).toBe('max-iterations');
    expect(ret.reason).toBe('max-iterations');
    expect(ret.iterations).toBe(1);
    const fb = cell.forward(x, { batch: B, mode: 'fused', backend: 'cpu', fusedSchedule: 'global', newton: { maxIterations: 1 } });
    expect(fb.diagnostics.termination).toBe('fallback-sequential');
    expect(fb.diagnostics.reason).toBe('max-iterations');
    assertEqualArrays(fb.y, seq.y, { label: 'y (max-iterations fallback)', seed });
    expect(() => cell.forward(x, { batch: B, mode: 'fused', backend: 'cpu', fusedSchedule: 'global', newton: { maxIterations: 1, onMaxIterations: 'error' } })).toThrow(/did not converge in 1 iterations/);
    for (const newton of [{ damping: 0.5, absTol: 1e-8, maxIterations: 80 }, { absTol: 0, relTol: 1e-3 }]) {
      const f = cell.forward(x, { batch: B, mode: 'fused', backend: 'cpu', fusedSchedule: 'global', newton });
      const p = cell.forward(x, { batch: B, mode: 'parallel', backend: 'cpu', newton });
      expect(f.diagnostics.termination, JSON.stringify(newton)).toBe('converged');
      expect(f.diagnostics.iterations, JSON.stringify(newton)).toBe(p.diagnostics.iterations);
      expect(f.diagnostics.damping).toBe(p.diagnostics.damping);
      expect(f.diagnostics.tolerance).toBeCloseTo(p.diagnostics.tolerance, 14);
      assertClose(f.y, p.y, toleranceFor('float64', T), { label: `fused vs parallel y ${JSON.stringify(newton)}`, seed });
    }
  });

  it('async native calls equal the sync ones', async () => {
    const { rng } = caseRng(`${cellName} async`);
    const cell = makeCell(cellName, { inputSize: D, stateSize: D, heads: 2, dtype: 'float64', seed: rng.int(0, 2 ** 30) });
    const B = 2;
    const T = 500;
    const S = cell.stateWidth;
    const P = normal(rng, 'float64', B * T * 3 * D);
    const params = cell.parameters();
    const base: NativeCellRequest = { cell: cellName === 'ParaGRU' ? 'gru' : 'lstm', batch: B, length: T, size: D, projection: P, A: params['A']!, C: params['C'] ?? null };
    const controls = { maxIterations: 30, absTol: 1e-14, relTol: 0, damping: 1, onMaxIterations: 'fallback' as const };
    const a = new Float64Array(B * T * S);
    const b = new Float64Array(B * T * S);
    const sync = addon!.cellNewton!({ ...base, out: a, controls });
    const asyncR = await addon!.cellNewtonAsync!({ ...base, out: b, controls });
    expect(asyncR).toEqual(sync);
    assertEqualArrays(b, a, { label: 'async states' });
    const c = new Float64Array(B * T * S);
    await addon!.cellSequentialAsync!({ ...base, out: c });
    assertClose(c, a, toleranceFor('float64', T), { label: 'sequential vs fused' });
  });
});

describe.skipIf(!addon)('native cell arguments', () => {
  const B = 2;
  const T = 5;
  const base = (): NativeCellRequest => ({
    cell: 'lstm', batch: B, length: T, size: D,
    projection: new Float32Array(B * T * 3 * D), A: new Float32Array(3 * D), C: new Float32Array(2 * D),
    out: new Float32Array(B * T * 2 * D),
    controls: { maxIterations: 10, absTol: 1e-6, relTol: 0, damping: 1, onMaxIterations: 'fallback' },
  });
  const cases: Array<[string, (r: NativeCellRequest) => void, RegExp]> = [
    ['projection of the wrong length', (r) => { r.projection = new Float32Array(7); }, /argument `projection` must be a Float32Array of length 240.*got a Float32Array of length 7/],
    ['no projection', (r) => { delete (r as Partial<NativeCellRequest>).projection; }, /argument `projection` must be a Float32Array or Float64Array.*got undefined/],
    ['A of another dtype', (r) => { r.A = new Float64Array(3 * D); }, /argument `A` must be a Float32Array of length 24.*got a Float64Array/],
    ['LSTM without C', (r) => { r.C = null; }, /argument `C` must be a Float32Array of length 16.*got null/],
    ['unknown cell', (r) => { (r as { cell: string }).cell = 'elman'; }, /argument `cell` must be 'gru' or 'lstm'; got 'elman'/],
    ['batch 0', (r) => { r.batch = 0; }, /argument `batch` must be a positive integer; got 0/],
    ['fractional length', (r) => { r.length = 2.5; }, /argument `length` must be a positive integer; got 2.5/],
    ['damping 2', (r) => { r.controls!.damping = 2; }, /argument `controls.damping` must be a number in \(0.*got 2/],
    ['bad onMaxIterations', (r) => { (r.controls as { onMaxIterations: string }).onMaxIterations = 'error'; }, /argument `controls.onMaxIterations` must be 'fallback' or 'return'; got 'error'/],
    ['out overlapping the projection', (r) => { r.out = new Float32Array((r.projection as Float32Array).buffer, 0, B * T * 2 * D); }, /argument `out` must be a buffer that overlaps no other array of the call; got a view overlapping `projection`/],
  ];
  for (const [name, mutate, pattern] of cases) {
    it(`cellNewton: ${name} throws, naming the argument`, async () => {
      const r = base();
      mutate(r);
      expect(() => addon!.cellNewton!(r)).toThrow(pattern);
      await expect(addon!.cellNewtonAsync!(r)).rejects.toThrow(pattern);
    });
  }
  it("cellBackward: dP is the call's dtype (a float32 call also takes a Float64Array); anything else throws", () => {
    const rng = caseRng('dP dtype').rng;
    const f32 = (n: number) => normal(rng, 'float32', n) as Float32Array;
    const shared = { ...base(), projection: f32(B * T * 3 * D), A: f32(3 * D), C: f32(2 * D), states: f32(B * T * 2 * D) };
    const g = f32(B * T * 2 * D);
    const run = (dP: Float32Array | Float64Array) => {
      addon!.cellBackward!({ ...shared, lambda: g.slice(), dP, dA: new Float64Array(3 * D), dC: new Float64Array(2 * D), dh0: new Float32Array(B * 2 * D) });
      return dP;
    };
    const narrow = run(new Float32Array(B * T * 3 * D));
    const wide = run(new Float64Array(B * T * 3 * D));
    assertEqualArrays(Float32Array.from(wide), narrow, { label: 'dP through a Float64Array' });
    expect(narrow.some((v) => v !== 0)).toBe(true);
    expect(() => run(new Float32Array(B * T * 3 * D - 1))).toThrow(/argument `dP` must be a Float32Array of length 240 \(\[B, T, 3, D\], the cell's dtype\); got a Float32Array of length 239/);
    const r64 = { ...base(), projection: new Float64Array(B * T * 3 * D), A: new Float64Array(3 * D), C: new Float64Array(2 * D), states: new Float64Array(B * T * 2 * D), lambda: new Float64Array(B * T * 2 * D), dP: new Float32Array(B * T * 3 * D), dA: new Float64Array(3 * D), dC: new Float64Array(2 * D), dh0: new Float64Array(B * 2 * D) };
    expect(() => addon!.cellBackward!(r64)).toThrow(/argument `dP` must be a Float64Array of length 240.*got a Float32Array/);
  });
  it('no request object', () => {
    expect(() => (addon!.cellSequential as unknown as (x: unknown) => void)(42)).toThrow(/cellSequential \(native cpu\): expected one request object; got 42/);
  });
  it("mode 'fused' with backend 'js' is a clear error; 'damp' is refused by fused", () => {
    const cell = makeCell('ParaGRU', { inputSize: 4, stateSize: 4, seed: 1 });
    const x = new Float32Array(3 * 4);
    expect(() => cell.forward(x, { mode: 'fused' })).toThrow(/options\.mode.*needs backend 'cpu'/);
    expect(() => cell.forward(x, { mode: 'fused', backend: 'cpu', newton: { onDivergence: 'damp' } })).toThrow(/options\.newton\.onDivergence/);
  });
});
