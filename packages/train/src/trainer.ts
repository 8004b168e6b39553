/**
 * `fit` and `evaluate`.
 *
 * fit runs `steps` AdamW updates on batches from `dataset.train` (order: data/split.ts), with the
 * cosine-with-warmup schedule, global-norm clipping, periodic validation, early stopping on the
 * validation loss, periodic atomic checkpoints, and an AbortSignal. It yields to the event loop
 * between steps and between validation batches, and inside a step when the model offers
 * `lossAndGradAsync` / `evaluateAsync` (@parascan/nn's do: they yield between layers), so timers,
 * signals and progress output keep running during a long fit.
 *
 * Resume (options.resume = a checkpoint or its path) restores parameters, AdamW moments and step,
 * the trainer state (step, history, validations, early-stopping counters) and the data order, and
 * continues EXACTLY where the checkpoint was taken: the parameters after step n equal, bit for bit,
 * those of an uninterrupted run (test/resume.test.ts), given the same model code and RunOptions.
 */
import { invalidArgument, describeValue, nonFinite, checkKnownKeys, checkOptionsObject } from '@parascan/core';
import type { Batch, RunOptions, StepResult, TrainableModel } from './contract.js';
import { AdamW, clipGradNorm, cosineWithWarmup } from './optim.js';
import { MetricAccumulator, type Metrics } from './metrics.js';
import {
  loadCheckpoint,
  restoreModel,
  saveCheckpoint,
  type Checkpoint,
  type HistoryPoint,
  type ResolvedFitOptions,
  type TrainerState,
  type ValidationPoint,
} from './checkpoint.js';
import type { Dataset } from './data/dataset.js';

export interface FitOptions {
  /** Total optimiser steps of the run (a resumed run counts the steps already done). */
  steps?: number;
  /** Sequences per batch. Default 16. */
  batchSize?: number;
  /** Peak learning rate. Default 3e-3. */
  lr?: number;
  /** End of the cosine. Default lr / 10. */
  minLr?: number;
  /** Linear warm-up steps. Default min(100, ⌊steps / 10⌋). */
  warmupSteps?: number;
  /** AdamW decoupled weight decay (on parameters with decay: true). Default 0.01. */
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  /** Global gradient-norm clip; 0 disables. Default 1. */
  clipNorm?: number;
  /** Seed of the data order. Default 0. */
  seed?: number;
  /** How the cells are solved (mode, backend), passed to the model. */
  run?: RunOptions;
  /** Validate every this many steps (and after the last). Default max(1, ⌊steps / 10⌋). */
  validEvery?: number;
  /** Validation batches per validation (from the start of the valid split). Default 20. */
  validBatches?: number;
  /** Stop after this many validations without improvement of the best validation loss by more than minDelta. Default: never. */
  patience?: number;
  minDelta?: number;
  /** Where to write checkpoints (atomically, overwriting). */
  checkpointPath?: string;
  /** Checkpoint every this many steps (and always at the end when checkpointPath is set). Default: only at the end. */
  checkpointEvery?: number;
  /** A checkpoint (or its path) to continue from. Options given here override those it stored. */
  resume?: string | Checkpoint;
  /** Abort: the step in flight finishes, a checkpoint is written (when checkpointPath is set) and fit returns status 'interrupted'. */
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}

export type ProgressEvent =
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      loss: number;
      accuracy?: number;
      lr: number;
      gradNorm: number;
      newtonIterations: number;
      /** Scored + unscored positions processed per second in this step. */
      tokensPerSecond: number;
      elapsedMs: number;
      /** Estimated time left, from the mean step time of this session. */
      etaMs: number;
    }
  | { type: 'validation'; step: number; totalSteps: number; metrics: Metrics; bestLoss: number; bestStep: number; improved: boolean }
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'done'; result: FitResult };

export interface FitResult {
  status: 'completed' | 'early-stopped' | 'interrupted';
  /** Steps completed (over every session of the run). */
  step: number;
  totalSteps: number;
  /** Step it resumed from (0 for a fresh run). */
  resumedFrom: number;
  history: HistoryPoint[];
  validations: ValidationPoint[];
  /** The last validation (an interrupted run: the last one it recorded, at step finalValidStep). */
  finalValid: Metrics;
  finalValidStep: number;
  bestValidLoss: number;
  bestStep: number;
  /** Mean training-batch metrics over the last ≤ 50 steps. */
  recentTrain: { loss: number; accuracy?: number };
  options: ResolvedFitOptions;
  /** Last checkpoint written, if any. */
  checkpointPath?: string;
  elapsedMs: number;
  /** Positions per second over the training steps of this session. */
  tokensPerSecond: number;
}

const FIT_KEYS = [
  'steps', 'batchSize', 'lr', 'minLr', 'warmupSteps', 'weightDecay', 'betas', 'eps', 'clipNorm', 'seed', 'run', 'validEvery',
  'validBatches', 'patience', 'minDelta', 'checkpointPath', 'checkpointEvery', 'resume', 'signal', 'onProgress',
];

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Optional async twins of the contract's methods (@parascan/nn's models have them: they hand the
 * event loop back between layers). fit and evaluate use them when present, so a long step does not
 * hold timers, signals and the progress bar for its whole duration; the arithmetic is the same.
 */
interface AsyncSteps {
  lossAndGradAsync?(batch: Batch, options?: RunOptions): Promise<StepResult>;
  evaluateAsync?(batch: Batch, options?: RunOptions): Promise<StepResult>;
}

function lossAndGrad(model: TrainableModel & AsyncSteps, batch: Batch, run: RunOptions): Promise<StepResult> | StepResult {
  return typeof model.lossAndGradAsync === 'function' ? model.lossAndGradAsync(batch, run) : model.lossAndGrad(batch, run);
}

function evaluateBatch(model: TrainableModel & AsyncSteps, batch: Batch, run: RunOptions): Promise<StepResult> | StepResult {
  return typeof model.evaluateAsync === 'function' ? model.evaluateAsync(batch, run) : model.evaluate(batch, run);
}

function positiveInt(name: string, value: unknown, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (allowZero ? 0 : 1)) {
    throw invalidArgument('fit', name, allowZero ? 'a non-negative integer' : 'a positive integer', describeValue(value));
  }
  return value;
}
function finite(name: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !(value >= min) || !Number.isFinite(value)) throw invalidArgument('fit', name, `a finite number >= ${min}`, describeValue(value));
  return value;
}

function resolveOptions(options: FitOptions, stored: ResolvedFitOptions | undefined): ResolvedFitOptions {
  const pick = <K extends keyof ResolvedFitOptions>(key: K, fallback: () => ResolvedFitOptions[K]): ResolvedFitOptions[K] =>
    (options[key as keyof FitOptions] as ResolvedFitOptions[K] | undefined) ?? (stored ? stored[key] : fallback());
  const steps = positiveInt('options.steps', pick('steps', () => 1000));
  const lr = finite('options.lr', pick('lr', () => 3e-3));
  const patienceRaw = pick('patience', () => Infinity);
  const patience = patienceRaw === Infinity ? Infinity : positiveInt('options.patience', patienceRaw);
  const betas = pick('betas', () => [0.9, 0.999]);
  return {
    steps,
    batchSize: positiveInt('options.batchSize', pick('batchSize', () => 16)),
    lr,
    minLr: finite('options.minLr', pick('minLr', () => lr / 10)),
    warmupSteps: positiveInt('options.warmupSteps', pick('warmupSteps', () => Math.min(100, Math.floor(steps / 10))), true),
    weightDecay: finite('options.weightDecay', pick('weightDecay', () => 0.01)),
    betas: [betas[0], betas[1]],
    eps: finite('options.eps', pick('eps', () => 1e-8)),
    clipNorm: finite('options.clipNorm', pick('clipNorm', () => 1)),
    seed: pick('seed', () => 0),
    validEvery: positiveInt('options.validEvery', pick('validEvery', () => Math.max(1, Math.floor(steps / 10)))),
    validBatches: positiveInt('options.validBatches', pick('validBatches', () => 20)),
    patience,
    minDelta: finite('options.minDelta', pick('minDelta', () => 0)),
  };
}

function checkRun(run: RunOptions | undefined): RunOptions {
  if (run === undefined) return {};
  checkKnownKeys('fit', 'options.run', checkOptionsObject('fit', 'options.run', run), ['mode', 'backend']);
  return run;
}

function positionsOf(batch: Batch): number {
  return batch.batch * batch.length;
}

function checkFiniteResult(op: string, what: string, r: StepResult, hint: string): void {
  if (!Number.isFinite(r.loss)) throw nonFinite(op, `${what}: the loss is ${r.loss}`, hint);
}

/** Forward-only metrics over (up to `maxBatches` batches of) a split, yielding between batches. */
export async function evaluate(
  model: TrainableModel,
  dataset: Dataset,
  split: 'train' | 'valid' = 'valid',
  options: { batchSize?: number; maxBatches?: number; run?: RunOptions; signal?: AbortSignal } = {},
): Promise<Metrics> {
  const op = 'evaluate';
  if (split !== 'train' && split !== 'valid') throw invalidArgument(op, 'split', "'train' or 'valid'", describeValue(split));
  const batchSize = options.batchSize ?? 32;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidArgument(op, 'options.batchSize', 'a positive integer', describeValue(batchSize));
  const acc = new MetricAccumulator(dataset.kind);
  const run = checkRun(options.run);
  for (const batch of dataset[split].batches(batchSize, options.maxBatches ?? Infinity)) {
    if (options.signal?.aborted) break;
    acc.add(await evaluateBatch(model, batch, run));
    await yieldToEventLoop();
  }
  return acc.result();
}

function checkModelFitsData(model: TrainableModel, dataset: Dataset): void {
  const shape = dataset.modelShape();
  const c = model.config;
  const mismatch = (what: string, want: unknown, got: unknown) =>
    invalidArgument('fit', 'model', `a model whose ${what} is ${want} (dataset ${dataset.name})`, `${got}`, `Build it with createModel({ ...config, ${what}: ${want} }).`);
  if (c.type !== shape.type) throw mismatch('type', `'${shape.type}'`, `'${c.type}'`);
  if (shape.vocab !== undefined && c.vocab !== shape.vocab) throw mismatch('vocab', shape.vocab, c.vocab);
  if (shape.inputFeatures !== undefined && c.inputFeatures !== shape.inputFeatures) throw mismatch('inputFeatures', shape.inputFeatures, c.inputFeatures);
  if (shape.outputFeatures !== undefined && c.outputFeatures !== shape.outputFeatures) throw mismatch('outputFeatures', shape.outputFeatures, c.outputFeatures);
  const seriesDtype = dataset.kind === 'series' ? (dataset.spec as { dtype?: string }).dtype : undefined;
  if (seriesDtype !== undefined && seriesDtype !== model.dtype) {
    throw invalidArgument('fit', 'dataset', `series in the model's dtype (${model.dtype})`, `${seriesDtype} series`, `Create it with createDataset({ ...spec, dtype: '${model.dtype}' }).`);
  }
}

/** JSON with object keys sorted (and undefined members dropped), so equal specs compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export async function fit(model: TrainableModel, dataset: Dataset, options: FitOptions = {}): Promise<FitResult> {
  const op = 'fit';
  checkKnownKeys(op, 'options', checkOptionsObject(op, 'options', options), FIT_KEYS);
  checkModelFitsData(model, dataset);
  const run = checkRun(options.run);

  let checkpoint: Checkpoint | undefined;
  if (options.resume !== undefined) {
    checkpoint = typeof options.resume === 'string' ? await loadCheckpoint(options.resume) : options.resume;
    if (!checkpoint.optimizer || !checkpoint.trainer) {
      throw invalidArgument(op, 'options.resume', 'a checkpoint written by fit (with optimiser and trainer state)', `${checkpoint.path}, which holds parameters only`, 'Use it as initial weights with restoreModel instead.');
    }
    // The architecture must match; the init seed need not (the checkpoint's parameters replace the init).
    const architecture = (c: object) => canonicalJson({ ...c, seed: undefined });
    if (architecture(checkpoint.config) !== architecture(model.config)) {
      throw invalidArgument(op, 'options.resume', `a checkpoint of this model's config ${JSON.stringify(model.config)}`, `one of ${JSON.stringify(checkpoint.config)}`, 'Build the model with createModel(checkpoint.config).');
    }
    if (checkpoint.dataset && canonicalJson(checkpoint.dataset) !== canonicalJson(dataset.spec)) {
      throw invalidArgument(op, 'options.resume', `a checkpoint of this dataset (${JSON.stringify(dataset.spec)})`, `one of ${JSON.stringify(checkpoint.dataset)}`, 'Create the dataset with createDataset(checkpoint.dataset).');
    }
    const stored = checkpoint.trainer.options;
    if (options.batchSize !== undefined && options.batchSize !== stored.batchSize) {
      throw invalidArgument(op, 'options.batchSize', `the checkpoint's ${stored.batchSize} to resume exactly (the data order depends on it)`, `${options.batchSize}`);
    }
    if (options.seed !== undefined && options.seed !== stored.seed) {
      throw invalidArgument(op, 'options.seed', `the checkpoint's data-order seed ${stored.seed} to resume exactly`, `${options.seed}`);
    }
  }
  const resolved = resolveOptions(options, checkpoint?.trainer?.options);
  const { steps, batchSize, seed } = resolved;
  if (!Number.isSafeInteger(seed)) throw invalidArgument(op, 'options.seed', 'a safe integer', describeValue(seed));
  if (dataset.train.batchesPerEpoch(batchSize) < 1) {
    throw invalidArgument(op, 'options.batchSize', `at most the ${dataset.train.size} training examples of ${dataset.name}`, `${batchSize}`);
  }
  const checkpointEvery = options.checkpointEvery === undefined ? Infinity : positiveInt('options.checkpointEvery', options.checkpointEvery);
  const schedule = cosineWithWarmup({ peakLr: resolved.lr, minLr: Math.min(resolved.minLr, resolved.lr), warmupSteps: resolved.warmupSteps, totalSteps: steps });
  const params = model.parameters();
  const optimizer = new AdamW(params, { lr: resolved.lr, betas: resolved.betas, eps: resolved.eps, weightDecay: resolved.weightDecay });

  const state: TrainerState = checkpoint?.trainer
    ? structuredClone({ ...checkpoint.trainer, options: resolved })
    : { step: 0, options: resolved, history: [], validations: [], bestValidLoss: null, bestStep: null, badValidations: 0, elapsedMs: 0 };
  if (checkpoint) {
    restoreModel(model, checkpoint);
    optimizer.loadState(checkpoint.optimizer!);
  }
  const resumedFrom = state.step;
  const emit = (event: ProgressEvent) => options.onProgress?.(event);
  let lastCheckpoint: string | undefined;
  const writeCheckpoint = () => {
    if (!options.checkpointPath) return;
    saveCheckpoint(options.checkpointPath, model, { optimizer, trainer: state, dataset: dataset.spec });
    lastCheckpoint = options.checkpointPath;
    emit({ type: 'checkpoint', step: state.step, path: options.checkpointPath });
  };

  const validate = async (): Promise<Metrics> => {
    const metrics = await evaluate(model, dataset, 'valid', { batchSize, maxBatches: resolved.validBatches, run });
    if (!Number.isFinite(metrics.loss)) throw nonFinite(op, `validation after step ${state.step}: the loss is ${metrics.loss}`, 'Lower the learning rate (options.lr) or clip harder (options.clipNorm).');
    const improved = state.bestValidLoss === null || metrics.loss < state.bestValidLoss - resolved.minDelta;
    if (improved) {
      state.bestValidLoss = metrics.loss;
      state.bestStep = state.step;
      state.badValidations = 0;
    } else state.badValidations++;
    state.validations.push({ step: state.step, metrics });
    emit({ type: 'validation', step: state.step, totalSteps: steps, metrics, bestLoss: state.bestValidLoss!, bestStep: state.bestStep!, improved });
    return metrics;
  };

  let status: FitResult['status'] = 'completed';
  const sessionStart = performance.now();
  const elapsedBefore = state.elapsedMs;
  let sessionSteps = 0;
  let sessionStepMs = 0;
  let sessionPositions = 0;
  while (state.step < steps) {
    if (options.signal?.aborted) {
      status = 'interrupted';
      break;
    }
    const stepIndex = state.step; // 0-based index of the update about to run
    const batch = dataset.train.batchAt(stepIndex, batchSize, seed);
    const t0 = performance.now();
    const result = await lossAndGrad(model, batch, run);
    checkFiniteResult(op, `step ${stepIndex + 1}`, result, 'Lower the learning rate (options.lr) or clip harder (options.clipNorm); the last checkpoint holds the state before this step.');
    const gradNorm = resolved.clipNorm > 0 ? clipGradNorm(params, resolved.clipNorm) : clipGradNorm(params, Infinity);
    if (!Number.isFinite(gradNorm)) {
      const bad = params.find((p) => p.grad.some((g) => !Number.isFinite(g)));
      throw nonFinite(op, `step ${stepIndex + 1}: the gradient norm is ${gradNorm}${bad ? ` (first non-finite gradient in \`${bad.name}\`)` : ''}`, 'Lower the learning rate (options.lr); the last checkpoint holds the state before this step.');
    }
    const lr = schedule(stepIndex);
    optimizer.step(lr);
    const ms = performance.now() - t0;
    state.step++;
    sessionSteps++;
    sessionStepMs += ms;
    sessionPositions += positionsOf(batch);
    const accuracy = result.correct !== undefined && result.count > 0 ? result.correct / result.count : undefined;
    state.history.push({ step: state.step, loss: result.loss, ...(accuracy !== undefined ? { accuracy } : {}), lr, gradNorm, newtonIterations: result.newtonIterations, ms });
    state.elapsedMs = elapsedBefore + (performance.now() - sessionStart);
    const meanStep = sessionStepMs / sessionSteps;
    emit({
      type: 'step',
      step: state.step,
      totalSteps: steps,
      loss: result.loss,
      ...(accuracy !== undefined ? { accuracy } : {}),
      lr,
      gradNorm,
      newtonIterations: result.newtonIterations,
      tokensPerSecond: positionsOf(batch) / (ms / 1000),
      elapsedMs: state.elapsedMs,
      etaMs: meanStep * (steps - state.step),
    });
    let stop = false;
    if (state.step % resolved.validEvery === 0 || state.step === steps) {
      await validate();
      if (resolved.patience !== Infinity && state.badValidations >= resolved.patience) {
        status = 'early-stopped';
        stop = true;
      }
    }
    if (state.step % checkpointEvery === 0 && state.step < steps && !stop) writeCheckpoint();
    if (stop) break;
    await yieldToEventLoop();
  }
  state.elapsedMs = elapsedBefore + (performance.now() - sessionStart);
  // A completed or early-stopped run validated at its last step. An interrupted one saves first (its
  // trainer state exactly as an uninterrupted run would have it at this step, for a bit-exact resume)
  // and reports its last validation, or an unrecorded one if it never validated.
  writeCheckpoint();
  let last = state.validations[state.validations.length - 1];
  if (!last || (status !== 'interrupted' && last.step !== state.step)) {
    const metrics = await evaluate(model, dataset, 'valid', { batchSize, maxBatches: resolved.validBatches, run });
    last = { step: state.step, metrics };
  }
  const finalValid = last.metrics;
  const recent = state.history.slice(-50);
  const recentAcc = recent.filter((h) => h.accuracy !== undefined);
  const result: FitResult = {
    status,
    step: state.step,
    totalSteps: steps,
    resumedFrom,
    history: state.history,
    validations: state.validations,
    finalValid,
    finalValidStep: last.step,
    bestValidLoss: state.bestValidLoss ?? finalValid.loss,
    bestStep: state.bestStep ?? state.step,
    recentTrain: {
      loss: recent.reduce((a, h) => a + h.loss, 0) / Math.max(1, recent.length),
      ...(recentAcc.length ? { accuracy: recentAcc.reduce((a, h) => a + h.accuracy!, 0) / recentAcc.length } : {}),
    },
    options: resolved,
    ...(lastCheckpoint ? { checkpointPath: lastCheckpoint } : {}),
    elapsedMs: state.elapsedMs,
    tokensPerSecond: sessionStepMs > 0 ? sessionPositions / (sessionStepMs / 1000) : 0,
  };
  emit({ type: 'done', result });
  return result;
}
