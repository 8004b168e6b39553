import { createRng, type Dtype, type FloatArray, type Rng } from '@parascan/core';
import { testSeed } from '@parascan/core/testing';
import { ParaGRU, ParaLSTM, type CellOptions, type ParaCell } from '../src/index.js';

export const CELLS = { ParaGRU, ParaLSTM } as const;
export type CellName = keyof typeof CELLS;

export function makeCell(name: CellName, options: CellOptions): ParaCell {
  return new CELLS[name](options);
}

/** FNV-1a: a per-test offset, so one PARASCAN_SEED reproduces every test. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const RUN_SEED = testSeed();
console.log(`cells tests: seed ${RUN_SEED} (rerun with PARASCAN_SEED=${RUN_SEED})`);

/** The run's seed and an rng for one named case. */
export function caseRng(label: string): { seed: number; rng: Rng } {
  const seed = (RUN_SEED + hashString(label)) % 2 ** 52;
  return { seed: RUN_SEED, rng: createRng(seed) };
}

export function normal(rng: Rng, dtype: Dtype, n: number, std = 1): FloatArray {
  return rng.normalArray(dtype, n, 0, std);
}

/**
 * One case of the mode/backend agreement sweeps: a seeded cell, x [B, T, Din], h0 [B, S] when B = 3
 * (else none: the zero start is covered too) and dy [B, T, D], drawn in that order from the case's rng
 * (which is returned for anything more the test draws).
 */
export function agreementCase(
  cellName: CellName,
  label: string,
  shape: { dtype: Dtype; B: number; T: number; Din: number; D: number; heads: number },
): { seed: number; rng: Rng; cell: ParaCell; S: number; x: FloatArray; h0: FloatArray | undefined; dy: FloatArray } {
  const { dtype, B, T, Din, D, heads } = shape;
  const { seed, rng } = caseRng(label);
  const cell = makeCell(cellName, { inputSize: Din, stateSize: D, heads, dtype, seed: rng.int(0, 2 ** 30) });
  const S = cell.stateWidth;
  const x = normal(rng, dtype, B * T * Din);
  const h0 = B === 3 ? normal(rng, dtype, B * S, 0.5) : undefined;
  const dy = normal(rng, dtype, B * T * D);
  return { seed, rng, cell, S, x, h0, dy };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
