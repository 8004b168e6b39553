/** Registers the built-in kernels (imported once by the public entry points). */
import { registerLinearRecurrenceKernel, getLinearRecurrenceKernel } from '../registry.js';
import { jsLinearRecurrenceKernel } from './js/linear_recurrence.js';
import { cpuLinearRecurrenceKernel, cudaLinearRecurrenceKernel } from './native/linear_recurrence.js';

for (const kernel of [jsLinearRecurrenceKernel, cpuLinearRecurrenceKernel, cudaLinearRecurrenceKernel]) {
  if (!getLinearRecurrenceKernel(kernel.backend)) registerLinearRecurrenceKernel(kernel);
}
