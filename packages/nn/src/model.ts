/**
 * The two models of the contract (src/types.ts), built by `createModel(config)`:
 *
 *   'lm':        Embedding(vocab, d) → L × ParaRNNBlock → RMSNorm → Linear(d → vocab, no bias)
 *   'regressor': Linear(F → d, bias) → L × ParaRNNBlock → RMSNorm → Linear(d → O, bias)
 *
 * Losses: softmax cross-entropy (lm) and MSE (regressor), averaged over the scored positions.
 */
import {
  ParascanError,
  checkKnownKeys,
  checkOneOf,
  checkOptionsObject,
  checkPositiveInteger,
  createRng,
  describeValue,
  invalidArgument,
  nonFinite,
  unravelIndex,
  type Dtype,
  type FloatArray,
} from '@parascan/core';
import { tryLoadNativeAddon } from '@parascan/native';
import { ParaRNNBlock, type BlockRun } from './block.js';
import { nativeGemmAddon } from './gemm.js';
import { Embedding, Linear, RMSNorm, type NormCache } from './layers.js';
import { meanSquaredError, softmaxCrossEntropy } from './losses.js';
import { Arena, type LiveParameter } from './parameter.js';
import { runToEnd, runYielding, type Step } from './steps.js';
import type { Batch, ModelConfig, RunOptions, SeriesBatch, StepResult, TokenBatch, TrainableModel } from './types.js';

/** A config with every default filled in (what `model.config` returns). */
export type ResolvedModelConfig = Required<Pick<ModelConfig, 'type' | 'cell' | 'layers' | 'width' | 'heads' | 'convKernel' | 'mlpRatio' | 'dtype' | 'seed'>> &
  Pick<ModelConfig, 'vocab' | 'inputFeatures' | 'outputFeatures'>;

const CONFIG_KEYS = ['type', 'cell', 'layers', 'width', 'heads', 'vocab', 'inputFeatures', 'outputFeatures', 'convKernel', 'mlpRatio', 'dtype', 'seed'] as const;

/** Validates a config and fills its defaults (convKernel 4, mlpRatio 0, dtype float32, seed 0). */
export function resolveModelConfig(config: ModelConfig): ResolvedModelConfig {
  const op = 'createModel';
  const c = checkOptionsObject(op, 'config', config);
  checkKnownKeys(op, 'config', c, CONFIG_KEYS);
  const type = checkOneOf(op, 'config.type', c['type'], ['lm', 'regressor'] as const);
  const cell = checkOneOf(op, 'config.cell', c['cell'], ['gru', 'lstm'] as const);
  const layers = checkPositiveInteger(op, 'config.layers', c['layers']);
  const width = checkPositiveInteger(op, 'config.width', c['width']);
  const heads = checkPositiveInteger(op, 'config.heads', c['heads']);
  if (width % heads !== 0) throw invalidArgument(op, 'config.heads', `a divisor of config.width (${width})`, `${heads}`);
  const convKernel = c['convKernel'] === undefined ? 4 : checkPositiveInteger(op, 'config.convKernel', c['convKernel']);
  const mlpRatio = c['mlpRatio'] === undefined ? 0 : c['mlpRatio'];
  if (typeof mlpRatio !== 'number' || !Number.isFinite(mlpRatio) || mlpRatio < 0 || (mlpRatio > 0 && Math.round(mlpRatio * width) < 1)) {
    throw invalidArgument(op, 'config.mlpRatio', `0 (no MLP) or a positive number with round(mlpRatio·width) ≥ 1`, describeValue(mlpRatio));
  }
  const dtype = c['dtype'] === undefined ? 'float32' : checkOneOf(op, 'config.dtype', c['dtype'], ['float32', 'float64'] as const);
  const seed = c['seed'] === undefined ? 0 : c['seed'];
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw invalidArgument(op, 'config.seed', 'a safe integer', describeValue(seed));
  const base = { type, cell, layers, width, heads, convKernel, mlpRatio, dtype, seed } as const;
  if (type === 'lm') {
    for (const k of ['inputFeatures', 'outputFeatures'] as const) {
      if (c[k] !== undefined) throw invalidArgument(op, `config.${k}`, "absent for type 'lm' (it takes token ids and predicts `vocab` classes)", describeValue(c[k]));
    }
    const vocab = checkPositiveInteger(op, 'config.vocab', c['vocab'], { expected: "a positive integer (the number of token ids, required for type 'lm')" });
    return { ...base, vocab };
  }
  if (c['vocab'] !== undefined) throw invalidArgument(op, 'config.vocab', "absent for type 'regressor' (it takes series; use type 'lm' for tokens)", describeValue(c['vocab']));
  const inputFeatures = checkPositiveInteger(op, 'config.inputFeatures', c['inputFeatures'], { expected: "a positive integer (F, required for type 'regressor')" });
  const outputFeatures = checkPositiveInteger(op, 'config.outputFeatures', c['outputFeatures'], { expected: "a positive integer (O, required for type 'regressor')" });
  return { ...base, inputFeatures, outputFeatures };
}

export interface ForwardOptions extends RunOptions {
  /** B; T follows from the inputs' length. Default 1. */
  batch?: number;
}

/** The cpu addon with the cells' kernels, when it loads. */
function nativeCellsAvailable(): boolean {
  const r = tryLoadNativeAddon('cpu');
  return !('error' in r) && typeof r.addon.cellNewton === 'function' && typeof r.addon.cellBackward === 'function';
}

interface ForwardState {
  batch: number;
  length: number;
  /** lm: token ids; regressor: the inputs in the model's dtype. */
  input: Int32Array | FloatArray;
  blockCaches: unknown[];
  /** Input of the final norm, its cache, and the head's input. */
  normCache: NormCache;
  headInput: FloatArray;
  iterations: number;
}

export class ParaRNNModel implements TrainableModel {
  readonly dtype: Dtype;
  readonly config: ResolvedModelConfig;
  readonly embedding: Embedding | null;
  readonly inputLayer: Linear | null;
  readonly blocks: ParaRNNBlock[];
  readonly norm: RMSNorm;
  readonly head: Linear;
  /** Residual scale of every block's branches: 1/√(2·layers). */
  readonly alpha: number;
  private readonly params: LiveParameter[];
  /** Activations and gradients of lossAndGrad/evaluate, reused from step to step (see Arena). */
  private readonly arena = new Arena();
  /** The operation of the step in flight (an async one spans several turns of the event loop). */
  private running: string | null = null;

  constructor(config: ModelConfig) {
    const c = resolveModelConfig(config);
    this.config = Object.freeze({ ...c });
    this.dtype = c.dtype;
    const rng = createRng(c.seed);
    const d = c.width;
    this.alpha = 1 / Math.sqrt(2 * c.layers);
    if (c.type === 'lm') {
      this.embedding = new Embedding('embedding', c.vocab!, d, c.dtype, rng);
      this.inputLayer = null;
    } else {
      this.embedding = null;
      this.inputLayer = new Linear('input', c.inputFeatures!, d, c.dtype, rng, { bias: true });
    }
    const mlpHidden = c.mlpRatio > 0 ? Math.round(c.mlpRatio * d) : 0;
    this.blocks = [];
    for (let l = 0; l < c.layers; l++) {
      this.blocks.push(
        new ParaRNNBlock(`layers.${l}`, { cell: c.cell, width: d, heads: c.heads, convKernel: c.convKernel, mlpHidden, alpha: this.alpha, dtype: c.dtype }, rng),
      );
    }
    this.norm = new RMSNorm('norm', d, c.dtype);
    this.head = c.type === 'lm' ? new Linear('head', d, c.vocab!, c.dtype, rng) : new Linear('output', d, c.outputFeatures!, c.dtype, rng, { bias: true });
    this.params = [
      ...(this.embedding ? this.embedding.parameters() : this.inputLayer!.parameters()),
      ...this.blocks.flatMap((b) => b.parameters()),
      ...this.norm.parameters(),
      ...this.head.parameters(),
    ];
  }

  parameters(): LiveParameter[] {
    return this.params.slice();
  }

  // ---- options and inputs ------------------------------------------------------------------------

  private resolveRun(op: string, options: unknown): BlockRun {
    const o = options === undefined ? {} : checkOptionsObject(op, 'options', options);
    checkKnownKeys(op, 'options', o, /\.forward(Async)?$/.test(op) ? ['mode', 'backend', 'batch'] : ['mode', 'backend']);
    const mode = o['mode'] === undefined ? 'parallel' : checkOneOf(op, 'options.mode', o['mode'], ['sequential', 'parallel', 'fused', 'picard', 'auto'] as const);
    let backend: 'js' | 'cpu';
    if (o['backend'] === undefined) backend = nativeCellsAvailable() ? 'cpu' : 'js';
    else backend = checkOneOf(op, 'options.backend', o['backend'], ['js', 'cpu'] as const);
    if (mode === 'fused' && backend !== 'cpu') {
      throw invalidArgument(op, 'options.mode', "'sequential', 'parallel' or 'picard' with backend 'js' ('fused' runs the whole Newton loop natively: it needs backend 'cpu')", "'fused'");
    }
    // Matrix products: OpenBLAS when the cpu backend is asked for and the addon has it; else the loop.
    const gemmBackend = backend === 'cpu' && nativeGemmAddon() ? 'cpu' : 'js';
    return { mode, cellBackend: backend, gemm: gemmBackend };
  }

  private checkTokens(op: string, name: string, v: unknown, B: number, T: number): Int32Array {
    const vocab = this.config.vocab!;
    if (!(v instanceof Int32Array) || v.length !== B * T) {
      throw invalidArgument(op, name, `an Int32Array of length ${B * T} ([B=${B}, T=${T}]) of token ids in [0, ${vocab})`, describeValue(v));
    }
    for (let i = 0; i < v.length; i++) {
      const id = v[i]!;
      if (id < 0 || id >= vocab) {
        const [b, t] = unravelIndex(i, [B, T]);
        throw invalidArgument(op, `${name}[${b}, ${t}]`, `a token id in [0, ${vocab})`, `${id}`);
      }
    }
    return v;
  }

  private checkSeries(op: string, name: string, v: unknown, B: number, T: number, F: number): FloatArray {
    if (!(v instanceof Float32Array || v instanceof Float64Array) || v.length !== B * T * F) {
      throw invalidArgument(op, name, `a Float32Array or Float64Array of length ${B * T * F} ([B=${B}, T=${T}, ${name === 'batch.targets' ? 'O' : 'F'}=${F}])`, describeValue(v));
    }
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i]!)) {
        throw nonFinite(op, `argument \`${name}\` holds a non-finite value, ${name}[${unravelIndex(i, [B, T, F]).join(', ')}] = ${v[i]}`, undefined, name);
      }
    }
    return v;
  }

  private checkBatch(op: string, batch: unknown): { B: number; T: number; input: Int32Array | FloatArray; tokens: Int32Array | null; series: FloatArray | null; mask: Uint8Array | null } {
    const b = checkOptionsObject(op, 'batch', batch);
    const type = this.config.type;
    const want = type === 'lm' ? 'tokens' : 'series';
    if (b['kind'] !== want) {
      throw invalidArgument(op, 'batch.kind', `'${want}' (this model's type is '${type}')`, describeValue(b['kind']));
    }
    checkKnownKeys(op, 'batch', b, ['kind', 'batch', 'length', 'inputs', 'targets', 'mask']);
    const B = checkPositiveInteger(op, 'batch.batch', b['batch']);
    const T = checkPositiveInteger(op, 'batch.length', b['length']);
    let mask: Uint8Array | null = null;
    if (b['mask'] !== undefined) {
      const m = b['mask'];
      if (!(m instanceof Uint8Array) || m.length !== B * T) throw invalidArgument(op, 'batch.mask', `a Uint8Array of length ${B * T} ([B=${B}, T=${T}]) of 0/1`, describeValue(m));
      for (let i = 0; i < m.length; i++) {
        if (m[i]! > 1) throw invalidArgument(op, `batch.mask[${unravelIndex(i, [B, T]).join(', ')}]`, '0 (ignored) or 1 (scored)', `${m[i]}`);
      }
      mask = m;
    }
    if (type === 'lm') {
      const tb = b as unknown as TokenBatch;
      const input = this.checkTokens(op, 'batch.inputs', tb.inputs, B, T);
      const tokens = this.checkTokens(op, 'batch.targets', tb.targets, B, T);
      return { B, T, input, tokens, series: null, mask };
    }
    const sb = b as unknown as SeriesBatch;
    const input = this.toDtype(this.checkSeries(op, 'batch.inputs', sb.inputs, B, T, this.config.inputFeatures!));
    const series = this.checkSeries(op, 'batch.targets', sb.targets, B, T, this.config.outputFeatures!);
    return { B, T, input, tokens: null, series, mask };
  }

  private toDtype(x: FloatArray): FloatArray {
    if ((this.dtype === 'float32') === x instanceof Float32Array) return x;
    return this.dtype === 'float32' ? Float32Array.from(x) : Float64Array.from(x);
  }

  // ---- forward / backward ----------------------------------------------------------------------

  private *forwardAll(input: Int32Array | FloatArray, B: number, T: number, run: BlockRun): Generator<Step, { out: FloatArray; state: ForwardState }, unknown> {
    const N = B * T;
    let x = this.embedding ? this.embedding.forward(input as Int32Array, run) : this.inputLayer!.forward(input as FloatArray, N, run);
    const blockCaches: unknown[] = [];
    let iterations = 0;
    for (const block of this.blocks) {
      const r = yield* block.forwardSteps(x, B, T, run);
      blockCaches.push(r.cache);
      iterations = Math.max(iterations, r.iterations);
      x = r.y;
      yield;
    }
    const { y: headInput, cache: normCache } = this.norm.forward(x, N, null, run);
    const out = this.head.forward(headInput, N, run);
    return { out, state: { batch: B, length: T, input, blockCaches, normCache, headInput, iterations } };
  }

  private *backwardAll(dout: FloatArray, s: ForwardState, run: BlockRun): Generator<Step, void, unknown> {
    const { batch: B, length: T } = s;
    const N = B * T;
    const dh = this.head.backward(s.headInput, dout, N, run)!;
    let dx = this.norm.backward(dh, s.normCache, N, run).dx;
    for (let l = this.blocks.length - 1; l >= 0; l--) {
      dx = yield* this.blocks[l]!.backwardSteps(dx, s.blockCaches[l] as Parameters<ParaRNNBlock['backward']>[1], B, T, run);
      yield;
    }
    if (this.embedding) this.embedding.backward(s.input as Int32Array, dx);
    else this.inputLayer!.backward(s.input as FloatArray, dx, N, run, false);
  }

  /**
   * Inference: 'lm' takes token ids [B, T] (Int32Array) and returns logits [B, T, vocab];
   * 'regressor' takes series [B, T, F] and returns outputs [B, T, O].
   */
  forward(inputs: Int32Array | FloatArray, options: ForwardOptions = {}): FloatArray {
    return runToEnd(this.inference('forward', inputs, options));
  }

  /**
   * As forward, with the event loop free during it: a turn between layers, and each block's cell
   * solve through the cell's forwardAsync (off this thread on the libuv pool for backend 'cpu'; see
   * lossAndGradAsync for what stays on this thread). Same logits/outputs as forward, bit for bit;
   * errors are rejections. One at a time per model, like the steps: it refuses to overlap a step
   * (and a step refuses to overlap it), since both load the live parameters into the cells.
   */
  forwardAsync(inputs: Int32Array | FloatArray, options: ForwardOptions = {}): Promise<FloatArray> {
    return runYielding(this.inference('forwardAsync', inputs, options));
  }

  private *inference(name: string, inputs: Int32Array | FloatArray, options: ForwardOptions): Generator<Step, FloatArray, unknown> {
    const op = `${this.config.type === 'lm' ? 'LanguageModel' : 'Regressor'}.${name}`;
    this.refuseWhileRunning(op);
    const run = this.resolveRun(op, options);
    const B = options.batch === undefined ? 1 : checkPositiveInteger(op, 'options.batch', options.batch);
    const per = this.config.type === 'lm' ? B : B * this.config.inputFeatures!;
    const len = (inputs as { length?: unknown })?.length;
    if (typeof len !== 'number' || len === 0 || len % per !== 0) {
      const what = this.config.type === 'lm' ? `an Int32Array [B=${B}, T] of token ids` : `a Float32Array or Float64Array [B=${B}, T, F=${this.config.inputFeatures}]`;
      throw invalidArgument(op, 'inputs', `${what} (a positive multiple of ${per} elements)`, describeValue(inputs));
    }
    const T = len / per;
    const input = this.config.type === 'lm' ? this.checkTokens(op, 'inputs', inputs, B, T) : this.toDtype(this.checkSeries(op, 'inputs', inputs, B, T, this.config.inputFeatures!));
    this.running = op;
    try {
      return (yield* this.forwardAll(input, B, T, run)).out;
    } finally {
      this.running = null;
    }
  }

  /** One step or async forward at a time per model (they share the gradients, work arrays and cells). */
  private refuseWhileRunning(op: string): void {
    if (this.running) {
      throw new ParascanError(
        'INVALID_ARGUMENT',
        `${op}: ${this.running} of this model is still running; await it before the next step (one step at a time per model: they share the model's gradients and work arrays).`,
        { operation: op },
      );
    }
  }

  lossAndGrad(batch: Batch, options?: RunOptions): StepResult {
    return runToEnd(this.step('lossAndGrad', batch, options, true));
  }

  evaluate(batch: Batch, options?: RunOptions): StepResult {
    return runToEnd(this.step('evaluate', batch, options, false));
  }

  /**
   * As lossAndGrad, but with the event loop free during the step, so timers, I/O and signals get
   * served: it hands the loop a turn between layers (forward and backward), and each block's cell
   * solve runs through the cell's forwardAsync/backwardAsync, i.e. off this thread on the libuv
   * pool for backend 'cpu' in modes 'sequential' and 'fused' (and 'auto' when it picks them).
   * Everything else in a layer (norms, GEMMs, the conv, the input projection of the cell, and the
   * cell's whole solve in modes 'parallel'/'picard' or backend 'js') still runs on this thread.
   * Same results as lossAndGrad, bit for bit. Do not touch the parameters until the promise settles.
   */
  lossAndGradAsync(batch: Batch, options?: RunOptions): Promise<StepResult> {
    return runYielding(this.step('lossAndGradAsync', batch, options, true));
  }

  /** As evaluate, with the event loop free between layers and during the cells' native solves (see lossAndGradAsync). */
  evaluateAsync(batch: Batch, options?: RunOptions): Promise<StepResult> {
    return runYielding(this.step('evaluateAsync', batch, options, false));
  }

  private *step(name: string, batch: Batch, options: RunOptions | undefined, withGrad: boolean): Generator<Step, StepResult, unknown> {
    const op = `${this.config.type === 'lm' ? 'LanguageModel' : 'Regressor'}.${name}`;
    this.refuseWhileRunning(op);
    const resolved = this.resolveRun(op, options);
    const { B, T, input, tokens, series, mask } = this.checkBatch(op, batch);
    // Every activation of this step comes from the arena: nothing of it escapes (only numbers do).
    this.arena.reset();
    const run: BlockRun = { ...resolved, alloc: this.arena.alloc };
    this.running = op;
    try {
      return yield* this.stepBody(op, run, B, T, input, tokens, series, mask, withGrad);
    } finally {
      this.running = null;
    }
  }

  private *stepBody(
    op: string, run: BlockRun, B: number, T: number, input: Int32Array | FloatArray,
    tokens: Int32Array | null, series: FloatArray | null, mask: Uint8Array | null, withGrad: boolean,
  ): Generator<Step, StepResult, unknown> {
    // An optimiser step that overflowed shows up here, named, rather than deep inside a layer.
    for (const p of this.params) {
      const d = p.data;
      for (let i = 0; i < d.length; i++) {
        if (!Number.isFinite(d[i]!)) {
          throw nonFinite(op, `parameter ${p.name} holds a non-finite value at [${unravelIndex(i, p.shape).join(', ')}] (${d[i]})`, 'The parameters diverged: lower the learning rate or restore a checkpoint.');
        }
      }
    }
    if (withGrad) for (const p of this.params) p.grad.fill(0);
    const { out, state } = yield* this.forwardAll(input, B, T, run);
    let result: StepResult;
    let dout: FloatArray | null;
    if (tokens) {
      const r = softmaxCrossEntropy(out, tokens, this.config.vocab!, mask, withGrad, run.alloc);
      result = { loss: r.loss, count: r.count, correct: r.correct, newtonIterations: state.iterations };
      dout = r.dlogits;
    } else {
      const r = meanSquaredError(out, series!, this.config.outputFeatures!, mask, withGrad, run.alloc);
      result = { loss: r.loss, count: r.count, absError: r.absError, sqError: r.sqError, newtonIterations: state.iterations };
      dout = r.dpred;
    }
    if (!Number.isFinite(result.loss)) throw nonFinite(op, `the loss is ${result.loss}`, 'The model diverged: lower the learning rate or check the inputs.');
    if (withGrad && dout) {
      yield* this.backwardAll(dout, state, run);
      for (const p of this.params) {
        for (let i = 0; i < p.grad.length; i++) {
          if (!Number.isFinite(p.grad[i]!)) {
            throw nonFinite(op, `the gradient of ${p.name} holds a non-finite value at [${unravelIndex(i, p.shape).join(', ')}] (${p.grad[i]})`, 'The backward pass overflowed: lower the learning rate or clip gradients.');
          }
        }
      }
    }
    return result;
  }
}

/** Builds the model a config describes ('lm' or 'regressor'), initialised from `config.seed`. */
export function createModel(config: ModelConfig): ParaRNNModel {
  return new ParaRNNModel(config);
}
