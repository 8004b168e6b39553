export { ParaGRU } from './gru.js';
export { ParaLSTM } from './lstm.js';
export {
  ParaCell,
  type Mode,
  type FusedSchedule,
  type CellBackend,
  type CellOptions,
  type ForwardOptions,
  type ForwardCache,
  type ForwardResult,
  type BackwardOptions,
  type BackwardResult,
  type ParameterRecord,
  type PointOptions,
} from './cell.js';
export { A_INITS, W_INITS, BIAS_INITS, type AInit, type WInit, type BiasInit } from './init.js';
export { project, projectVjp, type ProjectionShape } from './projection.js';
export { chooseMode, modeCost, MODE_WORK, type AutoInput } from './auto.js';
