/**
 * Kernels for behaviour tests (sessions, generation, errors) whose outcome does not depend on the
 * numeric backend: the real @quant/kernels when a backend loads, else the plain-JS reference.
 */
import { type Kernels, loadKernels } from '@quant/kernels';
import { jsKernels } from './js-kernels.js';

export async function behaviourKernels(label: string): Promise<Kernels> {
  try {
    return await loadKernels({ threads: 1 });
  } catch (e) {
    console.warn(
      `[${label}] @quant/kernels unavailable (${(e as Error).message}); using the JS reference kernels`,
    );
    return jsKernels();
  }
}
