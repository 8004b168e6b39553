/**
 * The native backends (cpu: parascan.node, cuda: parascan_cuda.node) against the float64 reference,
 * on the same sweep as the js backend, plus chunk boundaries, thread counts, every instruction set
 * the CPU offers, async, in place, the reverse identity and the non-finite status. Each block runs
 * only where its addon loads (and, for CUDA, sees a device); otherwise it is skipped and the reason
 * is printed.
 */
import { describe, expect, it } from 'vitest';
import { ParascanError, Rng, type Dtype } from '@parascan/core';
import { testSeed } from '@parascan/core/testing';
import { tryLoadNativeAddon, type NativeAddon, type NativeCpuInfo } from '@parascan/native';
import { getLinearRecurrenceKernel, solveLinearRecurrence, solveLinearRecurrenceAsync, type Direction, type Method } from '../src/index.js';
import {
  STRUCTURE_SPECS,
  describeCase,
  expectCloseToReference,
  expectZerosCut,
  hashString,
  longCases,
  makeInputs,
  reference,
  reverseAsForward,
  sweepCases,
  timeReversed,
  type Case,
} from './helpers.js';
import { solveCase } from './js-sweep.js';

const seed = testSeed();
const DTYPES: Dtype[] = ['float32', 'float64'];
const DIRECTIONS: Direction[] = ['forward', 'reverse'];

function backendState(name: 'cpu' | 'cuda'): { available: boolean; why: string } {
  const availability = getLinearRecurrenceKernel(name)!.availability();
  return availability.available ? { available: true, why: '' } : { available: false, why: availability.error.message };
}
const cpu = backendState('cpu');
const cuda = backendState('cuda');
if (!cpu.available) console.warn(`[native.test] backend 'cpu' tests skipped: the addon is unavailable.\n${cpu.why}`);
if (!cuda.available) console.warn(`[native.test] backend 'cuda' tests skipped: ${cuda.why}`);

function nativeSweep(backend: 'cpu' | 'cuda', methods: Method[]): void {
  for (const direction of DIRECTIONS) {
    for (const spec of STRUCTURE_SPECS) {
      for (const dtype of DTYPES) {
        it(`${direction} ${spec.name} ${dtype}: ${methods.join(', ')} match the float64 reference over T, B, lanes, ±initial`, () => {
          const rng = new Rng(Math.floor(seed / 2) + hashString(`${backend} ${direction} ${spec.name} ${dtype}`));
          for (const c of sweepCases(spec, dtype, direction)) {
            const inputs = makeInputs(rng, c);
            const ref = reference(c, inputs);
            for (const method of methods) {
              const out = solveCase(c, inputs, { backend, method });
              expectCloseToReference(out, ref, c, seed, `${backend} ${method}`);
              expectZerosCut(out, c, inputs, seed, `${backend} ${method}`);
            }
          }
        });
      }
    }
    it(`${direction} diagonal, T = 2^16 + 3: ${methods.join(', ')} match the float64 reference`, () => {
      const rng = new Rng(Math.floor(seed / 2) + hashString(`${backend} ${direction} long`));
      for (const dtype of DTYPES) {
        for (const c of longCases(dtype, direction)) {
          const inputs = makeInputs(rng, c);
          const ref = reference(c, inputs);
          for (const method of methods) {
            const out = solveCase(c, inputs, { backend, method });
            expectCloseToReference(out, ref, c, seed, `${backend} ${method}`);
            expectZerosCut(out, c, inputs, seed, `${backend} ${method}`);
          }
        }
      }
    });
  }

  it('async gives the result of the synchronous call', async () => {
    const rng = new Rng(Math.floor(seed / 2) + hashString(`${backend} async`));
    for (const spec of STRUCTURE_SPECS) {
      for (const dtype of DTYPES) {
        const s = spec.sizes[2]!;
        const k = spec.k(s);
        const D = spec.structure === 'dense' ? s : k * s;
        const c: Case = { structure: spec.structure, k, B: 3, T: 200, D, dtype, direction: rng.bernoulli(0.5) ? 'forward' : 'reverse', withInitial: true };
        const inputs = makeInputs(rng, c);
        const ref = reference(c, inputs);
        const sync = solveCase(c, inputs, { backend });
        const async = await solveLinearRecurrenceAsync({
          structure: c.structure,
          blockSize: c.structure === 'block' ? k : undefined,
          batch: c.B,
          length: c.T,
          size: D,
          jacobians: inputs.jacobians,
          rhs: inputs.rhs,
          initial: inputs.initial,
          direction: c.direction,
          backend,
        });
        expectCloseToReference(async, ref, c, seed, `${backend} async`);
        expectCloseToReference(sync, ref, c, seed, `${backend} sync`);
      }
    }
  });

  it('solves in place (out === rhs) like with a separate out', () => {
    const rng = new Rng(Math.floor(seed / 2) + hashString(`${backend} in place`));
    for (const spec of STRUCTURE_SPECS) {
      for (const direction of DIRECTIONS) {
        for (const method of methods) {
          const s = spec.sizes[1]!;
          const k = spec.k(s);
          const D = spec.structure === 'dense' ? s : k * s;
          const c: Case = { structure: spec.structure, k, B: 2, T: 130, D, dtype: 'float64', direction, withInitial: true };
          const inputs = makeInputs(rng, c);
          const ref = reference(c, inputs);
          const rhs = inputs.rhs.slice();
          const out = solveCase(c, { ...inputs, rhs }, { backend, method, out: rhs });
          expect(out).toBe(rhs);
          expectCloseToReference(out, ref, c, seed, `${backend} ${method} in place`);
        }
      }
    }
  });

  it('satisfies reverse = time-reversed forward with transposed, shifted Jacobians', () => {
    const rng = new Rng(Math.floor(seed / 2) + hashString(`${backend} identity`));
    for (const spec of STRUCTURE_SPECS) {
      for (const dtype of DTYPES) {
        const s = spec.sizes[1]!;
        const k = spec.k(s);
        const D = spec.structure === 'dense' ? s : k * s;
        const c: Case = { structure: spec.structure, k, B: 2, T: 65, D, dtype, direction: 'reverse', withInitial: true };
        const inputs = makeInputs(rng, c);
        const fw = reverseAsForward(c, inputs);
        const rev = solveCase(c, inputs, { backend });
        const fwd = solveCase(fw.forward, fw.inputs, { backend });
        const fwdRef = reference(fw.forward, fw.inputs);
        const revRef = timeReversed(fwdRef, c.B, c.T, D);
        expectCloseToReference(fwd, fwdRef, fw.forward, seed, `${backend} forward of the transformed problem`);
        expectCloseToReference(rev, revRef, c, seed, `${backend} reverse vs the time-reversed forward reference`);
      }
    }
  });

  it('reports a non-finite input and an overflow through the non-finite status', () => {
    const jacobians = new Float32Array(2 * 300).fill(3);
    const rhs = new Float32Array(2 * 300).fill(1);
    const options = { structure: 'diagonal', batch: 1, length: 300, size: 2, jacobians, rhs, backend } as const;
    expect(() => solveLinearRecurrence(options)).toThrow(/the output became non-finite at out\[b=0, t=\d+, d=\d\] = (-?Infinity|NaN) although every input is finite: the recurrence overflowed/);
    const bad = rhs.slice();
    bad[2 * 7 + 1] = NaN;
    let error: unknown;
    try {
      solveLinearRecurrence({ ...options, jacobians: new Float32Array(600).fill(0.5), rhs: bad });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ParascanError);
    expect((error as ParascanError).message).toContain('argument `rhs` holds a non-finite value, rhs[b=0, t=7, d=1] = NaN');
    const allowed = solveLinearRecurrence({ ...options, jacobians: new Float32Array(600).fill(0.5), rhs: bad, nonFinite: 'allow' });
    expect(Number.isNaN(allowed[2 * 7 + 1])).toBe(true);
  });
}

describe.skipIf(!cpu.available)(`backend 'cpu' (seed ${seed})`, () => {
  const addon = (cpu.available ? (tryLoadNativeAddon('cpu') as { addon: NativeAddon }).addon : undefined) as NativeAddon;

  nativeSweep('cpu', ['auto', 'sequential', 'lanes', 'chunked']);

  it('chunked: chunk boundaries ±1 and thread counts', () => {
    const rng = new Rng(Math.floor(seed / 2) + hashString('cpu chunks'));
    for (const dtype of DTYPES) {
      for (const direction of DIRECTIONS) {
        for (const [structure, k, D] of [['diagonal', 1, 5], ['block', 2, 6], ['dense', 4, 4]] as const) {
          for (const T of [63, 64, 65, 127, 128, 129, 1000]) {
            const c: Case = { structure, k, B: 3, T, D, dtype, direction, withInitial: true };
            const inputs = makeInputs(rng, c);
            const ref = reference(c, inputs);
            for (const chunkLength of [0, 1, 2, 7, 64]) {
              for (const threads of [0, 1, 2, 3]) {
                const out = solveCase(c, inputs, { backend: 'cpu', method: 'chunked', chunkLength, threads });
                expectCloseToReference(out, ref, c, seed, `cpu chunked chunkLength=${chunkLength} threads=${threads}`);
              }
            }
          }
        }
      }
    }
  });

  it('every instruction set this CPU offers gives the same answers (reduced sweep)', () => {
    const info = addon.info() as NativeCpuInfo;
    if (!addon.setIsa) return;
    const rng = new Rng(Math.floor(seed / 2) + hashString('cpu isa'));
    try {
      for (const spec of STRUCTURE_SPECS) {
        for (const dtype of DTYPES) {
          for (const direction of DIRECTIONS) {
            for (const T of [1, 17, 65, 300]) {
              const s = spec.sizes[2]!;
              const k = spec.k(s);
              const D = spec.structure === 'dense' ? s : k * s;
              const c: Case = { structure: spec.structure, k, B: 3, T, D, dtype, direction, withInitial: T % 2 === 1 };
              const inputs = makeInputs(rng, c);
              const ref = reference(c, inputs);
              for (const isa of info.availableIsas) {
                addon.setIsa(isa);
                for (const method of ['sequential', 'lanes', 'chunked'] as const) {
                  const out = solveCase(c, inputs, { backend: 'cpu', method });
                  expectCloseToReference(out, ref, c, seed, `cpu ${method} isa=${isa}`);
                }
              }
            }
          }
        }
      }
    } finally {
      addon.setIsa(info.isa);
    }
  });
});

describe.skipIf(!cuda.available)(`backend 'cuda' (seed ${seed})`, () => {
  nativeSweep('cuda', ['auto']);
});

describe('native availability', () => {
  it('is reported, never thrown, by the kernels', () => {
    for (const name of ['cpu', 'cuda'] as const) {
      const availability = getLinearRecurrenceKernel(name)!.availability();
      if (!availability.available) {
        expect(availability.error).toBeInstanceOf(ParascanError);
        expect(availability.error.code).toBe('NATIVE_UNAVAILABLE');
      }
    }
    expect(describeCase({ structure: 'diagonal', k: 1, B: 1, T: 1, D: 1, dtype: 'float32', direction: 'forward', withInitial: false })).toBe('diagonal float32 forward B=1 T=1 D=1');
  });
});
