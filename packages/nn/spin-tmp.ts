// Does OpenBLAS's thread spin-wait after a gemm slow a native cell kernel that starts right after?
import { ParaGRU } from '@parascan/cells';
import { gemm } from './src/index.js';
const N = 2048, d = 128;
const a = new Float32Array(N * d).map(() => Math.random());
const b = new Float32Array(d * 256).map(() => Math.random());
const c = new Float32Array(N * 256);
const cell = new ParaGRU({ inputSize: 64, stateSize: 64, seed: 1 });
const x = new Float32Array(8 * 512 * 64).map(() => Math.random() - 0.5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const med = (v: number[]) => v.sort((p, q) => p - q)[v.length >> 1]!;
for (let round = 0; round < 2; round++) {
  const after: number[] = [], gap: number[] = [];
  for (let i = 0; i < 15; i++) {
    gemm({ m: N, n: 256, k: d, a, b, c, backend: 'cpu' });
    let t = performance.now(); cell.forward(x, { batch: 8, mode: 'fused', backend: 'cpu' }); after.push(performance.now() - t);
    gemm({ m: N, n: 256, k: d, a, b, c, backend: 'cpu' });
    await sleep(30);
    t = performance.now(); cell.forward(x, { batch: 8, mode: 'fused', backend: 'cpu' }); gap.push(performance.now() - t);
  }
  console.log(`cell fused right after a gemm: ${med(after).toFixed(2)} ms; after a 30 ms gap: ${med(gap).toFixed(2)} ms`);
}
