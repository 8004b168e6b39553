/**
 * Kernel registry (in the style of tfjs): one linear-recurrence kernel per backend name. The
 * built-in backends ('js', 'cpu', 'cuda') are registered by backends/register.ts; others can be
 * added with registerLinearRecurrenceKernel and selected with `backend: name`.
 */
import type { LinearRecurrenceKernel } from './types.js';

const kernels = new Map<string, LinearRecurrenceKernel>();

/** Registers (or, with replace, re-registers) the kernel of `kernel.backend`. */
export function registerLinearRecurrenceKernel(kernel: LinearRecurrenceKernel, options: { replace?: boolean } = {}): void {
  if (kernel.backend === 'auto' || kernel.backend === '') {
    throw new TypeError(`registerLinearRecurrenceKernel: backend name ${JSON.stringify(kernel.backend)} is reserved.`);
  }
  if (!kernel.methods.includes('auto')) {
    throw new TypeError(`registerLinearRecurrenceKernel: the kernel of backend '${kernel.backend}' must accept method 'auto'.`);
  }
  if (kernels.has(kernel.backend) && !options.replace) {
    throw new TypeError(`registerLinearRecurrenceKernel: backend '${kernel.backend}' already has a kernel (pass { replace: true } to swap it).`);
  }
  kernels.set(kernel.backend, kernel);
}

/** Removes a backend's kernel (tests). Returns whether one was registered. */
export function unregisterLinearRecurrenceKernel(backend: string): boolean {
  return kernels.delete(backend);
}

export function getLinearRecurrenceKernel(backend: string): LinearRecurrenceKernel | undefined {
  return kernels.get(backend);
}

/** Registered backend names, in registration order. */
export function listLinearRecurrenceBackends(): string[] {
  return [...kernels.keys()];
}
