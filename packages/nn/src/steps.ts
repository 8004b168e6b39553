/**
 * The models' computations are generators, so one piece of code serves the sync and the async
 * entry points. A generator yields either nothing (a layer boundary: the async runner hands the
 * event loop a turn there) or a CellJob (a call that has a sync and an async form, e.g. a cell's
 * forward/forwardAsync): the sync runner calls `sync()` on this thread, the async runner awaits
 * `async()`, which runs the long native solve on the libuv pool. Either way the generator gets
 * the job's result back from its `yield`, or the job's error thrown at the `yield` (so its
 * try/finally blocks run).
 */

export interface CellJob<R> {
  sync(): R;
  async(): Promise<R>;
}

/** What the computations yield: a layer boundary (undefined) or a job to run. */
export type Step = CellJob<unknown> | undefined;

/** Runs a job inside a generator and returns its (typed) result: `const r = yield* runJob(job)`. */
export function* runJob<R>(job: CellJob<R>): Generator<Step, R, unknown> {
  return (yield job as CellJob<unknown>) as R;
}

/** Runs a computation to its end on this thread (jobs through their sync form). */
export function runToEnd<T>(g: Generator<Step, T, unknown>): T {
  let r = g.next();
  for (;;) {
    if (r.done) return r.value;
    const job = r.value;
    if (!job) {
      r = g.next();
      continue;
    }
    let value: unknown;
    try {
      value = job.sync();
    } catch (e) {
      r = g.throw(e);
      continue;
    }
    r = g.next(value);
  }
}

/**
 * Runs it with the event loop free in between: a turn (setImmediate) at every layer boundary, and
 * the jobs through their async form (the native cell solves run off this thread while awaited).
 */
export async function runYielding<T>(g: Generator<Step, T, unknown>): Promise<T> {
  let r = g.next();
  for (;;) {
    if (r.done) return r.value;
    const job = r.value;
    if (!job) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      r = g.next();
      continue;
    }
    let value: unknown;
    try {
      value = await job.async();
    } catch (e) {
      r = g.throw(e);
      continue;
    }
    r = g.next(value);
  }
}
