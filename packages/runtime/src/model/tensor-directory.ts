import type { GGUFFile } from '@quant/gguf';
import type { TensorDirectory } from '@quant/plugin-api';

/** The plugin-facing view of a GGUF file's tensor table. */
export function tensorDirectory(file: GGUFFile): TensorDirectory {
  return {
    has: (name) => file.tensor(name) !== undefined,
    shape: (name) => file.tensor(name)?.shape,
    type: (name) => file.tensor(name)?.type,
    names: () => file.tensors.map((t) => t.name),
  };
}
