/**
 * Argument validation shared by every operation. Each check throws the one error of
 * `errors.ts` (`op: argument \`name\` must be EXPECTED; got GOT. HINT`) and returns the checked value
 * with a narrowed type, so callers read as a list of checks.
 */

import { describeValue, invalidArgument } from './errors.js';
import { arrayTypeName, isFloatArray, type Dtype, type FloatArray } from './dtype.js';

/** One named dimension of a shape, e.g. ['B', 2]. */
export type Dim = readonly [name: string, size: number];

/** `[B=2, T=4, k=2, k=2, N=3]` */
export function formatShape(dims: readonly Dim[]): string {
  return `[${dims.map(([name, size]) => `${name}=${size}`).join(', ')}]`;
}

/** Number of elements of a shape. */
export function shapeSize(dims: readonly Dim[]): number {
  let n = 1;
  for (const [, size] of dims) n *= size;
  return n;
}

/** `[b, t, d]` index of a flat offset into a row-major shape (sizes only). */
export function unravelIndex(offset: number, sizes: readonly number[]): number[] {
  const index = new Array<number>(sizes.length).fill(0);
  let rest = offset;
  for (let axis = sizes.length - 1; axis >= 0; axis--) {
    const size = sizes[axis]!;
    index[axis] = rest % size;
    rest = Math.floor(rest / size);
  }
  return index;
}

export interface IntegerCheck {
  /** Overrides the expected part, e.g. 'a positive integer (T ≥ 1)'. */
  expected?: string;
  hint?: string;
}

/** A positive safe integer (1, 2, …). */
export function checkPositiveInteger(operation: string, name: string, value: unknown, check: IntegerCheck = {}): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidArgument(operation, name, check.expected ?? 'a positive integer', describeValue(value), check.hint);
  }
  return value;
}

/** A non-negative safe integer (0, 1, …). */
export function checkNonNegativeInteger(operation: string, name: string, value: unknown, check: IntegerCheck = {}): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(operation, name, check.expected ?? 'a non-negative integer', describeValue(value), check.hint);
  }
  return value;
}

/** One of a fixed set of strings. */
export function checkOneOf<const S extends string>(
  operation: string,
  name: string,
  value: unknown,
  allowed: readonly S[],
  hint?: string,
): S {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as S;
  throw invalidArgument(operation, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, describeValue(value), hint);
}

/** A plain options object (not null, not an array, not a typed array). */
export function checkOptionsObject(operation: string, name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw invalidArgument(operation, name, 'an options object', describeValue(value));
  }
  return value as Record<string, unknown>;
}

/** Rejects keys that are not in `known` (catches typos such as `directon`). Undefined-valued keys count too. */
export function checkKnownKeys(operation: string, name: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw invalidArgument(
        operation,
        name,
        `an object with only the options of ${operation} (${known.join(', ')})`,
        `an unknown option \`${key}\``,
        'Check its spelling.',
      );
    }
  }
}

// ---- buffers -----------------------------------------------------------------------------

type AnyBuffer = ArrayBufferLike;

/**
 * True when the view's ArrayBuffer was detached (transferred with postMessage/structuredClone).
 * Node ≥ 22 exposes `ArrayBuffer.prototype.detached`; on Node 20 a detached buffer has byteLength 0
 * and refuses new views, which tells it apart from a genuinely empty buffer.
 */
export function isDetached(view: ArrayBufferView): boolean {
  const buffer = view.buffer as AnyBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  if (isSharedMemory(view) || buffer.byteLength !== 0) return false;
  try {
    new Uint8Array(buffer as ArrayBuffer);
    return false;
  } catch {
    return true;
  }
}

/** True when the view lives on a SharedArrayBuffer (other threads may write it at any time). */
export function isSharedMemory(view: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && view.buffer instanceof SharedArrayBuffer;
}

/** True when the two views share at least one byte of the same buffer. */
export function viewsOverlap(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer) return false;
  if (a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** True when the two views cover exactly the same bytes of the same buffer (possibly different objects). */
export function sameMemory(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a === b || (a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength);
}

// ---- float arrays ------------------------------------------------------------------------

export interface FloatArrayCheck {
  /** Required dtype; absent: either float dtype is accepted (and fixes the dtype of the call). */
  dtype?: Dtype;
  /** Which argument fixed the dtype, for the hint on a mismatch (e.g. 'jacobians'). */
  dtypeFrom?: string;
  /** Required number of elements. */
  length: number;
  /** The shape behind `length`, e.g. '[B=2, T=4, D=3]'. */
  shape?: string;
  /** false: a SharedArrayBuffer-backed array is rejected with `sharedHint`. Default true. */
  allowShared?: boolean;
  sharedHint?: string;
}

function expectedArray(check: FloatArrayCheck, value: unknown): string {
  // Without a required dtype, a float array of the wrong length is told the length in its own type.
  const own = value instanceof Float32Array ? 'Float32Array' : value instanceof Float64Array ? 'Float64Array' : undefined;
  const type = check.dtype ? arrayTypeName(check.dtype) : (own ?? 'Float32Array or Float64Array');
  return `a ${type} of length ${check.length}${check.shape ? ` (${check.shape})` : ''}`;
}

/**
 * A Float32Array/Float64Array of the given dtype and exact length, attached, and (optionally) not
 * shared. Checks run in the order a user fixes them: type, detached, dtype, length, sharing.
 */
export function checkFloatArray(operation: string, name: string, value: unknown, check: FloatArrayCheck): FloatArray {
  const expected = expectedArray(check, value);
  if (!isFloatArray(value)) {
    let hint: string | undefined;
    if (Array.isArray(value) || ArrayBuffer.isView(value)) {
      const type = check.dtype ? arrayTypeName(check.dtype) : 'Float32Array';
      hint = `Convert it first, e.g. \`${type}.from(${name})\`.`;
    }
    throw invalidArgument(operation, name, expected, describeValue(value), hint);
  }
  if (isDetached(value)) {
    throw invalidArgument(
      operation,
      name,
      expected,
      `a ${value.constructor.name} whose ArrayBuffer is detached (it was transferred to another thread)`,
      'Pass an array whose buffer is still attached, e.g. a copy made before the transfer.',
    );
  }
  if (check.dtype && !isFloatArray(value, check.dtype)) {
    throw invalidArgument(
      operation,
      name,
      expected,
      describeValue(value),
      check.dtypeFrom ? `Every array of one call has the dtype of \`${check.dtypeFrom}\` (${check.dtype}).` : undefined,
    );
  }
  if (value.length !== check.length) {
    throw invalidArgument(operation, name, expected, describeValue(value));
  }
  if (check.allowShared === false && isSharedMemory(value)) {
    throw invalidArgument(
      operation,
      name,
      `${expected} on an ordinary ArrayBuffer`,
      `a ${value.constructor.name} of length ${value.length} on a SharedArrayBuffer`,
      check.sharedHint,
    );
  }
  return value;
}

/** Throws unless the two views are disjoint. */
export function checkDisjoint(
  operation: string,
  name: string,
  value: ArrayBufferView,
  otherName: string,
  other: ArrayBufferView,
  hint?: string,
): void {
  if (!viewsOverlap(value, other)) return;
  const from = Math.max(value.byteOffset, other.byteOffset);
  const to = Math.min(value.byteOffset + value.byteLength, other.byteOffset + other.byteLength);
  const what = value === other ? `the very same array as \`${otherName}\`` : `an array that overlaps \`${otherName}\` (bytes ${from}..${to} of the same buffer)`;
  throw invalidArgument(operation, name, `an array whose memory does not overlap \`${otherName}\``, what, hint);
}
