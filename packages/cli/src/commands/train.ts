/**
 * `parascan train`: build a model for the data, fit it in parallel mode with live progress,
 * checkpoint (atomically; Ctrl-C saves and stops), and write a summary with a loss curve and the
 * sequential-vs-parallel forward time of the same model measured in the same run.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createModel, type ModelConfig } from '@parascan/nn';
import {
  TASK_PRESETS,
  compareForwardModes,
  createDataset,
  createProgressReporter,
  fit,
  loadCheckpoint,
  restoreModel,
  summarizeRun,
  writeRunSummary,
  type Checkpoint,
  type DatasetSpec,
  type FitOptions,
} from '@parascan/train';
import { formatHelp, parseFlags, UsageError, type CommandSpec, type ParsedFlags } from '../args.js';
import { DATA_FLAGS, datasetSpecFromFlags } from '../data-flags.js';
import { CliError, EXIT_INTERRUPTED, EXIT_OK, RUN_FLAGS, runOptionsFromFlags, type Io } from '../runtime.js';

export const TRAIN: CommandSpec = {
  name: 'train',
  summary: 'train a parallel RNN (ParaGRU or ParaLSTM layers) on bundled or your own data',
  usage: 'parascan train [--task NAME | --data FILE] [options]',
  flags: [
    ...DATA_FLAGS,
    { name: 'cell', type: 'choice', choices: ['gru', 'lstm'], default: 'gru', help: 'the recurrent cell: ParaGRU (diagonal Jacobian) or ParaLSTM (2x2 blocks)' },
    { name: 'layers', type: 'int', min: 1, max: 64, help: 'ParaRNN blocks (default: 1 for synthetic tasks and series, 2 for text)' },
    { name: 'width', type: 'int', min: 1, help: 'model width d (default: the preset\'s for synthetic tasks, 64 for text, 32 for series)' },
    { name: 'heads', type: 'int', min: 1, help: 'heads of the cells\' input projections; must divide --width (default 4)' },
    { name: 'mlp-ratio', type: 'number', min: 0, max: 16, help: 'SwiGLU MLP after each block, hidden = ratio x width; 0 = none (default 0)' },
    { name: 'steps', type: 'int', min: 1, help: 'optimiser steps (default 300)' },
    { name: 'batch', type: 'int', min: 1, help: 'sequences per step (default: 32 synthetic, 16 text and series)' },
    { name: 'lr', type: 'number', min: 0, help: 'peak learning rate of the cosine schedule (default: 0.02 synthetic, 0.01 text and series)' },
    { name: 'warmup', type: 'int', min: 0, help: 'linear warm-up steps (default: min(100, steps/10))' },
    { name: 'weight-decay', type: 'number', min: 0, help: 'AdamW decoupled weight decay (default 0.01)' },
    { name: 'clip', type: 'number', min: 0, help: 'global gradient-norm clip, 0 = off (default 1)' },
    { name: 'valid-every', type: 'int', min: 1, help: 'validate every N steps (default: steps/10)' },
    { name: 'patience', type: 'int', min: 1, help: 'stop early after N validations without improvement (default: never)' },
    { name: 'seed', type: 'int', min: 0, default: 0, help: 'seed of the initialisation and of the data order' },
    { name: 'dtype', type: 'choice', choices: ['float32', 'float64'], default: 'float32', help: 'parameter and activation precision' },
    ...RUN_FLAGS,
    { name: 'out', type: 'string', value: 'DIR', help: 'where the checkpoint, summary.txt/json and loss.svg go (default: runs/<data>-<time>, or the resumed checkpoint\'s folder)' },
    { name: 'checkpoint-every', type: 'int', min: 1, help: 'also checkpoint every N steps (always at the end and on Ctrl-C)' },
    { name: 'stop-after', type: 'int', min: 1, help: 'stop (with a checkpoint) once the run reaches this step; continue later with --resume' },
    { name: 'stop-at-accuracy', type: 'number', min: 0, max: 1, help: 'token tasks: stop (with a checkpoint) once a validation reaches this accuracy, e.g. 1 or 0.99' },
    { name: 'resume', type: 'string', value: 'FILE', help: 'continue a run from its checkpoint (model, optimiser, data order and step are restored)' },
    { name: 'progress', type: 'choice', choices: ['auto', 'bar', 'json', 'none'], default: 'auto', help: "'auto': a live bar on a terminal, JSON lines otherwise" },
    { name: 'no-compare', type: 'boolean', help: 'skip the sequential-vs-parallel timing at the end' },
    { name: 'help', type: 'boolean', short: 'h', help: 'show this help' },
  ],
  notes: [
    'Progress goes to stderr; the summary to stdout. Ctrl-C finishes the step in flight, writes the checkpoint',
    'and exits with code 130; a second Ctrl-C quits at once. Exit codes: 0 done, 1 failed, 2 bad flags, 130 interrupted.',
  ],
  examples: [
    'parascan train --task parity                       # ParaRNN parity, L=20, about a minute',
    'parascan train --task parity --preset paper        # the paper\'s settings: L=100, 10k sequences, d=64, 4 heads',
    'parascan train --task brown --cell lstm --steps 500   # byte-level LM on the Brown corpus',
    'parascan train --data ./series.csv --columns temp,load --targets load',
    'parascan train --resume runs/parity-20261127-2130/checkpoint.safetensors --steps 800',
  ],
};

function stamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Defaults per kind of data. Synthetic: the preset's model, and the recipe measured in
 * packages/train/README.md (batch 32, lr 0.02: a 1 x 32 ParaGRU solves quick parity in 300 steps).
 */
function defaultsFor(spec: DatasetSpec): { layers: number; width: number; heads: number; steps: number; lr: number; batch: number } {
  if (spec.kind === 'synthetic') {
    const m = TASK_PRESETS[spec.preset ?? 'quick'].model;
    return { ...m, steps: 300, lr: 0.02, batch: 32 };
  }
  if (spec.kind === 'text') return { layers: 2, width: 64, heads: 4, steps: 300, lr: 0.01, batch: 16 };
  return { layers: 1, width: 32, heads: 4, steps: 300, lr: 0.01, batch: 16 };
}

function fitOptionsFromFlags(f: ParsedFlags, d: { steps: number; lr: number; batch: number }, fresh: boolean): FitOptions {
  const o: FitOptions = {};
  const set = <K extends keyof FitOptions>(key: K, flag: string, fallback?: FitOptions[K]) => {
    const v = f[flag];
    if (v !== undefined) o[key] = v as FitOptions[K];
    else if (fresh && fallback !== undefined) o[key] = fallback;
  };
  set('steps', 'steps', d.steps);
  set('batchSize', 'batch', d.batch);
  set('lr', 'lr', d.lr);
  set('warmupSteps', 'warmup');
  set('weightDecay', 'weight-decay');
  set('clipNorm', 'clip');
  set('validEvery', 'valid-every');
  set('patience', 'patience');
  set('checkpointEvery', 'checkpoint-every');
  if (fresh) o.seed = f['seed'] as number;
  return o;
}

export async function train(argv: readonly string[], io: Io, signals: { onInterrupt(handler: () => void): () => void }): Promise<number> {
  const f = parseFlags(TRAIN, argv);
  if (f['help']) {
    io.stdout.write(formatHelp(TRAIN));
    return EXIT_OK;
  }
  const run = runOptionsFromFlags('train', f);
  let checkpoint: Checkpoint | null = null;
  const resumePath = f['resume'] as string | undefined;
  if (resumePath !== undefined) {
    if (!existsSync(resumePath)) throw new CliError(`parascan train: --resume ${resumePath}: no such file. Give the checkpoint.safetensors of an earlier run.`);
    checkpoint = await loadCheckpoint(resumePath);
    for (const flag of ['cell', 'layers', 'width', 'heads', 'mlp-ratio', 'dtype']) {
      if (argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`))) {
        throw new UsageError(`parascan train: --${flag} cannot change when resuming; the model comes from the checkpoint (${resumePath}). Drop --${flag}, or start a fresh run without --resume.`);
      }
    }
  }
  let spec = datasetSpecFromFlags('train', f);
  if (!spec) spec = checkpoint?.dataset ?? { kind: 'synthetic', task: 'parity' };
  const dataset = createDataset(spec);
  const d = defaultsFor(dataset.spec);

  let config: ModelConfig;
  if (checkpoint) {
    config = checkpoint.config;
  } else {
    const width = (f['width'] as number | undefined) ?? d.width;
    const heads = (f['heads'] as number | undefined) ?? (width % d.heads === 0 ? d.heads : 1);
    if (width % heads !== 0) throw new UsageError(`parascan train: --heads ${heads} must divide --width ${width}; try --heads ${[4, 2, 1].find((h) => width % h === 0)}.`);
    config = {
      ...dataset.modelShape(),
      cell: f['cell'] as 'gru' | 'lstm',
      layers: (f['layers'] as number | undefined) ?? d.layers,
      width,
      heads,
      ...(f['mlp-ratio'] !== undefined ? { mlpRatio: f['mlp-ratio'] as number } : {}),
      dtype: f['dtype'] as 'float32' | 'float64',
      seed: f['seed'] as number,
    };
  }
  const model = createModel(config);
  if (checkpoint) restoreModel(model, checkpoint);

  const outDir = resolve((f['out'] as string | undefined) ?? (resumePath ? dirname(resumePath) : join('runs', `${dataset.name.replace(/[^A-Za-z0-9_.-]+/g, '_')}-${stamp()}`)));
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new CliError(`parascan train: --out ${outDir} is a file; give a folder.`);
  mkdirSync(outDir, { recursive: true });
  const checkpointPath = join(outDir, 'checkpoint.safetensors');

  const fitOptions: FitOptions = {
    ...fitOptionsFromFlags(f, d, checkpoint === null),
    run,
    checkpointPath,
    ...(checkpoint ? { resume: checkpoint } : {}),
  };
  const nParams = model.parameters().reduce((s, p) => s + p.data.length, 0);
  io.stderr.write(`${dataset.describe()}\nmodel: ${config.cell} x${model.config.layers}, d=${model.config.width}, ${model.config.heads} heads, ${nParams} parameters, ${model.dtype}; mode ${run.mode}${run.backend ? `, backend ${run.backend}` : ''}\noutput: ${outDir}\n`);

  const controller = new AbortController();
  let interrupts = 0;
  const off = signals.onInterrupt(() => {
    interrupts++;
    if (interrupts === 1) {
      io.stderr.write('\nparascan train: interrupted; finishing the current step and saving the checkpoint (Ctrl-C again to quit at once)\n');
      controller.abort();
    } else {
      process.exit(EXIT_INTERRUPTED);
    }
  });
  const reporter = createProgressReporter({ stream: io.stderr, format: f['progress'] as 'auto' | 'bar' | 'json' | 'none' });
  const stopAfter = f['stop-after'] as number | undefined;
  const stopAtAccuracy = f['stop-at-accuracy'] as number | undefined;
  if (stopAtAccuracy !== undefined && dataset.kind !== 'tokens') throw new UsageError('parascan train: --stop-at-accuracy applies to token tasks (synthetic tasks and text), not to series.');
  let reachedAccuracy: number | null = null;
  let stoppedByPlan = false;
  const onProgress: NonNullable<FitOptions['onProgress']> = (event) => {
    reporter.onProgress(event);
    // fit finishes the step in flight, checkpoints and returns 'interrupted' once the signal is aborted.
    if (stopAfter !== undefined && event.type === 'step' && event.step >= stopAfter && !controller.signal.aborted) {
      stoppedByPlan = true;
      controller.abort();
    }
    if (stopAtAccuracy !== undefined && event.type === 'validation' && (event.metrics.accuracy ?? -1) >= stopAtAccuracy && !controller.signal.aborted) {
      stoppedByPlan = true;
      reachedAccuracy = event.step;
      controller.abort();
    }
  };
  let result;
  try {
    result = await fit(model, dataset, { ...fitOptions, signal: controller.signal, onProgress });
  } finally {
    reporter.close();
    off();
  }

  let forward;
  if (!f['no-compare'] && (result.status !== 'interrupted' || (stoppedByPlan && interrupts === 0))) {
    const batch = dataset.valid.batches(Math.min(16, dataset.valid.size), 1).next().value;
    if (batch) forward = await compareForwardModes(model, batch, run.backend ? { backend: run.backend } : {});
  }
  const summary = summarizeRun(result, { model, dataset, ...(forward ? { forward } : {}) });
  const paths = writeRunSummary(outDir, summary);
  io.stdout.write(`${summary.text}\nwrote ${paths.text}, ${paths.json} and ${paths.svg}\n`);
  if (result.status === 'interrupted') {
    if (stoppedByPlan && interrupts === 0) {
      io.stdout.write(
        reachedAccuracy !== null
          ? `stopped at step ${result.step}: validation accuracy reached ${stopAtAccuracy} at step ${reachedAccuracy} (--stop-at-accuracy)\n`
          : `stopped at step ${result.step} as asked (--stop-after); continue with: parascan train --resume ${checkpointPath}\n`,
      );
      return EXIT_OK;
    }
    io.stdout.write(`interrupted at step ${result.step}; resume with: parascan train --resume ${checkpointPath}\n`);
    return EXIT_INTERRUPTED;
  }
  return EXIT_OK;
}
