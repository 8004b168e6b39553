/**
 * Worker-thread entry of the js backend's async path. It loads only the algorithm files (no
 * @parascan/* imports), receives copies of the arrays (transferred), solves into a fresh `out`
 * and transfers it back.
 */
import { parentPort } from 'node:worker_threads';
import type { RecurrenceArrays } from './arrays.js';
import { runJs, type JsMethod } from './run.js';

export interface WorkerRequest {
  id: number;
  method: JsMethod;
  arrays: RecurrenceArrays;
}

export type WorkerResponse =
  | { id: number; ok: true; out: Float32Array | Float64Array; nonFinite: boolean; schedule: string }
  | { id: number; ok: false; message: string };

const port = parentPort;
if (port) {
  port.on('message', (request: WorkerRequest) => {
    try {
      const { nonFinite, schedule } = runJs(request.method, request.arrays);
      const out = request.arrays.out;
      const response: WorkerResponse = { id: request.id, ok: true, out, nonFinite, schedule };
      port.postMessage(response, [out.buffer as ArrayBuffer]);
    } catch (error) {
      const response: WorkerResponse = { id: request.id, ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
      port.postMessage(response);
    }
  });
}
