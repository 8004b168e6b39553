/**
 * Newton's method over a whole sequence (DESIGN §1): each step evaluates the cell and its
 * structured Jacobian at every t (independent), then solves the linear recurrence
 * δ_t = J_t δ_{t-1} + r_t with solveLinearRecurrence (so the native backends accelerate the
 * reduction). Picard (J taken as 0) and the sequential solve share the same system interface.
 *
 * Divergence (a NaN/Inf residual, or a residual that grows two iterations in a row) is never
 * returned silently: policy 'fallback' solves sequentially, 'damp' restarts from the best iterate
 * with a halved ω, 'error' throws a DIVERGED ParascanError. The diagnostics say which happened.
 * After convergence, Newton checks the size of the step that would follow ('ill-conditioned': the
 * sequential loop runs, or 'error' throws).
 */
import {
  EPSILON,
  ParascanError,
  allocate,
  checkKnownKeys,
  checkOneOf,
  checkOptionsObject,
  checkPositiveInteger,
  describeValue,
  invalidArgument,
  nonFinite,
  type FloatArray,
} from '@parascan/core';
import { solveLinearRecurrence, solveLinearRecurrenceAsync } from '../solve.js';
import type { LinearRecurrenceOptions } from '../types.js';
import type {
  DivergencePolicy,
  MaxIterationsPolicy,
  NewtonControls,
  NewtonDiagnostics,
  NewtonResult,
  NewtonSolveOptions,
  NewtonSystem,
} from './types.js';

const CONTROL_KEYS = ['maxIterations', 'absTol', 'relTol', 'damping', 'onDivergence', 'onMaxIterations', 'minDamping', 'backend'] as const;

interface Resolved {
  maxIterations: number;
  absTol: number;
  relTol: number;
  damping: number;
  onDivergence: DivergencePolicy;
  onMaxIterations: MaxIterationsPolicy;
  minDamping: number;
  backend: 'auto' | 'js' | 'cpu' | 'cuda';
}

function checkNonNegative(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalidArgument(op, name, 'a finite number ≥ 0', describeValue(v));
  return v;
}

function checkUnitInterval(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v > 0 && v <= 1)) throw invalidArgument(op, name, 'a number in (0, 1]', describeValue(v));
  return v;
}

/** Validates the controls (unknown keys, ranges) and fills the defaults. */
export function resolveNewtonControls(op: string, controls: unknown, system: NewtonSystem, method: 'newton' | 'picard'): Resolved {
  const c = controls === undefined ? {} : checkOptionsObject(op, 'controls', controls);
  checkKnownKeys(op, 'controls', c, CONTROL_KEYS);
  const eps = EPSILON[system.dtype];
  const defaultMax = method === 'newton' ? 30 : system.length + 1;
  return {
    maxIterations: c['maxIterations'] === undefined ? defaultMax : checkPositiveInteger(op, 'controls.maxIterations', c['maxIterations']),
    absTol: c['absTol'] === undefined ? 4 * eps : checkNonNegative(op, 'controls.absTol', c['absTol']),
    relTol: c['relTol'] === undefined ? 0 : checkNonNegative(op, 'controls.relTol', c['relTol']),
    damping: c['damping'] === undefined ? 1 : checkUnitInterval(op, 'controls.damping', c['damping']),
    onDivergence: c['onDivergence'] === undefined ? 'fallback' : checkOneOf(op, 'controls.onDivergence', c['onDivergence'], ['fallback', 'damp', 'error'] as const),
    onMaxIterations:
      c['onMaxIterations'] === undefined ? 'fallback' : checkOneOf(op, 'controls.onMaxIterations', c['onMaxIterations'], ['fallback', 'return', 'error'] as const),
    minDamping: c['minDamping'] === undefined ? 1 / 64 : checkUnitInterval(op, 'controls.minDamping', c['minDamping']),
    backend: c['backend'] === undefined ? 'auto' : checkOneOf(op, 'controls.backend', c['backend'], ['auto', 'js', 'cpu', 'cuda'] as const),
  };
}

function checkSystem(op: string, system: NewtonSystem, initial: FloatArray | null | undefined): void {
  if (typeof system !== 'object' || system === null || typeof system.evaluate !== 'function' || typeof system.sequential !== 'function') {
    throw invalidArgument(op, 'system', 'a NewtonSystem (evaluate, sequential, dtype, batch, length, size, structure)', describeValue(system));
  }
  checkPositiveInteger(op, 'system.batch', system.batch);
  checkPositiveInteger(op, 'system.length', system.length);
  checkPositiveInteger(op, 'system.size', system.size);
  checkOneOf(op, 'system.structure', system.structure, ['diagonal', 'block'] as const);
  if (system.structure === 'block') {
    const k = checkPositiveInteger(op, 'system.blockSize', system.blockSize);
    if (system.size % k !== 0) throw invalidArgument(op, 'system.blockSize', `a divisor of system.size (${system.size})`, `${k}`);
  }
  if (initial != null) {
    const want = system.batch * system.size;
    const ok = system.dtype === 'float32' ? initial instanceof Float32Array : initial instanceof Float64Array;
    if (!ok || initial.length !== want) {
      throw invalidArgument(op, 'initial', `a ${system.dtype === 'float32' ? 'Float32Array' : 'Float64Array'} of length ${want} ([B=${system.batch}, S=${system.size}])`, describeValue(initial));
    }
  }
}

function jacobianLength(system: NewtonSystem): number {
  const n = system.batch * system.length * system.size;
  return system.structure === 'diagonal' ? n : n * (system.blockSize ?? 1);
}

/** r = f − h into `r`; returns max|r| (NaN when any element is non-finite). */
function residual(f: FloatArray, h: FloatArray, r: FloatArray): number {
  let m = 0;
  for (let i = 0; i < h.length; i++) {
    const d = f[i]! - h[i]!;
    r[i] = d;
    const a = Math.abs(d);
    if (a > m) m = a;
    else if (!(a <= m)) return NaN; // NaN (a comparison with NaN is false)
  }
  return m === Infinity ? NaN : m;
}

/**
 * The largest next step after convergence that still counts as converged (cells.h's twin): 16× the
 * tolerance asked for (a loose tolerance asks for a loose answer), never below the rounding of a
 * scan of `length` steps, 8·eps·√T·max(1, max|h|) (the agreement DESIGN §6 demands between modes).
 */
export function acceptableStep(tolerance: number, eps: number, length: number, maxAbsState: number): number {
  return Math.max(16 * tolerance, 8 * eps * Math.sqrt(length) * Math.max(1, maxAbsState));
}

/** max |x|, NaN if any element is not finite. */
function maxAbsOrNaN(x: FloatArray): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a > m) m = a;
    else if (!(a <= m)) return NaN;
  }
  return m === Infinity ? NaN : m;
}

function maxAbs(h: FloatArray): number {
  let m = 0;
  for (let i = 0; i < h.length; i++) {
    const a = Math.abs(h[i]!);
    if (a > m) m = a;
  }
  return m;
}

function runSequential<A extends FloatArray>(op: string, system: NewtonSystem<A>, initial: A | null, out: A): void {
  system.sequential(initial, out);
  checkSequential(op, system, out);
}

function checkSequential(op: string, system: NewtonSystem, out: FloatArray): void {
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) {
      throw nonFinite(op, `the sequential recurrence produced a non-finite state at flat index ${i} ([B, T, S] = [${system.batch}, ${system.length}, ${system.size}])`, 'The cell overflows for these inputs and parameters.');
    }
  }
}

/**
 * The work the iteration hands to its driver: the sync driver runs it in place, the async one off
 * the main thread (or between event-loop turns). One body, so both behave identically.
 */
type Work<A extends FloatArray> =
  | { kind: 'evaluate'; states: A; initial: A | null; out: A; jacobians: A | null }
  | { kind: 'solve'; options: LinearRecurrenceOptions }
  | { kind: 'sequential'; initial: A | null; out: A };

function* iterate<A extends FloatArray>(
  op: string,
  method: 'newton' | 'picard',
  system: NewtonSystem<A>,
  options: NewtonSolveOptions<A>,
): Generator<Work<A>, NewtonResult<A>, void> {
  const opts = options === undefined ? {} : checkOptionsObject(op, 'options', options);
  checkKnownKeys(op, 'options', opts, ['initial', 'controls']);
  const initial = (options?.initial ?? null) as A | null;
  checkSystem(op, system, initial);
  const ctl = resolveNewtonControls(op, options?.controls, system, method);
  const { dtype, batch, length, size } = system;
  const n = batch * length * size;
  const h = allocate(dtype, n) as A;
  const f = allocate(dtype, n) as A;
  const r = allocate(dtype, n) as A;
  const jac = method === 'newton' ? (allocate(dtype, jacobianLength(system)) as A) : null;
  const eps = EPSILON[dtype];

  // First guess: f(0, x_t) at every t (f(initial, x_0) at t = 0).
  yield { kind: 'evaluate', states: allocate(dtype, n) as A, initial, out: h, jacobians: null };

  const diag: NewtonDiagnostics = {
    method,
    iterations: 0,
    residuals: [],
    termination: 'converged',
    fellBack: false,
    reason: null,
    dampings: 0,
    damping: ctl.damping,
    stalled: false,
    tolerance: 0,
    errorEstimate: 0,
  };
  let omega = ctl.damping;
  let best: A | null = null;
  let bestRes = Infinity;
  let growth = 0;
  let tolerance = ctl.absTol;
  // δ_t = J_t δ_{t-1} + r_t, in place in r.
  const stepSolve = (jacobians: A, rhs: A): LinearRecurrenceOptions => ({
    structure: system.structure,
    blockSize: system.structure === 'block' ? system.blockSize! : 1,
    batch,
    length,
    size,
    jacobians,
    rhs,
    out: rhs,
    backend: ctl.backend,
    nonFinite: 'allow',
  });

  const fallBack = function* (reason: NewtonDiagnostics['reason']): Generator<Work<A>, NewtonResult<A>, void> {
    yield { kind: 'sequential', initial, out: h };
    checkSequential(op, system, h);
    diag.termination = 'fallback-sequential';
    diag.fellBack = true;
    diag.reason = reason;
    diag.damping = omega;
    return { states: h, diagnostics: diag };
  };
  const diverged = (reason: 'non-finite' | 'growing', res: number): ParascanError =>
    new ParascanError(
      'DIVERGED',
      `${op}: the ${method} iteration diverged (${reason === 'non-finite' ? 'a non-finite residual' : 'the residual grew 2 iterations in a row'}) after ${diag.iterations} iterations; residuals ${diag.residuals.map((x) => x.toExponential(2)).join(', ')} (last ${res}). Use controls.onDivergence 'fallback' (sequential) or 'damp', or mode 'sequential'.`,
      { operation: op, hint: "controls.onDivergence: 'fallback' | 'damp'" },
    );

  for (;;) {
    yield { kind: 'evaluate', states: h, initial, out: f, jacobians: jac };
    const res = residual(f, h, r);
    diag.residuals.push(res);
    if (diag.residuals.length === 1) {
      tolerance = ctl.absTol + ctl.relTol * (Number.isFinite(res) ? res : 0);
      diag.tolerance = tolerance;
    }
    if (Number.isFinite(res)) {
      if (res <= tolerance) break;
      const prev = diag.residuals.length > 1 ? diag.residuals[diag.residuals.length - 2]! : Infinity;
      // Stagnation at rounding level: the residual stopped decreasing where only rounding is left.
      if (res >= prev && res <= 64 * eps * Math.max(1, maxAbs(h))) {
        diag.stalled = true;
        break;
      }
    }
    // Divergence: non-finite, or grown twice in a row.
    let reason: 'non-finite' | 'growing' | null = null;
    if (!Number.isFinite(res)) reason = 'non-finite';
    else {
      const k = diag.residuals.length;
      growth = k >= 2 && res > diag.residuals[k - 2]! ? growth + 1 : 0;
      if (growth >= 2) reason = 'growing';
    }
    if (reason === null && res < bestRes) {
      bestRes = res;
      if (ctl.onDivergence === 'damp') {
        best ??= allocate(dtype, n) as A;
        best.set(h);
      }
    }
    if (reason !== null) {
      if (ctl.onDivergence === 'error') throw diverged(reason, res);
      if (ctl.onDivergence === 'fallback' || best === null || omega / 2 < ctl.minDamping) return yield* fallBack(reason);
      // 'damp': restart from the best iterate with ω halved.
      diag.reason = reason;
      omega /= 2;
      diag.dampings++;
      growth = 0;
      h.set(best);
      if (diag.iterations >= ctl.maxIterations) return yield* fallBack(reason);
      continue; // re-evaluates at the best iterate (its residual is recorded again)
    }
    if (diag.iterations >= ctl.maxIterations) {
      if (ctl.onMaxIterations === 'return') {
        diag.termination = 'max-iterations';
        diag.reason = 'max-iterations';
        diag.damping = omega;
        return { states: h, diagnostics: diag };
      }
      if (ctl.onMaxIterations === 'error') {
        throw new ParascanError(
          'DIVERGED',
          `${op}: the ${method} iteration did not converge in ${ctl.maxIterations} iterations (residual ${res.toExponential(3)} > tolerance ${tolerance.toExponential(3)}).`,
          { operation: op, hint: 'Raise controls.maxIterations or the tolerances, or use mode sequential.' },
        );
      }
      return yield* fallBack('max-iterations');
    }
    // δ: Newton solves δ_t = J_t δ_{t-1} + r_t; Picard takes J = 0, δ = r.
    if (jac !== null) yield { kind: 'solve', options: stepSolve(jac, r) }; // a non-finite δ shows up as a non-finite residual next round
    if (omega === 1) for (let i = 0; i < n; i++) h[i] = h[i]! + r[i]!;
    else for (let i = 0; i < n; i++) h[i] = h[i]! + omega * r[i]!;
    diag.iterations++;
  }
  diag.damping = omega;
  // Newton, converged: is the answer as close to the exact solution as the residual suggests? The
  // step that would follow (solved, not taken) estimates the distance. When the recurrence amplifies
  // rounding (weights scaled up, chaotic dynamics) it can be large while the residual is tiny; the
  // answer could then differ from the sequential loop's by that much, so the sequential loop runs.
  if (jac !== null) {
    yield { kind: 'solve', options: stepSolve(jac, r) };
    const estimate = maxAbsOrNaN(r);
    diag.errorEstimate = estimate;
    // max|h| (a pass over the states) only when the bound for max|h| ≤ 1 is exceeded.
    const bound = estimate <= acceptableStep(tolerance, eps, length, 1) ? 0 : acceptableStep(tolerance, eps, length, maxAbs(h));
    if (bound > 0 && !(estimate <= bound)) {
      if (ctl.onDivergence === 'error') {
        throw new ParascanError(
          'DIVERGED',
          `${op}: the newton iteration reached a residual of ${diag.residuals[diag.residuals.length - 1]!.toExponential(2)} but the system is ill-conditioned: the next step would still move the answer by ${estimate.toExponential(2)} (> ${bound.toExponential(2)}), so it could differ from the sequential solution by that much. Use controls.onDivergence 'fallback' (sequential), or mode 'sequential'.`,
          { operation: op, hint: "controls.onDivergence: 'fallback'" },
        );
      }
      return yield* fallBack('ill-conditioned');
    }
  }
  return { states: h, diagnostics: diag };
}

/** Runs the iteration's work on this thread. */
function drive<A extends FloatArray>(system: NewtonSystem<A>, steps: Generator<Work<A>, NewtonResult<A>, void>): NewtonResult<A> {
  for (let next = steps.next(); ; next = steps.next()) {
    if (next.done) return next.value;
    const w = next.value;
    if (w.kind === 'evaluate') system.evaluate(w.states, w.initial, w.out, w.jacobians);
    else if (w.kind === 'solve') solveLinearRecurrence(w.options);
    else system.sequential(w.initial, w.out);
  }
}

/** Lets the event loop run (timers, I/O) before the next piece of work. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs the iteration's work without holding the event loop: the linear solves through
 * solveLinearRecurrenceAsync (the libuv pool natively, a worker for 'js'), evaluate/sequential
 * through the system's async variants when it has them, else on this thread between turns.
 */
async function driveAsync<A extends FloatArray>(system: NewtonSystem<A>, steps: Generator<Work<A>, NewtonResult<A>, void>): Promise<NewtonResult<A>> {
  for (let next = steps.next(); ; next = steps.next()) {
    if (next.done) return next.value;
    const w = next.value;
    if (w.kind === 'evaluate') {
      if (system.evaluateAsync) await system.evaluateAsync(w.states, w.initial, w.out, w.jacobians);
      else {
        await nextTurn();
        system.evaluate(w.states, w.initial, w.out, w.jacobians);
      }
    } else if (w.kind === 'solve') {
      await solveLinearRecurrenceAsync(w.options);
    } else if (system.sequentialAsync) {
      await system.sequentialAsync(w.initial, w.out);
    } else {
      await nextTurn();
      system.sequential(w.initial, w.out);
    }
  }
}

/** Newton's method (DESIGN §1) for the whole sequence. */
export function solveNewton<A extends FloatArray>(system: NewtonSystem<A>, options: NewtonSolveOptions<A> = {}): NewtonResult<A> {
  return drive(system, iterate('solveNewton', 'newton', system, options));
}

/** solveNewton without blocking the event loop (see driveAsync); the same iterates and diagnostics. */
export async function solveNewtonAsync<A extends FloatArray>(system: NewtonSystem<A>, options: NewtonSolveOptions<A> = {}): Promise<NewtonResult<A>> {
  return driveAsync(system, iterate('solveNewtonAsync', 'newton', system, options));
}

/** Jacobi/Picard fixed-point iteration h^{k+1}_t = f(h^k_{t-1}) (Newton with J = 0): exact after T updates. */
export function solvePicard<A extends FloatArray>(system: NewtonSystem<A>, options: NewtonSolveOptions<A> = {}): NewtonResult<A> {
  return drive(system, iterate('solvePicard', 'picard', system, options));
}

/** solvePicard without blocking the event loop (see driveAsync). */
export async function solvePicardAsync<A extends FloatArray>(system: NewtonSystem<A>, options: NewtonSolveOptions<A> = {}): Promise<NewtonResult<A>> {
  return driveAsync(system, iterate('solvePicardAsync', 'picard', system, options));
}

/** The sequential recurrence through the same interface (the oracle and the fallback). */
export function solveSequential<A extends FloatArray>(system: NewtonSystem<A>, options: { initial?: A | null } = {}): NewtonResult<A> {
  const op = 'solveSequential';
  const initial = (options.initial ?? null) as A | null;
  checkSystem(op, system, initial);
  const out = allocate(system.dtype, system.batch * system.length * system.size) as A;
  runSequential(op, system, initial, out);
  return {
    states: out,
    diagnostics: {
      method: 'sequential',
      iterations: 0,
      residuals: [],
      termination: 'sequential',
      fellBack: false,
      reason: null,
      dampings: 0,
      damping: 1,
      stalled: false,
      tolerance: 0,
      errorEstimate: 0,
    },
  };
}

export type { NewtonControls };
