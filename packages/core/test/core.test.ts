import { afterEach, describe, expect, it } from 'vitest';
import {
  ParascanError,
  Rng,
  allocate,
  checkDisjoint,
  checkFloatArray,
  checkKnownKeys,
  checkOneOf,
  checkPositiveInteger,
  describeValue,
  dtypeOf,
  formatShape,
  isDetached,
  isFloatArray,
  isSharedMemory,
  nonFinite,
  randomSeed,
  sameMemory,
  shapeSize,
  toDtype,
  unravelIndex,
  viewsOverlap,
} from '../src/index.js';
import { TOLERANCES, assertClose, assertEqualArrays, compareClose, growth, testSeed, toleranceFor } from '../src/testing.js';

describe('dtype', () => {
  it('names, allocates and converts', () => {
    expect(dtypeOf(new Float32Array(1))).toBe('float32');
    expect(dtypeOf(new Float64Array(1))).toBe('float64');
    expect(() => dtypeOf(new Int32Array(1) as unknown as Float32Array)).toThrow(TypeError);
    expect(allocate('float32', 3)).toEqual(new Float32Array(3));
    expect(allocate('float64', 2)).toBeInstanceOf(Float64Array);
    expect(toDtype('float32', [0.1])[0]).toBe(Math.fround(0.1));
    expect(isFloatArray(new Float32Array(1), 'float64')).toBe(false);
    expect(isFloatArray([1])).toBe(false);
  });
});

describe('validation helpers', () => {
  it('formats shapes and indices', () => {
    expect(formatShape([['B', 2], ['T', 4], ['k', 2], ['k', 2], ['N', 3]])).toBe('[B=2, T=4, k=2, k=2, N=3]');
    expect(shapeSize([['B', 2], ['T', 4]])).toBe(8);
    expect(unravelIndex(23, [2, 3, 4])).toEqual([1, 2, 3]);
    expect(unravelIndex(0, [5])).toEqual([0]);
  });

  it('checks integers and string choices with the one message style', () => {
    expect(checkPositiveInteger('op', 'n', 3)).toBe(3);
    for (const bad of [0, -1, 1.5, NaN, Infinity, '3', null, 2 ** 53]) {
      expect(() => checkPositiveInteger('op', 'n', bad)).toThrow(/^op: argument `n` must be a positive integer; got .+\.$/);
    }
    expect(() => checkOneOf('op', 'mode', 'x', ['a', 'b'])).toThrow("op: argument `mode` must be one of 'a', 'b'; got the string \"x\".");
    expect(() => checkKnownKeys('op', 'options', { a: 1, typo: 2 }, ['a'])).toThrow('op: argument `options` must be an object with only the options of op (a); got an unknown option `typo`. Check its spelling.');
  });

  it('describes values for messages, with the right article', () => {
    expect(describeValue(new Int8Array(2))).toBe('an Int8Array of length 2');
    expect(describeValue(new Float32Array(2))).toBe('a Float32Array of length 2');
    expect(describeValue([1, 2])).toBe('a plain Array of length 2');
    expect(describeValue('s')).toBe('the string "s"');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(true)).toBe('a boolean');
  });

  it('detects detached and shared buffers', () => {
    const a = new Float32Array(4);
    expect(isDetached(a)).toBe(false);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    expect(isDetached(a)).toBe(true);
    expect(isDetached(new Float32Array(0))).toBe(false); // empty, not detached
    expect(isSharedMemory(new Float32Array(new SharedArrayBuffer(8)))).toBe(true);
    expect(isSharedMemory(new Float32Array(2))).toBe(false);
  });

  it('detects overlap and identical memory', () => {
    const buf = new Float64Array(10);
    expect(viewsOverlap(buf.subarray(0, 5), buf.subarray(4, 10))).toBe(true);
    expect(viewsOverlap(buf.subarray(0, 5), buf.subarray(5, 10))).toBe(false);
    expect(viewsOverlap(buf, new Float64Array(10))).toBe(false);
    expect(viewsOverlap(buf.subarray(2, 2), buf)).toBe(false); // empty views overlap nothing
    expect(sameMemory(buf.subarray(1, 3), new Float64Array(buf.buffer, 8, 2))).toBe(true);
    expect(sameMemory(buf.subarray(1, 3), buf.subarray(1, 4))).toBe(false);
    expect(() => checkDisjoint('op', 'out', buf.subarray(0, 5), 'x', buf.subarray(4, 10))).toThrow(
      'op: argument `out` must be an array whose memory does not overlap `x`; got an array that overlaps `x` (bytes 32..40 of the same buffer).',
    );
  });

  it('checks float arrays: type, detached, dtype, length, sharing — in that order', () => {
    const check = { dtype: 'float32' as const, dtypeFrom: 'a', length: 4, shape: '[N=4]', allowShared: false, sharedHint: 'No sharing.' };
    expect(checkFloatArray('op', 'x', new Float32Array(4), check)).toBeInstanceOf(Float32Array);
    expect(() => checkFloatArray('op', 'x', [1, 2, 3, 4], check)).toThrow('op: argument `x` must be a Float32Array of length 4 ([N=4]); got a plain Array of length 4. Convert it first, e.g. `Float32Array.from(x)`.');
    expect(() => checkFloatArray('op', 'x', new Float64Array(4), check)).toThrow('got a Float64Array of length 4. Every array of one call has the dtype of `a` (float32).');
    expect(() => checkFloatArray('op', 'x', new Float32Array(5), check)).toThrow('op: argument `x` must be a Float32Array of length 4 ([N=4]); got a Float32Array of length 5.');
    expect(() => checkFloatArray('op', 'x', new Float32Array(new SharedArrayBuffer(16)), check)).toThrow(
      'op: argument `x` must be a Float32Array of length 4 ([N=4]) on an ordinary ArrayBuffer; got a Float32Array of length 4 on a SharedArrayBuffer. No sharing.',
    );
    const detached = new Float32Array(4);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(() => checkFloatArray('op', 'x', detached, check)).toThrow('whose ArrayBuffer is detached');
    // Without a required dtype, the expected type is the array's own.
    expect(() => checkFloatArray('op', 'x', new Float64Array(3), { length: 4 })).toThrow('op: argument `x` must be a Float64Array of length 4; got a Float64Array of length 3.');
  });

  it('builds NON_FINITE errors that name the argument', () => {
    const e = nonFinite('op', 'argument `x` holds NaN', 'Fix it.', 'x');
    expect(e).toBeInstanceOf(ParascanError);
    expect(e.code).toBe('NON_FINITE');
    expect(e.argument).toBe('x');
    expect(e.hint).toBe('Fix it.');
    expect(e.message).toBe('op: argument `x` holds NaN. Fix it.');
  });
});

describe('Rng', () => {
  const seed = randomSeed();

  it(`is deterministic per seed and differs across seeds (seed ${seed})`, () => {
    const a = new Rng(seed);
    const b = new Rng(seed);
    const c = new Rng(seed + 1);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
    expect(new Rng(2 ** 40).nextUint32()).not.toBe(new Rng(2 ** 40 + 2 ** 33).nextUint32());
    expect(() => new Rng(1.5)).toThrow(RangeError);
  });

  it(`draws uniform and normal numbers with the right moments (seed ${seed})`, () => {
    const rng = new Rng(seed);
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      const z = rng.normal();
      sum += z;
      sq += z * z;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    // 6-sigma bounds: mean ~ N(0, 1/n), variance ~ N(1, 2/n).
    expect(Math.abs(sum / n)).toBeLessThan(6 / Math.sqrt(n));
    expect(Math.abs(sq / n - 1)).toBeLessThan(6 * Math.sqrt(2 / n));
    const ints = new Set(Array.from({ length: 1000 }, () => rng.int(2, 4)));
    expect([...ints].sort()).toEqual([2, 3, 4]);
    const arr = rng.uniformArray('float32', 100, -1, 1);
    expect(arr).toBeInstanceOf(Float32Array);
    expect(arr.every((v) => v >= -1 && v < 1)).toBe(true);
    expect(rng.normalArray('float64', 3)).toHaveLength(3);
    expect(rng.fork().nextUint32()).not.toBe(rng.fork().nextUint32());
  });
});

describe('testing helpers', () => {
  const saved = process.env['PARASCAN_SEED'];
  afterEach(() => {
    if (saved === undefined) delete process.env['PARASCAN_SEED'];
    else process.env['PARASCAN_SEED'] = saved;
  });

  it('scales the table tolerance by √T', () => {
    expect(growth(0)).toBe(1);
    expect(growth(100)).toBe(10);
    expect(toleranceFor('float32', 100)).toEqual({ atol: TOLERANCES.float32.atol * 10, rtol: TOLERANCES.float32.rtol * 10 });
    expect(TOLERANCES.float64.rtol).toBeLessThan(TOLERANCES.float32.rtol);
  });

  it('assertClose passes within and fails outside atol + rtol·|ref|, naming the index and the seed', () => {
    const expected = new Float64Array([1, 2, 3, 4, 5, 6]);
    const tol = { atol: 1e-6, rtol: 1e-6 };
    const ok = Float64Array.from(expected, (v) => v * (1 + 5e-7));
    expect(assertClose(ok, expected, tol).failures).toBe(0);
    const bad = expected.slice();
    bad[4] = 5.0001;
    expect(() => assertClose(bad, expected, tol, { label: 'x', shape: [2, 3], seed: 42, context: 'case A' })).toThrow(
      /x: 1 of 6 elements differ[\s\S]*first \[1, 1\]: actual 5.0001, expected 5[\s\S]*case: case A[\s\S]*seed: 42 \(rerun with PARASCAN_SEED=42\)/,
    );
    const nan = expected.slice();
    nan[0] = NaN;
    expect(compareClose(nan, expected, tol).failures).toBe(1);
    expect(compareClose(nan, nan, tol).failures).toBe(0);
    expect(compareClose([Infinity], [-Infinity], tol).failures).toBe(1);
  });

  it('assertEqualArrays is exact (0 equals -0, NaN equals NaN)', () => {
    expect(() => assertEqualArrays([0, NaN], [-0, NaN])).not.toThrow();
    expect(() => assertEqualArrays([1], [1 + 2 ** -52], { seed: 7 })).toThrow(/element \[0\] is 1; expected exactly 1.0000000000000002[\s\S]*seed: 7/);
  });

  it('testSeed is fresh each call unless PARASCAN_SEED pins it', () => {
    delete process.env['PARASCAN_SEED'];
    expect(testSeed()).not.toBe(testSeed());
    process.env['PARASCAN_SEED'] = '1234';
    expect(testSeed()).toBe(1234);
    process.env['PARASCAN_SEED'] = 'abc';
    expect(() => testSeed()).toThrow('PARASCAN_SEED must be an integer');
  });
});
