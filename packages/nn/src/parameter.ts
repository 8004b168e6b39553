/** Trainable tensors and the context every layer's forward/backward runs in. */
import { allocate, type Dtype, type FloatArray, type Rng } from '@parascan/core';
import type { Parameter } from './types.js';

/** A Parameter whose data/grad are mutable typed arrays (the contract's view is read-only by reference only). */
export interface LiveParameter extends Parameter {
  readonly data: FloatArray;
  readonly grad: FloatArray;
}

export function createParameter(name: string, shape: readonly number[], dtype: Dtype, decay: boolean): LiveParameter {
  const n = shape.reduce((p, s) => p * s, 1);
  return { name, shape: [...shape], data: allocate(dtype, n), grad: allocate(dtype, n), decay };
}

export function fillUniform(p: Parameter, rng: Rng, bound: number): void {
  for (let i = 0; i < p.data.length; i++) p.data[i] = rng.uniform(-bound, bound);
}

export function fillNormal(p: Parameter, rng: Rng, std: number): void {
  for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal(0, std);
}

/** Where matrix products run: 'cpu' (OpenBLAS through the addon) or 'js' (the plain loop). */
export interface LayerContext {
  readonly gemm: 'js' | 'cpu';
}

/** dst[i] += src[i] */
export function addInto(dst: FloatArray, src: ArrayLike<number>): void {
  for (let i = 0; i < dst.length; i++) dst[i] = dst[i]! + src[i]!;
}
