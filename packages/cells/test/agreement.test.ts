/**
 * parallel (Newton; js and cpu linear solves) and picard agree with sequential: outputs, final
 * states and the backward pass, over T, B, heads and both dtypes, both cells.
 */
import { describe, expect, it } from 'vitest';
import { DTYPES } from '@parascan/core';
import { assertClose, toleranceFor } from '@parascan/core/testing';
import { getLinearRecurrenceKernel, solveLinearRecurrence } from '@parascan/solvers';
import { agreementCase, type CellName } from './helpers.js';

void solveLinearRecurrence; // registers the kernels
const cpuOk = getLinearRecurrenceKernel('cpu')?.availability().available === true;
const backends = cpuOk ? (['js', 'cpu'] as const) : (['js'] as const);
if (!cpuOk) console.warn('agreement: native addon not loaded, cpu backend skipped');

const D = 8;
const Din = 8;

describe.each(['ParaGRU', 'ParaLSTM'] as CellName[])('%s: parallel and picard == sequential', (cellName) => {
  for (const dtype of DTYPES) {
    for (const T of [1, 7, 256, 4099]) {
      it(`${dtype} T=${T}, B ∈ {1, 3}, heads ∈ {1, 2, 4}`, () => {
        for (const B of [1, 3]) {
          for (const heads of [1, 2, 4]) {
            // Picard at T = 4099 costs ~T/100 of a second per case: one combination is enough.
            const picard = T < 4099 || (B === 3 && heads === 2);
            const label = `${cellName} ${dtype} T=${T} B=${B} H=${heads}`;
            const { seed, cell, S, x, h0, dy } = agreementCase(cellName, label, { dtype, B, T, Din, D, heads });
            const seq = cell.forward(x, { batch: B, mode: 'sequential', h0 });
            const ref = cell.backward(dy, seq.cache, { backend: 'js' });
            const tol = toleranceFor(dtype, T);
            // The backward pass sums T VJPs into each parameter gradient: its error grows with T more.
            const gtol = toleranceFor(dtype, T, 4);
            const runs: Array<[string, ReturnType<typeof cell.forward>, 'js' | 'cpu']> = [];
            for (const backend of backends) runs.push([`parallel/${backend}`, cell.forward(x, { batch: B, mode: 'parallel', backend, h0 }), backend]);
            if (picard) runs.push(['picard', cell.forward(x, { batch: B, mode: 'picard', h0 }), 'js']);
            for (const [name, run, backend] of runs) {
              const context = `${label} ${name}`;
              expect(run.diagnostics.termination, context).toBe('converged');
              assertClose(run.y, seq.y, tol, { label: 'y', shape: [B, T, D], seed, context });
              assertClose(run.finalState, seq.finalState, tol, { label: 'finalState', shape: [B, S], seed, context });
              const g = cell.backward(dy, run.cache, { backend });
              assertClose(g.dx, ref.dx, gtol, { label: 'dx', shape: [B, T, Din], seed, context });
              assertClose(g.dh0, ref.dh0, gtol, { label: 'dh0', seed, context });
              for (const k of Object.keys(ref.grads)) assertClose(g.grads[k]!, ref.grads[k]!, gtol, { label: `grads.${k}`, seed, context });
            }
          }
        }
      });
    }
  }
});
