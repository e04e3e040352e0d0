/** Reads the hyperparameters the mix rules depend on from GGUF metadata. */
import { QuantizeError } from './errors.js';
import type { ModelFacts } from './rules.js';

type Meta = Readonly<Record<string, unknown>>;

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  // Per-layer arrays (e.g. head_count_kv): llama.cpp's rules read layer 0.
  if (Array.isArray(v) && v.length > 0) return num(v[0]);
  return undefined;
}

/** Architecture, layer count, head counts and expert count; `path` only improves error messages. */
export function modelFacts(metadata: Meta, path?: string): ModelFacts {
  const where = path ? ` in ${path}` : '';
  const arch = metadata['general.architecture'];
  if (typeof arch !== 'string' || arch === '') {
    throw new QuantizeError(
      'BAD_MODEL_METADATA',
      `general.architecture is missing${where}; this does not look like a llama.cpp model file`,
      {
        path,
      },
    );
  }
  const nLayer = num(metadata[`${arch}.block_count`]);
  if (nLayer === undefined || !Number.isInteger(nLayer) || nLayer <= 0) {
    throw new QuantizeError(
      'BAD_MODEL_METADATA',
      `${arch}.block_count is missing or not a positive integer${where}`,
      { path },
    );
  }
  const nHead = num(metadata[`${arch}.attention.head_count`]) ?? 0;
  const nHeadKv = num(metadata[`${arch}.attention.head_count_kv`]) ?? nHead;
  const nExpert = num(metadata[`${arch}.expert_count`]) ?? 0;
  return {
    arch,
    nLayer,
    nHead,
    nHeadKv,
    nExpert,
    is70B: arch === 'llama' && nLayer === 80 && nHead !== nHeadKv,
  };
}
