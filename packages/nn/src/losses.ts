/**
 * Losses with their gradients, averaged over the scored positions (mask = 1). Sums run in float64.
 * When nothing is scored (count 0) the loss is 0 and the gradient is zero.
 */
import { allocate, invalidArgument, describeValue, nonFinite, type FloatArray } from '@parascan/core';
import type { Allocator } from './parameter.js';

export interface CrossEntropyResult {
  /** Mean −log softmax(logits)[target] over the scored rows, in nats. */
  loss: number;
  /** Scored rows. */
  count: number;
  /** Scored rows whose argmax (first maximum) is the target. */
  correct: number;
  /** d(loss)/d(logits) [rows, V] (same dtype as logits); null when not asked for. */
  dlogits: FloatArray | null;
}

/**
 * Softmax cross-entropy over rows of `logits` [rows, V], targets [rows] in [0, V), optional mask
 * [rows]. Stable: log-sum-exp after subtracting the row maximum. The gradient of the mean loss is
 * (softmax − onehot(target)) / count on scored rows, 0 elsewhere.
 */
export function softmaxCrossEntropy(
  logits: FloatArray, targets: Int32Array, vocab: number, mask: Uint8Array | null = null, withGrad = true, alloc: Allocator = allocate,
): CrossEntropyResult {
  const op = 'softmaxCrossEntropy';
  const rows = targets.length;
  if (!(logits instanceof Float32Array || logits instanceof Float64Array) || logits.length !== rows * vocab) {
    throw invalidArgument(op, 'logits', `a Float32Array or Float64Array of length ${rows * vocab} ([rows=${rows}, V=${vocab}])`, describeValue(logits));
  }
  if (mask !== null && (!(mask instanceof Uint8Array) || mask.length !== rows)) {
    throw invalidArgument(op, 'mask', `a Uint8Array of length ${rows}`, describeValue(mask));
  }
  let count = 0;
  for (let r = 0; r < rows; r++) if (!mask || mask[r]) count++;
  const dlogits = withGrad ? alloc(logits instanceof Float32Array ? 'float32' : 'float64', logits.length) : null;
  let total = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    if (mask && !mask[r]) continue;
    const t = targets[r]!;
    if (!(t >= 0 && t < vocab)) throw invalidArgument(op, `targets[${r}]`, `a class id in [0, ${vocab})`, `${t}`);
    const o = r * vocab;
    let max = -Infinity;
    let arg = 0;
    for (let v = 0; v < vocab; v++) {
      const z = logits[o + v]!;
      if (z > max) {
        max = z;
        arg = v;
      }
    }
    if (!Number.isFinite(max)) throw nonFinite(op, `the logits of row ${r} are not all finite (max ${max})`, 'The model diverged: lower the learning rate or check the inputs.');
    // One exp per logit: kept in the gradient row (float64 sum), normalised below.
    let sum = 0;
    if (dlogits) {
      for (let v = 0; v < vocab; v++) {
        const e = Math.exp(logits[o + v]! - max);
        dlogits[o + v] = e;
        sum += e;
      }
    } else {
      for (let v = 0; v < vocab; v++) sum += Math.exp(logits[o + v]! - max);
    }
    total += max + Math.log(sum) - logits[o + t]!;
    if (arg === t) correct++;
    if (dlogits) {
      // (softmax − onehot) / count; the softmax from the stored exps (in float32 they carry one
      // rounding, below the float32 tolerance of the gradient).
      const scale = 1 / (count * sum);
      for (let v = 0; v < vocab; v++) dlogits[o + v] = dlogits[o + v]! * scale;
      dlogits[o + t] = dlogits[o + t]! - 1 / count;
    }
  }
  return { loss: count > 0 ? total / count : 0, count, correct, dlogits };
}

export interface MseResult {
  /** Mean of (pred − target)² over the scored values (scored rows × outputs). */
  loss: number;
  /** Scored values: scored rows × outputs. */
  count: number;
  absError: number;
  sqError: number;
  /** d(loss)/d(pred) [rows, O]; null when not asked for. */
  dpred: FloatArray | null;
}

/** Mean squared error of pred [rows, O] against target [rows, O], with an optional row mask [rows]. */
export function meanSquaredError(
  pred: FloatArray, target: ArrayLike<number>, outputs: number, mask: Uint8Array | null = null, withGrad = true, alloc: Allocator = allocate,
): MseResult {
  const op = 'meanSquaredError';
  if (!(pred instanceof Float32Array || pred instanceof Float64Array) || pred.length % outputs !== 0) {
    throw invalidArgument(op, 'pred', `a Float32Array or Float64Array [rows, O=${outputs}]`, describeValue(pred));
  }
  const rows = pred.length / outputs;
  if (target.length !== pred.length) throw invalidArgument(op, 'target', `an array of length ${pred.length} ([rows=${rows}, O=${outputs}])`, describeValue(target));
  if (mask !== null && (!(mask instanceof Uint8Array) || mask.length !== rows)) {
    throw invalidArgument(op, 'mask', `a Uint8Array of length ${rows}`, describeValue(mask));
  }
  let scoredRows = 0;
  for (let r = 0; r < rows; r++) if (!mask || mask[r]) scoredRows++;
  const count = scoredRows * outputs;
  const dpred = withGrad ? alloc(pred instanceof Float32Array ? 'float32' : 'float64', pred.length) : null;
  let sq = 0;
  let abs = 0;
  for (let r = 0; r < rows; r++) {
    if (mask && !mask[r]) continue;
    for (let j = 0; j < outputs; j++) {
      const i = r * outputs + j;
      const e = pred[i]! - target[i]!;
      sq += e * e;
      abs += Math.abs(e);
      if (dpred) dpred[i] = (2 * e) / count;
    }
  }
  if (!Number.isFinite(sq)) throw nonFinite(op, 'the squared error is not finite', 'The model diverged: lower the learning rate or check the inputs.');
  return { loss: count > 0 ? sq / count : 0, count, absError: abs, sqError: sq, dpred };
}
