/**
 * The model/trainer contract lives in @parascan/nn (`types.ts`); this module re-exports the types the
 * trainer uses so every file of this package imports them from one place.
 */
export type {
  Batch,
  ModelConfig,
  Parameter,
  RunOptions,
  SeriesBatch,
  StepResult,
  TokenBatch,
  TrainableModel,
} from '@parascan/nn';
