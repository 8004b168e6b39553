/** Every kind of bad input gets one ParascanError whose message names the operation, the argument, what was expected and what arrived. */
import { describe, expect, it } from 'vitest';
import { ParascanError } from '@parascan/core';
import { solveLinearRecurrence, solveLinearRecurrenceAsync, type LinearRecurrenceOptions } from '../src/index.js';

const f32 = (n: number) => new Float32Array(n);
/** A valid block problem: B=2, T=4, k=2, N=3 (D=6). */
const ok = (): Record<string, unknown> => ({ structure: 'block', blockSize: 2, batch: 2, length: 4, size: 6, jacobians: f32(96), rhs: f32(48), backend: 'js' });
const OP = 'solveLinearRecurrence';

function errorOf(options: unknown): ParascanError {
  try {
    solveLinearRecurrence(options as LinearRecurrenceOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ParascanError);
    return error as ParascanError;
  }
  throw new Error('expected solveLinearRecurrence to throw');
}

function expectMessage(overrides: Record<string, unknown>, message: string, argument?: string): void {
  const error = errorOf({ ...ok(), ...overrides });
  expect(error.message).toBe(message);
  expect(error.code).toBe('INVALID_ARGUMENT');
  if (argument) expect(error.argument).toBe(argument);
}

describe('the valid baseline', () => {
  it('solves', () => {
    expect(solveLinearRecurrence(ok() as unknown as LinearRecurrenceOptions)).toBeInstanceOf(Float32Array);
  });
});

describe('options object and strings', () => {
  it('rejects a non-object', () => {
    expect(errorOf(5).message).toBe(`${OP}: argument \`options\` must be an options object; got 5.`);
    expect(errorOf(null).message).toBe(`${OP}: argument \`options\` must be an options object; got null.`);
  });
  it('rejects an unknown option (typo)', () => {
    expect(errorOf({ ...ok(), directon: 'reverse' }).message).toBe(
      `${OP}: argument \`options\` must be an object with only the options of ${OP} (structure, blockSize, batch, length, size, jacobians, rhs, initial, out, direction, backend, method, threads, chunkLength, nonFinite); got an unknown option \`directon\`. Check its spelling.`,
    );
  });
  it('rejects unknown structure, direction, backend, method and nonFinite strings', () => {
    expectMessage({ structure: 'blocks' }, `${OP}: argument \`structure\` must be one of 'diagonal', 'block', 'dense'; got the string "blocks".`, 'structure');
    expectMessage({ direction: 'backward' }, `${OP}: argument \`direction\` must be one of 'forward', 'reverse'; got the string "backward".`);
    expectMessage({ backend: 'gpu' }, `${OP}: argument \`backend\` must be one of 'auto', 'js', 'cpu', 'cuda'; got the string "gpu".`);
    expectMessage({ method: 'fast' }, `${OP}: argument \`method\` must be one of 'auto', 'sequential', 'parallel', 'lanes', 'chunked'; got the string "fast".`);
    expectMessage({ nonFinite: 'ignore' }, `${OP}: argument \`nonFinite\` must be one of 'error', 'allow'; got the string "ignore".`);
    expectMessage({ structure: undefined }, `${OP}: argument \`structure\` must be one of 'diagonal', 'block', 'dense'; got undefined.`);
  });
  it('rejects a method the chosen backend does not offer', () => {
    expectMessage(
      { method: 'lanes' },
      `${OP}: argument \`method\` must be one of 'auto', 'sequential', 'parallel' for backend 'js'; got the string "lanes". 'lanes' is a schedule of backend 'cpu'.`,
      'method',
    );
    expectMessage(
      { method: 'chunked' },
      `${OP}: argument \`method\` must be one of 'auto', 'sequential', 'parallel' for backend 'js'; got the string "chunked". 'chunked' is a schedule of backend 'cpu'.`,
    );
  });
  it('rejects bad threads and chunkLength', () => {
    expectMessage({ threads: -1 }, `${OP}: argument \`threads\` must be a non-negative integer (0: the pool default); got -1.`);
    expectMessage({ threads: 1.5 }, `${OP}: argument \`threads\` must be a non-negative integer (0: the pool default); got 1.5.`);
    expectMessage({ chunkLength: '8' }, `${OP}: argument \`chunkLength\` must be a non-negative integer (0: automatic); got the string "8".`);
  });
});

describe('sizes', () => {
  it('rejects non-integer, zero, negative and non-number sizes', () => {
    expectMessage({ batch: 0 }, `${OP}: argument \`batch\` must be a positive integer (B ≥ 1); got 0.`, 'batch');
    expectMessage({ batch: 2.5 }, `${OP}: argument \`batch\` must be a positive integer (B ≥ 1); got 2.5.`);
    expectMessage({ batch: '2' }, `${OP}: argument \`batch\` must be a positive integer (B ≥ 1); got the string "2".`);
    expectMessage({ batch: NaN }, `${OP}: argument \`batch\` must be a positive integer (B ≥ 1); got NaN.`);
    expectMessage({ size: -1 }, `${OP}: argument \`size\` must be a positive integer (D ≥ 1); got -1.`);
    expectMessage({ size: 2 ** 60 }, `${OP}: argument \`size\` must be a positive integer (D ≥ 1); got ${2 ** 60}.`);
    expectMessage({ length: Infinity }, `${OP}: argument \`length\` must be a positive integer (T ≥ 1); got Infinity.`);
  });
  it('says that T = 0 is an error and why', () => {
    expectMessage(
      { length: 0 },
      `${OP}: argument \`length\` must be a positive integer (T ≥ 1); got 0. T = 0 is an empty sequence with nothing to solve: skip the call instead.`,
      'length',
    );
  });
  it('requires blockSize for block, dividing D', () => {
    expectMessage(
      { blockSize: undefined },
      `${OP}: argument \`blockSize\` must be a positive integer dividing \`size\` (D=6), required for structure 'block'; got undefined. Pass e.g. blockSize: 2 for ParaLSTM's [c; h] state.`,
    );
    expectMessage({ blockSize: 4 }, `${OP}: argument \`blockSize\` must be a positive integer dividing \`size\` (D=6); got 4 (6 is not a multiple of 4).`, 'blockSize');
    expectMessage({ blockSize: 0 }, `${OP}: argument \`blockSize\` must be a positive integer dividing \`size\` (D=6); got 0.`);
  });
  it('rejects a blockSize that contradicts diagonal or dense', () => {
    expectMessage({ structure: 'diagonal', blockSize: 2 }, `${OP}: argument \`blockSize\` must be 1 or absent for structure 'diagonal'; got 2. Use structure 'block' for k×k blocks of diagonals.`);
    expectMessage({ structure: 'dense', blockSize: 2 }, `${OP}: argument \`blockSize\` must be equal to \`size\` (D=6) or absent for structure 'dense'; got 2.`);
  });
});

describe('arrays', () => {
  it('spells out the expected shape on a wrong length, per structure', () => {
    expectMessage(
      { jacobians: f32(95) },
      `${OP}: argument \`jacobians\` must be a Float32Array of length 96 ([B=2, T=4, k=2, k=2, N=3]); got a Float32Array of length 95.`,
      'jacobians',
    );
    expectMessage(
      { structure: 'diagonal', blockSize: undefined, jacobians: new Float64Array(96), rhs: new Float64Array(48) },
      `${OP}: argument \`jacobians\` must be a Float64Array of length 48 ([B=2, T=4, D=6]); got a Float64Array of length 96.`,
    );
    expectMessage(
      { structure: 'dense', blockSize: undefined },
      `${OP}: argument \`jacobians\` must be a Float32Array of length 288 ([B=2, T=4, D=6, D=6]); got a Float32Array of length 96.`,
    );
    expectMessage({ rhs: f32(47) }, `${OP}: argument \`rhs\` must be a Float32Array of length 48 ([B=2, T=4, D=6]); got a Float32Array of length 47.`, 'rhs');
    expectMessage(
      { initial: f32(6) },
      `${OP}: argument \`initial\` must be a Float32Array of length 12 ([B=2, D=6], or null for a zero initial state); got a Float32Array of length 6.`,
      'initial',
    );
    expectMessage({ out: f32(49) }, `${OP}: argument \`out\` must be a Float32Array of length 48 ([B=2, T=4, D=6]); got a Float32Array of length 49.`, 'out');
  });
  it('rejects plain arrays and other typed arrays where float arrays are required', () => {
    expectMessage(
      { jacobians: new Array(96).fill(0) },
      `${OP}: argument \`jacobians\` must be a Float32Array or Float64Array of length 96 ([B=2, T=4, k=2, k=2, N=3]); got a plain Array of length 96. Convert it first, e.g. \`Float32Array.from(jacobians)\`.`,
    );
    expectMessage(
      { rhs: new Array(48).fill(0) },
      `${OP}: argument \`rhs\` must be a Float32Array of length 48 ([B=2, T=4, D=6]); got a plain Array of length 48. Convert it first, e.g. \`Float32Array.from(rhs)\`.`,
    );
    expectMessage(
      { jacobians: new Int32Array(96) },
      `${OP}: argument \`jacobians\` must be a Float32Array or Float64Array of length 96 ([B=2, T=4, k=2, k=2, N=3]); got an Int32Array of length 96. Convert it first, e.g. \`Float32Array.from(jacobians)\`.`,
    );
    expectMessage({ jacobians: undefined }, `${OP}: argument \`jacobians\` must be a Float32Array or Float64Array of length 96 ([B=2, T=4, k=2, k=2, N=3]); got undefined.`);
  });
  it('rejects mismatched dtypes, naming the dtype that jacobians fixed', () => {
    expectMessage(
      { rhs: new Float64Array(48) },
      `${OP}: argument \`rhs\` must be a Float32Array of length 48 ([B=2, T=4, D=6]); got a Float64Array of length 48. Every array of one call has the dtype of \`jacobians\` (float32).`,
    );
    expectMessage(
      { initial: new Float64Array(12) },
      `${OP}: argument \`initial\` must be a Float32Array of length 12 ([B=2, D=6], or null for a zero initial state); got a Float64Array of length 12. Every array of one call has the dtype of \`jacobians\` (float32).`,
    );
    expectMessage(
      { out: new Float64Array(48) },
      `${OP}: argument \`out\` must be a Float32Array of length 48 ([B=2, T=4, D=6]); got a Float64Array of length 48. Every array of one call has the dtype of \`jacobians\` (float32).`,
    );
  });
  it('rejects detached buffers', () => {
    for (const name of ['jacobians', 'rhs', 'initial', 'out'] as const) {
      const length = name === 'jacobians' ? 96 : name === 'initial' ? 12 : 48;
      const array = f32(length);
      structuredClone(array.buffer, { transfer: [array.buffer] });
      const error = errorOf({ ...ok(), [name]: array });
      expect(error.argument).toBe(name);
      expect(error.message).toContain(
        `got a Float32Array whose ArrayBuffer is detached (it was transferred to another thread). Pass an array whose buffer is still attached, e.g. a copy made before the transfer.`,
      );
    }
  });
  it('rejects out overlapping an input, except out === rhs', () => {
    const hint = 'Only `out` === `rhs` (an in-place solve) may share memory with an input; pass a separate array.';
    const big = f32(96);
    expectMessage(
      { jacobians: big, out: big.subarray(10, 58) },
      `${OP}: argument \`out\` must be an array whose memory does not overlap \`jacobians\`; got an array that overlaps \`jacobians\` (bytes 40..232 of the same buffer). ${hint}`,
      'out',
    );
    const r = f32(60);
    expectMessage(
      { rhs: r.subarray(0, 48), out: r.subarray(12, 60) },
      `${OP}: argument \`out\` must be an array whose memory does not overlap \`rhs\`; got an array that overlaps \`rhs\` (bytes 48..192 of the same buffer). ${hint}`,
    );
    const i = f32(48);
    expectMessage(
      { initial: i.subarray(0, 12), out: i },
      `${OP}: argument \`out\` must be an array whose memory does not overlap \`initial\`; got an array that overlaps \`initial\` (bytes 0..48 of the same buffer). ${hint}`,
    );
    // Inputs may overlap each other (they are only read); out === rhs is the in-place solve.
    const shared = f32(96);
    const rhs = f32(48);
    expect(solveLinearRecurrence({ ...ok(), jacobians: shared, initial: shared.subarray(0, 12), rhs, out: rhs } as unknown as LinearRecurrenceOptions)).toBe(rhs);
  });
  it('accepts SharedArrayBuffer-backed arrays in the synchronous call', () => {
    const sab = (n: number) => new Float32Array(new SharedArrayBuffer(n * 4));
    const out = sab(48);
    expect(solveLinearRecurrence({ ...ok(), jacobians: sab(96), rhs: sab(48), initial: sab(12), out } as unknown as LinearRecurrenceOptions)).toBe(out);
  });
  it('rejects SharedArrayBuffer-backed arrays in the async call, saying why and what to do', async () => {
    for (const name of ['jacobians', 'rhs', 'initial', 'out'] as const) {
      const length = name === 'jacobians' ? 96 : name === 'initial' ? 12 : 48;
      const shared = new Float32Array(new SharedArrayBuffer(length * 4));
      const promise = solveLinearRecurrenceAsync({ ...ok(), [name]: shared } as unknown as LinearRecurrenceOptions);
      await expect(promise).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', argument: name });
      await expect(promise).rejects.toThrow(
        `solveLinearRecurrenceAsync: argument \`${name}\` must be a Float32Array of length ${length}`,
      );
      await expect(promise).rejects.toThrow(
        `on an ordinary ArrayBuffer; got a Float32Array of length ${length} on a SharedArrayBuffer. solveLinearRecurrenceAsync rejects SharedArrayBuffer-backed arrays: the solve runs on another thread while JavaScript threads may write the same memory, a data race. Copy the data into an ordinary array first (e.g. \`new Float32Array(shared)\` copies), or use the synchronous solveLinearRecurrence, which accepts it.`,
      );
    }
  });
  it('validates before touching any array: nothing is written on error', () => {
    const out = f32(48).fill(7);
    expect(() => solveLinearRecurrence({ ...ok(), out, method: 'lanes' } as unknown as LinearRecurrenceOptions)).toThrow(ParascanError);
    expect(out.every((v) => v === 7)).toBe(true);
  });
});
