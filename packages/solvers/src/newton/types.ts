/**
 * The nonlinear system a recurrent cell poses (DESIGN §1), in the terms the Newton solver needs:
 *
 *   h_t = f(h_{t-1}, x_t),  t = 0..T-1,  h_{-1} = initial (zero when absent)
 *
 * A system evaluates f and its state Jacobian for every t at once (all independent), and runs the
 * plain sequential recurrence for the fallback. The inputs x_t live inside the system.
 */
import type { Dtype, FloatArray } from '@parascan/core';

export type NewtonStructure = 'diagonal' | 'block';

export interface NewtonSystem<A extends FloatArray = FloatArray> {
  readonly dtype: Dtype;
  /** B */
  readonly batch: number;
  /** T ≥ 1 */
  readonly length: number;
  /** S: the state width (for k×k blocks, k·N with part i at [i·N, (i+1)·N)). */
  readonly size: number;
  /** Structure of ∂f/∂h: 'diagonal' ([B, T, S]) or 'block' ([B, T, k, k, S/k], each block diagonal). */
  readonly structure: NewtonStructure;
  /** k for 'block' (ignored for 'diagonal'). */
  readonly blockSize?: number;
  /**
   * For every b, t: out[b, t] = f(prev, x_t) with prev = states[b, t-1] (t ≥ 1) or initial[b]
   * (zero when null) for t = 0; when `jacobians` is given, also J_t = ∂f/∂h at the same point,
   * in the solver's layout. `out` never aliases `states`.
   */
  evaluate(states: A, initial: A | null, out: A, jacobians: A | null): void;
  /** The sequential recurrence: out[b, t] = f(out[b, t-1], x_t), out[b, -1] = initial (or 0). */
  sequential(initial: A | null, out: A): void;
  /** Optional: evaluate off the main thread (solveNewtonAsync / solvePicardAsync use it when present). */
  evaluateAsync?(states: A, initial: A | null, out: A, jacobians: A | null): Promise<void>;
  /** Optional: sequential off the main thread (the async solvers' fallback). */
  sequentialAsync?(initial: A | null, out: A): Promise<void>;
}

/** What to do when the iteration diverges (NaN/Inf, or a residual growing 2 iterations in a row). */
export type DivergencePolicy = 'fallback' | 'damp' | 'error';
/** What to do when maxIterations pass without convergence. */
export type MaxIterationsPolicy = 'fallback' | 'return' | 'error';

export interface NewtonControls {
  /** Linear solves at most (default: Newton 30; Picard T + 1, enough for the exact answer). */
  maxIterations?: number;
  /**
   * Converged when the max-norm residual max|f(h_{t-1}) − h_t| ≤ absTol + relTol·(residual of the
   * first guess). Defaults: absTol 4·eps of the dtype (float32 4.8e-7, float64 8.9e-16), relTol 0.
   * A residual that stops decreasing at rounding level (≤ 64·eps·max(1, max|h|)) also counts as
   * converged (flagged `stalled` in the diagnostics).
   */
  absTol?: number;
  relTol?: number;
  /** ω in (0, 1]: h ← h + ω δ. Default 1 (plain Newton). */
  damping?: number;
  /** Default 'fallback' (sequential solve). 'damp': restart from the best iterate with ω halved (down to minDamping, then fallback). */
  onDivergence?: DivergencePolicy;
  /** Default 'fallback'. 'return': return the last iterate, termination 'max-iterations'. */
  onMaxIterations?: MaxIterationsPolicy;
  /** Smallest ω that 'damp' tries (default 1/64). */
  minDamping?: number;
  /** Backend of the linear solves (default 'auto': cpu when the addon loads, else js). */
  backend?: 'auto' | 'js' | 'cpu' | 'cuda';
}

export type Termination = 'converged' | 'max-iterations' | 'fallback-sequential' | 'sequential';

export interface NewtonDiagnostics {
  method: 'newton' | 'picard' | 'sequential';
  /** Updates applied (linear solves for Newton). 0 when the first guess already converged. */
  iterations: number;
  /** Max-norm residual of the first guess and after every update (NaN where non-finite). */
  residuals: number[];
  termination: Termination;
  /** True when the answer came from the sequential fallback. */
  fellBack: boolean;
  /**
   * Why it diverged or fell back, if it did. 'ill-conditioned': the residual met the tolerance but
   * the Newton step that would follow did not (see `errorEstimate`): the recurrence amplifies
   * rounding so much that a small residual no longer means an answer close to the sequential one.
   */
  reason: NewtonFailure | null;
  /** Times the damping was halved (policy 'damp'). */
  dampings: number;
  /** ω in force at the end. */
  damping: number;
  /** Converged by the stagnation rule rather than by the tolerance. */
  stalled: boolean;
  /** The tolerance that was applied (absTol + relTol·residuals[0]). */
  tolerance: number;
  /**
   * Newton, after convergence: max |δ| of the step that would follow, which estimates how far the
   * answer is from the recurrence's exact solution (first order). The answer is accepted when it is
   * ≤ max(16·tolerance, 8·eps·√T·max(1, max|h|)), else the sequential loop runs ('ill-conditioned').
   * 0 where not computed (sequential, Picard, a fallback for another reason).
   */
  errorEstimate: number;
}

export type NewtonFailure = 'non-finite' | 'growing' | 'max-iterations' | 'ill-conditioned';

export interface NewtonResult<A extends FloatArray = FloatArray> {
  /** h [B, T, S] */
  states: A;
  diagnostics: NewtonDiagnostics;
}

export interface NewtonSolveOptions<A extends FloatArray = FloatArray> {
  /** [B, S] or null for zero. */
  initial?: A | null;
  controls?: NewtonControls;
}
