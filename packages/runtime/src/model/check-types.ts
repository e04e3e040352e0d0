import type { GGUFFile } from '@quant/gguf';
import { KERNEL_TYPES } from '@quant/kernels';
import type { TensorSpec } from '@quant/plugin-api';
import { QuantRuntimeError } from '../errors.js';

const SUPPORTED = new Set<number>(KERNEL_TYPES.map((t) => t.id));

/**
 * Fails before any weight is loaded when tensors have ggml types the kernels cannot run, listing
 * every such tensor with its type and the supported types.
 */
export function checkTensorTypes(file: GGUFFile, specs: readonly TensorSpec[], where: string): void {
  const bad: string[] = [];
  for (const s of specs) {
    const t = file.tensor(s.name);
    if (t && !SUPPORTED.has(t.type)) bad.push(`${s.name} (${t.typeName})`);
  }
  if (bad.length === 0) return;
  const shown = bad.length > 8 ? [...bad.slice(0, 8), `… ${bad.length - 8} more`] : bad;
  throw new QuantRuntimeError(
    'UNSUPPORTED_TENSOR_TYPE',
    `${where} has tensors in types @quant/kernels cannot run: ${shown.join(', ')}. Supported: ${KERNEL_TYPES.map((t) => t.name).join(', ')}. Re-quantize the model to a supported type.`,
  );
}
