/**
 * mode 'auto': the cost model's choices (src/auto.ts) follow its documented rules, and a forward with
 * mode 'auto' reports the mode it ran. (That the choice is the fastest is measured, not tested: bench
 * case cells-t*, rows 'auto' with the target 'auto >= best/1.1'.)
 */
import { describe, expect, it } from 'vitest';
import { chooseMode, modeCost, ParaGRU, type AutoInput } from '../src/index.js';

const base: AutoInput = { backend: 'cpu', batch: 1, length: 1 << 14, size: 64, blocks: 1, dtype: 'float32', threads: 2 };

describe('auto mode cost model', () => {
  it('js is always sequential (the js Newton modes only add work on one thread)', () => {
    for (const batch of [1, 8]) for (const size of [1, 16, 256]) expect(chooseMode({ ...base, backend: 'js', batch, size })).toBe('sequential');
  });
  it('on 2 cores with D >= 16 the sequential loop wins: it already uses both threads over lanes or rows', () => {
    for (const batch of [1, 8]) for (const size of [16, 64, 256]) for (const length of [1024, 1 << 18]) {
      expect(chooseMode({ ...base, batch, size, length })).toBe('sequential');
    }
  });
  it('with many threads and few rows × lanes, parallel-in-time (fused) wins', () => {
    expect(chooseMode({ ...base, threads: 16, batch: 1, size: 4, length: 1 << 16 })).toBe('fused');
    // ...but not when rows already fill the threads
    expect(chooseMode({ ...base, threads: 16, batch: 64, size: 64 })).toBe('sequential');
  });
  it('costs grow with the problem and the Newton mode costs most', () => {
    expect(modeCost('sequential', { ...base, length: 2048 })).toBeGreaterThan(modeCost('sequential', { ...base, length: 1024 }));
    expect(modeCost('parallel', base)).toBeGreaterThan(modeCost('fused', base));
    expect(modeCost('fused', { ...base, backend: 'js' })).toBe(Infinity);
  });
  it("forward with mode 'auto' reports what ran and equals that mode's answer", () => {
    const cell = new ParaGRU({ inputSize: 4, stateSize: 4, seed: 3 });
    const x = Float32Array.from({ length: 2 * 50 * 4 }, (_, i) => Math.sin(i));
    const r = cell.forward(x, { batch: 2, mode: 'auto' });
    expect(r.mode).toBe('sequential');
    expect(r.schedule).toBeNull();
    expect(Array.from(r.y)).toEqual(Array.from(cell.forward(x, { batch: 2, mode: 'sequential' }).y));
    expect(() => cell.forward(x, { batch: 2, mode: 'fused', backend: 'cpu', fusedSchedule: 'diagonal' as never })).toThrow(/options\.fusedSchedule/);
  });
});
