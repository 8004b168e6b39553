export { AdamW, cosineWithWarmup, clipGradNorm, type AdamWOptions, type AdamWState, type CosineScheduleOptions } from './optim.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  readSafetensorsFile,
  writeSafetensorsFile,
  CHECKSUM_KEY,
  type SafetensorsDtype,
  type SafetensorsFile,
  type Tensor,
  type TensorData,
  type WriteOptions,
} from './safetensors.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  restoreModel,
  CHECKPOINT_FORMAT,
  OPTIMIZER_PREFIX,
  type Checkpoint,
  type SaveCheckpointOptions,
  type TrainerState,
  type HistoryPoint,
  type ValidationPoint,
  type ResolvedFitOptions,
} from './checkpoint.js';
export { MetricAccumulator, formatMetrics, type Metrics } from './metrics.js';
export { fit, evaluate, type FitOptions, type FitResult, type ProgressEvent } from './trainer.js';
export { createProgressReporter, formatDuration, type ProgressReporter, type ProgressReporterOptions } from './progress.js';
export { lossCurveSvg, niceTicks, type LossCurveOptions } from './svg.js';
export { compareForwardModes, summarizeRun, writeRunSummary, type ForwardTiming, type RunSummary } from './summary.js';
export { createDataset, defaultSeriesPath, type Dataset, type DatasetSpec, type TextSpec, type SeriesSpec } from './data/dataset.js';
export { SYNTHETIC_TASKS, TASK_PRESETS, type SyntheticSpec, type SyntheticTaskName, type TaskPreset } from './data/synthetic.js';
export { stripBrownTags, unigramEntropy, brownCorpusDir, brownFileNames } from './data/text.js';
export { parseCsv, type CsvTable } from './data/series.js';
export type { DataSplit } from './data/split.js';
