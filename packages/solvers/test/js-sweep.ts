/** The js sweep, shared by js.forward.test.ts and js.reverse.test.ts (two files: vitest runs them on two cores). */
import { describe, it } from 'vitest';
import { Rng, type Dtype } from '@parascan/core';
import { testSeed } from '@parascan/core/testing';
import { solveLinearRecurrence, type Direction } from '../src/index.js';
import {
  STRUCTURE_SPECS,
  expectCloseToReference,
  expectZerosCut,
  hashString,
  longCases,
  makeInputs,
  reference,
  sweepCases,
  type Case,
  type Inputs,
} from './helpers.js';

export function solveCase(c: Case, inputs: Inputs, extra: Record<string, unknown>) {
  return solveLinearRecurrence({
    structure: c.structure,
    blockSize: c.structure === 'block' ? c.k : undefined,
    batch: c.B,
    length: c.T,
    size: c.D,
    jacobians: inputs.jacobians,
    rhs: inputs.rhs,
    initial: inputs.initial,
    direction: c.direction,
    ...extra,
  });
}

export function jsSweep(direction: Direction): void {
  const seed = testSeed();
  const dtypes: Dtype[] = ['float32', 'float64'];
  describe(`js backend, ${direction} (seed ${seed})`, () => {
    for (const spec of STRUCTURE_SPECS) {
      for (const dtype of dtypes) {
        it(`${spec.name} ${dtype}: sequential and parallel match the float64 reference over T, B, lanes, ±initial`, () => {
          const rng = new Rng(Math.floor(seed / 2) + hashString(`${direction} ${spec.name} ${dtype}`));
          for (const c of sweepCases(spec, dtype, direction)) {
            const inputs = makeInputs(rng, c);
            const ref = reference(c, inputs);
            for (const method of ['sequential', 'parallel'] as const) {
              const out = solveCase(c, inputs, { backend: 'js', method });
              expectCloseToReference(out, ref, c, seed, `js ${method}`);
              expectZerosCut(out, c, inputs, seed, `js ${method}`);
            }
          }
        });
      }
    }
    for (const dtype of dtypes) {
      it(`diagonal ${dtype}, T = 2^16 + 3: sequential and parallel match the float64 reference`, () => {
        const rng = new Rng(Math.floor(seed / 2) + hashString(`${direction} long ${dtype}`));
        for (const c of longCases(dtype, direction)) {
          const inputs = makeInputs(rng, c);
          const ref = reference(c, inputs);
          for (const method of ['sequential', 'parallel'] as const) {
            const out = solveCase(c, inputs, { backend: 'js', method });
            expectCloseToReference(out, ref, c, seed, `js ${method}`);
            expectZerosCut(out, c, inputs, seed, `js ${method}`);
          }
        }
      });
    }
  });
}
