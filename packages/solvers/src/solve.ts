/**
 * The public entry points. Both validate everything first (validate.ts), pick the kernel from the
 * registry, run it, then apply the non-finite policy (nonfinite.ts).
 */
import { describeValue, invalidArgument, type FloatArray, type ParascanError } from '@parascan/core';
import './backends/register.js';
import { nonFiniteError } from './nonfinite.js';
import { getLinearRecurrenceKernel } from './registry.js';
import type { LinearRecurrenceKernel, LinearRecurrenceOptions, Method } from './types.js';
import { validateLinearRecurrence, type ValidatedCall } from './validate.js';

/** Backends that `backend: 'auto'` tries, in order (never CUDA: pick it explicitly). */
const AUTO_ORDER = ['cpu', 'js'] as const;

function methodHint(method: Method): string | undefined {
  if (method === 'lanes' || method === 'chunked') return `'${method}' is a schedule of backend 'cpu'.`;
  if (method === 'parallel') return "'parallel' is the log-step reduction of backend 'js' (and the scan of 'cuda').";
  return undefined;
}

/**
 * backend 'auto': 'cpu' when its addon loads, else 'js'. With a method other than 'auto', the first
 * of those two that offers it ('lanes'/'chunked' need cpu, 'parallel' means js).
 */
function selectKernel(call: ValidatedCall): LinearRecurrenceKernel {
  const { operation } = call.problem;
  const { backend, method } = call;
  if (backend !== 'auto') {
    const kernel = getLinearRecurrenceKernel(backend);
    if (!kernel) throw invalidArgument(operation, 'backend', 'a registered backend', describeValue(backend));
    if (!kernel.methods.includes(method)) {
      throw invalidArgument(
        operation,
        'method',
        `one of ${kernel.methods.map((m) => `'${m}'`).join(', ')} for backend '${backend}'`,
        describeValue(method),
        methodHint(method),
      );
    }
    const availability = kernel.availability();
    if (!availability.available) throw availability.error;
    return kernel;
  }
  let unavailable: ParascanError | undefined;
  for (const name of AUTO_ORDER) {
    const kernel = getLinearRecurrenceKernel(name);
    if (!kernel || !kernel.methods.includes(method)) continue;
    const availability = kernel.availability();
    if (availability.available) return kernel;
    unavailable ??= availability.error;
  }
  if (unavailable) throw unavailable;
  throw invalidArgument(operation, 'method', `a method offered by backend 'auto' (${AUTO_ORDER.join(' or ')})`, describeValue(method), methodHint(method));
}

/**
 * Solves the linear recurrence (see LinearRecurrenceOptions) on the calling thread and returns
 * `out` (allocated when absent). Throws a ParascanError for any invalid argument, an unavailable
 * backend, or (with nonFinite 'error') a NaN/Inf in the output.
 */
export function solveLinearRecurrence(options: LinearRecurrenceOptions<Float32Array>): Float32Array;
export function solveLinearRecurrence(options: LinearRecurrenceOptions<Float64Array>): Float64Array;
export function solveLinearRecurrence(options: LinearRecurrenceOptions): FloatArray;
export function solveLinearRecurrence(options: LinearRecurrenceOptions): FloatArray {
  const call = validateLinearRecurrence('solveLinearRecurrence', options, { async: false });
  const kernel = selectKernel(call);
  const run = kernel.solve(call.problem);
  if (run.nonFinite && call.nonFinite === 'error') throw nonFiniteError(call.problem);
  return call.result;
}

/**
 * Like solveLinearRecurrence, off the main thread: native backends run on the libuv pool, 'js' in
 * a worker thread. Rejects (never throws synchronously). SharedArrayBuffer-backed arrays are
 * rejected here (another thread would race with JavaScript writes). Do not modify the arrays until
 * the promise settles.
 */
export function solveLinearRecurrenceAsync(options: LinearRecurrenceOptions<Float32Array>): Promise<Float32Array>;
export function solveLinearRecurrenceAsync(options: LinearRecurrenceOptions<Float64Array>): Promise<Float64Array>;
export function solveLinearRecurrenceAsync(options: LinearRecurrenceOptions): Promise<FloatArray>;
export async function solveLinearRecurrenceAsync(options: LinearRecurrenceOptions): Promise<FloatArray> {
  const call = validateLinearRecurrence('solveLinearRecurrenceAsync', options, { async: true });
  const kernel = selectKernel(call);
  const run = await kernel.solveAsync(call.problem);
  if (run.nonFinite && call.nonFinite === 'error') throw nonFiniteError(call.problem);
  return call.result;
}
