/**
 * float64 central finite differences against backward (x, every parameter, h0), and the JVP /
 * closed-form Jacobian / VJP triangle, for both cells.
 */
import { describe, expect, it } from 'vitest';
import type { FloatArray } from '@parascan/core';
import { caseRng, makeCell, normal, type CellName } from './helpers.js';

const B = 2;
const T = 6;
const D = 4;
const Din = 6;
const H = 2;

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

describe.each(['ParaGRU', 'ParaLSTM'] as CellName[])('%s gradients (float64)', (cellName) => {
  it('backward == central finite differences for x, A, B, b, (C), h0 and dFinalState', () => {
    const { seed, rng } = caseRng(`${cellName} fd`);
    const cell = makeCell(cellName, { inputSize: Din, stateSize: D, heads: H, dtype: 'float64', seed: rng.int(0, 2 ** 30) });
    // Larger weights than at initialisation so that every term of the Jacobian matters.
    const params = cell.parameters();
    for (const k of Object.keys(params)) for (let i = 0; i < params[k]!.length; i++) params[k]![i] = rng.normal(0, 0.8);
    cell.loadParameters(params);
    const S = cell.stateWidth;
    const x = normal(rng, 'float64', B * T * Din);
    const h0 = normal(rng, 'float64', B * S, 0.5);
    const wy = normal(rng, 'float64', B * T * D);
    const wf = normal(rng, 'float64', B * S);
    const loss = (xx: FloatArray, hh: FloatArray): number => {
      const r = cell.forward(xx, { batch: B, mode: 'sequential', h0: hh });
      return dot(r.y, wy) + dot(r.finalState, wf);
    };
    const fwd = cell.forward(x, { batch: B, mode: 'parallel', h0 });
    const g = cell.backward(wy, fwd.cache, { dFinalState: wf });
    const eps = 1e-6;
    const check = (label: string, arr: FloatArray, analytic: FloatArray, f: () => number): void => {
      for (let i = 0; i < arr.length; i++) {
        const keep = arr[i]!;
        arr[i] = keep + eps;
        const up = f();
        arr[i] = keep - eps;
        const down = f();
        arr[i] = keep;
        const fd = (up - down) / (2 * eps);
        const err = Math.abs(fd - analytic[i]!);
        if (err > 1e-7 + 1e-6 * Math.abs(fd)) {
          throw new Error(`${cellName} d${label}[${i}]: backward ${analytic[i]}, finite difference ${fd} (seed ${seed}, PARASCAN_SEED=${seed})`);
        }
      }
    };
    check('x', x, g.dx, () => loss(x, h0));
    check('h0', h0, g.dh0, () => loss(x, h0));
    for (const name of Object.keys(params)) {
      const p = cell.parameters();
      const arr = p[name]!;
      check(name, arr, g.grads[name]!, () => {
        cell.loadParameters(p);
        return loss(x, h0);
      });
      cell.loadParameters(params);
    }
    expect(Object.keys(g.grads).sort()).toEqual(cellName === 'ParaLSTM' ? ['A', 'B', 'C', 'b'] : ['A', 'B', 'b']);
  });

  it('closed-form Jacobian == JVP (tangent propagation) == finite differences, and VJP is its adjoint', () => {
    const { seed, rng } = caseRng(`${cellName} jvp`);
    const cell = makeCell(cellName, { inputSize: Din, stateSize: D, heads: H, dtype: 'float64', seed: rng.int(0, 2 ** 30) });
    const params = cell.parameters();
    for (const k of Object.keys(params)) for (let i = 0; i < params[k]!.length; i++) params[k]![i] = rng.normal(0, 0.8);
    cell.loadParameters(params);
    const S = cell.stateWidth;
    const k = S / D;
    const M = B * T;
    const x = normal(rng, 'float64', M * Din);
    const prev = normal(rng, 'float64', M * S, 0.7);
    const v = normal(rng, 'float64', M * S);
    const u = normal(rng, 'float64', M * S);
    const jac = cell.jacobian(x, prev, { batch: B });
    expect(jac.length).toBe(M * k * k * D);
    const jv = cell.jvp(x, prev, v, { batch: B });
    // J v from the closed-form blocks
    for (let m = 0; m < M; m++) {
      for (let i = 0; i < k; i++) {
        for (let n = 0; n < D; n++) {
          let s = 0;
          for (let j = 0; j < k; j++) s += jac[((m * k + i) * k + j) * D + n]! * v[m * S + j * D + n]!;
          const got = jv[m * S + i * D + n]!;
          if (Math.abs(got - s) > 1e-13 * (1 + Math.abs(s))) throw new Error(`${cellName}: jvp ${got} vs closed-form J·v ${s} at m=${m} i=${i} n=${n} (seed ${seed})`);
        }
      }
    }
    // finite differences of evaluate along v
    const eps = 1e-6;
    const plus = prev.slice();
    const minus = prev.slice();
    for (let i = 0; i < plus.length; i++) {
      plus[i] += eps * v[i]!;
      minus[i] -= eps * v[i]!;
    }
    const fp = cell.evaluate(x, plus, { batch: B });
    const fm = cell.evaluate(x, minus, { batch: B });
    for (let i = 0; i < jv.length; i++) {
      const fd = (fp[i]! - fm[i]!) / (2 * eps);
      if (Math.abs(fd - jv[i]!) > 1e-7 + 1e-6 * Math.abs(fd)) throw new Error(`${cellName}: jvp[${i}] ${jv[i]} vs finite difference ${fd} (seed ${seed})`);
    }
    // <u, J v> == <J^T u, v>, point by point
    const vj = cell.vjp(x, prev, u, { batch: B });
    for (let m = 0; m < M; m++) {
      const a = dot(u.subarray(m * S, (m + 1) * S), jv.subarray(m * S, (m + 1) * S));
      const b = dot(vj.dprev.subarray(m * S, (m + 1) * S), v.subarray(m * S, (m + 1) * S));
      expect(Math.abs(a - b)).toBeLessThan(1e-12 * (1 + Math.abs(a)));
    }
    // VJP to x against finite differences of <u, f>
    const fx = (xx: FloatArray): number => dot(u, cell.evaluate(xx, prev, { batch: B }));
    for (let i = 0; i < x.length; i += 5) {
      const keep = x[i]!;
      x[i] = keep + eps;
      const up = fx(x);
      x[i] = keep - eps;
      const down = fx(x);
      x[i] = keep;
      const fd = (up - down) / (2 * eps);
      expect(Math.abs(fd - vj.dx[i]!), `vjp dx[${i}] seed ${seed}`).toBeLessThan(1e-7 + 1e-6 * Math.abs(fd));
    }
  });
});
