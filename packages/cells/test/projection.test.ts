/**
 * The native input projection (OpenBLAS GEMMs) against the TypeScript loop it replaces, which sums
 * in float64: fresh random data, odd row counts, every head split; and its argument checks.
 */
import { createRng, type FloatArray } from '@parascan/core';
import { assertClose, testSeed, toleranceFor } from '@parascan/core/testing';
import { tryLoadNativeAddon } from '@parascan/native';
import { describe, expect, it } from 'vitest';

import { project, projectVjp } from '../src/projection.js';

const loaded = tryLoadNativeAddon('cpu');
const addon = 'addon' in loaded ? loaded.addon : null;
const hasBlas = typeof addon?.projectInputs === 'function';
const seed = testSeed();

describe.skipIf(!hasBlas && process.env.CI !== 'true')(`native projectInputs (BLAS), seed ${seed}`, () => {
  for (const dtype of ['float32', 'float64'] as const)
    for (const [points, inputSize, stateSize, heads, gates] of [
      [1, 4, 4, 1, 3], [7, 12, 8, 2, 3], [257, 64, 64, 4, 3], [1025, 24, 40, 4, 3], [33, 6, 10, 2, 1],
    ] as const)
      it(`${dtype} M=${points} Din=${inputSize} D=${stateSize} H=${heads} G=${gates}`, () => {
        const rng = createRng(seed + points);
        const Arr = dtype === 'float32' ? Float32Array : Float64Array;
        const fill = (n: number): FloatArray => { const a = new Arr(n); for (let i = 0; i < n; i++) a[i] = rng.normal(); return a; };
        const x = fill(points * inputSize), weight = fill((inputSize / heads) * gates * stateSize), bias = fill(gates * stateSize);
        const shape = { points, inputSize, stateSize, heads, gates };
        const want = new Arr(points * gates * stateSize), got = new Arr(points * gates * stateSize);
        project(shape, x, weight, bias, want);
        addon!.projectInputs!({ ...shape, x, weight, bias, out: got });
        // a sum of Din/H products: the error of a length-(Din/H) reduction
        assertClose(got, want, toleranceFor(dtype, inputSize / heads));
      });

  it('rejects wrong lengths, mixed dtypes and sizes not divisible by heads', () => {
    const ok = { points: 2, inputSize: 4, stateSize: 4, heads: 2, gates: 3, x: new Float32Array(8), weight: new Float32Array(24), bias: new Float32Array(12), out: new Float32Array(24) };
    expect(() => addon!.projectInputs!({ ...ok, out: new Float32Array(23) })).toThrow(/argument `out` must be a Float32Array of length 24; got length 23/);
    expect(() => addon!.projectInputs!({ ...ok, weight: new Float64Array(24) })).toThrow(/argument `weight` must be a Float32Array/);
    expect(() => addon!.projectInputs!({ ...ok, heads: 3 })).toThrow(/argument `heads` must divide inputSize \(4\) and stateSize \(4\); got 3/);
    expect(() => addon!.projectInputs!({ ...ok, points: 0 })).toThrow(/argument `points` must be a positive integer/);
  });
});

describe.skipIf(!hasBlas && process.env.CI !== 'true')(`native cellProjectionVjp (BLAS) == the TS projectVjp, seed ${seed}`, () => {
  for (const dtype of ['float32', 'float64'] as const)
    for (const [points, inputSize, stateSize, heads] of [[1, 4, 4, 1], [7, 12, 8, 2], [257, 64, 64, 4], [33, 6, 10, 2]] as const)
      it(`${dtype} M=${points} Din=${inputSize} D=${stateSize} H=${heads}`, () => {
        const rng = createRng(seed + 7 * points + heads);
        const Arr = dtype === 'float32' ? Float32Array : Float64Array;
        const fill = (n: number): FloatArray => { const a = new Arr(n); for (let i = 0; i < n; i++) a[i] = rng.normal(); return a; };
        const gates = 3;
        const shape = { points, inputSize, stateSize, heads, gates };
        const x = fill(points * inputSize), weight = fill((inputSize / heads) * gates * stateSize), dP = fill(points * gates * stateSize);
        const dB = new Float64Array(weight.length), db = new Float64Array(gates * stateSize), dx = new Arr(points * inputSize);
        projectVjp(shape, x, weight, dP, dB, db, dx);
        const gotDx = new Arr(dx.length), gotDW = new Arr(weight.length), gotDb = new Arr(db.length);
        addon!.cellProjectionVjp!({ ...shape, x, weight, dP, dx: gotDx, dW: gotDW, db: gotDb });
        // dx sums G·D/H products, dB and db sum M of them
        assertClose(gotDx, dx, toleranceFor(dtype, (gates * stateSize) / heads), { label: 'dx' });
        assertClose(gotDW, dB, toleranceFor(dtype, points), { label: 'dW' });
        assertClose(gotDb, db, toleranceFor(dtype, points), { label: 'db' });
      });

  it('names a wrong argument', () => {
    const ok = { points: 2, inputSize: 4, stateSize: 4, heads: 2, gates: 3, x: new Float32Array(8), weight: new Float32Array(24), dP: new Float32Array(24), dW: new Float32Array(24), db: new Float32Array(12) };
    expect(() => addon!.cellProjectionVjp!({ ...ok, dP: new Float32Array(23) })).toThrow(/cellProjectionVjp \(native cpu\): argument `dP` must be a Float32Array of length 24/);
    expect(() => addon!.cellProjectionVjp!({ ...ok, dW: new Float64Array(24) })).toThrow(/argument `dW` must be a Float32Array/);
    expect(() => addon!.cellProjectionVjp!({ ...ok, heads: 3 })).toThrow(/argument `heads` must divide inputSize and stateSize; got 3/);
  });
});
