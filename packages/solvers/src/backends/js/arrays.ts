/**
 * The plain inputs of the js algorithms: the header's parameter struct
 * (native/include/parascan/linear_recurrence.h) with typed arrays. This folder's algorithm files
 * import nothing at run time, so the worker thread can load them alone.
 */
export type FloatArray = Float32Array | Float64Array;

export interface RecurrenceArrays {
  reverse: boolean;
  batch: number;
  length: number;
  /** k */
  blockSize: number;
  /** N; D = k·N */
  lanes: number;
  /** [B, T, k, k, N] */
  jacobians: FloatArray;
  /** [B, T, k·N] */
  rhs: FloatArray;
  /** [B, k·N] or null */
  initial: FloatArray | null;
  /** [B, T, k·N]; may be the same array as rhs */
  out: FloatArray;
}
