/**
 * A split (train or valid) of a dataset: `size` examples that can be assembled into batches, and the
 * deterministic order a training run visits them in.
 *
 * Training order: epoch e visits a permutation of the examples drawn from a PRNG seeded with
 * (seed, e); step s takes the examples [s mod E)·B, … + B) of epoch ⌊s / E⌋, where E = ⌊size / B⌋
 * batches per epoch (an incomplete last batch is dropped). The batch of a step depends on nothing but
 * (seed, batch size, step), so a resumed run continues on exactly the data the uninterrupted run saw.
 */
import { Rng, invalidArgument, describeValue } from '@parascan/core';
import type { Batch } from '../contract.js';

export interface DataSplit {
  readonly name: 'train' | 'valid';
  /** Number of examples (sequences or windows). */
  readonly size: number;
  /** A batch of the given examples, in that order. */
  batch(indices: readonly number[]): Batch;
  /** The training batch of `step` (see the module comment). */
  batchAt(step: number, batchSize: number, seed: number): Batch;
  /** Full batches per epoch at this batch size. */
  batchesPerEpoch(batchSize: number): number;
  /** Every example once, in order, in batches of `batchSize` (the last may be smaller); at most `maxBatches`. */
  batches(batchSize: number, maxBatches?: number): Generator<Batch>;
}

/** Mixes (seed, epoch) into one 53-bit seed (splitmix-style), so neighbouring epochs get unrelated orders. */
export function epochSeed(seed: number, epoch: number): number {
  const r = new Rng(seed);
  let x = r.nextUint32() ^ Math.imul(epoch + 1, 0x9e3779b1);
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  x = (x ^ (x >>> 16)) >>> 0;
  return x * 2097152 + (r.nextUint32() >>> 11);
}

/** A Fisher–Yates permutation of [0, n) from `rng`. */
export function permutation(n: number, rng: Rng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

export abstract class SplitBase implements DataSplit {
  private cachedEpoch = -1;
  private cachedSeed = NaN;
  private cachedOrder: Int32Array = new Int32Array(0);

  constructor(
    readonly name: 'train' | 'valid',
    readonly size: number,
  ) {}

  abstract batch(indices: readonly number[]): Batch;

  batchesPerEpoch(batchSize: number): number {
    return Math.floor(this.size / batchSize);
  }

  batchAt(step: number, batchSize: number, seed: number): Batch {
    const op = `${this.name}.batchAt`;
    if (!Number.isSafeInteger(step) || step < 0) throw invalidArgument(op, 'step', 'a non-negative integer', describeValue(step));
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidArgument(op, 'batchSize', 'a positive integer', describeValue(batchSize));
    const perEpoch = this.batchesPerEpoch(batchSize);
    if (perEpoch < 1) {
      throw invalidArgument(op, 'batchSize', `at most the ${this.size} examples of the ${this.name} split`, `${batchSize}`, 'Use a smaller batch size or more data.');
    }
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== this.cachedEpoch || seed !== this.cachedSeed) {
      this.cachedOrder = permutation(this.size, new Rng(epochSeed(seed, epoch)));
      this.cachedEpoch = epoch;
      this.cachedSeed = seed;
    }
    const start = (step % perEpoch) * batchSize;
    return this.batch(Array.from(this.cachedOrder.subarray(start, start + batchSize)));
  }

  *batches(batchSize: number, maxBatches = Infinity): Generator<Batch> {
    let produced = 0;
    for (let start = 0; start < this.size && produced < maxBatches; start += batchSize, produced++) {
      const indices: number[] = [];
      for (let i = start; i < Math.min(this.size, start + batchSize); i++) indices.push(i);
      yield this.batch(indices);
    }
  }
}

/** A split of fixed-length token sequences held in memory ([N, L] inputs, targets, mask). */
export class TokenSequenceSplit extends SplitBase {
  constructor(
    name: 'train' | 'valid',
    readonly length: number,
    readonly inputs: Int32Array,
    readonly targets: Int32Array,
    readonly mask: Uint8Array | undefined,
  ) {
    super(name, inputs.length / length);
  }

  batch(indices: readonly number[]): Batch {
    const L = this.length;
    const B = indices.length;
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    const mask = this.mask ? new Uint8Array(B * L) : undefined;
    indices.forEach((ex, b) => {
      inputs.set(this.inputs.subarray(ex * L, ex * L + L), b * L);
      targets.set(this.targets.subarray(ex * L, ex * L + L), b * L);
      mask?.set(this.mask!.subarray(ex * L, ex * L + L), b * L);
    });
    return mask ? { kind: 'tokens', batch: B, length: L, inputs, targets, mask } : { kind: 'tokens', batch: B, length: L, inputs, targets };
  }
}
