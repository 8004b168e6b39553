/**
 * The ParaRNN block (one layer of the models), pre-norm with a scaled residual:
 *
 *   h   = RMSNorm(x)                               [N, d]     N = B·T rows
 *   u|g = h·W_inᵀ                                  [N, 2d]    (one product; u = first d, g = last d)
 *   s   = silu(CausalConv_k(u))                    [N, d]     depthwise, per channel, over time
 *   y   = Cell(s)                                  [N, d]     ParaGRU / ParaLSTM (heads H), solved by Newton
 *   z   = RMSNorm(y) ⊙ w ⊙ silu(g)                 [N, d]     gated norm
 *   x'  = x + α · z·W_outᵀ                         [N, d]
 *   (mlpRatio > 0:)  x'' = x' + α · SwiGLU(RMSNorm(x'))
 *
 * α = 1/√(2·layers), fixed (not learned): each unit-scale branch adds α² = 1/(2L) variance, so the
 * residual stream grows from 1 to about 1.5 (L branches) or 2 (2L, with the MLP), whatever the depth.
 */
import { ParascanError, type Dtype, type FloatArray, type Rng } from '@parascan/core';
import { ParaGRU, ParaLSTM, type ForwardCache, type Mode, type ParaCell, type ParameterRecord } from '@parascan/cells';
import { CausalConv, Linear, RMSNorm, SwiGLU, siluBackward, siluForward, type NormCache, type SwiGLUCache } from './layers.js';
import { createParameter, take, type LayerContext, type LiveParameter } from './parameter.js';
import { runJob, runToEnd, type Step } from './steps.js';

export interface BlockOptions {
  cell: 'gru' | 'lstm';
  width: number;
  heads: number;
  convKernel: number;
  /** SwiGLU hidden width; 0 = no MLP. */
  mlpHidden: number;
  alpha: number;
  dtype: Dtype;
}

export interface BlockRun extends LayerContext {
  mode: Mode;
  cellBackend: 'js' | 'cpu';
}

interface BlockCache {
  normCache: NormCache;
  h: FloatArray;
  u: FloatArray;
  conv: FloatArray;
  /** σ(conv), for the SiLU's backward. */
  convSigmoid: FloatArray;
  s: FloatArray;
  cellCache: ForwardCache;
  outNormCache: NormCache;
  z: FloatArray;
  mlp: { normCache: NormCache; h: FloatArray; cache: SwiGLUCache } | null;
}

/** The cell's tensors by ParaRNN's names; B is decayed, A, b, C are not. */
const CELL_DECAY: Record<string, boolean> = { A: false, B: true, b: false, C: false };

export class ParaRNNBlock {
  readonly norm: RMSNorm;
  readonly inProj: Linear;
  readonly conv: CausalConv;
  readonly cell: ParaCell;
  /** The live copies of the cell's tensors (the cell keeps its own; they are loaded before each forward). */
  readonly cellParameters: Array<[string, LiveParameter]>;
  readonly outNorm: RMSNorm;
  readonly outProj: Linear;
  readonly mlpNorm: RMSNorm | null;
  readonly mlp: SwiGLU | null;
  readonly width: number;
  readonly alpha: number;

  constructor(readonly name: string, o: BlockOptions, rng: Rng) {
    const d = o.width;
    this.width = d;
    this.alpha = o.alpha;
    this.norm = new RMSNorm(`${name}.norm`, d, o.dtype);
    this.inProj = new Linear(`${name}.in_proj`, d, 2 * d, o.dtype, rng);
    this.conv = new CausalConv(`${name}.conv`, d, o.convKernel, o.dtype, rng);
    const cellOptions = { inputSize: d, stateSize: d, heads: o.heads, dtype: o.dtype, seed: rng.int(0, 2 ** 31 - 1) };
    this.cell = o.cell === 'gru' ? new ParaGRU(cellOptions) : new ParaLSTM(cellOptions);
    const shapes = this.cell.parameterShapes();
    const initial = this.cell.parameters();
    this.cellParameters = Object.keys(shapes).map((key) => {
      const p = createParameter(`${name}.cell.${key}`, shapes[key]!.dims.map(([, s]) => s), o.dtype, CELL_DECAY[key] ?? true);
      p.data.set(initial[key]!);
      return [key, p];
    });
    this.outNorm = new RMSNorm(`${name}.out_norm`, d, o.dtype);
    this.outProj = new Linear(`${name}.out_proj`, d, d, o.dtype, rng);
    if (o.mlpHidden > 0) {
      this.mlpNorm = new RMSNorm(`${name}.mlp_norm`, d, o.dtype);
      this.mlp = new SwiGLU(`${name}.mlp`, d, o.mlpHidden, o.dtype, rng);
    } else {
      this.mlpNorm = null;
      this.mlp = null;
    }
  }

  parameters(): LiveParameter[] {
    const ps = [
      ...this.norm.parameters(),
      ...this.inProj.parameters(),
      ...this.conv.parameters(),
      ...this.cellParameters.map(([, p]) => p),
      ...this.outNorm.parameters(),
      ...this.outProj.parameters(),
    ];
    if (this.mlp) ps.push(...this.mlpNorm!.parameters(), ...this.mlp.parameters());
    return ps;
  }

  /**
   * The cell copies its parameters in and out (its `parameters()` returns copies), so the live
   * tensors the optimiser updates are loaded into it before every forward. That costs one copy of
   * A, B, b (and C) per forward (3d + d²·3/H numbers), small beside the activations, and it
   * re-checks them for NaN/Inf on the way.
   */
  private syncCell(): void {
    const record: ParameterRecord = {};
    for (const [key, p] of this.cellParameters) record[key] = p.data;
    this.cell.loadParameters(record);
  }

  /** x [B·T, d] → x' [B·T, d], and the cell's Newton iteration count. */
  forward(x: FloatArray, batch: number, length: number, run: BlockRun): { y: FloatArray; cache: BlockCache; iterations: number } {
    return runToEnd(this.forwardSteps(x, batch, length, run));
  }

  /**
   * forward as a computation that yields the cell's solve as a job (src/steps.ts): the model's
   * async paths await cell.forwardAsync there, its sync paths call cell.forward.
   */
  *forwardSteps(x: FloatArray, batch: number, length: number, run: BlockRun): Generator<Step, { y: FloatArray; cache: BlockCache; iterations: number }, unknown> {
    const d = this.width;
    const N = batch * length;
    this.syncCell();
    const { y: h, cache: normCache } = this.norm.forward(x, N, null, run);
    const p = this.inProj.forward(h, N, run);
    const dtype: Dtype = x instanceof Float32Array ? 'float32' : 'float64';
    const u = take(run, dtype, N * d);
    const g = take(run, dtype, N * d);
    // Plain index loops: a subarray per row would allocate 2N view objects per step.
    for (let r = 0, o = 0; r < N; r++, o += 2 * d) {
      const ro = r * d;
      for (let j = 0; j < d; j++) {
        u[ro + j] = p[o + j]!;
        g[ro + j] = p[o + d + j]!;
      }
    }
    const conv = this.conv.forward(u, batch, length, run);
    const convSigmoid = take(run, dtype, N * d);
    const s = siluForward(conv, run, convSigmoid);
    const cellOptions = { batch, mode: run.mode, backend: run.cellBackend };
    const cellOut = yield* runJob({ sync: () => this.cell.forward(s, cellOptions), async: () => this.cell.forwardAsync(s, cellOptions) });
    const { y: z, cache: outNormCache } = this.outNorm.forward(cellOut.y, N, g, run);
    const o = this.outProj.forward(z, N, run);
    const out = take(run, dtype, N * d);
    const a = this.alpha;
    for (let i = 0; i < out.length; i++) out[i] = x[i]! + a * o[i]!;
    let mlp: BlockCache['mlp'] = null;
    let y = out;
    if (this.mlp) {
      // A new array: the MLP's norm keeps `out` as its cached input.
      const { y: h2, cache: nc } = this.mlpNorm!.forward(out, N, null, run);
      const { y: m, cache } = this.mlp.forward(h2, N, run);
      y = take(run, dtype, N * d);
      for (let i = 0; i < y.length; i++) y[i] = out[i]! + a * m[i]!;
      mlp = { normCache: nc, h: h2, cache };
    }
    return {
      y,
      cache: { normCache, h, u, conv, convSigmoid, s, cellCache: cellOut.cache, outNormCache, z, mlp },
      iterations: cellOut.diagnostics.iterations,
    };
  }

  /** dy = dL/dx' → dL/dx; parameter gradients accumulated. */
  backward(dy: FloatArray, cache: BlockCache, batch: number, length: number, run: BlockRun): FloatArray {
    return runToEnd(this.backwardSteps(dy, cache, batch, length, run));
  }

  /** backward as a computation that yields the cell's reverse pass as a job (see forwardSteps). */
  *backwardSteps(dy: FloatArray, cache: BlockCache, batch: number, length: number, run: BlockRun): Generator<Step, FloatArray, unknown> {
    const d = this.width;
    const N = batch * length;
    const a = this.alpha;
    const dtype: Dtype = dy instanceof Float32Array ? 'float32' : 'float64';
    // dx = dL/dx' first: the identity path, plus the MLP's branch when there is one.
    const dx = take(run, dtype, dy.length);
    dx.set(dy);
    if (this.mlp && cache.mlp) {
      const dm = take(run, dtype, N * d);
      for (let i = 0; i < dm.length; i++) dm[i] = a * dy[i]!;
      const dh2 = this.mlp.backward(dm, cache.mlp.cache, N, run);
      const { dx: dxn } = this.mlpNorm!.backward(dh2, cache.mlp.normCache, N, run);
      for (let i = 0; i < dx.length; i++) dx[i] = dx[i]! + dxn[i]!;
    }
    const dO = take(run, dtype, N * d);
    for (let i = 0; i < dO.length; i++) dO[i] = a * dx[i]!;
    const dz = this.outProj.backward(cache.z, dO, N, run)!;
    const { dx: dcellY, dgate } = this.outNorm.backward(dz, cache.outNormCache, N, run);
    const cellGrads = yield* runJob({ sync: () => this.cell.backward(dcellY, cache.cellCache), async: () => this.cell.backwardAsync(dcellY, cache.cellCache) });
    for (const [key, p] of this.cellParameters) {
      const g = cellGrads.grads[key];
      if (!g) throw new ParascanError('INVALID_ARGUMENT', `${this.name}: the cell returned no gradient for ${key}`, { operation: 'ParaRNNBlock.backward' });
      for (let i = 0; i < g.length; i++) p.grad[i] = p.grad[i]! + g[i]!;
    }
    const dconv = siluBackward(cache.conv, cellGrads.dx, run, cache.convSigmoid);
    const du = this.conv.backward(cache.u, dconv, batch, length, run);
    const dp = take(run, dtype, N * 2 * d);
    const dg = dgate!;
    for (let r = 0, o = 0; r < N; r++, o += 2 * d) {
      const ro = r * d;
      for (let j = 0; j < d; j++) {
        dp[o + j] = du[ro + j]!;
        dp[o + d + j] = dg[ro + j]!;
      }
    }
    const dh = this.inProj.backward(cache.h, dp, N, run)!;
    const { dx: dxn } = this.norm.backward(dh, cache.normCache, N, run);
    // Then the mixer's branch: dL/dx = dL/dx' + (its path through norm, projections, conv, cell).
    for (let i = 0; i < dx.length; i++) dx[i] = dx[i]! + dxn[i]!;
    return dx;
  }
}
