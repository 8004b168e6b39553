/**
 * Properties of the js backend beyond the sweep: the reverse solve as a time-reversed forward
 * solve, exact cuts at zero Jacobians, in-place solves, the async (worker) path, the non-finite
 * policy, and the float64 reference itself against hand-computed values.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ParascanError, Rng, allocate, toDtype, type Dtype, type FloatArray } from '@parascan/core';
import { assertEqualArrays, testSeed } from '@parascan/core/testing';
import {
  referenceSolve,
  solveLinearRecurrence,
  solveLinearRecurrenceAsync,
  terminateJsWorker,
  type Method,
} from '../src/index.js';
import {
  STRUCTURE_SPECS,
  describeCase,
  expectCloseToReference,
  expectZerosCut,
  hashString,
  makeInputs,
  reference,
  reverseAsForward,
  timeReversed,
  type Case,
} from './helpers.js';
import { solveCase } from './js-sweep.js';

const seed = testSeed();
const rngFor = (name: string) => new Rng(Math.floor(seed / 2) + hashString(name));
const JS_METHODS: Method[] = ['sequential', 'parallel'];
const DTYPES: Dtype[] = ['float32', 'float64'];

afterAll(async () => {
  await terminateJsWorker();
});

describe(`reverse = time-reversed forward with transposed, shifted Jacobians (seed ${seed})`, () => {
  for (const spec of STRUCTURE_SPECS) {
    it(`${spec.name}: js sequential and parallel satisfy the identity exactly; the reference to within rounding`, () => {
      const rng = rngFor(`identity ${spec.name}`);
      for (const dtype of DTYPES) {
        for (const T of [1, 2, 17, 65]) {
          for (const withInitial of [false, true]) {
            const s = spec.sizes[1]!;
            const k = spec.k(s);
            const D = spec.structure === 'dense' ? s : k * s;
            const c: Case = { structure: spec.structure, k, B: 2, T, D, dtype, direction: 'reverse', withInitial };
            const inputs = makeInputs(rng, c);
            const fw = reverseAsForward(c, inputs);
            for (const method of JS_METHODS) {
              const rev = solveCase(c, inputs, { backend: 'js', method });
              const fwd = solveCase({ ...fw.forward, structure: c.structure }, fw.inputs, { backend: 'js', method });
              assertEqualArrays(rev, timeReversed(fwd, c.B, T, D), { label: `js ${method}`, shape: [c.B, T, D], seed, context: describeCase(c) });
            }
            const refRev = reference(c, inputs);
            const refFwd = timeReversed(reference(fw.forward, fw.inputs), c.B, T, D);
            expectCloseToReference(toDtype(dtype, refRev), refFwd, c, seed, 'referenceSolve');
          }
        }
      }
    });
  }
});

describe(`zero Jacobians cut the recurrence exactly (seed ${seed})`, () => {
  for (const spec of STRUCTURE_SPECS) {
    for (const direction of ['forward', 'reverse'] as const) {
      it(`${spec.name} ${direction}: x_t = r_t bit for bit where J is 0 (30% zeros)`, () => {
        const rng = rngFor(`zeros ${spec.name} ${direction}`);
        for (const dtype of DTYPES) {
          const s = spec.sizes[2]!;
          const k = spec.k(s);
          const D = spec.structure === 'dense' ? s : k * s;
          const c: Case = { structure: spec.structure, k, B: 2, T: 100, D, dtype, direction, withInitial: true };
          const inputs = makeInputs(rng, c, spec.structure === 'dense' ? 0.3 : 0.3);
          expect(inputs.zeros.length).toBeGreaterThan(0);
          for (const method of JS_METHODS) {
            const out = solveCase(c, inputs, { backend: 'js', method });
            expectZerosCut(out, c, inputs, seed, `js ${method}`);
          }
        }
      });
    }
  }
});

describe('in place and out', () => {
  it('out === rhs gives the same result as a separate out, for every structure, direction and js method', () => {
    const rng = rngFor('in place');
    for (const spec of STRUCTURE_SPECS) {
      for (const direction of ['forward', 'reverse'] as const) {
        for (const method of JS_METHODS) {
          const s = spec.sizes[1]!;
          const k = spec.k(s);
          const D = spec.structure === 'dense' ? s : k * s;
          const c: Case = { structure: spec.structure, k, B: 3, T: 33, D, dtype: 'float32', direction, withInitial: true };
          const inputs = makeInputs(rng, c);
          const expected = solveCase(c, inputs, { backend: 'js', method });
          const rhs = inputs.rhs.slice();
          const out = solveCase(c, { ...inputs, rhs }, { backend: 'js', method, out: rhs });
          expect(out).toBe(rhs);
          assertEqualArrays(out, expected, { label: `in place js ${method}`, seed, context: describeCase(c) });
        }
      }
    }
  });

  it('returns the given out, or allocates one of the dtype of the inputs', () => {
    const rng = rngFor('out');
    const c: Case = { structure: 'diagonal', k: 1, B: 2, T: 5, D: 3, dtype: 'float64', direction: 'forward', withInitial: false };
    const inputs = makeInputs(rng, c);
    const given = new Float64Array(30);
    expect(solveCase(c, inputs, { backend: 'js', out: given })).toBe(given);
    const allocated = solveCase(c, inputs, { backend: 'js' });
    expect(allocated).toBeInstanceOf(Float64Array);
    expect(allocated.length).toBe(30);
    assertEqualArrays(allocated, given);
  });

  it('a second view of exactly the bytes of rhs is an in-place solve, and that view is returned', () => {
    const rng = rngFor('same bytes');
    const c: Case = { structure: 'block', k: 2, B: 2, T: 9, D: 4, dtype: 'float32', direction: 'forward', withInitial: true };
    const inputs = makeInputs(rng, c);
    const expected = solveCase(c, inputs, { backend: 'js' });
    const rhs = inputs.rhs.slice();
    const view = new Float32Array(rhs.buffer, rhs.byteOffset, rhs.length);
    const out = solveCase(c, { ...inputs, rhs }, { backend: 'js', out: view });
    expect(out).toBe(view);
    assertEqualArrays(rhs, expected);
  });

  it('accepts arrays that are views into larger buffers (non-zero byteOffset)', () => {
    const rng = rngFor('views');
    const c: Case = { structure: 'block', k: 3, B: 2, T: 7, D: 6, dtype: 'float64', direction: 'reverse', withInitial: true };
    const inputs = makeInputs(rng, c);
    const expected = solveCase(c, inputs, { backend: 'js', method: 'parallel' });
    const big = new Float64Array(inputs.jacobians.length + inputs.rhs.length + 10);
    big.set(inputs.jacobians, 3);
    big.set(inputs.rhs, 5 + inputs.jacobians.length);
    const jacobians = big.subarray(3, 3 + inputs.jacobians.length);
    const rhs = big.subarray(5 + inputs.jacobians.length, 5 + inputs.jacobians.length + inputs.rhs.length);
    const out = solveCase(c, { ...inputs, jacobians, rhs }, { backend: 'js', method: 'parallel' });
    assertEqualArrays(out, expected);
  });
});

describe('async (js in a worker thread)', () => {
  it('gives the same result as the synchronous call, for both methods and dtypes, many calls in flight', async () => {
    const rng = rngFor('async');
    const jobs: Array<Promise<void>> = [];
    for (const spec of STRUCTURE_SPECS) {
      for (const dtype of DTYPES) {
        for (const method of JS_METHODS) {
          const s = spec.sizes[1]!;
          const k = spec.k(s);
          const D = spec.structure === 'dense' ? s : k * s;
          const c: Case = { structure: spec.structure, k, B: 2, T: 40, D, dtype, direction: rng.bernoulli(0.5) ? 'forward' : 'reverse', withInitial: true };
          const inputs = makeInputs(rng, c);
          const expected = solveCase(c, inputs, { backend: 'js', method });
          const out = allocate(dtype, expected.length);
          const promise = solveLinearRecurrenceAsync({
            structure: c.structure,
            blockSize: c.structure === 'block' ? k : undefined,
            batch: c.B,
            length: c.T,
            size: D,
            jacobians: inputs.jacobians,
            rhs: inputs.rhs,
            initial: inputs.initial,
            out,
            direction: c.direction,
            backend: 'js',
            method,
          });
          jobs.push(
            promise.then((result) => {
              expect(result).toBe(out);
              assertEqualArrays(result, expected, { label: `async js ${method}`, seed, context: describeCase(c) });
            }),
          );
        }
      }
    }
    await Promise.all(jobs);
  });

  it('solves in place asynchronously (out === rhs)', async () => {
    const rng = rngFor('async in place');
    const c: Case = { structure: 'diagonal', k: 1, B: 2, T: 50, D: 7, dtype: 'float32', direction: 'forward', withInitial: false };
    const inputs = makeInputs(rng, c);
    const expected = solveCase(c, inputs, { backend: 'js' });
    const rhs = inputs.rhs.slice();
    const result = await solveLinearRecurrenceAsync({ structure: 'diagonal', batch: 2, length: 50, size: 7, jacobians: inputs.jacobians, rhs, out: rhs, backend: 'js' });
    expect(result).toBe(rhs);
    assertEqualArrays(rhs, expected);
  });

  it('rejects (never throws synchronously) on invalid arguments', async () => {
    let promise: Promise<unknown> | undefined;
    expect(() => {
      promise = solveLinearRecurrenceAsync({ structure: 'diagonal', batch: 1, length: 0, size: 1, jacobians: new Float32Array(0), rhs: new Float32Array(0) });
    }).not.toThrow();
    await expect(promise).rejects.toThrow('solveLinearRecurrenceAsync: argument `length` must be a positive integer (T ≥ 1); got 0.');
  });

  it('applies the non-finite policy to worker results', async () => {
    const jacobians = new Float64Array([0.5, 0.5, 0.5]);
    const rhs = new Float64Array([1, NaN, 1]);
    await expect(solveLinearRecurrenceAsync({ structure: 'diagonal', batch: 1, length: 3, size: 1, jacobians, rhs, backend: 'js' })).rejects.toMatchObject({
      code: 'NON_FINITE',
      argument: 'rhs',
    });
    const out = await solveLinearRecurrenceAsync({ structure: 'diagonal', batch: 1, length: 3, size: 1, jacobians, rhs, backend: 'js', nonFinite: 'allow' });
    expect(out[0]).toBe(1);
    expect(Number.isNaN(out[1])).toBe(true);
  });
});

describe('non-finite policy', () => {
  const base = (overrides: Record<string, unknown>) =>
    ({ structure: 'block', blockSize: 2, batch: 2, length: 4, size: 6, backend: 'js', ...overrides }) as Parameters<typeof solveLinearRecurrence>[0];
  const finite = (len: number, v = 0.25) => new Float32Array(len).fill(v);

  function thrown(fn: () => unknown): ParascanError {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(ParascanError);
      return error as ParascanError;
    }
    throw new Error('expected a ParascanError');
  }

  for (const method of JS_METHODS) {
    it(`${method}: a NaN in jacobians is named with its [b, t, i, j, n] index`, () => {
      const jacobians = finite(2 * 4 * 2 * 2 * 3);
      jacobians[((1 * 4 + 2) * 4 + (1 * 2 + 0)) * 3 + 2] = NaN; // [b=1, t=2, i=1, j=0, n=2]
      const e = thrown(() => solveLinearRecurrence(base({ jacobians, rhs: finite(48), method })));
      expect(e.code).toBe('NON_FINITE');
      expect(e.argument).toBe('jacobians');
      expect(e.message).toBe(
        "solveLinearRecurrence: argument `jacobians` holds a non-finite value, jacobians[b=1, t=2, i=1, j=0, n=2] = NaN, and the output is non-finite. Fix the input. Pass nonFinite: 'allow' to receive the output as it is.",
      );
    });
  }

  it('an Inf in rhs is named with its [b, t, d] index; diagonal and dense name their own axes', () => {
    const rhs = finite(48);
    rhs[(0 * 4 + 3) * 6 + 4] = -Infinity;
    expect(thrown(() => solveLinearRecurrence(base({ jacobians: finite(96), rhs }))).message).toContain('rhs[b=0, t=3, d=4] = -Infinity');
    const jd = finite(2 * 4 * 6);
    jd[(1 * 4 + 1) * 6 + 5] = Infinity;
    expect(thrown(() => solveLinearRecurrence(base({ structure: 'diagonal', blockSize: undefined, jacobians: jd, rhs: finite(48) }))).message).toContain(
      'jacobians[b=1, t=1, d=5] = Infinity',
    );
    const jD = finite(2 * 4 * 36);
    jD[((0 * 4 + 3) * 6 + 2) * 6 + 1] = NaN;
    expect(thrown(() => solveLinearRecurrence(base({ structure: 'dense', blockSize: undefined, jacobians: jD, rhs: finite(48) }))).message).toContain(
      'jacobians[b=0, t=3, i=2, j=1] = NaN',
    );
  });

  it('a NaN in initial is named', () => {
    const initial = finite(12);
    initial[7] = NaN;
    expect(thrown(() => solveLinearRecurrence(base({ jacobians: finite(96), rhs: finite(48), initial }))).message).toContain('initial[b=1, d=1] = NaN');
  });

  it('finite inputs that overflow are reported as an overflow at the first non-finite output', () => {
    for (const direction of ['forward', 'reverse'] as const) {
      for (const method of JS_METHODS) {
        const T = 200;
        const e = thrown(() =>
          solveLinearRecurrence({
            structure: 'diagonal',
            batch: 1,
            length: T,
            size: 2,
            jacobians: new Float32Array(2 * T).fill(3),
            rhs: new Float32Array(2 * T).fill(1),
            direction,
            backend: 'js',
            method,
          }),
        );
        expect(e.code).toBe('NON_FINITE');
        // 3^t overflows float32 (3.4e38) at t ≈ 81; reverse counts from the end.
        const t = direction === 'forward' ? 81 : T - 1 - 81;
        expect(e.message).toContain(`the output became non-finite at out[b=0, t=${t}, d=0] = Infinity although every input is finite: the recurrence overflowed`);
      }
    }
  });

  it('in place, where rhs is overwritten, says that rhs cannot be checked instead of blaming it', () => {
    for (const method of JS_METHODS) {
      const rhs = finite(48);
      rhs[(1 * 4 + 2) * 6 + 3] = NaN; // [b=1, t=2, d=3]
      const e = thrown(() => solveLinearRecurrence(base({ jacobians: finite(96), rhs, out: rhs, method })));
      expect(e.code).toBe('NON_FINITE');
      expect(e.message).toBe(
        "solveLinearRecurrence: the output became non-finite at out[b=1, t=2, d=3] = NaN; `jacobians` and `initial` are finite, and `rhs` cannot be checked because this in-place solve (out === rhs) overwrote it: " +
          'either `rhs` held a NaN/Inf at or before that element, or the recurrence overflowed (products of Jacobians with magnitude > 1 grow without bound over the T=4 steps). ' +
          "Solve into a separate `out` to tell which, or pass nonFinite: 'allow' to receive the output as it is.",
      );
      // A NaN in jacobians is still found in place.
      const jacobians = finite(96);
      jacobians[12 + 5] = NaN; // row t = 1 (row 0 is unused without initial)
      const rhs2 = finite(48);
      expect(thrown(() => solveLinearRecurrence(base({ jacobians, rhs: rhs2, out: rhs2, method }))).argument).toBe('jacobians');
    }
  });

  it("nonFinite: 'allow' returns the output as it is", () => {
    const rhs = finite(48);
    rhs[5] = NaN;
    const out = solveLinearRecurrence(base({ jacobians: finite(96), rhs, nonFinite: 'allow' }));
    expect(Number.isNaN(out[5])).toBe(true);
  });

  it('a NaN in a Jacobian row that the recurrence does not use is not an error', () => {
    // Reverse never uses J_0; forward without initial does not either.
    for (const direction of ['forward', 'reverse'] as const) {
      for (const method of JS_METHODS) {
        const jacobians = finite(96);
        jacobians[0] = NaN; // [b=0, t=0, ...]
        const out = solveLinearRecurrence(base({ jacobians, rhs: finite(48), direction, method }));
        expect(out.every(Number.isFinite)).toBe(true);
      }
    }
  });
});

describe('referenceSolve', () => {
  it('matches hand-computed forward and reverse solutions (block k = 2, one lane)', () => {
    // J_t = [[a, b], [c, d]] per step, T = 2, one batch, N = 1.
    const J = [1, 2, 3, 4, /* t=1 */ 0.5, -1, 2, 0];
    const r = [1, 0, /* t=1 */ 0, 1];
    const x0 = [1, -1];
    const fw = referenceSolve({ batch: 1, length: 2, blockSize: 2, size: 2, jacobians: J, rhs: r, initial: x0 });
    // x_0 = J_0 x0 + r_0 = [1-2+1, 3-4+0] = [0, -1];  x_1 = J_1 x_0 + r_1 = [0+1, 0+1] = [1, 1]
    expect([...fw]).toEqual([0, -1, 1, 1]);
    const rv = referenceSolve({ direction: 'reverse', batch: 1, length: 2, blockSize: 2, size: 2, jacobians: J, rhs: r, initial: x0 });
    // x_1 = r_1 + x0 = [1, 0];  x_0 = r_0 + J_1^T x_1 = [1 + 0.5, 0 - 1] = [1.5, -1]
    expect([...rv]).toEqual([1.5, -1, 1, 0]);
  });

  it('agrees with the js kernels on a dense problem (sanity of the shared layout)', () => {
    const rng = rngFor('reference dense');
    const c: Case = { structure: 'dense', k: 4, B: 1, T: 6, D: 4, dtype: 'float64', direction: 'forward', withInitial: true };
    const inputs = makeInputs(rng, c);
    expectCloseToReference(solveCase(c, inputs, { backend: 'js' }), reference(c, inputs), c, seed, 'js');
  });
});
