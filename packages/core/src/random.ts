/**
 * A small seeded PRNG for tests, benchmarks and weight initialisation: xoshiro128** (32-bit state
 * words, fast with Math.imul) seeded through splitmix32, with uniform and normal draws. The same
 * seed gives the same stream on every platform.
 */

import { allocate, type Dtype, type FloatArray } from './dtype.js';

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const TWO_POW_32 = 4294967296;

export class Rng {
  /** The seed this generator started from (print it to reproduce a run). */
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  // A number field with a flag (not number | null): V8 then keeps it unboxed, no allocation per draw.
  private spare = 0;
  private hasSpare = false;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Rng: seed must be a safe integer; got ${seed}.`);
    this.seed = seed;
    // Mix both 32-bit halves of the seed so that seeds above 2^32 differ too.
    const st = { s: (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_POW_32) | 0, 0x27d4eb2d) };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [low, high). */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [low, high] (inclusive). */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller, caching the second draw), scaled to mean/std. */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.hasSpare) {
      z = this.spare;
      this.hasSpare = false;
    } else {
      let u = 0;
      while (u === 0) u = this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      z = r * Math.cos(2 * Math.PI * v);
      this.spare = r * Math.sin(2 * Math.PI * v);
      this.hasSpare = true;
    }
    return mean + std * z;
  }

  /** An array of `length` normal draws. */
  normalArray(dtype: Dtype, length: number, mean = 0, std = 1): FloatArray {
    const out = allocate(dtype, length);
    for (let i = 0; i < length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** An array of `length` uniform draws in [low, high). */
  uniformArray(dtype: Dtype, length: number, low = 0, high = 1): FloatArray {
    const out = allocate(dtype, length);
    for (let i = 0; i < length; i++) out[i] = this.uniform(low, high);
    return out;
  }

  /** An independent generator derived from this one (for per-case streams). */
  fork(): Rng {
    return new Rng(this.nextUint32() * 2097152 + (this.nextUint32() >>> 11));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A fresh seed (non-deterministic), a safe integer below 2^53. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32) * 2097152 + Math.floor(Math.random() * 2097152);
}

export function createRng(seed: number = randomSeed()): Rng {
  return new Rng(seed);
}
