/**
 * The native input projection (OpenBLAS GEMMs) against the TypeScript loop it replaces, which sums
 * in float64: fresh random data, odd row counts, every head split; and its argument checks.
 */
import { createRng, type FloatArray } from '@parascan/core';
import { assertClose, testSeed, toleranceFor } from '@parascan/core/testing';
import { tryLoadNativeAddon } from '@parascan/native';
import { describe, expect, it } from 'vitest';

import { project } from '../src/projection.js';

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
        const fill = (n: number): FloatArray => Arr.from({ length: n }, () => rng.normal());
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
