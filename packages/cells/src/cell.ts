/**
 * What ParaGRU and ParaLSTM share: parameters (names and shapes of ParaRNN), validation, the input
 * projection, the three forward modes (sequential, Newton-parallel, Picard), streaming `step`,
 * the backward pass through ONE reversed linear solve (DESIGN §3), and the batched JVP/VJP API.
 * A subclass supplies the per-point kernels (value + closed-form Jacobian, tangent, cotangent).
 */
import {
  ParascanError,
  allocate,
  createRng,
  describeValue,
  invalidArgument,
  isSharedMemory,
  nonFinite,
  checkKnownKeys,
  checkOneOf,
  checkOptionsObject,
  checkPositiveInteger,
  unravelIndex,
  type Dtype,
  type FloatArray,
} from '@parascan/core';
import {
  getLinearRecurrenceKernel,
  resolveNewtonControls,
  solveLinearRecurrence,
  solveNewton,
  solveNewtonAsync,
  solvePicard,
  solvePicardAsync,
  solveSequential,
  type NewtonControls,
  type NewtonDiagnostics,
  type NewtonSystem,
} from '@parascan/solvers';
import {
  tryLoadNativeAddon,
  type NativeAddon,
  type NativeCellNewtonResult,
  type NativeCellRequest,
  type NativeCellResult,
} from '@parascan/native';
import { A_INITS, BIAS_INITS, W_INITS, fillBias, fillWeights, type AInit, type BiasInit, type WInit } from './init.js';
import { project, projectVjp, type ProjectionShape } from './projection.js';
import { chooseMode } from './auto.js';

/**
 * 'fused': the whole Newton loop in one native call (backend 'cpu' or 'cuda'). 'auto': the mode a
 * measured cost model expects to be fastest for the shape and backend (src/auto.ts; 'fused' on
 * 'cuda', which has no cost model yet).
 */
export type Mode = 'sequential' | 'parallel' | 'picard' | 'fused' | 'auto';
/** The fused loop's Newton unknowns (native/include/parascan/cells.h, FusedSchedule). */
export type FusedSchedule = 'auto' | 'global' | 'shooting';
export type CellBackend = 'js' | 'cpu' | 'cuda';

export interface CellOptions {
  /** Din */
  inputSize: number;
  /** D (ParaLSTM's state is [c; h], 2D wide) */
  stateSize: number;
  /** H, dividing D and Din. Default 1. */
  heads?: number;
  /** Default 'float32'. */
  dtype?: Dtype;
  /** Seed of the initialisation (default: random). */
  seed?: number;
  /** Initialisation schemes (ParaRNN's names). Defaults: A 'xlstm', B 'xavier_uniform', b 'bias_minus_linspace'; C as A. */
  init?: { A?: AInit; B?: WInit; b?: BiasInit; C?: AInit };
}

export interface ForwardOptions {
  /** B (default 1); T is x.length / (B·Din). */
  batch?: number;
  /** Default 'parallel'. */
  mode?: Mode;
  /**
   * Default 'js' (pure TypeScript). 'cpu': the native kernels of the addon: sequential and fused
   * run entirely natively; parallel/picard run the TS Newton loop over native cell evaluations and
   * native linear solves; the backward pass of such a forward is native too. 'cuda': the same on
   * the GPU (parascan_cuda.node; the input projection and its VJP stay on the host, BLAS when the
   * cpu addon is there); throws NATIVE_UNAVAILABLE, saying why, without a usable GPU.
   */
  backend?: CellBackend;
  /** Initial state [B, S] (S = D for ParaGRU, 2D = [c; h] for ParaLSTM); zero when absent. */
  h0?: FloatArray | null;
  /** Newton/Picard controls (see @parascan/solvers). */
  newton?: NewtonControls;
  /**
   * mode 'fused' only: 'global' runs ParaRNN's Newton over every state (like 'parallel', in one
   * call); 'shooting' takes the states at the starts of time chunks as the Newton unknowns and runs
   * the cell sequentially inside each chunk (multiple shooting). Default 'auto' (= 'shooting' on cpu).
   */
  fusedSchedule?: FusedSchedule;
}

/** Everything backward needs. Do not modify; the parameters must not change in between. */
export interface ForwardCache {
  readonly batch: number;
  readonly length: number;
  readonly x: FloatArray;
  /** P [B, T, G, D] */
  readonly projection: FloatArray;
  /** All states [B, T, S]. */
  readonly states: FloatArray;
  readonly h0: FloatArray | null;
  readonly backend: CellBackend;
}

export interface ForwardResult {
  /** The mode that ran (what 'auto' chose). */
  mode: Exclude<Mode, 'auto'>;
  /** What the native kernels report they ran (e.g. 'cells-fused-shooting'); null for the TS paths. */
  schedule: string | null;
  /** y [B, T, D] (ParaLSTM: the h half of the state). */
  y: FloatArray;
  /** [B, S] */
  finalState: FloatArray;
  diagnostics: NewtonDiagnostics;
  cache: ForwardCache;
}

export interface BackwardOptions {
  /** Gradient w.r.t. the final state [B, S] (for chunked training). */
  dFinalState?: FloatArray | null;
  /** Backend of the reverse solve (default: the forward's). */
  backend?: CellBackend;
}

export type ParameterRecord = Record<string, FloatArray>;

export interface BackwardResult {
  dx: FloatArray;
  grads: ParameterRecord;
  /** dL/dh0 [B, S] */
  dh0: FloatArray;
}

export interface PointOptions {
  batch?: number;
}

type NewtonControlsResolved = ReturnType<typeof resolveNewtonControls>;

/** A validated forward call with its projection, before the solve (shared by forward and forwardAsync). */
interface ForwardPlan {
  x: FloatArray;
  batch: number;
  T: number;
  /** The caller's h0, copied (null: zero). */
  h0: FloatArray | null;
  backend: CellBackend;
  addon: NativeAddon | null;
  mode: Exclude<Mode, 'auto'>;
  /** P [B, T, G, D] */
  P: FloatArray;
  system: NewtonSystem;
  newton: NewtonControls | undefined;
  fusedSchedule: FusedSchedule;
}

/** The native reverse pass's request and the arrays it fills (shared by backward and backwardAsync). */
interface NativeBackwardCall {
  addon: NativeAddon;
  /** The addon of the projection's VJP GEMMs (null: the TS loop). */
  blas: NativeAddon | null;
  request: NativeCellRequest;
  dP: FloatArray;
  gA: Float64Array;
  gC: Float64Array | null;
  dh0: FloatArray;
}

/** What a forward solve produced. */
interface SolvedStates {
  states: FloatArray;
  diagnostics: NewtonDiagnostics;
  /** What the native kernels report they ran; null for the TS paths. */
  schedule: string | null;
}

/** Per-point kernels, j over 0..D-1 at one point (b, t). Offsets index flat arrays. */
export abstract class ParaCell {
  readonly inputSize: number;
  readonly stateSize: number;
  readonly heads: number;
  readonly dtype: Dtype;
  /** G */
  abstract readonly gates: number;
  /** k: 1 (diagonal Jacobian) or 2 (2×2 blocks of diagonals). */
  abstract readonly blocks: number;
  /** The cell's name for the native kernels. */
  protected abstract readonly nativeKind: 'gru' | 'lstm';
  /** S = k·D */
  get stateWidth(): number {
    return this.blocks * this.stateSize;
  }
  protected readonly name: string;
  /** A [G, D] */
  protected A!: FloatArray;
  /** B [H, Din/H, G, D/H] */
  protected Bw!: FloatArray;
  /** b [G, D] */
  protected bias!: FloatArray;
  /** C [2, D] (ParaLSTM only). */
  protected C: FloatArray | null = null;

  protected constructor(name: string, options: CellOptions, gates: number, hasC: boolean) {
    const op = `${name}`;
    const o = checkOptionsObject(op, 'options', options);
    checkKnownKeys(op, 'options', o, ['inputSize', 'stateSize', 'heads', 'dtype', 'seed', 'init']);
    this.name = name;
    this.inputSize = checkPositiveInteger(op, 'options.inputSize', o['inputSize']);
    this.stateSize = checkPositiveInteger(op, 'options.stateSize', o['stateSize']);
    this.heads = o['heads'] === undefined ? 1 : checkPositiveInteger(op, 'options.heads', o['heads']);
    this.dtype = o['dtype'] === undefined ? 'float32' : checkOneOf(op, 'options.dtype', o['dtype'], ['float32', 'float64'] as const);
    if (this.stateSize % this.heads !== 0) {
      throw invalidArgument(op, 'options.heads', `a divisor of stateSize (${this.stateSize}) and inputSize (${this.inputSize})`, `${this.heads}, which does not divide stateSize ${this.stateSize}`);
    }
    if (this.inputSize % this.heads !== 0) {
      throw invalidArgument(op, 'options.heads', `a divisor of stateSize (${this.stateSize}) and inputSize (${this.inputSize})`, `${this.heads}, which does not divide inputSize ${this.inputSize}`);
    }
    if (o['seed'] !== undefined && (typeof o['seed'] !== 'number' || !Number.isSafeInteger(o['seed']))) {
      throw invalidArgument(op, 'options.seed', 'a safe integer', describeValue(o['seed']));
    }
    const init = o['init'] === undefined ? {} : checkOptionsObject(op, 'options.init', o['init']);
    checkKnownKeys(op, 'options.init', init, hasC ? ['A', 'B', 'b', 'C'] : ['A', 'B', 'b']);
    const aInit = init['A'] === undefined ? 'xlstm' : checkOneOf(op, 'options.init.A', init['A'], A_INITS);
    const wInit = init['B'] === undefined ? 'xavier_uniform' : checkOneOf(op, 'options.init.B', init['B'], W_INITS);
    const bInit = init['b'] === undefined ? 'bias_minus_linspace' : checkOneOf(op, 'options.init.b', init['b'], BIAS_INITS);
    const cInit = init['C'] === undefined ? aInit : checkOneOf(op, 'options.init.C', init['C'], A_INITS);
    const rng = createRng(o['seed'] as number | undefined);
    const D = this.stateSize;
    const H = this.heads;
    const G = gates;
    const a = new Float64Array(G * D);
    fillWeights(rng, aInit, a, D, 0);
    const w = new Float64Array(this.inputSize * G * D / H);
    // ParaRNN: ParaGRU passes fan_out = D, ParaLSTM fan_out = D/H.
    fillWeights(rng, wInit, w, this.inputSize / H, hasC ? D / H : D);
    const bb = new Float64Array(G * D);
    fillBias(rng, bInit, bb, D);
    this.A = this.fromF64(a);
    this.Bw = this.fromF64(w);
    this.bias = this.fromF64(bb);
    if (hasC) {
      const c = new Float64Array(2 * D);
      fillWeights(rng, cInit, c, D, 0);
      this.C = this.fromF64(c);
    }
  }

  protected fromF64(a: Float64Array): FloatArray {
    return this.dtype === 'float64' ? a : Float32Array.from(a);
  }

  private arrayName(): string {
    return this.dtype === 'float32' ? 'Float32Array' : 'Float64Array';
  }

  /** Names and shapes of the parameters: A [G, D], B [H, Din/H, G, D/H], b [G, D] (and C [2, D]). */
  parameterShapes(): Record<string, { dims: Array<[string, number]> }> {
    const D = this.stateSize;
    const H = this.heads;
    const G = this.gates;
    const s: Record<string, { dims: Array<[string, number]> }> = {
      A: { dims: [['G', G], ['D', D]] },
      B: { dims: [['H', H], ['Din/H', this.inputSize / H], ['G', G], ['D/H', D / H]] },
      b: { dims: [['G', G], ['D', D]] },
    };
    if (this.C) s['C'] = { dims: [['2', 2], ['D', D]] };
    return s;
  }

  /** Copies of the parameters, by ParaRNN's names. */
  parameters(): ParameterRecord {
    const r: ParameterRecord = { A: this.A.slice(), B: this.Bw.slice(), b: this.bias.slice() };
    if (this.C) r['C'] = this.C.slice();
    return r;
  }

  /** Replaces every parameter (copied). Each must be present, of the cell's dtype, of its exact shape and finite. */
  loadParameters(record: ParameterRecord): void {
    const op = `${this.name}.loadParameters`;
    const rec = checkOptionsObject(op, 'record', record);
    const shapes = this.parameterShapes();
    const names = Object.keys(shapes);
    checkKnownKeys(op, 'record', rec, names);
    const loaded: Record<string, FloatArray> = {};
    for (const name of names) {
      const dims = shapes[name]!.dims;
      const len = dims.reduce((p, [, s]) => p * s, 1);
      const shape = `[${dims.map(([n, s]) => `${n}=${s}`).join(', ')}]`;
      const v = rec[name];
      const expected = `a ${this.arrayName()} of length ${len} (${shape})`;
      if (v === undefined) throw invalidArgument(op, `record.${name}`, expected, 'nothing (the tensor is missing)');
      const ok = this.dtype === 'float32' ? v instanceof Float32Array : v instanceof Float64Array;
      if (!ok || (v as FloatArray).length !== len) throw invalidArgument(op, `record.${name}`, expected, describeValue(v));
      const arr = v as FloatArray;
      for (let i = 0; i < len; i++) {
        if (!Number.isFinite(arr[i]!)) {
          throw nonFinite(op, `argument \`record.${name}\` holds a non-finite value, ${name}[${unravelIndex(i, dims.map(([, s]) => s)).join(', ')}] = ${arr[i]}`, undefined, `record.${name}`);
        }
      }
      loaded[name] = arr.slice();
    }
    this.A = loaded['A']!;
    this.Bw = loaded['B']!;
    this.bias = loaded['b']!;
    if (this.C) this.C = loaded['C']!;
  }

  // ---- kernels (subclasses) ------------------------------------------------------------------

  /** out = f(prev, P) at one point; and the closed-form Jacobian blocks when `jac` is given. */
  protected abstract evalPoint(P: FloatArray, po: number, prev: FloatArray, ho: number, out: FloatArray, oo: number, jac: FloatArray | null, jo: number): void;
  /** out = (∂f/∂h) v at one point, by forward-mode (tangent) propagation through the formulas. */
  protected abstract tangentPoint(P: FloatArray, po: number, prev: FloatArray, ho: number, v: FloatArray, vo: number, out: FloatArray, oo: number): void;
  /**
   * Cotangent at one point: given u = dL/df, writes dprev = u^T ∂f/∂h and dP = u^T ∂f/∂P (float64),
   * and accumulates u^T ∂f/∂A into gA and u^T ∂f/∂C into gC.
   */
  protected abstract cotangentPoint(
    P: FloatArray, po: number, prev: FloatArray, ho: number, u: FloatArray, uo: number,
    dprev: FloatArray, dho: number, dP: Float64Array, gA: Float64Array, gC: Float64Array | null,
  ): void;

  // ---- validation ------------------------------------------------------------------------------

  protected checkData(op: string, arg: string, v: unknown, len: number, shape: string): FloatArray {
    const ok = this.dtype === 'float32' ? v instanceof Float32Array : v instanceof Float64Array;
    const expected = `a ${this.arrayName()} of length ${len} (${shape})`;
    if (!ok || (v as FloatArray).length !== len) {
      const hint = v instanceof Float32Array || v instanceof Float64Array ? (ok ? undefined : `The cell's dtype is ${this.dtype}.`) : undefined;
      throw invalidArgument(op, arg, expected, describeValue(v), hint);
    }
    const a = v as FloatArray;
    // Fast path: x·0 is 0 for every finite x and NaN for NaN/±Inf, so one sum finds any non-finite.
    let probe = 0;
    if (a instanceof Float32Array) for (let i = 0; i < len; i++) probe += a[i]! * 0;
    else for (let i = 0; i < len; i++) probe += a[i]! * 0;
    if (probe === 0) return a;
    const dims = shape.slice(1, -1).split(', ').map((d) => Number(d.split('=')[1]));
    for (let i = 0; i < len; i++) {
      if (!Number.isFinite(a[i]!)) {
        throw nonFinite(op, `argument \`${arg}\` holds a non-finite value, ${arg}[${unravelIndex(i, dims).join(', ')}] = ${a[i]}`, undefined, arg);
      }
    }
    return a;
  }

  /** Validates x [B, T, Din] and returns T. */
  protected checkInput(op: string, x: unknown, batch: number): number {
    const Din = this.inputSize;
    if (!(x instanceof Float32Array || x instanceof Float64Array) || x.length === 0 || x.length % (batch * Din) !== 0) {
      throw invalidArgument(op, 'x', `a ${this.arrayName()} [B=${batch}, T, Din=${Din}] (a positive multiple of ${batch * Din} elements)`, describeValue(x));
    }
    const T = x.length / (batch * Din);
    this.checkData(op, 'x', x, x.length, `[B=${batch}, T=${T}, Din=${Din}]`);
    return T;
  }

  protected checkState(op: string, arg: string, v: unknown, batch: number): FloatArray | null {
    if (v === undefined || v === null) return null;
    return this.checkData(op, arg, v, batch * this.stateWidth, `[B=${batch}, S=${this.stateWidth}]`);
  }

  protected shape(points: number): ProjectionShape {
    return { points, inputSize: this.inputSize, stateSize: this.stateSize, heads: this.heads, gates: this.gates };
  }

  /**
   * P = x·B + b per head, [M, G, D]. With an addon that has BLAS (backend 'cpu'), one GEMM per
   * head and gate in native code; otherwise the TypeScript loop.
   */
  protected projectAll(x: FloatArray, points: number, addon: NativeAddon | null = null): FloatArray {
    const P = allocate(this.dtype, points * this.gates * this.stateSize);
    if (addon?.projectInputs) {
      addon.projectInputs({ ...this.shape(points), x, weight: this.Bw, bias: this.bias, out: P });
    } else {
      project(this.shape(points), x, this.Bw, this.bias, P);
    }
    return P;
  }

  private jacStride(): number {
    return this.blocks * this.blocks * this.stateSize;
  }

  /** The Newton system of one sequence batch over a precomputed projection. */
  protected system(P: FloatArray, batch: number, T: number): NewtonSystem {
    const S = this.stateWidth;
    const GD = this.gates * this.stateSize;
    const JS = this.jacStride();
    const zero = allocate(this.dtype, S);
    const self = this;
    return {
      dtype: this.dtype,
      batch,
      length: T,
      size: S,
      structure: this.blocks === 1 ? 'diagonal' : 'block',
      blockSize: this.blocks,
      evaluate(states, initial, out, jac) {
        for (let b = 0; b < batch; b++) {
          for (let t = 0; t < T; t++) {
            const m = b * T + t;
            const prev = t > 0 ? states : initial ?? zero;
            const ho = t > 0 ? (m - 1) * S : initial ? b * S : 0;
            self.evalPoint(P, m * GD, prev, ho, out, m * S, jac, m * JS);
          }
        }
      },
      sequential(initial, out) {
        for (let b = 0; b < batch; b++) {
          for (let t = 0; t < T; t++) {
            const m = b * T + t;
            const prev = t > 0 ? out : initial ?? zero;
            const ho = t > 0 ? (m - 1) * S : initial ? b * S : 0;
            self.evalPoint(P, m * GD, prev, ho, out, m * S, null, 0);
          }
        }
      },
    };
  }

  /** y [B, T, D] from states [B, T, S] (the last D of each state). */
  protected output(states: FloatArray, points: number): FloatArray {
    const S = this.stateWidth;
    const D = this.stateSize;
    if (S === D) return states;
    const y = allocate(this.dtype, points * D);
    for (let m = 0; m < points; m++) y.set(states.subarray(m * S + S - D, m * S + S), m * D);
    return y;
  }

  // ---- forward ---------------------------------------------------------------------------------

  forward(x: FloatArray, options: ForwardOptions = {}): ForwardResult {
    const op = `${this.name}.forward`;
    const plan = this.planForward(op, x, options);
    return this.finishForward(plan, this.solveForward(op, plan));
  }

  /**
   * As forward, with the cell solve off the main thread where the addon allows it: backend 'cpu'
   * or 'cuda' in modes 'sequential' and 'fused' (and 'auto' when it picks one of them) run the
   * native loop through its ...Async variant on the libuv pool. The validation and the input
   * projection (a BLAS GEMM) still run on this thread before the promise is returned; modes
   * 'parallel' and 'picard' and backend 'js' run their whole solve synchronously inside the
   * call (the TS Newton loop of @parascan/solvers has no async form). Same results and errors as
   * forward, as a rejected promise; SharedArrayBuffer-backed `x`/`h0` are refused (as
   * solveLinearRecurrenceAsync does). `h0` is copied, so the caller may reuse it at once; `x` is
   * kept in the cache (as forward does) for backward.
   */
  async forwardAsync(x: FloatArray, options: ForwardOptions = {}): Promise<ForwardResult> {
    const op = `${this.name}.forwardAsync`;
    this.refuseShared(op, 'x', x);
    this.refuseShared(op, 'options.h0', (options as { h0?: unknown } | null | undefined)?.h0);
    const plan = this.planForward(op, x, options);
    return this.finishForward(plan, await this.solveForwardAsync(op, plan));
  }

  /** The async entry points' rule for SharedArrayBuffer-backed arrays (see forwardAsync). */
  private refuseShared(op: string, arg: string, v: unknown): void {
    if ((v instanceof Float32Array || v instanceof Float64Array) && isSharedMemory(v)) {
      throw invalidArgument(
        op, arg, `a ${this.arrayName()} on an ordinary ArrayBuffer`, `a ${v.constructor.name} of length ${v.length} on a SharedArrayBuffer`,
        `${op} rejects SharedArrayBuffer-backed arrays: the solve runs on another thread while JavaScript threads may write the same memory, a data race. Copy the data into an ordinary array first, or use the synchronous call, which accepts it.`,
      );
    }
  }

  /** Validation, the mode 'auto' resolves to, and the input projection: shared by forward and forwardAsync. */
  private planForward(op: string, x: FloatArray, options: ForwardOptions): ForwardPlan {
    const o = checkOptionsObject(op, 'options', options);
    checkKnownKeys(op, 'options', o, ['batch', 'mode', 'backend', 'h0', 'newton', 'fusedSchedule']);
    const batch = o['batch'] === undefined ? 1 : checkPositiveInteger(op, 'options.batch', o['batch']);
    const requested = o['mode'] === undefined ? 'parallel' : checkOneOf(op, 'options.mode', o['mode'], ['sequential', 'parallel', 'picard', 'fused', 'auto'] as const);
    const backend = o['backend'] === undefined ? 'js' : checkOneOf(op, 'options.backend', o['backend'], ['js', 'cpu', 'cuda'] as const);
    const fusedSchedule = o['fusedSchedule'] === undefined ? 'auto' : checkOneOf(op, 'options.fusedSchedule', o['fusedSchedule'], ['auto', 'global', 'shooting'] as const);
    if (requested === 'fused' && backend === 'js') {
      throw invalidArgument(op, 'options.mode', "'sequential', 'parallel', 'picard' or 'auto' with backend 'js' (mode 'fused' runs the whole Newton loop natively: it needs backend 'cpu' or 'cuda')", "'fused'");
    }
    const T = this.checkInput(op, x, batch);
    // A copy: the native calls read it (off the main thread in forwardAsync) and the cache keeps it.
    const h0 = this.checkState(op, 'options.h0', o['h0'], batch)?.slice() ?? null;
    const addon = backend === 'js' ? null : this.nativeAddon(op, backend);
    const mode =
      requested === 'auto' && backend === 'cuda'
        ? 'fused'
        : requested === 'auto'
        ? chooseMode({
            backend, batch, length: T, size: this.stateSize, blocks: this.blocks, dtype: this.dtype,
            threads: addon ? (addon.info() as { threads?: number }).threads ?? 1 : 1,
          })
        : requested;
    const P = this.projectAll(x, batch * T, backend === 'cuda' ? this.hostBlas() : addon);
    const system = addon ? this.nativeSystem(op, addon, P, batch, T) : this.system(P, batch, T);
    return { x, batch, T, h0, backend, addon, mode, P, system, newton: options.newton, fusedSchedule };
  }

  /** The solve of forward, on this thread. */
  private solveForward(op: string, plan: ForwardPlan): SolvedStates {
    const { addon, mode } = plan;
    if (mode === 'fused') {
      const call = this.fusedRequest(op, plan);
      return this.fusedResult(op, plan, call.controls, call.request.out!, addon!.cellNewton!(call.request));
    }
    if (mode === 'sequential' && addon) {
      const call = this.sequentialRequest(plan);
      return this.sequentialResult(op, plan, call.request.out!, addon.cellSequential!(call.request));
    }
    return this.solveInTs(plan);
  }

  /** The solve of forwardAsync: the native sequential/fused loops on the libuv pool, the rest as solveForward. */
  private async solveForwardAsync(op: string, plan: ForwardPlan): Promise<SolvedStates> {
    const { addon, mode } = plan;
    if (mode === 'fused' && addon?.cellNewtonAsync) {
      const call = this.fusedRequest(op, plan);
      return this.fusedResult(op, plan, call.controls, call.request.out!, await addon.cellNewtonAsync(call.request));
    }
    if (mode === 'sequential' && addon?.cellSequentialAsync) {
      const call = this.sequentialRequest(plan);
      return this.sequentialResult(op, plan, call.request.out!, await addon.cellSequentialAsync(call.request));
    }
    if (mode === 'parallel' || mode === 'picard') {
      // The TS loop, awaiting every native call (or yielding between js ones): the event loop runs
      // between the Newton iterations' pieces.
      const { system, h0, backend } = plan;
      const controls = { ...(plan.newton ?? {}), backend };
      const r = mode === 'parallel' ? await solveNewtonAsync(system, { initial: h0, controls }) : await solvePicardAsync(system, { initial: h0, controls });
      return { states: r.states, diagnostics: r.diagnostics, schedule: null };
    }
    return this.solveForward(op, plan);
  }

  /** Modes sequential (backend 'js'), parallel and picard: the TS loops of @parascan/solvers. */
  private solveInTs(plan: ForwardPlan): SolvedStates {
    const { system, h0, mode, backend } = plan;
    const controls = { ...(plan.newton ?? {}), backend };
    const r =
      mode === 'sequential'
        ? solveSequential(system, { initial: h0 })
        : mode === 'parallel'
          ? solveNewton(system, { initial: h0, controls })
          : solvePicard(system, { initial: h0, controls });
    return { states: r.states, diagnostics: r.diagnostics, schedule: null };
  }

  /** The result of forward/forwardAsync from the solved states. */
  private finishForward(plan: ForwardPlan, solved: SolvedStates): ForwardResult {
    const { batch, T, backend } = plan;
    const states = solved.states;
    const S = this.stateWidth;
    const finalState = allocate(this.dtype, batch * S);
    for (let b = 0; b < batch; b++) finalState.set(states.subarray(((b + 1) * T - 1) * S, (b + 1) * T * S), b * S);
    return {
      mode: plan.mode,
      schedule: solved.schedule,
      y: this.output(states, batch * T),
      finalState,
      diagnostics: solved.diagnostics,
      cache: { batch, length: T, x: plan.x, projection: plan.P, states, h0: plan.h0, backend },
    };
  }

  // ---- native (backend 'cpu') ------------------------------------------------------------------

  /** The addon with the cells' kernels, or a NATIVE_UNAVAILABLE error that says how to get it. */
  protected nativeAddon(op: string, backend: 'cpu' | 'cuda' = 'cpu'): NativeAddon {
    if (backend === 'cuda') {
      // The solvers' probe: the CUDA addon loads AND sees a GPU, or an error saying which failed.
      const availability = getLinearRecurrenceKernel('cuda')!.availability();
      if (!availability.available) throw availability.error;
    }
    const r = tryLoadNativeAddon(backend);
    if ('error' in r) throw r.error;
    if (typeof r.addon.cellNewton !== 'function' || typeof r.addon.cellBackward !== 'function') {
      throw new ParascanError(
        'NATIVE_UNAVAILABLE',
        `${op}: the native ${backend} addon at ${r.path} predates the cells' kernels (no cellNewton/cellBackward). Rebuild it (cd packages/native && node scripts/build-native.mjs) or use backend: 'js'.`,
        { operation: op, hint: "backend: 'js'" },
      );
    }
    return r.addon;
  }

  /** The cpu addon for the host-side projection GEMMs of backend 'cuda' (null: the TS loop). */
  private hostBlas(): NativeAddon | null {
    const r = tryLoadNativeAddon('cpu');
    return 'error' in r ? null : r.addon;
  }

  private nativeRequest(P: FloatArray, batch: number, T: number, h0: FloatArray | null): NativeCellRequest {
    return { cell: this.nativeKind, batch, length: T, size: this.stateSize, projection: P, A: this.A, C: this.C, initial: h0 };
  }

  /** The Newton system over the native kernels: evaluate and sequential are one native call each. */
  protected nativeSystem(op: string, addon: NativeAddon, P: FloatArray, batch: number, T: number): NewtonSystem {
    const self = this;
    return {
      dtype: this.dtype,
      batch,
      length: T,
      size: this.stateWidth,
      structure: this.blocks === 1 ? 'diagonal' : 'block',
      blockSize: this.blocks,
      evaluate(states, initial, out, jac) {
        addon.cellEvaluate!({ ...self.nativeRequest(P, batch, T, initial), states, out, jacobians: jac });
      },
      sequential(initial, out) {
        // A non-finite state is reported by the solver's own scan of `out` (runSequential).
        addon.cellSequential!({ ...self.nativeRequest(P, batch, T, initial), out });
      },
      // solveNewtonAsync / solvePicardAsync: the same kernels on the libuv pool.
      ...(addon.cellEvaluateAsync && addon.cellSequentialAsync
        ? {
            async evaluateAsync(states: FloatArray, initial: FloatArray | null, out: FloatArray, jac: FloatArray | null) {
              await addon.cellEvaluateAsync!({ ...self.nativeRequest(P, batch, T, initial), states, out, jacobians: jac });
            },
            async sequentialAsync(initial: FloatArray | null, out: FloatArray) {
              await addon.cellSequentialAsync!({ ...self.nativeRequest(P, batch, T, initial), out });
            },
          }
        : {}),
    };
  }

  /** mode 'sequential' on cpu/cuda: the request of the native loop (states written to `out`). */
  private sequentialRequest(plan: ForwardPlan): { request: NativeCellRequest } {
    const { P, batch, T, h0 } = plan;
    return { request: { ...this.nativeRequest(P, batch, T, h0), out: allocate(this.dtype, batch * T * this.stateWidth) } };
  }

  /**
   * The native loop's answer: its own non-finite check replaces the TS scan of solveSequential
   * (the same error).
   */
  private sequentialResult(op: string, plan: ForwardPlan, states: FloatArray, r: NativeCellResult): SolvedStates {
    if (r.status === 'non-finite') {
      throw nonFinite(op, `the sequential recurrence produced a non-finite state ([B, T, S] = [${plan.batch}, ${plan.T}, ${this.stateWidth}])`, 'The cell overflows for these inputs and parameters.');
    }
    return {
      states,
      schedule: plan.backend === 'cuda' ? 'cuda-cells-sequential' : 'cells-sequential',
      diagnostics: {
        method: 'sequential', iterations: 0, residuals: [], termination: 'sequential', fellBack: false, reason: null,
        dampings: 0, damping: 1, stalled: false, tolerance: 0, errorEstimate: 0,
      },
    };
  }

  /** mode 'fused': the request of solveNewton's loop in one native call (onDivergence 'fallback' or 'error'). */
  private fusedRequest(op: string, plan: ForwardPlan): { request: NativeCellRequest; controls: NewtonControlsResolved } {
    const { P, batch, T, h0 } = plan;
    const ctl = resolveNewtonControls(op, plan.newton, plan.system, 'newton');
    if (ctl.onDivergence === 'damp') {
      throw invalidArgument(op, 'options.newton.onDivergence', "'fallback' or 'error' with mode 'fused' (use mode 'parallel' for 'damp')", "'damp'");
    }
    const request: NativeCellRequest = {
      ...this.nativeRequest(P, batch, T, h0),
      out: allocate(this.dtype, batch * T * this.stateWidth),
      controls: {
        maxIterations: ctl.maxIterations,
        absTol: ctl.absTol,
        relTol: ctl.relTol,
        damping: ctl.damping,
        onMaxIterations: ctl.onMaxIterations === 'fallback' ? 'fallback' : 'return',
        schedule: plan.fusedSchedule,
      },
    };
    return { request, controls: ctl };
  }

  /** The fused loop's answer as diagnostics, or the error the controls ask for. */
  private fusedResult(op: string, plan: ForwardPlan, ctl: NewtonControlsResolved, states: FloatArray, r: NativeCellNewtonResult): SolvedStates {
    const { batch, T } = plan;
    const residuals = r.residuals.map((v) => (Number.isFinite(v) ? v : NaN));
    if (r.status === 'non-finite') {
      throw nonFinite(op, `the sequential recurrence produced a non-finite state ([B, T, S] = [${batch}, ${T}, ${this.stateWidth}])`, 'The cell overflows for these inputs and parameters.');
    }
    const fellBack = r.termination === 'fallback-sequential';
    if (fellBack && ctl.onDivergence === 'error' && (r.reason === 'non-finite' || r.reason === 'growing')) {
      throw new ParascanError(
        'DIVERGED',
        `${op}: the newton iteration diverged (${r.reason === 'non-finite' ? 'a non-finite residual' : 'the residual grew 2 iterations in a row'}) after ${r.iterations} iterations; residuals ${residuals.map((v) => v.toExponential(2)).join(', ')}. Use controls.onDivergence 'fallback' (sequential), or mode 'sequential'.`,
        { operation: op, hint: "controls.onDivergence: 'fallback'" },
      );
    }
    if (fellBack && ctl.onDivergence === 'error' && r.reason === 'ill-conditioned') {
      throw new ParascanError(
        'DIVERGED',
        `${op}: the newton iteration reached a residual of ${residuals[residuals.length - 1]!.toExponential(2)} but the system is ill-conditioned: the next step would still move the answer by ${r.errorEstimate.toExponential(2)}, so it could differ from the sequential solution by that much. Use controls.onDivergence 'fallback' (sequential), or mode 'sequential'.`,
        { operation: op, hint: "controls.onDivergence: 'fallback'" },
      );
    }
    if (r.termination === 'max-iterations' && ctl.onMaxIterations === 'error') {
      throw new ParascanError(
        'DIVERGED',
        `${op}: the newton iteration did not converge in ${ctl.maxIterations} iterations (residual ${residuals[residuals.length - 1]!.toExponential(3)} > tolerance ${r.tolerance.toExponential(3)}).`,
        { operation: op, hint: 'Raise controls.maxIterations or the tolerances, or use mode sequential.' },
      );
    }
    return {
      states,
      schedule: r.schedule,
      diagnostics: {
        method: 'newton',
        iterations: r.iterations,
        residuals,
        termination: r.termination,
        fellBack,
        reason: r.reason,
        dampings: 0,
        damping: ctl.damping,
        stalled: r.stalled,
        tolerance: r.tolerance,
        errorEstimate: r.errorEstimate,
      },
    };
  }

  /** One step for streaming: xt [B, Din], state [B, S] (null: zero) → { y [B, D], state [B, S] }. */
  step(xt: FloatArray, state: FloatArray | null = null): { y: FloatArray; state: FloatArray } {
    const op = `${this.name}.step`;
    const Din = this.inputSize;
    if (!(xt instanceof Float32Array || xt instanceof Float64Array) || xt.length === 0 || xt.length % Din !== 0) {
      throw invalidArgument(op, 'xt', `a ${this.arrayName()} [B, Din=${Din}] (a positive multiple of ${Din} elements)`, describeValue(xt));
    }
    const batch = xt.length / Din;
    this.checkData(op, 'xt', xt, xt.length, `[B=${batch}, Din=${Din}]`);
    const h = this.checkState(op, 'state', state, batch);
    const P = this.projectAll(xt, batch);
    const S = this.stateWidth;
    const out = allocate(this.dtype, batch * S);
    const zero = allocate(this.dtype, S);
    const GD = this.gates * this.stateSize;
    for (let b = 0; b < batch; b++) this.evalPoint(P, b * GD, h ?? zero, h ? b * S : 0, out, b * S, null, 0);
    return { y: this.output(out, batch), state: out };
  }

  // ---- backward --------------------------------------------------------------------------------

  /**
   * Gradients of a loss L given dy = dL/dy [B, T, D] (DESIGN §3): λ_t = g_t + J_{t+1}^T λ_{t+1} in
   * ONE reversed linear solve on the Jacobians at the forward solution, then one VJP per step.
   */
  backward(dy: FloatArray, cache: ForwardCache, options: BackwardOptions = {}): BackwardResult {
    const op = `${this.name}.backward`;
    const { g, backend } = this.planBackward(op, dy, cache, options);
    if (backend === 'js') return this.jsBackward(op, cache, g);
    const call = this.nativeBackwardRequest(op, cache, g, backend);
    return this.nativeBackwardResult(op, cache, call, call.addon.cellBackward!(call.request));
  }

  /**
   * As backward, with the native reverse pass (Jacobians, the reversed solve, the per-step VJPs) on
   * the libuv pool for backend 'cpu'/'cuda' (cellBackwardAsync); the projection's VJP (BLAS) still
   * runs on this thread after it. Backend 'js' runs synchronously inside the call. Same results and
   * errors as backward, as a rejected promise; SharedArrayBuffer-backed `dy`/`dFinalState` are
   * refused. Do not modify the cache's arrays until the promise settles.
   */
  async backwardAsync(dy: FloatArray, cache: ForwardCache, options: BackwardOptions = {}): Promise<BackwardResult> {
    const op = `${this.name}.backwardAsync`;
    this.refuseShared(op, 'dy', dy);
    this.refuseShared(op, 'options.dFinalState', (options as { dFinalState?: unknown } | null | undefined)?.dFinalState);
    const { g, backend } = this.planBackward(op, dy, cache, options);
    if (backend === 'js') return this.jsBackward(op, cache, g);
    const call = this.nativeBackwardRequest(op, cache, g, backend);
    const r = call.addon.cellBackwardAsync ? await call.addon.cellBackwardAsync(call.request) : call.addon.cellBackward!(call.request);
    return this.nativeBackwardResult(op, cache, call, r);
  }

  /** Validation and g_t = ∂L/∂h_t (dy, plus dFinalState at the last step): shared by backward and backwardAsync. */
  private planBackward(op: string, dy: FloatArray, cache: ForwardCache, options: BackwardOptions): { g: FloatArray; backend: CellBackend } {
    const o = checkOptionsObject(op, 'options', options);
    checkKnownKeys(op, 'options', o, ['dFinalState', 'backend']);
    if (typeof cache !== 'object' || cache === null || !(cache.states instanceof Float32Array || cache.states instanceof Float64Array)) {
      throw invalidArgument(op, 'cache', 'the cache returned by forward()', describeValue(cache));
    }
    const { batch, length: T } = cache;
    const D = this.stateSize;
    const S = this.stateWidth;
    const M = batch * T;
    this.checkData(op, 'dy', dy, M * D, `[B=${batch}, T=${T}, D=${D}]`);
    const dFinal = this.checkState(op, 'options.dFinalState', o['dFinalState'], batch);
    const backend = o['backend'] === undefined ? cache.backend : checkOneOf(op, 'options.backend', o['backend'], ['js', 'cpu', 'cuda'] as const);
    // g_t = ∂L/∂h_t directly.
    // (ParaGRU: S = D, g is a copy of dy.)
    const g = S === D ? dy.slice() : allocate(this.dtype, M * S);
    if (S !== D) for (let m = 0; m < M; m++) g.set(dy.subarray(m * D, (m + 1) * D), m * S + S - D);
    if (dFinal) for (let b = 0; b < batch; b++) for (let s = 0; s < S; s++) g[((b + 1) * T - 1) * S + s] += dFinal[b * S + s]!;
    return { g, backend };
  }

  /** Backend 'js': the Jacobians at the solution, then the reversed solve (in place on g), then the VJPs. */
  private jsBackward(op: string, cache: ForwardCache, g: FloatArray): BackwardResult {
    const { batch, length: T } = cache;
    const S = this.stateWidth;
    const M = batch * T;
    const system = this.system(cache.projection, batch, T);
    const jac = allocate(this.dtype, M * this.jacStride());
    system.evaluate(cache.states, cache.h0, allocate(this.dtype, M * S), jac);
    const lambda = solveLinearRecurrence({
      structure: this.blocks === 1 ? 'diagonal' : 'block',
      blockSize: this.blocks,
      batch,
      length: T,
      size: S,
      jacobians: jac,
      rhs: g,
      out: g,
      direction: 'reverse',
      backend: 'js',
    });
    return this.pullback(op, cache.x, cache.projection, cache.states, cache.h0, lambda, batch, T, true);
  }

  /** backend 'cpu'/'cuda': the request of the native reverse pass (Jacobians, the reversed solve, the per-step VJPs). */
  private nativeBackwardRequest(op: string, cache: ForwardCache, g: FloatArray, backend: 'cpu' | 'cuda'): NativeBackwardCall {
    const addon = this.nativeAddon(op, backend);
    const blas = backend === 'cuda' ? this.hostBlas() : addon;
    const { batch, length: T } = cache;
    const D = this.stateSize;
    const G = this.gates;
    const M = batch * T;
    // dP in the cell's dtype (float32 halves the memory and feeds sgemm directly).
    const dP = allocate(this.dtype, M * G * D);
    const gA = new Float64Array(G * D);
    const gC = this.C ? new Float64Array(2 * D) : null;
    const dh0 = allocate(this.dtype, batch * this.stateWidth);
    const request: NativeCellRequest = {
      ...this.nativeRequest(cache.projection, batch, T, cache.h0),
      states: cache.states,
      lambda: g,
      dP,
      dA: gA,
      dC: gC,
      dh0,
    };
    return { addon, blas, request, dP, gA, gC, dh0 };
  }

  /** The native reverse pass's answer, then the projection's VJP on this thread (BLAS when there). */
  private nativeBackwardResult(op: string, cache: ForwardCache, call: NativeBackwardCall, r: NativeCellResult): BackwardResult {
    const { blas, dP, gA, gC, dh0 } = call;
    const M = cache.batch * cache.length;
    const D = this.stateSize;
    const G = this.gates;
    if (r.status !== 'ok') throw nonFinite(op, 'the reversed linear solve of the backward pass produced a non-finite value', 'The gradients overflow for these inputs and parameters.');
    const dx = allocate(this.dtype, M * this.inputSize);
    let dB: FloatArray;
    let db: FloatArray;
    if (blas?.cellProjectionVjp) {
      // dx = dP·Bᵀ, dB = xᵀ·dP, db = Σ dP per head, as GEMMs (OpenBLAS).
      dB = allocate(this.dtype, this.Bw.length);
      db = allocate(this.dtype, G * D);
      blas.cellProjectionVjp({ ...this.shape(M), x: cache.x, weight: this.Bw, dP, dx, dW: dB, db });
    } else {
      const dB64 = new Float64Array(this.Bw.length);
      const db64 = new Float64Array(G * D);
      projectVjp(this.shape(M), cache.x, this.Bw, dP, dB64, db64, dx);
      dB = this.fromF64(dB64);
      db = this.fromF64(db64);
    }
    const grads: ParameterRecord = { A: this.fromF64(gA), B: dB, b: db };
    if (gC) grads['C'] = this.fromF64(gC);
    return { dx, grads, dh0 };
  }

  /** Per-point VJPs with λ (dL/dh_t) at the points (h_{t-1}, x_t); dh0 from t = 0. */
  private pullback(
    _op: string, x: FloatArray, P: FloatArray, states: FloatArray, h0: FloatArray | null,
    lambda: FloatArray, batch: number, T: number, sequence: boolean,
  ): BackwardResult {
    const D = this.stateSize;
    const S = this.stateWidth;
    const G = this.gates;
    const M = batch * T;
    const dP = new Float64Array(M * G * D);
    const gA = new Float64Array(G * D);
    const gC = this.C ? new Float64Array(2 * D) : null;
    const dprev = allocate(this.dtype, sequence ? batch * S : M * S);
    const scratch = allocate(this.dtype, S);
    const zero = allocate(this.dtype, S);
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < T; t++) {
        const m = b * T + t;
        let prev: FloatArray;
        let ho: number;
        if (!sequence) {
          prev = states;
          ho = m * S;
        } else if (t > 0) {
          prev = states;
          ho = (m - 1) * S;
        } else {
          prev = h0 ?? zero;
          ho = h0 ? b * S : 0;
        }
        const target = !sequence ? dprev : t === 0 ? dprev : scratch;
        const to = !sequence ? m * S : t === 0 ? b * S : 0;
        this.cotangentPoint(P, m * G * D, prev, ho, lambda, m * S, target, to, dP.subarray(m * G * D, (m + 1) * G * D), gA, gC);
      }
    }
    const dB = new Float64Array(this.Bw.length);
    const db = new Float64Array(G * D);
    const dx = allocate(this.dtype, M * this.inputSize);
    projectVjp(this.shape(M), x, this.Bw, dP, dB, db, dx);
    const grads: ParameterRecord = { A: this.fromF64(gA), B: this.fromF64(dB), b: this.fromF64(db) };
    if (gC) grads['C'] = this.fromF64(gC);
    return { dx, grads, dh0: dprev };
  }

  // ---- batched point-wise API (JVP / VJP / Jacobians) -----------------------------------------
  //
  // Every function takes x [B, T, Din] and prev [B, T, S]: prev[b, t] is the state fed to step t,
  // so all points are independent (no recurrence).

  private points(op: string, x: unknown, prev: unknown, options: PointOptions): { batch: number; T: number; X: FloatArray; H: FloatArray } {
    const o = checkOptionsObject(op, 'options', options);
    checkKnownKeys(op, 'options', o, ['batch']);
    const batch = o['batch'] === undefined ? 1 : checkPositiveInteger(op, 'options.batch', o['batch']);
    const T = this.checkInput(op, x, batch);
    const H = this.checkData(op, 'prev', prev, batch * T * this.stateWidth, `[B=${batch}, T=${T}, S=${this.stateWidth}]`);
    return { batch, T, X: x as FloatArray, H };
  }

  /** f(prev[b, t], x[b, t]) at every point, [B, T, S]. */
  evaluate(x: FloatArray, prev: FloatArray, options: PointOptions = {}): FloatArray {
    const { batch, T, X, H } = this.points(`${this.name}.evaluate`, x, prev, options);
    const M = batch * T;
    const P = this.projectAll(X, M);
    const S = this.stateWidth;
    const out = allocate(this.dtype, M * S);
    for (let m = 0; m < M; m++) this.evalPoint(P, m * this.gates * this.stateSize, H, m * S, out, m * S, null, 0);
    return out;
  }

  /** Closed-form ∂f/∂h at every point: diagonal [B, T, D], or 2×2 blocks of diagonals [B, T, 2, 2, D]. */
  jacobian(x: FloatArray, prev: FloatArray, options: PointOptions = {}): FloatArray {
    const { batch, T, X, H } = this.points(`${this.name}.jacobian`, x, prev, options);
    const M = batch * T;
    const P = this.projectAll(X, M);
    const S = this.stateWidth;
    const out = allocate(this.dtype, M * S);
    const jac = allocate(this.dtype, M * this.jacStride());
    for (let m = 0; m < M; m++) this.evalPoint(P, m * this.gates * this.stateSize, H, m * S, out, m * S, jac, m * this.jacStride());
    return jac;
  }

  /** State JVP (∂f/∂h) v at every point, by tangent propagation (independent of `jacobian`). v [B, T, S]. */
  jvp(x: FloatArray, prev: FloatArray, v: FloatArray, options: PointOptions = {}): FloatArray {
    const op = `${this.name}.jvp`;
    const { batch, T, X, H } = this.points(op, x, prev, options);
    const S = this.stateWidth;
    const M = batch * T;
    const V = this.checkData(op, 'v', v, M * S, `[B=${batch}, T=${T}, S=${S}]`);
    const P = this.projectAll(X, M);
    const out = allocate(this.dtype, M * S);
    for (let m = 0; m < M; m++) this.tangentPoint(P, m * this.gates * this.stateSize, H, m * S, V, m * S, out, m * S);
    return out;
  }

  /**
   * VJP at every point for u = dL/df [B, T, S]: dprev = u^T ∂f/∂h [B, T, S], dx [B, T, Din], and
   * the parameter gradients summed over the points.
   */
  vjp(x: FloatArray, prev: FloatArray, u: FloatArray, options: PointOptions = {}): { dprev: FloatArray; dx: FloatArray; grads: ParameterRecord } {
    const op = `${this.name}.vjp`;
    const { batch, T, X, H } = this.points(op, x, prev, options);
    const S = this.stateWidth;
    const U = this.checkData(op, 'u', u, batch * T * S, `[B=${batch}, T=${T}, S=${S}]`);
    const P = this.projectAll(X, batch * T);
    const r = this.pullback(op, X, P, H, null, U, batch, T, false);
    return { dprev: r.dh0, dx: r.dx, grads: r.grads };
  }
}
