/** Timing (tinybench 6) and test data. */
import { Bench } from 'tinybench';

import type { Profile } from './args.js';
import type { Timing } from './types.js';

export interface Budget {
  /** tinybench `time`: ms of timed samples per row (it keeps going until `iterations` too). */
  timeMs: number;
  /** tinybench `iterations`: minimum timed samples. */
  iterations: number;
  warmupMs: number;
  warmupIterations: number;
}

export const BUDGETS: Record<Profile, Budget> = {
  full: { timeMs: 1500, iterations: 5, warmupMs: 300, warmupIterations: 2 },
  quick: { timeMs: 250, iterations: 3, warmupMs: 60, warmupIterations: 1 },
  smoke: { timeMs: 10, iterations: 2, warmupMs: 1, warmupIterations: 1 },
};

/** Times `fn` with tinybench: warm-up first, then samples until both budgets are met. */
export async function timeIt(name: string, fn: () => void, budget: Budget): Promise<Timing> {
  const bench = new Bench({
    name,
    time: budget.timeMs,
    iterations: budget.iterations,
    warmup: true,
    warmupTime: budget.warmupMs,
    warmupIterations: budget.warmupIterations,
    throws: true,
  });
  bench.add(name, fn);
  await bench.run();
  const task = bench.tasks[0];
  const result = task?.result;
  if (!result || (result.state !== 'completed' && result.state !== 'aborted-with-statistics')) {
    const why = result && result.state === 'errored' ? result.error.message : `state ${result?.state ?? 'missing'}`;
    throw new Error(`timing ${name} failed: ${why}`);
  }
  const l = result.latency;
  return {
    medianMs: l.p50,
    meanMs: l.mean,
    minMs: l.min,
    maxMs: l.max,
    sdMs: l.sd,
    rmePct: l.rme,
    samples: l.samplesCount,
  };
}

/** Fills `a` with uniform values in [lo, hi) from a fast seeded xorshift (fills of 2^25 elements stay cheap). */
export function fillUniform(a: Float32Array | Float64Array, lo: number, hi: number, seed: number): void {
  let s = (seed * 0x9e3779b1) | 0 || 1;
  const scale = (hi - lo) / 4294967296;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = lo + (s >>> 0) * scale;
  }
}

export const MiB = 1024 * 1024;
