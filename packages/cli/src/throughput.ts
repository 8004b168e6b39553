/**
 * Training throughput of a ParaRNN language model per solve mode, measured side by side in one
 * process: the modes take turns (round robin) so drift of the machine hits them alike, and the
 * medians are compared. Used by `parascan bench` and by bench/'s `train-throughput` case.
 */
import { createRng } from '@parascan/core';
import { createModel, type RunOptions, type TokenBatch } from '@parascan/nn';

export type ThroughputMode = NonNullable<RunOptions['mode']>;

export interface ThroughputOptions {
  cell: 'gru' | 'lstm';
  layers: number;
  width: number;
  heads: number;
  vocab?: number;
  batch: number;
  length: number;
  modes: readonly ThroughputMode[];
  backend?: RunOptions['backend'];
  /** Timed rounds after one warm-up round. */
  repeats: number;
  seed?: number;
  /** Called between runs (e.g. to yield to the event loop). */
  between?: () => Promise<void> | void;
}

export interface ThroughputRow {
  mode: ThroughputMode;
  /** Median ms of one training step (forward + backward, no optimiser update). */
  stepMs: number;
  /** Median ms of one forward (evaluate). */
  forwardMs: number;
  /** Tokens (B·T positions) per second of training steps. */
  tokensPerSecond: number;
  newtonIterations: number;
  loss: number;
  /** Relative to the first mode (the baseline). */
  stepSpeedup: number;
  forwardSpeedup: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function measureTrainingThroughput(o: ThroughputOptions): Promise<ThroughputRow[]> {
  const vocab = o.vocab ?? 256;
  const model = createModel({ type: 'lm', cell: o.cell, layers: o.layers, width: o.width, heads: o.heads, vocab, seed: o.seed ?? 1 });
  const rng = createRng(o.seed ?? 1);
  const n = o.batch * o.length;
  const inputs = new Int32Array(n);
  const targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    inputs[i] = Math.floor(rng.uniform() * vocab);
    targets[i] = Math.floor(rng.uniform() * vocab);
  }
  const batch: TokenBatch = { kind: 'tokens', batch: o.batch, length: o.length, inputs, targets };
  const step = new Map<ThroughputMode, number[]>();
  const fwd = new Map<ThroughputMode, number[]>();
  const last = new Map<ThroughputMode, { loss: number; newton: number }>();
  for (const m of o.modes) {
    step.set(m, []);
    fwd.set(m, []);
  }
  for (let round = 0; round <= o.repeats; round++) {
    for (const mode of o.modes) {
      const run: RunOptions = { mode, ...(o.backend ? { backend: o.backend } : {}) };
      let t = performance.now();
      const r = model.lossAndGrad(batch, run);
      const stepMs = performance.now() - t;
      await o.between?.();
      t = performance.now();
      model.evaluate(batch, run);
      const fwdMs = performance.now() - t;
      await o.between?.();
      if (round > 0) {
        step.get(mode)!.push(stepMs);
        fwd.get(mode)!.push(fwdMs);
      }
      last.set(mode, { loss: r.loss, newton: r.newtonIterations });
    }
  }
  const rows = o.modes.map((mode) => {
    const stepMs = median(step.get(mode)!);
    const forwardMs = median(fwd.get(mode)!);
    return { mode, stepMs, forwardMs, tokensPerSecond: (n / stepMs) * 1000, newtonIterations: last.get(mode)!.newton, loss: last.get(mode)!.loss, stepSpeedup: 1, forwardSpeedup: 1 };
  });
  for (const r of rows) {
    r.stepSpeedup = rows[0]!.stepMs / r.stepMs;
    r.forwardSpeedup = rows[0]!.forwardMs / r.forwardMs;
  }
  return rows;
}
