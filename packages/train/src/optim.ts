/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter), the cosine-with-warmup learning-rate schedule
 * and global-norm gradient clipping.
 *
 * Arithmetic is float64 (JS numbers) whatever the parameter dtype; the moments are kept in float64
 * arrays, and each parameter is rounded once to its dtype on store. The state (moments + step count)
 * round-trips exactly through `state()` / `loadState()`, which checkpoints rely on for bit-exact resume.
 */
import { checkKnownKeys, checkOptionsObject, invalidArgument, describeValue } from '@parascan/core';
import type { Parameter } from './contract.js';

export interface AdamWOptions {
  /** Learning rate used when `step()` is called without one. Default 1e-3. */
  lr?: number;
  /** [β1, β2]. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to √v̂ in the denominator. Default 1e-8. */
  eps?: number;
  /** Decoupled decay coefficient λ (p ← p − lr·λ·p), applied only to parameters with `decay: true`. Default 0.01. */
  weightDecay?: number;
}

/** Serialisable optimiser state: hyper-parameters, step count and both moments per parameter (by name). */
export interface AdamWState {
  readonly step: number;
  readonly options: Required<Omit<AdamWOptions, 'betas'>> & { betas: [number, number] };
  /** First moments (PyTorch's `exp_avg`), keyed by parameter name. */
  readonly expAvg: ReadonlyMap<string, Float64Array>;
  /** Second moments (`exp_avg_sq`). */
  readonly expAvgSq: ReadonlyMap<string, Float64Array>;
}

const ADAMW_KEYS = ['lr', 'betas', 'eps', 'weightDecay'] as const;

function checkFiniteNumber(op: string, name: string, value: unknown, min: number, max: number, inclusiveMax = true): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && (inclusiveMax ? value <= max : value < max);
  if (!ok) {
    throw invalidArgument(op, name, `a finite number in [${min}, ${max}${inclusiveMax ? ']' : ')'}`, describeValue(value));
  }
  return value as number;
}

export class AdamW {
  private readonly params: Parameter[];
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private stepCount = 0;
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: readonly Parameter[], options: AdamWOptions = {}) {
    const op = 'AdamW';
    checkKnownKeys(op, 'options', checkOptionsObject(op, 'options', options), ADAMW_KEYS);
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw invalidArgument(op, 'params', 'parameters with distinct names', `two named \`${p.name}\``);
      names.add(p.name);
      if (p.grad.length !== p.data.length) {
        throw invalidArgument(op, `params[${p.name}].grad`, `of length ${p.data.length} like its data`, `length ${p.grad.length}`);
      }
    }
    this.params = [...params];
    this.lr = checkFiniteNumber(op, 'options.lr', options.lr ?? 1e-3, 0, Infinity);
    const betas = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw invalidArgument(op, 'options.betas', 'a pair [β1, β2]', describeValue(betas));
    this.beta1 = checkFiniteNumber(op, 'options.betas[0]', betas[0], 0, 1, false);
    this.beta2 = checkFiniteNumber(op, 'options.betas[1]', betas[1], 0, 1, false);
    this.eps = checkFiniteNumber(op, 'options.eps', options.eps ?? 1e-8, 0, Infinity);
    this.weightDecay = checkFiniteNumber(op, 'options.weightDecay', options.weightDecay ?? 0.01, 0, Infinity);
    this.m = this.params.map((p) => new Float64Array(p.data.length));
    this.v = this.params.map((p) => new Float64Array(p.data.length));
  }

  /** Number of updates applied so far (the t of the bias corrections). */
  get steps(): number {
    return this.stepCount;
  }

  /**
   * One update from the gradients now in `Parameter.grad`, with learning rate `lr` (default: the
   * constructor's). Per element, as PyTorch's AdamW:
   *   p ← p·(1 − lr·λ)                    (only where decay)
   *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
   *   p ← p − lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε)
   */
  step(lr: number = this.lr): void {
    checkFiniteNumber('AdamW.step', 'lr', lr, 0, Infinity);
    const t = ++this.stepCount;
    const { beta1, beta2, eps } = this;
    const bias1 = 1 - beta1 ** t;
    const bias2 = 1 - beta2 ** t;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      const decayFactor = p.decay ? 1 - lr * this.weightDecay : 1;
      const data = p.data;
      const grad = p.grad;
      const m = this.m[i]!;
      const v = this.v[i]!;
      for (let j = 0; j < data.length; j++) {
        const g = grad[j]!;
        const mj = beta1 * m[j]! + (1 - beta1) * g;
        const vj = beta2 * v[j]! + (1 - beta2) * g * g;
        m[j] = mj;
        v[j] = vj;
        data[j] = data[j]! * decayFactor - (lr * (mj / bias1)) / (Math.sqrt(vj / bias2) + eps);
      }
    }
  }

  /** A deep copy of the state. */
  state(): AdamWState {
    const expAvg = new Map<string, Float64Array>();
    const expAvgSq = new Map<string, Float64Array>();
    this.params.forEach((p, i) => {
      expAvg.set(p.name, Float64Array.from(this.m[i]!));
      expAvgSq.set(p.name, Float64Array.from(this.v[i]!));
    });
    return {
      step: this.stepCount,
      options: { lr: this.lr, betas: [this.beta1, this.beta2], eps: this.eps, weightDecay: this.weightDecay },
      expAvg,
      expAvgSq,
    };
  }

  /**
   * Restores moments and step count (hyper-parameters stay this optimiser's). Every parameter must have
   * both moments of its length; nothing changes if any check fails.
   */
  loadState(state: Pick<AdamWState, 'step' | 'expAvg' | 'expAvgSq'>): void {
    const op = 'AdamW.loadState';
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw invalidArgument(op, 'state.step', 'a non-negative integer', describeValue(state.step));
    }
    for (const p of this.params) {
      for (const [label, map] of [['expAvg', state.expAvg], ['expAvgSq', state.expAvgSq]] as const) {
        const arr = map.get(p.name);
        if (!arr) throw invalidArgument(op, `state.${label}`, `a moment for parameter \`${p.name}\``, 'none');
        if (arr.length !== p.data.length) {
          throw invalidArgument(op, `state.${label}[${p.name}]`, `of length ${p.data.length}`, `length ${arr.length}`);
        }
      }
    }
    const known = new Set(this.params.map((p) => p.name));
    for (const name of state.expAvg.keys()) {
      if (!known.has(name)) throw invalidArgument(op, 'state.expAvg', 'moments only for this optimiser\'s parameters', `one for \`${name}\``);
    }
    this.params.forEach((p, i) => {
      this.m[i]!.set(state.expAvg.get(p.name)!);
      this.v[i]!.set(state.expAvgSq.get(p.name)!);
    });
    this.stepCount = state.step;
  }
}

export interface CosineScheduleOptions {
  /** Peak learning rate, reached at the end of warm-up. */
  peakLr: number;
  /** Linear warm-up steps (0 = none). */
  warmupSteps: number;
  /** Steps of the whole run; the cosine reaches `minLr` here and stays there. */
  totalSteps: number;
  /** Floor of the cosine. Default 0. */
  minLr?: number;
}

/**
 * `lr(step)` for the 0-based index of the update about to be applied:
 *   step < W:  peak · (step + 1) / W                         (linear warm-up; the first update is not 0)
 *   else:      min + (peak − min) · ½ (1 + cos(π · min(1, (step − W) / max(1, total − W))))
 */
export function cosineWithWarmup(options: CosineScheduleOptions): (step: number) => number {
  const op = 'cosineWithWarmup';
  checkKnownKeys(op, 'options', checkOptionsObject(op, 'options', options), ['peakLr', 'warmupSteps', 'totalSteps', 'minLr']);
  const peak = checkFiniteNumber(op, 'options.peakLr', options.peakLr, 0, Infinity);
  const minLr = checkFiniteNumber(op, 'options.minLr', options.minLr ?? 0, 0, peak);
  const warm = options.warmupSteps;
  const total = options.totalSteps;
  if (!Number.isSafeInteger(warm) || warm < 0) throw invalidArgument(op, 'options.warmupSteps', 'a non-negative integer', describeValue(warm));
  if (!Number.isSafeInteger(total) || total < 1) throw invalidArgument(op, 'options.totalSteps', 'a positive integer', describeValue(total));
  const decaySteps = Math.max(1, total - warm);
  return (step: number): number => {
    if (step < warm) return (peak * (step + 1)) / warm;
    const progress = Math.min(1, (step - warm) / decaySteps);
    return minLr + (peak - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

/**
 * Scales every gradient by `maxNorm / (norm + 1e-6)` when the global L2 norm over all of them exceeds
 * `maxNorm` (as torch.nn.utils.clip_grad_norm_). Returns the norm BEFORE clipping (float64 sum);
 * a non-finite norm is returned as is and nothing is scaled, so the caller can report it.
 */
export function clipGradNorm(params: readonly Parameter[], maxNorm: number): number {
  checkFiniteNumber('clipGradNorm', 'maxNorm', maxNorm, 0, Infinity);
  let sum = 0;
  for (const p of params) {
    const g = p.grad;
    for (let j = 0; j < g.length; j++) sum += g[j]! * g[j]!;
  }
  const norm = Math.sqrt(sum);
  if (!Number.isFinite(norm)) return norm;
  if (norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const p of params) {
      const g = p.grad;
      for (let j = 0; j < g.length; j++) g[j] = g[j]! * scale;
    }
  }
  return norm;
}
