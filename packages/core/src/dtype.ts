/**
 * The two floating-point dtypes of parascan and the typed arrays that hold them.
 * Every public tensor is a flat, contiguous Float32Array or Float64Array (DESIGN §6).
 */

export type Dtype = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

export const DTYPES: readonly Dtype[] = ['float32', 'float64'];

/** Machine epsilon of each dtype (distance from 1 to the next representable number). */
export const EPSILON: Readonly<Record<Dtype, number>> = {
  float32: 2 ** -23,
  float64: 2 ** -52,
};

/** The constructor name of a dtype's array, for messages: 'Float32Array' | 'Float64Array'. */
export function arrayTypeName(dtype: Dtype): 'Float32Array' | 'Float64Array' {
  return dtype === 'float32' ? 'Float32Array' : 'Float64Array';
}

export function isDtype(value: unknown): value is Dtype {
  return value === 'float32' || value === 'float64';
}

/** True for a Float32Array or a Float64Array (optionally of one dtype); plain arrays and other views are not. */
export function isFloatArray(value: unknown, dtype?: Dtype): value is FloatArray {
  if (dtype === 'float32') return value instanceof Float32Array;
  if (dtype === 'float64') return value instanceof Float64Array;
  return value instanceof Float32Array || value instanceof Float64Array;
}

/** The dtype of a float array. */
export function dtypeOf(array: FloatArray): Dtype {
  if (array instanceof Float32Array) return 'float32';
  if (array instanceof Float64Array) return 'float64';
  throw new TypeError(`dtypeOf: expected a Float32Array or Float64Array; got ${Object.prototype.toString.call(array)}.`);
}

/** A zero-filled array of `length` elements of `dtype`. */
export function allocate(dtype: 'float32', length: number): Float32Array;
export function allocate(dtype: 'float64', length: number): Float64Array;
export function allocate(dtype: Dtype, length: number): FloatArray;
export function allocate(dtype: Dtype, length: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(length) : new Float64Array(length);
}

/** A copy of `source` (any numeric array) as `dtype`. */
export function toDtype(dtype: Dtype, source: ArrayLike<number>): FloatArray {
  return dtype === 'float32' ? Float32Array.from(source) : Float64Array.from(source);
}
