/** Runs one js method on plain arrays and reports whether the output holds a NaN/Inf (shared by the kernel and its worker). */
import type { RecurrenceArrays } from './arrays.js';
import { hasNonFinite } from './finite.js';
import { solveParallel } from './parallel.js';
import { solveSequential } from './sequential.js';

export type JsMethod = 'sequential' | 'parallel';

export function runJs(method: JsMethod, arrays: RecurrenceArrays): { nonFinite: boolean; schedule: JsMethod } {
  if (method === 'parallel') solveParallel(arrays);
  else solveSequential(arrays);
  return { nonFinite: hasNonFinite(arrays.out), schedule: method };
}
