/**
 * The non-finite policy.
 *
 * Every kernel reports whether a NaN or ±Inf reached the output (the native addon returns status
 * 'non-finite'; the js kernels scan their output). Nothing is checked on the inputs up front, so a
 * finite solve costs nothing extra. When the output is non-finite:
 *
 *   nonFinite: 'error' (default)  locate the cause and throw a ParascanError with code NON_FINITE:
 *       - the first non-finite INPUT element, scanning `jacobians` (the rows the recurrence uses),
 *         then `rhs`, then `initial`, named with its [b, t, …] index; or,
 *       - if every input is finite, the recurrence overflowed (products of Jacobians with
 *         magnitude > 1 grew past the dtype's range): the message names the first non-finite
 *         output element in the order the recurrence computes it.
 *     `out` has been written all the same. An in-place solve (out === rhs) has overwritten `rhs`,
 *     so it cannot be scanned: the message then says that either `rhs` held a NaN/Inf or the
 *     recurrence overflowed (checking rhs up front would cost every in-place solve a full pass).
 *   nonFinite: 'allow'  return the output as it is.
 */
import { nonFinite, unravelIndex, type FloatArray } from '@parascan/core';
import type { LinearRecurrenceProblem } from './types.js';
import { jacobianAxes } from './validate.js';

function firstNonFinite(array: FloatArray, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const v = array[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}

function describeNumber(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

function formatAt(name: string, axes: string[], index: number[]): string {
  return `${name}[${index.map((v, i) => `${axes[i]}=${v}`).join(', ')}]`;
}

/** The NON_FINITE error for a solve whose output holds a NaN/Inf. */
export function nonFiniteError(p: LinearRecurrenceProblem): Error {
  const { batch: B, length: T, blockSize: k, lanes: N, size: D } = p;
  const hintAllow = "Pass nonFinite: 'allow' to receive the output as it is.";
  const jacRow = k * k * N;
  const jacSizes = p.structure === 'diagonal' ? [B, T, D] : p.structure === 'dense' ? [B, T, D, D] : [B, T, k, k, N];
  const jacNames = ['b', 't', ...jacobianAxes(p.structure)];
  // Row 0 of each batch's Jacobians is unused by the reverse recurrence, and by the forward one without `initial`.
  const row0Used = !p.reverse && p.initial !== null;

  const reportJac = (i: number) =>
    nonFinite(
      p.operation,
      `argument \`jacobians\` holds a non-finite value, ${formatAt('jacobians', jacNames, unravelIndex(i, jacSizes))} = ${describeNumber(p.jacobians[i]!)}, and the output is non-finite`,
      `Fix the input. ${hintAllow}`,
      'jacobians',
    );

  for (let b = 0; b < B; b++) {
    const start = b * T * jacRow + (row0Used ? 0 : jacRow);
    const i = firstNonFinite(p.jacobians, start, (b + 1) * T * jacRow);
    if (i >= 0) return reportJac(i);
  }
  const inPlace = p.out === p.rhs;
  const r = inPlace ? -1 : firstNonFinite(p.rhs, 0, p.rhs.length);
  if (r >= 0) {
    return nonFinite(
      p.operation,
      `argument \`rhs\` holds a non-finite value, ${formatAt('rhs', ['b', 't', 'd'], unravelIndex(r, [B, T, D]))} = ${describeNumber(p.rhs[r]!)}, and the output is non-finite`,
      `Fix the input. ${hintAllow}`,
      'rhs',
    );
  }
  if (p.initial) {
    const i = firstNonFinite(p.initial, 0, p.initial.length);
    if (i >= 0) {
      return nonFinite(
        p.operation,
        `argument \`initial\` holds a non-finite value, ${formatAt('initial', ['b', 'd'], unravelIndex(i, [B, D]))} = ${describeNumber(p.initial[i]!)}, and the output is non-finite`,
        `Fix the input. ${hintAllow}`,
        'initial',
      );
    }
  }
  // Rows the recurrence does not need, in case a backend multiplied them all the same.
  if (!row0Used) {
    for (let b = 0; b < B; b++) {
      const i = firstNonFinite(p.jacobians, b * T * jacRow, b * T * jacRow + jacRow);
      if (i >= 0) return reportJac(i);
    }
  }
  // Every input is finite: the recurrence overflowed. Name the first non-finite output in the
  // order it is computed (t ascending forward, descending in reverse).
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < T; s++) {
      const t = p.reverse ? T - 1 - s : s;
      const o = (b * T + t) * D;
      const i = firstNonFinite(p.out, o, o + D);
      if (i >= 0 && inPlace) {
        return nonFinite(
          p.operation,
          `the output became non-finite at ${formatAt('out', ['b', 't', 'd'], [b, t, i - o])} = ${describeNumber(p.out[i]!)}; \`jacobians\` and \`initial\` are finite, ` +
            `and \`rhs\` cannot be checked because this in-place solve (out === rhs) overwrote it: either \`rhs\` held a NaN/Inf at or before that element, ` +
            `or the recurrence overflowed (products of Jacobians with magnitude > 1 grow without bound over the T=${T} steps)`,
          `Solve into a separate \`out\` to tell which, or pass nonFinite: 'allow' to receive the output as it is.`,
        );
      }
      if (i >= 0) {
        return nonFinite(
          p.operation,
          `the output became non-finite at ${formatAt('out', ['b', 't', 'd'], [b, t, i - o])} = ${describeNumber(p.out[i]!)} although every input is finite: ` +
            `the recurrence overflowed (products of Jacobians with magnitude > 1 grow without bound over the T=${T} steps)`,
          `Keep the Jacobians' magnitude at or below 1 (e.g. damp the Newton step or rescale), use float64, or pass nonFinite: 'allow' to receive the output as it is.`,
        );
      }
    }
  }
  return nonFinite(p.operation, 'the backend reported a non-finite output, but neither the inputs nor the output hold a NaN or Inf', 'This is a bug in the backend; please report it.');
}
