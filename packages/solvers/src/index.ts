export { solveLinearRecurrence, solveLinearRecurrenceAsync } from './solve.js';
export { referenceSolve, type ReferenceProblem } from './reference.js';
export {
  registerLinearRecurrenceKernel,
  unregisterLinearRecurrenceKernel,
  getLinearRecurrenceKernel,
  listLinearRecurrenceBackends,
} from './registry.js';
export { createNativeKernel, type NativeKind, type AddonLoader } from './backends/native/linear_recurrence.js';
export { terminateJsWorker } from './backends/js/worker_pool.js';
export {
  STRUCTURES,
  DIRECTIONS,
  METHODS,
  NON_FINITE_POLICIES,
  type Structure,
  type Direction,
  type BackendName,
  type Method,
  type NonFinitePolicy,
  type LinearRecurrenceOptions,
  type LinearRecurrenceProblem,
  type LinearRecurrenceKernel,
  type KernelRunResult,
  type KernelAvailability,
} from './types.js';
export { acceptableStep, solveNewton, solveNewtonAsync, solvePicard, solvePicardAsync, solveSequential, resolveNewtonControls } from './newton/newton.js';
export type {
  NewtonSystem,
  NewtonStructure,
  NewtonControls,
  NewtonDiagnostics,
  NewtonResult,
  NewtonSolveOptions,
  Termination,
  DivergencePolicy,
  MaxIterationsPolicy,
} from './newton/types.js';
