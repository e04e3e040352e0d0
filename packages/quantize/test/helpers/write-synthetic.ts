/** Writes a SyntheticModel as a GGUF file with @quant/gguf's streaming writer. */
import { type GGUFWriteValue, typed, writeGGUF } from '@quant/gguf';
import { type SyntheticMeta, type SyntheticModel, tensorBytes } from './synthetic.js';

function metaValue(m: SyntheticMeta): GGUFWriteValue {
  switch (m.kind) {
    case 'string':
      return typed.string(m.value as string);
    case 'u32':
      return typed.u32(m.value as number);
    case 'f32':
      return typed.f32(m.value as number);
    case 'bool':
      return typed.bool(m.value as boolean);
    case 'string[]':
      return typed.array('str', m.value as string[]);
    case 'f32[]':
      return typed.array('f32', m.value as number[]);
    case 'i32[]':
      return typed.array('i32', m.value as number[]);
  }
}

/** Writes the model; tensor bytes are produced lazily, one tensor at a time. */
export async function writeSynthetic(path: string, model: SyntheticModel): Promise<void> {
  await writeGGUF(path, {
    entries: model.metadata.map((m) => ({ key: m.key, value: metaValue(m) })),
    tensors: model.tensors.map((t) => ({
      name: t.name,
      type: t.type,
      shape: t.shape,
      data: () => tensorBytes(t),
    })),
  });
}
