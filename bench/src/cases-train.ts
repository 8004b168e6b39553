/**
 * `train-gru`, `train-lstm`: training throughput of a 2-layer ParaRNN language model (d = 128,
 * 4 heads, vocab 256; issue 4's shape) per solve mode, in one run. A "step" is one
 * `lossAndGrad` (forward through every layer, loss, backward): what an optimiser step costs minus
 * the AdamW update, which is the same for every mode.
 *
 *   sequential:  the cells' native step-by-step loop (the baseline)
 *   parallel:    Newton over the sequence with separate native kernel calls
 *   fused:       the whole Newton loop of each cell in one native call
 *   auto:        what the cells' measured cost model picks for the shape
 *
 * The rows report tokens/s (B·T positions per second) in `note` and the speedup over sequential.
 */
import { createRng } from '@parascan/core';
import { tryLoadNativeAddon } from '@parascan/native';

import { createModel, type TokenBatch } from '@parascan/nn';

import type { CaseDef } from './cases.js';
import { MiB, timeIt } from './measure.js';
import { UNCOMPARED, type Row, type Timing } from './types.js';

type Mode = 'sequential' | 'parallel' | 'fused' | 'auto';

function trainCase(cell: 'gru' | 'lstm'): CaseDef {
  const name = `train-${cell}`;
  return {
    name,
    title: `training step (forward+backward) of a 2-layer Para${cell === 'gru' ? 'GRU' : 'LSTM'} LM, d=128, 4 heads, vocab 256, float32, per mode`,
    async run(ctx) {
      const r = tryLoadNativeAddon('cpu');
      if ('error' in r || typeof r.addon.cellNewton !== 'function') {
        return { case: name, rows: [], skipped: 'the native addon with cell kernels is not built', arraysMiB: 0 };
      }
      const [B, T] = ctx.profile === 'smoke' ? [1, 32] : [4, 1024];
      const model = createModel({ type: 'lm', cell, layers: 2, width: 128, heads: 4, vocab: 256, seed: 1 });
      const rng = createRng(5);
      const inputs = new Int32Array(B * T);
      const targets = new Int32Array(B * T);
      for (let i = 0; i < B * T; i++) {
        inputs[i] = rng.int(0, 255);
        targets[i] = rng.int(0, 255);
      }
      const batch: TokenBatch = { kind: 'tokens', batch: B, length: T, inputs, targets };
      r.addon.setThreads?.(ctx.threads);
      const shape = `L=2 d=128 H=4 V=256 B=${B} T=${T}`;
      // A floor on the step's memory traffic, for the GB/s column only: per layer the cells read and
      // write their [B, T, S] states and [B, T, 3, D] gate inputs forward and backward (S = D for
      // ParaGRU, 2D for ParaLSTM). The layers around the cells move more; the tokens/s are the point.
      const S = cell === 'gru' ? 128 : 256;
      const cellBytes = 2 * 2 * 2 * B * T * (S + 3 * 128) * 4;
      const paramBytes = model.parameters().reduce((n, p) => n + p.data.byteLength * 2, 0);
      const arraysMiB = (inputs.byteLength + targets.byteLength + paramBytes) / MiB;
      const rows: Row[] = [];
      try {
        for (const mode of ['sequential', 'parallel', 'fused', 'auto'] as Mode[]) {
          let newton = 0;
          let loss = 0;
          const timing: Timing = await timeIt(`${name}/${mode}`, () => {
            const s = model.lossAndGrad(batch, { mode, backend: 'cpu' });
            newton = s.newtonIterations;
            loss = s.loss;
          }, ctx.budget);
          const tokensPerSecond = (B * T) / (timing.medianMs / 1000);
          rows.push({
            id: `${name}/${mode}`,
            case: name,
            section: 'time-parallel',
            backend: 'cpu',
            method: mode,
            schedule: mode === 'auto' ? 'auto: chosen per cell by its cost model' : `${mode} (every cell)`,
            dtype: 'float32',
            structure: cell === 'gru' ? 'diagonal' : 'block',
            shape,
            threads: ctx.threads,
            bytesMoved: cellBytes,
            timing,
            gbps: cellBytes / (timing.medianMs * 1e6),
            gbpsBest: cellBytes / (timing.minMs * 1e6),
            ...UNCOMPARED,
            baselineRef: mode === 'sequential' ? null : `${name}/sequential`,
            baselineLabel: mode === 'sequential' ? null : 'sequential',
            note: `${Math.round(tokensPerSecond)} tokens/s; loss ${loss.toFixed(4)}${mode === 'sequential' ? '' : `; ${newton} Newton iterations (max over cells)`}`,
          });
        }
      } finally {
        r.addon.setThreads?.(0);
      }
      return { case: name, rows, arraysMiB };
    },
  };
}

export const trainGru = trainCase('gru');
export const trainLstm = trainCase('lstm');
