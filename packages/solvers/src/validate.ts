/**
 * Validation of LinearRecurrenceOptions: everything is checked here, in TypeScript, before any
 * kernel (and so any native code) runs. Each failure is one `invalidArgument` error naming the
 * operation, the argument, what was expected (with the shape spelled out) and what arrived.
 */
import {
  allocate,
  checkDisjoint,
  checkFloatArray,
  checkKnownKeys,
  checkNonNegativeInteger,
  checkOneOf,
  checkOptionsObject,
  checkPositiveInteger,
  describeValue,
  dtypeOf,
  formatShape,
  invalidArgument,
  sameMemory,
  type Dim,
  type FloatArray,
} from '@parascan/core';
import { listLinearRecurrenceBackends } from './registry.js';
import {
  DIRECTIONS,
  METHODS,
  NON_FINITE_POLICIES,
  STRUCTURES,
  type LinearRecurrenceProblem,
  type Method,
  type NonFinitePolicy,
  type Structure,
} from './types.js';

const KNOWN_OPTIONS = [
  'structure',
  'blockSize',
  'batch',
  'length',
  'size',
  'jacobians',
  'rhs',
  'initial',
  'out',
  'direction',
  'backend',
  'method',
  'threads',
  'chunkLength',
  'nonFinite',
] as const;

export interface ValidatedCall {
  problem: LinearRecurrenceProblem;
  /** The array to return: the caller's `out` object (problem.out may be rhs when both view the same bytes), or the allocated one. */
  result: FloatArray;
  /** 'auto' or a registered backend name. */
  backend: string;
  method: Method;
  nonFinite: NonFinitePolicy;
}

/** Names of the Jacobian's axes after [b, t], per structure (for shapes and indices in messages). */
export function jacobianAxes(structure: Structure): string[] {
  return structure === 'diagonal' ? ['d'] : structure === 'dense' ? ['i', 'j'] : ['i', 'j', 'n'];
}

export function jacobianDims(structure: Structure, B: number, T: number, k: number, N: number, D: number): Dim[] {
  if (structure === 'diagonal') return [['B', B], ['T', T], ['D', D]];
  if (structure === 'dense') return [['B', B], ['T', T], ['D', D], ['D', D]];
  return [['B', B], ['T', T], ['k', k], ['k', k], ['N', N]];
}

const ASYNC_SHARED_HINT =
  'solveLinearRecurrenceAsync rejects SharedArrayBuffer-backed arrays: the solve runs on another thread ' +
  'while JavaScript threads may write the same memory, a data race. Copy the data into an ordinary ' +
  'array first (e.g. `new Float32Array(shared)` copies), or use the synchronous solveLinearRecurrence, which accepts it.';

export function validateLinearRecurrence(operation: string, input: unknown, mode: { async: boolean }): ValidatedCall {
  const options = checkOptionsObject(operation, 'options', input);
  checkKnownKeys(operation, 'options', options, KNOWN_OPTIONS);

  // ---- sizes and structure ------------------------------------------------------------------
  const structure = checkOneOf(operation, 'structure', options['structure'], STRUCTURES);
  const B = checkPositiveInteger(operation, 'batch', options['batch'], { expected: 'a positive integer (B ≥ 1)' });
  const T = checkPositiveInteger(operation, 'length', options['length'], {
    expected: 'a positive integer (T ≥ 1)',
    hint: options['length'] === 0 ? 'T = 0 is an empty sequence with nothing to solve: skip the call instead.' : undefined,
  });
  const D = checkPositiveInteger(operation, 'size', options['size'], { expected: 'a positive integer (D ≥ 1)' });

  let k: number;
  const rawK = options['blockSize'];
  if (structure === 'block') {
    if (rawK === undefined) {
      throw invalidArgument(operation, 'blockSize', `a positive integer dividing \`size\` (D=${D}), required for structure 'block'`, 'undefined', "Pass e.g. blockSize: 2 for ParaLSTM's [c; h] state.");
    }
    k = checkPositiveInteger(operation, 'blockSize', rawK, { expected: `a positive integer dividing \`size\` (D=${D})` });
    if (D % k !== 0) {
      throw invalidArgument(operation, 'blockSize', `a positive integer dividing \`size\` (D=${D})`, `${k} (${D} is not a multiple of ${k})`);
    }
  } else if (structure === 'diagonal') {
    if (rawK !== undefined && rawK !== 1) {
      throw invalidArgument(operation, 'blockSize', "1 or absent for structure 'diagonal'", describeValue(rawK), "Use structure 'block' for k×k blocks of diagonals.");
    }
    k = 1;
  } else {
    if (rawK !== undefined && rawK !== D) {
      throw invalidArgument(operation, 'blockSize', `equal to \`size\` (D=${D}) or absent for structure 'dense'`, describeValue(rawK));
    }
    k = D;
  }
  const N = D / k;

  // ---- choices ---------------------------------------------------------------------------------
  const direction = options['direction'] === undefined ? 'forward' : checkOneOf(operation, 'direction', options['direction'], DIRECTIONS);
  const backends = ['auto', ...listLinearRecurrenceBackends()];
  const backend = options['backend'] === undefined ? 'auto' : checkOneOf(operation, 'backend', options['backend'], backends);
  const method = options['method'] === undefined ? 'auto' : checkOneOf(operation, 'method', options['method'], METHODS);
  const nonFinite = options['nonFinite'] === undefined ? 'error' : checkOneOf(operation, 'nonFinite', options['nonFinite'], NON_FINITE_POLICIES);
  const threads = options['threads'] === undefined ? 0 : checkNonNegativeInteger(operation, 'threads', options['threads'], { expected: 'a non-negative integer (0: the pool default)' });
  const chunkLength = options['chunkLength'] === undefined ? 0 : checkNonNegativeInteger(operation, 'chunkLength', options['chunkLength'], { expected: 'a non-negative integer (0: automatic)' });

  // ---- arrays ----------------------------------------------------------------------------------
  const allowShared = !mode.async;
  const sharedHint = ASYNC_SHARED_HINT;
  const jacDims = jacobianDims(structure, B, T, k, N, D);
  const stateDims: Dim[] = [['B', B], ['T', T], ['D', D]];
  const jacobians = checkFloatArray(operation, 'jacobians', options['jacobians'], {
    length: B * T * k * k * N,
    shape: formatShape(jacDims),
    allowShared,
    sharedHint,
  });
  const dtype = dtypeOf(jacobians);
  const rhs = checkFloatArray(operation, 'rhs', options['rhs'], {
    dtype,
    dtypeFrom: 'jacobians',
    length: B * T * D,
    shape: formatShape(stateDims),
    allowShared,
    sharedHint,
  });
  let initial: FloatArray | null = null;
  if (options['initial'] !== undefined && options['initial'] !== null) {
    initial = checkFloatArray(operation, 'initial', options['initial'], {
      dtype,
      dtypeFrom: 'jacobians',
      length: B * D,
      shape: `${formatShape([['B', B], ['D', D]])}, or null for a zero initial state`,
      allowShared,
      sharedHint,
    });
  }
  let out: FloatArray;
  let result: FloatArray;
  if (options['out'] === undefined || options['out'] === null) {
    out = allocate(dtype, B * T * D);
    result = out;
  } else {
    out = checkFloatArray(operation, 'out', options['out'], {
      dtype,
      dtypeFrom: 'jacobians',
      length: B * T * D,
      shape: formatShape(stateDims),
      allowShared,
      sharedHint,
    });
    result = out;
    const hint = 'Only `out` === `rhs` (an in-place solve) may share memory with an input; pass a separate array.';
    // The same bytes as rhs under another view object is still an in-place solve: use rhs itself.
    if (out !== rhs && sameMemory(out, rhs) && out.constructor === rhs.constructor) out = rhs;
    if (out !== rhs) checkDisjoint(operation, 'out', out, 'rhs', rhs, hint);
    checkDisjoint(operation, 'out', out, 'jacobians', jacobians, hint);
    if (initial) checkDisjoint(operation, 'out', out, 'initial', initial, hint);
  }

  return {
    problem: {
      operation,
      structure,
      dtype,
      reverse: direction === 'reverse',
      batch: B,
      length: T,
      blockSize: k,
      lanes: N,
      size: D,
      jacobians,
      rhs,
      initial,
      out,
      method,
      threads,
      chunkLength,
    },
    result,
    backend,
    method,
    nonFinite,
  };
}
