/**
 * backend 'cuda' (the CUDA cell kernels of native/src/cuda, through parascan_cuda.node): sequential,
 * parallel (TS Newton over CUDA evaluations and CUDA linear solves) and fused (the Newton loop on
 * the device) equal the TS sequential reference, and the CUDA backward pass equals the TS one;
 * both cells, both dtypes, T ∈ {1, 7, 300}, B ∈ {1, 3}, heads ∈ {1, 2}.
 *
 * These need an NVIDIA GPU: without one they are skipped, with the reason printed, and instead
 * the backend must refuse with NATIVE_UNAVAILABLE saying why (never a crash). The kernels' logic is
 * tested without a GPU in ctest (cuda_cells_emulated), against float64 references.
 */
import { describe, expect, it } from 'vitest';
import { DTYPES, ParascanError } from '@parascan/core';
import { assertClose, toleranceFor } from '@parascan/core/testing';
import { getLinearRecurrenceKernel } from '@parascan/solvers';
import { agreementCase, makeCell, type CellName } from './helpers.js';

const availability = getLinearRecurrenceKernel('cuda')!.availability();
const gpu = availability.available;
if (!availability.available) console.warn(`[cuda.test] backend 'cuda' tests skipped (they need an NVIDIA GPU): ${availability.error.message}`);

const D = 8;
const Din = 8;
const CELL_NAMES = ['ParaGRU', 'ParaLSTM'] as CellName[];

describe.skipIf(!gpu).each(CELL_NAMES)('%s backend cuda == TS sequential (needs a GPU)', (cellName) => {
  for (const dtype of DTYPES) {
    for (const T of [1, 7, 300]) {
      it(`${dtype} T=${T}, B ∈ {1, 3}, heads ∈ {1, 2}: forward (sequential, parallel, fused) and backward`, () => {
        for (const B of [1, 3]) {
          for (const heads of [1, 2]) {
            const label = `${cellName} cuda ${dtype} T=${T} B=${B} H=${heads}`;
            const { seed, cell, S, x, h0, dy } = agreementCase(cellName, label, { dtype, B, T, Din, D, heads });
            const ref = cell.forward(x, { batch: B, mode: 'sequential', backend: 'js', h0 });
            const gref = cell.backward(dy, ref.cache);
            const tol = toleranceFor(dtype, T);
            const gtol = toleranceFor(dtype, T, 4);
            for (const mode of ['sequential', 'parallel', 'fused'] as const) {
              const context = `${label} ${mode}`;
              const run = cell.forward(x, { batch: B, mode, backend: 'cuda', h0 });
              expect(run.cache.backend, context).toBe('cuda');
              if (mode !== 'sequential') expect(run.diagnostics.termination, context).toBe('converged');
              if (mode === 'fused') expect(run.schedule, context).toBe('cuda-cells-fused');
              assertClose(run.y, ref.y, tol, { label: 'y', shape: [B, T, D], seed, context });
              assertClose(run.finalState, ref.finalState, tol, { label: 'finalState', shape: [B, S], seed, context });
              const g = cell.backward(dy, run.cache);
              assertClose(g.dx, gref.dx, gtol, { label: 'dx', shape: [B, T, Din], seed, context });
              assertClose(g.dh0, gref.dh0, gtol, { label: 'dh0', shape: [B, S], seed, context });
              for (const k of Object.keys(gref.grads)) assertClose(g.grads[k]!, gref.grads[k]!, gtol, { label: `grads.${k}`, seed, context });
            }
          }
        }
      });
    }
  }
});

describe.skipIf(gpu)("backend 'cuda' without a usable GPU", () => {
  it('refuses with NATIVE_UNAVAILABLE that says why, for forward and backward', () => {
    const cell = makeCell('ParaGRU', { inputSize: 4, stateSize: 4, seed: 1 });
    const x = new Float32Array(3 * 4);
    for (const mode of ['fused', 'parallel', 'sequential'] as const) {
      let error: unknown;
      try {
        cell.forward(x, { mode, backend: 'cuda' });
      } catch (e) {
        error = e;
      }
      expect(error, mode).toBeInstanceOf(ParascanError);
      expect((error as ParascanError).code, mode).toBe('NATIVE_UNAVAILABLE');
      expect((error as ParascanError).message, mode).toMatch(/cuda/);  // no GPU, or no CUDA addon at all
    }
    const forward = cell.forward(x, { backend: 'js' });
    expect(() => cell.backward(new Float32Array(3 * 4), forward.cache, { backend: 'cuda' })).toThrow(/cuda/);
  });
});
