// First numbers for the cells' native kernels: ParaGRU recurrence (the TS projection P = x·B + b is
// computed once, outside the timing: it is the same for every row), float32, D = 64, T = 2^14,
// B ∈ {1, 8}: js sequential (the TS reference loop) vs native sequential, native parallel (the TS
// Newton loop over native evaluate + native linear solve calls) and native fused (one call).
// Median wall-clock of --reps runs after one warm-up. Needs the packages built and the addon:
//   cd packages/native && node scripts/build-native.mjs
//   npx pnpm@10.34.9 --filter @parascan/cells... run build
//   node packages/cells/scripts/speed.mjs [--reps N]
import { solveNewton } from '@parascan/solvers';
import { tryLoadNativeAddon } from '@parascan/native';
import { ParaGRU, project } from '../dist/index.js';

const i = process.argv.indexOf('--reps');
const reps = i > 0 ? Number(process.argv[i + 1]) : 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn) {
  fn();
  const ts = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}
const loaded = tryLoadNativeAddon('cpu');
if ('error' in loaded) throw loaded.error;
const addon = loaded.addon;
const D = 64;
const T = 2 ** 14;
for (const B of [1, 8]) {
  const cell = new ParaGRU({ inputSize: D, stateSize: D, heads: 1, seed: 1 });
  const x = Float32Array.from({ length: B * T * D }, (_, k) => Math.sin(k * 0.7));
  const params = cell.parameters();
  const P = new Float32Array(B * T * 3 * D);
  project({ points: B * T, inputSize: D, stateSize: D, heads: 1, gates: 3 }, x, params.B, params.b, P);
  const out = new Float32Array(B * T * D);
  const req = { cell: 'gru', batch: B, length: T, size: D, projection: P, A: params.A, C: null, initial: null, out };
  const controls = { maxIterations: 30, absTol: 4 * 2 ** -23, relTol: 0, damping: 1, onMaxIterations: 'fallback' };
  // The cell's own (protected in TS) Newton systems: the js one and the native one.
  const jsSystem = cell.system(P, B, T);
  const cpuSystem = cell.nativeSystem('speed', addon, P, B, T);
  let iters = {};
  const rows = [
    ['js sequential', () => jsSystem.sequential(null, out)],
    ['cpu sequential', () => addon.cellSequential(req)],
    ['cpu parallel', () => (iters.parallel = solveNewton(cpuSystem, { controls: { backend: 'cpu' } }).diagnostics.iterations)],
    ['cpu fused', () => (iters.fused = addon.cellNewton({ ...req, controls }).iterations)],
  ].map(([name, fn]) => [name, time(fn)]);
  const base = rows[0][1];
  const par = rows[2][1];
  console.log(`ParaGRU float32 B=${B} T=${T} D=${D}, ${addon.info().threads} threads (Newton iterations: parallel ${iters.parallel}, fused ${iters.fused})`);
  for (const [name, ms] of rows) {
    console.log(`  ${name.padEnd(15)} ${ms.toFixed(1).padStart(8)} ms  ${(base / ms).toFixed(2).padStart(6)}x vs js sequential  ${(par / ms).toFixed(2).padStart(6)}x vs cpu parallel`);
  }
}
