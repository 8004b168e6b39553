/**
 * The js backend's linear-recurrence kernel: pure TypeScript, runs anywhere, the oracle of the
 * native backends' tests and the playground for new schedules.
 *
 *   'sequential' (and 'auto'): substitution, T dependent steps (the fastest on one JS thread);
 *   'parallel': the log-step Hillis–Steele reduction of parallel.ts.
 *
 * solveAsync runs the same code in a worker thread (worker_pool.ts).
 */
import type { KernelRunResult, LinearRecurrenceKernel, LinearRecurrenceProblem } from '../../types.js';
import type { RecurrenceArrays } from './arrays.js';
import { runJs, type JsMethod } from './run.js';
import { solveInWorker } from './worker_pool.js';

function arraysOf(problem: LinearRecurrenceProblem): RecurrenceArrays {
  return {
    reverse: problem.reverse,
    batch: problem.batch,
    length: problem.length,
    blockSize: problem.blockSize,
    lanes: problem.lanes,
    jacobians: problem.jacobians,
    rhs: problem.rhs,
    initial: problem.initial,
    out: problem.out,
  };
}

function jsMethod(problem: LinearRecurrenceProblem): JsMethod {
  return problem.method === 'parallel' ? 'parallel' : 'sequential';
}

export const jsLinearRecurrenceKernel: LinearRecurrenceKernel = {
  backend: 'js',
  methods: ['auto', 'sequential', 'parallel'],
  availability: () => ({ available: true }),
  solve(problem: LinearRecurrenceProblem): KernelRunResult {
    return runJs(jsMethod(problem), arraysOf(problem));
  },
  async solveAsync(problem: LinearRecurrenceProblem): Promise<KernelRunResult> {
    const result = await solveInWorker(jsMethod(problem), arraysOf(problem));
    problem.out.set(result.out);
    return { nonFinite: result.nonFinite, schedule: result.schedule };
  },
};
