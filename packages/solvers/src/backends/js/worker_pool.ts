/**
 * One lazily started worker thread for the js backend's async path, shared by all calls (requests
 * queue in it). It is unref'd while idle, so it never keeps the process alive, and restarted after
 * a crash. Inputs are copied (exactly the viewed bytes) and transferred; the result is copied into
 * the caller's `out` when it arrives, so the call works on a snapshot of its inputs.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import type { FloatArray, RecurrenceArrays } from './arrays.js';
import type { JsMethod } from './run.js';
import type { WorkerRequest, WorkerResponse } from './worker.js';

interface Pending {
  resolve: (value: { out: FloatArray; nonFinite: boolean; schedule: string }) => void;
  reject: (error: Error) => void;
}

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

/**
 * The worker file next to this one: worker.js once built. When this module runs from source (the
 * tests, under vitest), worker.ts is loaded through tsx's tsImport, since Node 20's workers do not
 * take loader hooks from `--import`.
 */
function startWorker(): Worker {
  const here = import.meta.url;
  let w: Worker;
  if (here.endsWith('.ts')) {
    const require = createRequire(here);
    const tsxPackage = require.resolve('tsx/package.json');
    const exportsMap = (require('tsx/package.json') as { exports: Record<string, { import: { default: string } }> }).exports;
    const api = pathToFileURL(join(dirname(tsxPackage), exportsMap['./esm/api']!.import.default)).href;
    const entry = new URL('./worker.ts', here).href;
    const boot =
      `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))` +
      `.catch((error) => { console.error(error); process.exit(1); });`;
    w = new Worker(boot, { eval: true });
  } else {
    w = new Worker(new URL('./worker.js', here));
  }
  w.on('message', (response: WorkerResponse) => {
    const entry = pending.get(response.id);
    if (!entry) return;
    pending.delete(response.id);
    if (pending.size === 0) w.unref();
    if (response.ok) entry.resolve({ out: response.out, nonFinite: response.nonFinite, schedule: response.schedule });
    else entry.reject(new Error(`the js worker failed: ${response.message}`));
  });
  const fail = (error: Error) => {
    if (worker === w) worker = null;
    for (const entry of pending.values()) entry.reject(error);
    pending.clear();
  };
  w.on('error', (error) => fail(error instanceof Error ? error : new Error(String(error))));
  w.on('exit', (code) => fail(new Error(`the js worker thread exited (code ${code}) before answering`)));
  w.unref();
  return w;
}

function copy(array: FloatArray): FloatArray {
  return array.slice();
}

/** Solves a copy of `arrays` in the worker and returns the result (the caller copies it into its out). */
export function solveInWorker(method: JsMethod, arrays: RecurrenceArrays): Promise<{ out: FloatArray; nonFinite: boolean; schedule: string }> {
  const jacobians = copy(arrays.jacobians);
  const rhs = copy(arrays.rhs);
  const initial = arrays.initial ? copy(arrays.initial) : null;
  const transfer: ArrayBuffer[] = [jacobians.buffer as ArrayBuffer, rhs.buffer as ArrayBuffer];
  if (initial) transfer.push(initial.buffer as ArrayBuffer);
  // The worker solves in place into its copy of rhs, which is then sent back as `out`.
  const request: WorkerRequest = {
    id: nextId++,
    method,
    arrays: { ...arrays, jacobians, rhs, initial, out: rhs },
  };
  return new Promise((resolve, reject) => {
    try {
      if (!worker) worker = startWorker();
      const w = worker;
      pending.set(request.id, { resolve, reject });
      w.ref();
      w.postMessage(request, transfer);
    } catch (error) {
      pending.delete(request.id);
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/** Stops the worker (tests; it is unref'd anyway). Pending calls reject. */
export async function terminateJsWorker(): Promise<void> {
  const w = worker;
  worker = null;
  if (w) await w.terminate();
}
