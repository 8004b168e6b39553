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

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
