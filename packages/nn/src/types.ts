/**
 * The contract between models (@parascan/nn) and the trainer (@parascan/train).
 *
 * Tensors are flat typed arrays in row-major order with the shape stated beside them;
 * public sequence tensors are batch-first ([B, T, ...]) as in DESIGN §6.
 */
import type { Dtype, FloatArray } from '@parascan/core';

/** One trainable tensor. `grad` has the same length and dtype as `data`. */
export interface Parameter {
  /** Stable, dotted name; a cell's tensors keep ParaRNN's names (e.g. `layers.0.cell.A`). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: FloatArray;
  readonly grad: FloatArray;
  /** Whether AdamW applies weight decay (false for biases, norms' scales and the cells' A/C). */
  readonly decay: boolean;
}

/**
 * Token sequences: language modelling, the ParaRNN synthetic tasks and classification are all
 * "predict targets[b, t] from inputs[b, 0..t]"; `mask` says which positions are scored
 * (absent: every position).
 */
export interface TokenBatch {
  readonly kind: 'tokens';
  readonly batch: number;
  readonly length: number;
  /** [B, T] token ids in [0, vocab) */
  readonly inputs: Int32Array;
  /** [B, T] target ids in [0, vocab) */
  readonly targets: Int32Array;
  /** [B, T], 1 = scored, 0 = ignored */
  readonly mask?: Uint8Array;
}

/** Multivariate series: regress targets[b, t, :] from inputs[b, 0..t, :] (next-step forecasting). */
export interface SeriesBatch {
  readonly kind: 'series';
  readonly batch: number;
  readonly length: number;
  /** [B, T, F] */
  readonly inputs: Float32Array | Float64Array;
  /** [B, T, O] */
  readonly targets: Float32Array | Float64Array;
  /** [B, T], 1 = scored, 0 = ignored */
  readonly mask?: Uint8Array;
}

export type Batch = TokenBatch | SeriesBatch;

/** How the recurrent cells are solved (see @parascan/cells). */
export interface RunOptions {
  /**
   * Default 'parallel'. 'auto': each cell picks the mode @parascan/cells' cost model expects to be
   * fastest for the shape and backend.
   */
  mode?: 'sequential' | 'parallel' | 'fused' | 'picard' | 'auto';
  /** Default 'cpu' when the native addon loads, else 'js'. */
  backend?: 'js' | 'cpu';
}

/** What one forward (and backward) over a batch returns. Sums, so the trainer can aggregate. */
export interface StepResult {
  /** Mean loss over the scored positions (cross-entropy in nats, or MSE). */
  readonly loss: number;
  /** Number of scored positions (tokens, or series points × outputs for MSE). */
  readonly count: number;
  /** Correct argmax predictions among the scored positions (token tasks only). */
  readonly correct?: number;
  /** Sum of absolute errors over the scored values (series tasks only). */
  readonly absError?: number;
  /** Sum of squared errors over the scored values (series tasks only). */
  readonly sqError?: number;
  /** Largest Newton iteration count over the model's cells in this forward. */
  readonly newtonIterations: number;
}

/** A model the trainer can fit. JSON `config` + parameters rebuild it exactly (checkpoints). */
export interface TrainableModel {
  readonly dtype: Dtype;
  /** JSON-serialisable; `createModel(config)` rebuilds the same architecture. */
  readonly config: ModelConfig;
  /** Stable order and names. */
  parameters(): Parameter[];
  /** Zeroes every grad, runs forward + backward on the batch, leaves d(mean loss)/dθ in the grads. */
  lossAndGrad(batch: Batch, options?: RunOptions): StepResult;
  /** Forward only. */
  evaluate(batch: Batch, options?: RunOptions): StepResult;
}

export interface ModelConfig {
  /** 'lm': tokens in, token logits out. 'regressor': series in, series out. */
  readonly type: 'lm' | 'regressor';
  readonly cell: 'gru' | 'lstm';
  readonly layers: number;
  /** Model width d. */
  readonly width: number;
  readonly heads: number;
  /** 'lm' only */
  readonly vocab?: number;
  /** 'regressor' only */
  readonly inputFeatures?: number;
  /** 'regressor' only */
  readonly outputFeatures?: number;
  /** Causal depthwise conv kernel size (ParaRNN block); default 4. */
  readonly convKernel?: number;
  /** SwiGLU MLP after each block's mixer (hidden = mlpRatio·width); 0 = none. Default 0. */
  readonly mlpRatio?: number;
  readonly dtype?: Dtype;
  readonly seed?: number;
}
