/**
 * Checkpoints: one safetensors file (see safetensors.ts) that PyTorch's `safetensors.torch.load_file`
 * opens as is.
 *
 * Tensors:
 *   <parameter name>                 the model's parameters, under their own names (ParaRNN's for the
 *                                    cells), in the model's dtype
 *   optimizer.exp_avg.<name>         AdamW first moments (F64)
 *   optimizer.exp_avg_sq.<name>      AdamW second moments (F64)
 * Metadata (string map):
 *   format                           'parascan.checkpoint.v1'
 *   parascan.model_config            JSON ModelConfig (createModel(config) rebuilds the architecture)
 *   parascan.optimizer               JSON { step, lr, betas, eps, weightDecay }           (when saved)
 *   parascan.trainer                 JSON TrainerState: step, data-order seed, batch size, options,
 *                                    history, validations, early-stopping state             (when saved)
 *   parascan.dataset                 JSON dataset spec                                       (when saved)
 *   parascan.sha256                  checksum of the tensor table and the data
 *
 * The data order of a run is a pure function of (seed, batch size, step) (data/split.ts), so the step
 * and the seed ARE the RNG / data-order state: nothing else is needed for a bit-exact resume.
 */
import { dataError, invalidArgument, type Dtype } from '@parascan/core';
import type { ModelConfig, TrainableModel } from './contract.js';
import type { AdamW, AdamWState } from './optim.js';
import { readSafetensorsFile, writeSafetensorsFile, type Tensor, type TensorData, type WriteOptions } from './safetensors.js';
import type { Metrics } from './metrics.js';
import type { DatasetSpec } from './data/dataset.js';

export const CHECKPOINT_FORMAT = 'parascan.checkpoint.v1';
export const OPTIMIZER_PREFIX = 'optimizer.';
const EXP_AVG = `${OPTIMIZER_PREFIX}exp_avg.`;
const EXP_AVG_SQ = `${OPTIMIZER_PREFIX}exp_avg_sq.`;

export interface HistoryPoint {
  /** 1-based index of the completed step. */
  step: number;
  loss: number;
  /** Token tasks: accuracy on the batch. */
  accuracy?: number;
  lr: number;
  gradNorm: number;
  newtonIterations: number;
  /** Wall time of the step (forward + backward + update). */
  ms: number;
}

export interface ValidationPoint {
  step: number;
  metrics: Metrics;
}

/** The resolved numeric options of a run (what `fit` used), so a resume can reuse them. */
export interface ResolvedFitOptions {
  steps: number;
  batchSize: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  betas: [number, number];
  eps: number;
  clipNorm: number;
  seed: number;
  validEvery: number;
  validBatches: number;
  patience: number;
  minDelta: number;
}

export interface TrainerState {
  /** Completed optimiser steps. */
  step: number;
  options: ResolvedFitOptions;
  history: HistoryPoint[];
  validations: ValidationPoint[];
  bestValidLoss: number | null;
  bestStep: number | null;
  /** Validations since the best one (early stopping). */
  badValidations: number;
  /** Training wall time so far, over every session of the run. */
  elapsedMs: number;
}

export interface Checkpoint {
  readonly path: string;
  readonly config: ModelConfig;
  readonly dtype: Dtype;
  /** Parameter tensors by name, in file order. */
  readonly parameters: Map<string, Tensor>;
  readonly optimizer?: Pick<AdamWState, 'step' | 'expAvg' | 'expAvgSq'> & { options: AdamWState['options'] };
  readonly trainer?: TrainerState;
  readonly dataset?: DatasetSpec;
  readonly metadata: Record<string, string>;
}

export interface SaveCheckpointOptions {
  optimizer?: AdamW;
  trainer?: TrainerState;
  dataset?: DatasetSpec;
  /** Extra metadata strings (keys must not start with `parascan.` or be `format`). */
  metadata?: Record<string, string>;
  write?: WriteOptions;
}

/** JSON that keeps NaN/±Infinity (plain JSON would turn them into null). */
function stringify(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? { __number__: String(v) } : v));
}
function parse(text: string): unknown {
  return JSON.parse(text, (_k, v) => (v && typeof v === 'object' && typeof v.__number__ === 'string' && Object.keys(v).length === 1 ? Number(v.__number__) : v));
}

/** Saves the model (and optionally optimiser, trainer state, dataset spec) atomically to `path`. */
export function saveCheckpoint(path: string, model: TrainableModel, options: SaveCheckpointOptions = {}): void {
  const op = 'saveCheckpoint';
  const tensors = new Map<string, { shape: readonly number[]; data: TensorData }>();
  for (const p of model.parameters()) {
    if (p.name.startsWith(OPTIMIZER_PREFIX)) throw invalidArgument(op, 'model', `parameter names that do not start with \`${OPTIMIZER_PREFIX}\` (reserved for optimiser state)`, `\`${p.name}\``);
    tensors.set(p.name, { shape: p.shape, data: p.data });
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    if (k === 'format' || k.startsWith('parascan.')) throw invalidArgument(op, 'options.metadata', 'keys other than `format` and `parascan.*`', `\`${k}\``);
    metadata[k] = v;
  }
  metadata.format = CHECKPOINT_FORMAT;
  metadata['parascan.model_config'] = JSON.stringify(model.config);
  metadata['parascan.dtype'] = model.dtype;
  if (options.optimizer) {
    const state = options.optimizer.state();
    for (const [name, m] of state.expAvg) tensors.set(EXP_AVG + name, { shape: [m.length], data: m });
    for (const [name, v] of state.expAvgSq) tensors.set(EXP_AVG_SQ + name, { shape: [v.length], data: v });
    metadata['parascan.optimizer'] = JSON.stringify({ step: state.step, ...state.options });
  }
  if (options.trainer) metadata['parascan.trainer'] = stringify(options.trainer);
  if (options.dataset) metadata['parascan.dataset'] = JSON.stringify(options.dataset);
  writeSafetensorsFile(path, tensors, metadata, options.write);
}

/** Reads and validates a checkpoint (refusing a corrupted or foreign file with INVALID_DATA). */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const file = await readSafetensorsFile(path, true);
  const fail = (problem: string) => dataError('loadCheckpoint', path, problem, 'Use another checkpoint.');
  const { metadata, tensors } = file;
  if (metadata.format !== CHECKPOINT_FORMAT) throw fail(`is not a parascan checkpoint (metadata \`format\` is ${JSON.stringify(metadata.format)}, expected ${JSON.stringify(CHECKPOINT_FORMAT)})`);
  const json = (key: string): unknown => {
    const text = metadata[key];
    if (text === undefined) return undefined;
    try {
      return parse(text);
    } catch (err) {
      throw fail(`metadata \`${key}\` is not valid JSON (${(err as Error).message})`);
    }
  };
  const config = json('parascan.model_config') as ModelConfig | undefined;
  if (!config || typeof config !== 'object') throw fail('has no model config (metadata `parascan.model_config`)');
  const dtype = metadata['parascan.dtype'];
  if (dtype !== 'float32' && dtype !== 'float64') throw fail(`metadata \`parascan.dtype\` is ${JSON.stringify(dtype)}, expected float32 or float64`);
  const parameters = new Map<string, Tensor>();
  const expAvg = new Map<string, Float64Array>();
  const expAvgSq = new Map<string, Float64Array>();
  const wanted = dtype === 'float32' ? 'F32' : 'F64';
  for (const [name, t] of tensors) {
    if (name.startsWith(EXP_AVG_SQ) || name.startsWith(EXP_AVG)) {
      if (t.dtype !== 'F64') throw fail(`optimiser tensor \`${name}\` is ${t.dtype}, expected F64`);
      (name.startsWith(EXP_AVG_SQ) ? expAvgSq : expAvg).set(name.slice(name.startsWith(EXP_AVG_SQ) ? EXP_AVG_SQ.length : EXP_AVG.length), t.data as Float64Array);
    } else {
      if (t.dtype !== wanted) throw fail(`parameter \`${name}\` is ${t.dtype} but the model is ${dtype} (${wanted})`);
      parameters.set(name, t);
    }
  }
  const optJson = json('parascan.optimizer') as ({ step: number } & AdamWState['options']) | undefined;
  let optimizer: Checkpoint['optimizer'];
  if (optJson) {
    for (const name of parameters.keys()) {
      if (!expAvg.has(name) || !expAvgSq.has(name)) throw fail(`has optimiser state but no moments for parameter \`${name}\``);
    }
    const { step, ...options } = optJson;
    optimizer = { step, expAvg, expAvgSq, options };
  }
  const trainer = json('parascan.trainer') as TrainerState | undefined;
  const dataset = json('parascan.dataset') as DatasetSpec | undefined;
  return { path, config, dtype, parameters, ...(optimizer ? { optimizer } : {}), ...(trainer ? { trainer } : {}), ...(dataset ? { dataset } : {}), metadata };
}

/**
 * Copies a checkpoint's parameters into `model` (which must have the same dtype, names and shapes;
 * nothing is changed when a check fails).
 */
export function restoreModel(model: TrainableModel, checkpoint: Checkpoint): void {
  const op = 'restoreModel';
  const fail = (problem: string) => dataError(op, checkpoint.path, problem, 'Build the model from the checkpoint\'s config (createModel(checkpoint.config)).');
  if (checkpoint.dtype !== model.dtype) throw fail(`holds ${checkpoint.dtype} parameters but the model is ${model.dtype}`);
  const params = model.parameters();
  for (const p of params) {
    const t = checkpoint.parameters.get(p.name);
    if (!t) throw fail(`has no tensor \`${p.name}\` (it has ${[...checkpoint.parameters.keys()].join(', ')})`);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw fail(`tensor \`${p.name}\` has shape [${t.shape.join(', ')}] but the model's is [${p.shape.join(', ')}]`);
    }
  }
  const names = new Set(params.map((p) => p.name));
  for (const name of checkpoint.parameters.keys()) if (!names.has(name)) throw fail(`has a tensor \`${name}\` the model does not have`);
  for (const p of params) p.data.set(checkpoint.parameters.get(p.name)!.data as Float32Array & Float64Array);
}
