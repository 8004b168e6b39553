/**
 * The end-of-run summary: final metrics, the loss curve (SVG), and the sequential-vs-parallel forward
 * time of the trained model measured in the same process on one batch.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch, RunOptions, TrainableModel } from './contract.js';
import type { Dataset } from './data/dataset.js';
import type { FitResult } from './trainer.js';
import { formatMetrics } from './metrics.js';
import { lossCurveSvg } from './svg.js';
import { formatDuration } from './progress.js';

export interface ForwardTiming {
  backend: RunOptions['backend'] | 'default';
  batch: number;
  length: number;
  /** Median wall time of model.evaluate(batch, { mode: 'sequential' }). */
  sequentialMs: number;
  /** Median wall time of model.evaluate(batch, { mode: 'parallel' }). */
  parallelMs: number;
  /** sequentialMs / parallelMs (> 1: parallel is faster). */
  speedup: number;
  /** Newton iterations the parallel forward took. */
  newtonIterations: number;
  /** |loss_parallel − loss_sequential|: the two modes must agree. */
  lossDifference: number;
  repeats: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Times `model.evaluate` on one batch in sequential and in parallel mode (one warm-up each, then
 * `repeats` alternating runs; medians), on `backend` (default: the model's default).
 */
export async function compareForwardModes(model: TrainableModel, batch: Batch, options: { repeats?: number; backend?: RunOptions['backend'] } = {}): Promise<ForwardTiming> {
  const repeats = Math.max(1, options.repeats ?? 3);
  const base: RunOptions = options.backend ? { backend: options.backend } : {};
  const seqOpts: RunOptions = { ...base, mode: 'sequential' };
  const parOpts: RunOptions = { ...base, mode: 'parallel' };
  const seqLoss = model.evaluate(batch, seqOpts).loss;
  const parWarm = model.evaluate(batch, parOpts);
  const seq: number[] = [];
  const par: number[] = [];
  let newton = parWarm.newtonIterations;
  for (let i = 0; i < repeats; i++) {
    let t = performance.now();
    model.evaluate(batch, seqOpts);
    seq.push(performance.now() - t);
    await yieldToEventLoop();
    t = performance.now();
    newton = model.evaluate(batch, parOpts).newtonIterations;
    par.push(performance.now() - t);
    await yieldToEventLoop();
  }
  const sequentialMs = median(seq);
  const parallelMs = median(par);
  return {
    backend: options.backend ?? 'default',
    batch: batch.batch,
    length: batch.length,
    sequentialMs,
    parallelMs,
    speedup: sequentialMs / parallelMs,
    newtonIterations: newton,
    lossDifference: Math.abs(parWarm.loss - seqLoss),
    repeats,
  };
}

export interface RunSummary {
  readonly text: string;
  readonly svg: string;
  readonly json: Record<string, unknown>;
}

export function summarizeRun(result: FitResult, context: { model: TrainableModel; dataset: Dataset; forward?: ForwardTiming; title?: string }): RunSummary {
  const { model, dataset, forward } = context;
  const c = model.config;
  const title = context.title ?? `${dataset.name}: ${c.cell} ×${c.layers}, d=${c.width}, ${c.heads} heads`;
  const lines = [
    `run ${result.status} at step ${result.step}/${result.totalSteps}${result.resumedFrom ? ` (resumed from step ${result.resumedFrom})` : ''} in ${formatDuration(result.elapsedMs)}`,
    `model: ${JSON.stringify(c)}`,
    `data: ${dataset.describe().split('\n')[0]}`,
    `final valid (step ${result.finalValidStep}): ${formatMetrics(result.finalValid)}`,
    `best valid loss ${result.bestValidLoss.toFixed(4)} at step ${result.bestStep}`,
    `recent train loss ${result.recentTrain.loss.toFixed(4)}${result.recentTrain.accuracy !== undefined ? `, accuracy ${(100 * result.recentTrain.accuracy).toFixed(2)}%` : ''}; ${Math.round(result.tokensPerSecond)} positions/s`,
  ];
  if (forward) {
    lines.push(
      `forward on one batch [B=${forward.batch}, T=${forward.length}], backend ${forward.backend}: sequential ${forward.sequentialMs.toFixed(2)} ms, parallel ${forward.parallelMs.toFixed(2)} ms ` +
        `(${forward.speedup.toFixed(2)}× ; ${forward.newtonIterations} Newton iterations; |Δloss| ${forward.lossDifference.toExponential(2)})`,
    );
  }
  if (result.checkpointPath) lines.push(`checkpoint: ${result.checkpointPath}`);
  return {
    text: lines.join('\n'),
    svg: lossCurveSvg(result.history, result.validations, { title }),
    json: {
      status: result.status,
      step: result.step,
      totalSteps: result.totalSteps,
      resumedFrom: result.resumedFrom,
      elapsedMs: result.elapsedMs,
      model: c,
      dataset: { name: dataset.name, spec: dataset.spec, info: dataset.info },
      options: result.options,
      finalValid: result.finalValid,
      finalValidStep: result.finalValidStep,
      bestValidLoss: result.bestValidLoss,
      bestStep: result.bestStep,
      recentTrain: result.recentTrain,
      tokensPerSecond: result.tokensPerSecond,
      ...(forward ? { forward } : {}),
      ...(result.checkpointPath ? { checkpoint: result.checkpointPath } : {}),
      validations: result.validations,
    },
  };
}

/** Writes summary.txt, summary.json and loss.svg into `dir` (created if needed); returns their paths. */
export function writeRunSummary(dir: string, summary: RunSummary): { text: string; json: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const paths = { text: join(dir, 'summary.txt'), json: join(dir, 'summary.json'), svg: join(dir, 'loss.svg') };
  writeFileSync(paths.text, summary.text + '\n');
  writeFileSync(paths.json, JSON.stringify(summary.json, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n');
  writeFileSync(paths.svg, summary.svg + '\n');
  return paths;
}
