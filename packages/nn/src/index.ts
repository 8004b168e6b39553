export type {
  Parameter,
  TokenBatch,
  SeriesBatch,
  Batch,
  RunOptions,
  StepResult,
  TrainableModel,
  ModelConfig,
} from './types.js';
export { createModel, resolveModelConfig, ParaRNNModel, type ResolvedModelConfig, type ForwardOptions } from './model.js';
export { ParaRNNBlock, type BlockOptions, type BlockRun } from './block.js';
export {
  Linear,
  Embedding,
  RMSNorm,
  CausalConv,
  SwiGLU,
  sigmoid,
  silu,
  siluGrad,
  siluForward,
  siluBackward,
  type NormCache,
  type SwiGLUCache,
} from './layers.js';
export { softmaxCrossEntropy, meanSquaredError, type CrossEntropyResult, type MseResult } from './losses.js';
export { gemm, gemmJs, defaultGemmBackend, nativeGemmAddon, type GemmRequest, type GemmBackend } from './gemm.js';
export { createParameter, Arena, type Allocator, type LiveParameter, type LayerContext } from './parameter.js';
