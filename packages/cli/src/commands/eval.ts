/** `parascan eval`: metrics of a checkpoint on its own data (or other data of the same shape). */
import { existsSync } from 'node:fs';
import { createModel } from '@parascan/nn';
import { createDataset, evaluate, formatMetrics, loadCheckpoint, restoreModel } from '@parascan/train';
import { formatHelp, parseFlags, type CommandSpec } from '../args.js';
import { DATA_FLAGS, datasetSpecFromFlags } from '../data-flags.js';
import { CliError, EXIT_OK, RUN_FLAGS, runOptionsFromFlags, type Io } from '../runtime.js';

export const EVAL: CommandSpec = {
  name: 'eval',
  summary: 'evaluate a trained checkpoint: loss, accuracy and perplexity (tokens) or MAE/RMSE (series)',
  usage: 'parascan eval --checkpoint FILE [--task NAME | --data FILE] [options]',
  flags: [
    { name: 'checkpoint', type: 'string', value: 'FILE', help: 'the checkpoint.safetensors written by `parascan train` (required)' },
    ...DATA_FLAGS,
    { name: 'split', type: 'choice', choices: ['valid', 'train'], default: 'valid', help: 'which part of the data' },
    { name: 'batch', type: 'int', min: 1, default: 32, help: 'sequences per forward' },
    { name: 'max-batches', type: 'int', min: 1, help: 'stop after N batches (default: the whole split)' },
    ...RUN_FLAGS,
    { name: 'json', type: 'boolean', help: 'print one JSON object instead of text' },
    { name: 'help', type: 'boolean', short: 'h', help: 'show this help' },
  ],
  notes: ['Without data flags the checkpoint\'s own dataset (as trained) is used.'],
  examples: ['parascan eval --checkpoint runs/parity-20261127-2130/checkpoint.safetensors', 'parascan eval --checkpoint ck.safetensors --data ./other.txt --json'],
};

export async function evalCommand(argv: readonly string[], io: Io): Promise<number> {
  const f = parseFlags(EVAL, argv);
  if (f['help']) {
    io.stdout.write(formatHelp(EVAL));
    return EXIT_OK;
  }
  const path = f['checkpoint'] as string | undefined;
  if (path === undefined) throw new CliError('parascan eval: --checkpoint FILE is required (the checkpoint.safetensors of a `parascan train` run).');
  if (!existsSync(path)) throw new CliError(`parascan eval: --checkpoint ${path}: no such file.`);
  const run = runOptionsFromFlags('eval', f);
  const checkpoint = await loadCheckpoint(path);
  const spec = datasetSpecFromFlags('eval', f) ?? checkpoint.dataset;
  if (!spec) throw new CliError(`parascan eval: ${path} does not record its dataset; name one with --task or --data.`);
  const dataset = createDataset(spec);
  const model = createModel(checkpoint.config);
  restoreModel(model, checkpoint);
  const shape = dataset.modelShape();
  const c = model.config;
  if (c.type !== shape.type || (shape.vocab !== undefined && shape.vocab !== c.vocab) || (shape.inputFeatures !== undefined && shape.inputFeatures !== c.inputFeatures) || (shape.outputFeatures !== undefined && shape.outputFeatures !== c.outputFeatures)) {
    throw new CliError(
      `parascan eval: the data (${dataset.name}: ${JSON.stringify(shape)}) does not fit the checkpoint's model (${JSON.stringify({ type: c.type, vocab: c.vocab, inputFeatures: c.inputFeatures, outputFeatures: c.outputFeatures })}); evaluate it on data like the data it was trained on.`,
    );
  }
  const t0 = performance.now();
  const maxBatches = f['max-batches'] as number | undefined;
  const metrics = await evaluate(model, dataset, f['split'] as 'valid' | 'train', { batchSize: f['batch'] as number, ...(maxBatches ? { maxBatches } : {}), run });
  const ms = performance.now() - t0;
  if (f['json']) {
    io.stdout.write(JSON.stringify({ checkpoint: path, dataset: dataset.name, split: f['split'], metrics, ms: Math.round(ms), model: c }) + '\n');
  } else {
    io.stdout.write(`${dataset.name} (${f['split']}): ${formatMetrics(metrics)}  [${(ms / 1000).toFixed(1)} s, mode ${run.mode}]\n`);
  }
  return EXIT_OK;
}
