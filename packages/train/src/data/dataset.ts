/**
 * `createDataset(spec)`: one entry point for every offline dataset of parascan.
 */
import { join } from 'node:path';
import { packageRoot } from './package-root.js';
import { checkKnownKeys, checkOptionsObject, checkOneOf, dataError, describeValue, invalidArgument } from '@parascan/core';
import type { ModelConfig } from '../contract.js';
import type { DataSplit } from './split.js';
import { createSyntheticData, TASK_PRESETS, type SyntheticSpec } from './synthetic.js';
import { loadBrown, loadTextFile, unigramEntropy, ByteWindowSplit } from './text.js';
import { loadSeries } from './series.js';

export interface TextSpec {
  kind: 'text';
  /** Any file, read as bytes. Default: the Brown corpus (tags stripped). */
  path?: string;
  /** Sequence length (bytes per window). Default 128. */
  length?: number;
  /** Fraction of a file's bytes (its end) held out; the Brown corpus holds out every 10th file instead. Default 0.1. */
  validFraction?: number;
  /** Brown only: read the first `maxFiles` files (default all 500). */
  maxFiles?: number;
}

export interface SeriesSpec {
  kind: 'series';
  /** A CSV file with a header row. Default: vega-datasets' seattle-weather-hourly-normals.csv. */
  path?: string;
  /** Input columns. Default: the columns numeric on the first data row (for the default file: pressure, temperature, wind). */
  columns?: string[];
  /** Columns to forecast (one step ahead). Default: the input columns. */
  targetColumns?: string[];
  /** Window length. Default 64. */
  length?: number;
  /** Rows between window starts. Default: ⌊length / 4⌋ (overlapping windows). */
  stride?: number;
  /** Fraction of the rows (the most recent) held out. Default 0.1. */
  validFraction?: number;
  /** Default 'float32'. */
  dtype?: 'float32' | 'float64';
}

export type DatasetSpec = TextSpec | SeriesSpec | SyntheticSpec;

export interface Dataset {
  /** e.g. 'brown', 'parity', 'seattle-weather-hourly-normals'. */
  readonly name: string;
  readonly kind: 'tokens' | 'series';
  /** Sequence length L of every example. */
  readonly length: number;
  /** Token datasets: the vocabulary size. */
  readonly vocab?: number;
  /** Series datasets: features per input step / per target step. */
  readonly inputFeatures?: number;
  readonly outputFeatures?: number;
  readonly train: DataSplit;
  readonly valid: DataSplit;
  /** The spec with its defaults filled in (JSON; stored in checkpoints). */
  readonly spec: DatasetSpec;
  /** Extra facts (source, sizes, columns and their scaling, task settings, unigram entropy …). */
  readonly info: Readonly<Record<string, unknown>>;
  /** The part of a ModelConfig the data fixes: type and vocab, or type and feature counts. */
  modelShape(): Pick<ModelConfig, 'type'> & Partial<Pick<ModelConfig, 'vocab' | 'inputFeatures' | 'outputFeatures'>>;
  /** A few human-readable lines. */
  describe(): string;
}

/** The default CSV: vega-datasets' hourly weather normals for Seattle (8759 rows). */
export function defaultSeriesPath(): string {
  return join(packageRoot('vega-datasets'), 'data', 'seattle-weather-hourly-normals.csv');
}

function positiveInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalidArgument('createDataset', name, 'a positive integer', describeValue(value));
  return value;
}

export function createDataset(spec: DatasetSpec): Dataset {
  const op = 'createDataset';
  checkOptionsObject(op, 'spec', spec);
  const kind = checkOneOf(op, 'spec.kind', (spec as { kind?: unknown }).kind, ['text', 'series', 'synthetic'] as const);
  switch (kind) {
    case 'text':
      return createTextDataset(spec as TextSpec);
    case 'series':
      return createSeriesDataset(spec as SeriesSpec);
    case 'synthetic':
      return createSyntheticDataset(spec as SyntheticSpec);
  }
}

function createTextDataset(spec: TextSpec): Dataset {
  const op = 'createDataset';
  checkKnownKeys(op, 'spec', spec as unknown as Record<string, unknown>, ['kind', 'path', 'length', 'validFraction', 'maxFiles']);
  const length = positiveInt('spec.length', spec.length ?? 128);
  const validFraction = spec.validFraction ?? 0.1;
  const corpus = spec.path !== undefined ? loadTextFile(spec.path, validFraction) : loadBrown(spec.maxFiles === undefined ? Infinity : positiveInt('spec.maxFiles', spec.maxFiles));
  const train = new ByteWindowSplit('train', corpus.train, length);
  const valid = new ByteWindowSplit('valid', corpus.valid, length);
  for (const split of [train, valid]) {
    if (split.size < 1) {
      throw dataError(op, corpus.source, `its ${split.name} part has ${split.bytes.length} bytes, too short for one window of length ${length} (${length + 1} bytes)`, `Use a shorter length (spec.length) or more text.`);
    }
  }
  const name = spec.path === undefined ? 'brown' : spec.path.split(/[\\/]/).pop()!;
  const entropy = unigramEntropy(corpus.train);
  const resolved: TextSpec = { kind: 'text', ...(spec.path !== undefined ? { path: spec.path } : {}), length, validFraction, ...(spec.maxFiles !== undefined ? { maxFiles: spec.maxFiles } : {}) };
  return {
    name,
    kind: 'tokens',
    length,
    vocab: 256,
    train,
    valid,
    spec: resolved,
    info: { source: corpus.source, trainBytes: corpus.train.length, validBytes: corpus.valid.length, unigramEntropy: entropy },
    modelShape: () => ({ type: 'lm', vocab: 256 }),
    describe: () =>
      [
        `text ${name}: ${corpus.source}`,
        `  bytes: ${corpus.train.length} train, ${corpus.valid.length} valid; vocab 256 (byte-level)`,
        `  windows of ${length}: ${train.size} train, ${valid.size} valid; next-byte prediction, every position scored`,
        `  unigram entropy of the training bytes: ${entropy.toFixed(3)} nats/byte (perplexity ${Math.exp(entropy).toFixed(1)})`,
      ].join('\n'),
  };
}

function createSeriesDataset(spec: SeriesSpec): Dataset {
  const op = 'createDataset';
  checkKnownKeys(op, 'spec', spec as unknown as Record<string, unknown>, ['kind', 'path', 'columns', 'targetColumns', 'length', 'stride', 'validFraction', 'dtype']);
  const length = positiveInt('spec.length', spec.length ?? 64);
  const stride = positiveInt('spec.stride', spec.stride ?? Math.max(1, Math.floor(length / 4)));
  const validFraction = spec.validFraction ?? 0.1;
  const dtype = checkOneOf(op, 'spec.dtype', spec.dtype ?? 'float32', ['float32', 'float64'] as const);
  const path = spec.path ?? defaultSeriesPath();
  const columns = spec.columns ?? (spec.path === undefined ? ['pressure', 'temperature', 'wind'] : undefined);
  for (const [label, list] of [['columns', columns], ['targetColumns', spec.targetColumns]] as const) {
    if (list !== undefined && (!Array.isArray(list) || !list.every((c) => typeof c === 'string'))) {
      throw invalidArgument(op, `spec.${label}`, 'a list of column names', describeValue(list));
    }
  }
  const data = loadSeries(path, { ...(columns ? { columns } : {}), ...(spec.targetColumns ? { targetColumns: spec.targetColumns } : {}), length, stride, validFraction, dtype });
  const name = path.split(/[\\/]/).pop()!.replace(/\.csv$/i, '');
  const resolved: SeriesSpec = { kind: 'series', ...(spec.path !== undefined ? { path: spec.path } : {}), columns: data.inputColumns, targetColumns: data.targetColumns, length, stride, validFraction, dtype };
  const F = data.inputColumns.length;
  const O = data.targetColumns.length;
  return {
    name,
    kind: 'series',
    length,
    inputFeatures: F,
    outputFeatures: O,
    train: data.train,
    valid: data.valid,
    spec: resolved,
    info: { source: path, trainRows: data.trainRows, validRows: data.validRows, inputColumns: data.inputColumns, targetColumns: data.targetColumns, scale: data.scale },
    modelShape: () => ({ type: 'regressor', inputFeatures: F, outputFeatures: O }),
    describe: () =>
      [
        `series ${name}: ${path}`,
        `  rows: ${data.trainRows} train, ${data.validRows} valid (split in time); inputs ${data.inputColumns.join(', ')} -> next step of ${data.targetColumns.join(', ')}`,
        `  standardised with the training rows: ${Object.entries(data.scale).map(([c, s]) => `${c} mean ${s.mean.toPrecision(5)} std ${s.std.toPrecision(4)}`).join('; ')}`,
        `  windows of ${length} (stride ${stride}): ${data.train.size} train, ${data.valid.size} valid; MAE/RMSE are in standardised units`,
      ].join('\n'),
  };
}

function createSyntheticDataset(spec: SyntheticSpec): Dataset {
  const data = createSyntheticData(spec);
  const preset = TASK_PRESETS[spec.preset ?? 'quick'];
  const resolved: SyntheticSpec = { ...spec, length: data.length, trainSize: data.train.size, validSize: data.valid.size, seed: spec.seed ?? 0 };
  let scoredTrain = 0;
  for (const m of data.train.mask!) scoredTrain += m;
  return {
    name: data.task,
    kind: 'tokens',
    length: data.length,
    vocab: data.vocab,
    train: data.train,
    valid: data.valid,
    spec: resolved,
    info: { task: data.task, settings: data.settings, suggestedModel: preset.model, scoredPerSequence: scoredTrain / data.train.size },
    modelShape: () => ({ type: 'lm', vocab: data.vocab }),
    describe: () =>
      [
        `synthetic ${data.task}: ${Object.entries(data.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
        `  L=${data.length}, vocab ${data.vocab}; ${data.train.size} train and ${data.valid.size} valid sequences (seed ${resolved.seed}); ${(scoredTrain / data.train.size).toFixed(1)} scored positions per sequence`,
      ].join('\n'),
  };
}
