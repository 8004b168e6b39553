/**
 * The benchmark cases. A case allocates its arrays once and measures one or more rows on them;
 * the runner gives every case a process of its own so that its peak RSS is its own.
 *
 * Sizes (full and quick use the same sizes; quick only shortens the timing budgets):
 *   bandwidth      STREAM copy / triad on n = 2^24 floats per array (64 MiB each)
 *   diag-*, block2 B=16, T=2^14, D=64: B·T·D = 2^24 state elements; each also re-measures the triad
 *                  on its own arrays right before its solves (the ratio its target uses)
 *   time-d1, d4    B=1, T=2^22, D ∈ {1, 4}: one long stream, parallel in time or not at all
 *   js-*           B=16, T=2^12, D=16: 2^20 state elements, the pure-TS reference vs native
 *   cuda           the shapes above on the GPU, when a CUDA addon and a device are present
 *   cells-*        ParaGRU / ParaLSTM through the public forward/backward: every mode and backend over a
 *                  T × B × D grid, peak RSS per mode at T=2^20, PyTorch comparison (cases-cells.ts)
 */
import { tryLoadNativeAddon, type NativeAddon } from '@parascan/native';
import { solveLinearRecurrence, type LinearRecurrenceOptions, type Method } from '@parascan/solvers';

import type { Profile } from './args.js';
import { nnGemm } from './cases-nn.js';
import { trainGru, trainLstm } from './cases-train.js';
import { CELL_CASES } from './cases-cells.js';
import { takeSchedule } from './instrument.js';
import { MiB, fillUniform, timeIt, type Budget } from './measure.js';
import { UNCOMPARED, type CaseResult, type Dtype, type Row, type Section, type Target } from './types.js';

export interface CaseContext {
  profile: Profile;
  budget: Budget;
  /** The multi-threaded count (default 2). */
  threads: number;
}

export interface CaseDef {
  name: string;
  title: string;
  run(ctx: CaseContext): Promise<Omit<CaseResult, 'memory'> & { arraysMiB: number }>;
}

// ---- sizes ---------------------------------------------------------------------------------------

interface Sizes {
  streamN: number;
  /** The 2^24-element throughput shape. */
  thr: { B: number; T: number; D: number };
  /** The long single stream. */
  timeT: number;
  /** The 2^20-element js shape. */
  js: { B: number; T: number; D: number };
}

export function sizesFor(profile: Profile): Sizes {
  if (profile === 'smoke') {
    return { streamN: 1 << 16, thr: { B: 2, T: 256, D: 64 }, timeT: 1 << 13, js: { B: 2, T: 256, D: 16 } };
  }
  return { streamN: 1 << 24, thr: { B: 16, T: 1 << 14, D: 64 }, timeT: 1 << 22, js: { B: 16, T: 1 << 12, D: 16 } };
}

// ---- problems ------------------------------------------------------------------------------------

interface Problem {
  structure: 'diagonal' | 'block';
  k: number;
  B: number;
  T: number;
  D: number;
  dtype: Dtype;
  jacobians: Float32Array | Float64Array;
  rhs: Float32Array | Float64Array;
  out: Float32Array | Float64Array;
}

function alloc(dtype: Dtype, n: number): Float32Array | Float64Array {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

/**
 * Contractive test data: diagonal J in [0.5, 0.99); 2×2 blocks with every entry in [-0.45, 0.45)
 * (row sums of |J| < 0.9), so nothing overflows over any T; rhs in [-1, 1).
 */
function makeProblem(structure: 'diagonal' | 'block', k: number, B: number, T: number, D: number, dtype: Dtype, seed: number): Problem {
  const N = D / k;
  const jacobians = alloc(dtype, B * T * k * k * N);
  const rhs = alloc(dtype, B * T * D);
  const out = alloc(dtype, B * T * D);
  if (structure === 'diagonal') fillUniform(jacobians, 0.5, 0.99, seed);
  else fillUniform(jacobians, -0.45, 0.45, seed);
  fillUniform(rhs, -1, 1, seed + 1);
  out.fill(0); // touch the pages now, not in the first timed call
  return { structure, k, B, T, D, dtype, jacobians, rhs, out };
}

function bytesOf(dtype: Dtype): number {
  return dtype === 'float32' ? 4 : 8;
}

function arraysMiB(...ps: Problem[]): number {
  let bytes = 0;
  for (const p of ps) bytes += (p.jacobians.length + p.rhs.length + p.out.length) * bytesOf(p.dtype);
  return bytes / MiB;
}

/** Bytes a solve must move: read J and r, write x. */
function solveBytes(p: Problem): number {
  const N = p.D / p.k;
  return (p.k * p.k * N + 2 * p.k * N) * p.B * p.T * bytesOf(p.dtype);
}

function shapeOf(p: Problem): string {
  return `B=${p.B} T=${p.T} D=${p.D}${p.structure === 'block' ? ` k=${p.k}` : ''}`;
}


interface Variant {
  backend: 'cpu' | 'js' | 'cuda';
  method: Method;
  /** cpu only */
  threads?: number;
}

export function variantName(v: Variant): string {
  return v.backend === 'cpu' ? `cpu-${v.method}-${v.threads}t` : `${v.backend}-${v.method}`;
}

interface RowExtras {
  triadRef?: string | null;
  baselineRef?: string | null;
  baselineLabel?: string | null;
  target?: Target | null;
  note?: string;
}

async function solveRow(ctx: CaseContext, caseName: string, section: Section, p: Problem, v: Variant, extras: RowExtras): Promise<Row> {
  const options: LinearRecurrenceOptions = {
    structure: p.structure,
    batch: p.B,
    length: p.T,
    size: p.D,
    jacobians: p.jacobians,
    rhs: p.rhs,
    out: p.out,
    backend: v.backend,
    method: v.method,
  };
  if (p.structure === 'block') options.blockSize = p.k;
  if (v.backend === 'cpu') options.threads = v.threads ?? 0;
  const id = `${caseName}/${variantName(v)}`;
  takeSchedule();
  const timing = await timeIt(id, () => void solveLinearRecurrence(options), ctx.budget);
  const schedule = takeSchedule();
  const bytesMoved = solveBytes(p);
  return {
    id,
    case: caseName,
    section,
    backend: v.backend,
    method: v.method,
    schedule: schedule ? schedule.slice(schedule.indexOf(':') + 1) : null,
    dtype: p.dtype,
    structure: p.structure,
    shape: shapeOf(p),
    threads: v.backend === 'cpu' ? (v.threads ?? 0) : null,
    bytesMoved,
    timing,
    gbps: bytesMoved / (timing.medianMs * 1e6),
    gbpsBest: bytesMoved / (timing.minMs * 1e6),
    ...UNCOMPARED,
    triadRef: extras.triadRef ?? null,
    baselineRef: extras.baselineRef ?? null,
    baselineLabel: extras.baselineLabel ?? null,
    target: extras.target ?? null,
    ...(extras.note ? { note: extras.note } : {}),
  };
}

const triad = (threads: number) => `bandwidth/triad-${threads}t`;

function cpuAddon(): NativeAddon {
  const r = tryLoadNativeAddon('cpu');
  if ('error' in r) throw r.error;
  return r.addon;
}

// ---- the cases -----------------------------------------------------------------------------------

/** One STREAM probe row: `kind` on equal-length Float32Arrays a (written), b, c. */
async function probeRow(
  ctx: CaseContext,
  caseName: string,
  section: Section,
  kind: 'copy' | 'triad',
  arrays: [Float32Array, Float32Array, Float32Array],
  threads: number,
  note: string,
): Promise<Row> {
  const addon = cpuAddon();
  const probe = addon.bandwidthProbe;
  if (!probe) throw new Error('this parascan.node has no bandwidthProbe (stale build? rebuild @parascan/native)');
  const [a, b, c] = arrays;
  const n = a.length;
  const id = `${caseName}/${kind}-${threads}t`;
  const timing = await timeIt(id, () => probe.call(addon, kind, a, b, c, threads), ctx.budget);
  const bytesMoved = (kind === 'copy' ? 2 : 3) * n * 4;
  return {
    id,
    case: caseName,
    section,
    backend: 'native',
    method: kind,
    schedule: null,
    dtype: 'float32',
    structure: null,
    shape: `n=${n}`,
    threads,
    bytesMoved,
    timing,
    gbps: bytesMoved / (timing.medianMs * 1e6),
    gbpsBest: bytesMoved / (timing.minMs * 1e6),
    ...UNCOMPARED,
    note,
  };
}

/** Float32 views of n floats over the problem's own arrays (out written; J, r read), for an adjacent triad. */
function probeViews(p: Problem): [Float32Array, Float32Array, Float32Array] {
  const f32 = (x: Float32Array | Float64Array) => new Float32Array(x.buffer, x.byteOffset, x.byteLength / 4);
  const out = f32(p.out);
  const n = out.length;
  return [out, f32(p.jacobians).subarray(0, n), f32(p.rhs).subarray(0, n)];
}

const bandwidth: CaseDef = {
  name: 'bandwidth',
  title: 'memory bandwidth (STREAM copy / triad on the solver thread pool)',
  async run(ctx) {
    const n = sizesFor(ctx.profile).streamN;
    const arrays: [Float32Array, Float32Array, Float32Array] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    fillUniform(arrays[1], -1, 1, 11);
    fillUniform(arrays[2], -1, 1, 12);
    const rows: Row[] = [];
    for (const kind of ['copy', 'triad'] as const) {
      for (const threads of uniq([1, ctx.threads])) {
        rows.push(await probeRow(ctx, 'bandwidth', 'bandwidth', kind, arrays, threads, kind === 'copy' ? 'a = b (memcpy)' : 'a = b + 3c'));
      }
    }
    return { case: 'bandwidth', rows, arraysMiB: (3 * n * 4) / MiB };
  },
};

function uniq(xs: number[]): number[] {
  return [...new Set(xs)];
}

/**
 * Throughput on the 2^24-element shape: triad Pt, auto Pt (target), triad 1t, auto 1t, sequential 1t
 * (the baseline of the speedups).
 */
function throughputCase(name: string, title: string, structure: 'diagonal' | 'block', k: number, dtype: Dtype, target: Target | null): CaseDef {
  return {
    name,
    title,
    async run(ctx) {
      const { B, T, D } = sizesFor(ctx.profile).thr;
      const p = makeProblem(structure, k, B, T, D, dtype, 21);
      const base = `${name}/cpu-sequential-1t`;
      const baseLabel = 'cpu sequential 1t';
      // The triad is measured again right before the solves it is compared with, on this case's
      // own arrays (no extra memory): on a shared machine the load changes from minute to minute,
      // and the ratio should compare like with like.
      const views = probeViews(p);
      const local = (threads: number) => `${name}/triad-${threads}t`;
      const note = "on this case's arrays, right before its solves";
      const rows: Row[] = [];
      rows.push(await probeRow(ctx, name, 'throughput', 'triad', views, ctx.threads, note));
      rows.push(
        await solveRow(ctx, name, 'throughput', p, { backend: 'cpu', method: 'auto', threads: ctx.threads }, {
          triadRef: local(ctx.threads),
          baselineRef: base,
          baselineLabel: baseLabel,
          target,
        }),
      );
      if (ctx.threads !== 1) {
        rows.push(await probeRow(ctx, name, 'throughput', 'triad', views, 1, note));
        rows.push(
          await solveRow(ctx, name, 'throughput', p, { backend: 'cpu', method: 'auto', threads: 1 }, { triadRef: local(1), baselineRef: base, baselineLabel: baseLabel }),
        );
      }
      rows.push(await solveRow(ctx, name, 'throughput', p, { backend: 'cpu', method: 'sequential', threads: 1 }, { triadRef: local(1) }));
      return { case: name, rows, arraysMiB: arraysMiB(p) };
    },
  };
}

/** One long stream (B = 1): parallel in time ('chunked') vs the sequential substitution. */
function timeCase(D: number): CaseDef {
  const name = `time-d${D}`;
  return {
    name,
    title: `parallel in time, B=1, D=${D}, float32`,
    async run(ctx) {
      const T = sizesFor(ctx.profile).timeT;
      const p = makeProblem('diagonal', 1, 1, T, D, 'float32', 31 + D);
      const base = `${name}/cpu-sequential-1t`;
      const ref = { baselineRef: base, baselineLabel: 'cpu sequential 1t' };
      const rows: Row[] = [];
      rows.push(await solveRow(ctx, name, 'time-parallel', p, { backend: 'cpu', method: 'sequential', threads: 1 }, { triadRef: triad(1) }));
      rows.push(await solveRow(ctx, name, 'time-parallel', p, { backend: 'cpu', method: 'chunked', threads: 1 }, { triadRef: triad(1), ...ref }));
      if (ctx.threads !== 1) {
        rows.push(
          await solveRow(ctx, name, 'time-parallel', p, { backend: 'cpu', method: 'chunked', threads: ctx.threads }, {
            triadRef: triad(ctx.threads),
            ...ref,
            target: { metric: 'speedup', min: 2, text: '>= 2x sequential' },
          }),
        );
      }
      rows.push(await solveRow(ctx, name, 'time-parallel', p, { backend: 'cpu', method: 'auto', threads: 1 }, { triadRef: triad(1), ...ref }));
      if (ctx.threads !== 1) {
        rows.push(await solveRow(ctx, name, 'time-parallel', p, { backend: 'cpu', method: 'auto', threads: ctx.threads }, { triadRef: triad(ctx.threads), ...ref }));
      }
      return { case: name, rows, arraysMiB: arraysMiB(p) };
    },
  };
}

/** The pure-TS reference, sequential, with native on the same arrays (its speedup is native/js). */
function jsCase(structure: 'diagonal' | 'block', k: number): CaseDef {
  const name = structure === 'diagonal' ? 'js-diag' : `js-block${k}`;
  return {
    name,
    title: `TS reference vs native, ${structure}${structure === 'block' ? ` k=${k}` : ''}, float32, 2^20 elements`,
    async run(ctx) {
      const { B, T, D } = sizesFor(ctx.profile).js;
      const p = makeProblem(structure, k, B, T, D, 'float32', 41 + k);
      const base = `${name}/js-sequential`;
      const ref = { baselineRef: base, baselineLabel: 'js sequential' };
      const rows: Row[] = [];
      rows.push(await solveRow(ctx, name, 'js-reference', p, { backend: 'js', method: 'sequential' }, { triadRef: triad(1) }));
      rows.push(await solveRow(ctx, name, 'js-reference', p, { backend: 'cpu', method: 'auto', threads: ctx.threads }, { triadRef: triad(ctx.threads), ...ref }));
      if (ctx.threads !== 1) {
        rows.push(await solveRow(ctx, name, 'js-reference', p, { backend: 'cpu', method: 'auto', threads: 1 }, { triadRef: triad(1), ...ref }));
      }
      return { case: name, rows, arraysMiB: arraysMiB(p) };
    },
  };
}

/** The js log-step reduction alone (it allocates 4 scratch arrays per call: its own RSS). */
function jsParallelCase(structure: 'diagonal' | 'block', k: number): CaseDef {
  const seqCase = structure === 'diagonal' ? 'js-diag' : `js-block${k}`;
  const name = `${seqCase}-parallel`;
  return {
    name,
    title: `TS reference, log-step parallel reduction, ${structure}, float32, 2^20 elements`,
    async run(ctx) {
      const { B, T, D } = sizesFor(ctx.profile).js;
      const p = makeProblem(structure, k, B, T, D, 'float32', 41 + k);
      const row = await solveRow(ctx, name, 'js-reference', p, { backend: 'js', method: 'parallel' }, {
        triadRef: triad(1),
        baselineRef: `${seqCase}/js-sequential`,
        baselineLabel: 'js sequential',
        note: 'single-threaded: the combine order a parallel machine would use, not a speed path',
      });
      return { case: name, rows: [row], arraysMiB: arraysMiB(p) };
    },
  };
}

/** Why CUDA rows are skipped here, or null when a device is usable. */
export function cudaUnavailableReason(): string | null {
  const r = tryLoadNativeAddon('cuda');
  if ('error' in r) {
    const lines = r.error.message.split('\n').map((l) => l.trim());
    const notFound = lines.filter((l) => l.startsWith('- ')).map((l) => l.slice(2));
    return `no CUDA addon (parascan_cuda.node) loads here${notFound.length ? `: ${notFound.join('; ')}` : ''}`;
  }
  try {
    const info = r.addon.info();
    if (info.backend !== 'cuda') return `the CUDA addon reports backend '${info.backend}'`;
    if (info.deviceCount <= 0) return `the CUDA addon loaded but sees no device (${info.error ?? 'deviceCount 0'})`;
  } catch (e) {
    return `querying the CUDA device failed: ${(e as Error).message}`;
  }
  return null;
}

const cuda: CaseDef = {
  name: 'cuda',
  title: 'CUDA (times include host<->device copies of every array)',
  async run(ctx) {
    const why = cudaUnavailableReason();
    if (why) return { case: 'cuda', rows: [], skipped: why, arraysMiB: 0 };
    const { B, T, D } = sizesFor(ctx.profile).thr;
    const rows: Row[] = [];
    let mib = 0;
    const note = 'host arrays in, host arrays out: includes PCIe transfers';
    for (const [structure, k, ref] of [
      ['diagonal', 1, 'diag-f32'],
      ['block', 2, 'block2-f32'],
    ] as const) {
      const p = makeProblem(structure, k, B, T, D, 'float32', 51 + k);
      mib = Math.max(mib, arraysMiB(p));
      rows.push(
        await solveRow(ctx, 'cuda', 'cuda', p, { backend: 'cuda', method: 'auto' }, {
          baselineRef: `${ref}/cpu-auto-${ctx.threads}t`,
          baselineLabel: `cpu auto ${ctx.threads}t`,
          note,
        }),
      );
      rows[rows.length - 1]!.id = `cuda/${ref}`;
    }
    const p = makeProblem('diagonal', 1, 1, sizesFor(ctx.profile).timeT, 1, 'float32', 61);
    rows.push(
      await solveRow(ctx, 'cuda', 'cuda', p, { backend: 'cuda', method: 'auto' }, {
        baselineRef: `time-d1/cpu-chunked-${ctx.threads}t`,
        baselineLabel: `cpu chunked ${ctx.threads}t`,
        note,
      }),
    );
    rows[rows.length - 1]!.id = 'cuda/time-d1';
    return { case: 'cuda', rows, arraysMiB: mib };
  },
};

export const CASES: CaseDef[] = [
  bandwidth,
  throughputCase('diag-f32', 'diagonal float32, 2^24 elements', 'diagonal', 1, 'float32', {
    metric: 'pctOfTriad',
    min: 60,
    text: '>= 60% of triad',
  }),
  throughputCase('block2-f32', '2x2 blocks float32, 2^24 state elements', 'block', 2, 'float32', {
    metric: 'pctOfTriad',
    min: 40,
    text: '>= 40% of triad',
  }),
  throughputCase('diag-f64', 'diagonal float64, 2^24 elements', 'diagonal', 1, 'float64', null),
  timeCase(1),
  timeCase(4),
  jsCase('diagonal', 1),
  jsParallelCase('diagonal', 1),
  jsCase('block', 2),
  jsParallelCase('block', 2),
  ...CELL_CASES,
  nnGemm,
  trainGru,
  trainLstm,
  cuda,
];

export function findCase(name: string): CaseDef {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`unknown case ${JSON.stringify(name)}; cases: ${CASES.map((x) => x.name).join(', ')}`);
  return c;
}
