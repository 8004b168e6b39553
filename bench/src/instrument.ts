/**
 * Records which schedule each kernel reports, through the public registry: every registered
 * linear-recurrence kernel is re-registered wrapped (`{ replace: true }`), so the benchmark still
 * calls the public `solveLinearRecurrence` and reads the schedule of the very calls it timed.
 */
import {
  getLinearRecurrenceKernel,
  listLinearRecurrenceBackends,
  registerLinearRecurrenceKernel,
  type LinearRecurrenceKernel,
} from '@parascan/solvers';

let lastSchedule: string | null = null;
let installed = false;

export function installScheduleRecorder(): void {
  if (installed) return;
  installed = true;
  for (const name of listLinearRecurrenceBackends()) {
    const inner = getLinearRecurrenceKernel(name);
    if (!inner) continue;
    const wrapped: LinearRecurrenceKernel = {
      backend: inner.backend,
      methods: inner.methods,
      availability: () => inner.availability(),
      solve(problem) {
        const r = inner.solve(problem);
        lastSchedule = `${inner.backend}:${r.schedule}`;
        return r;
      },
      async solveAsync(problem) {
        const r = await inner.solveAsync(problem);
        lastSchedule = `${inner.backend}:${r.schedule}`;
        return r;
      },
    };
    registerLinearRecurrenceKernel(wrapped, { replace: true });
  }
}

/** The `backend:schedule` of the latest solve, then forgets it. */
export function takeSchedule(): string | null {
  const s = lastSchedule;
  lastSchedule = null;
  return s;
}
