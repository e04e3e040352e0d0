import { TensorSpecError } from './errors.js';
import type { TensorDirectory, TensorShape, TensorSpec } from './types.js';

/** Drops trailing 1s (GGUF may store [n] as [n, 1]). */
function trimShape(s: TensorShape): number[] {
  const out = [...s];
  while (out.length > 1 && out[out.length - 1] === 1) out.pop();
  return out;
}

/** True when two shapes are equal, ignoring trailing 1s. */
export function sameShape(a: TensorShape, b: TensorShape): boolean {
  const x = trimShape(a);
  const y = trimShape(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function fmt(s: TensorShape): string {
  return `[${s.join(', ')}]`;
}

/**
 * Checks every spec against the file's tensors: a required tensor that is absent, or any listed
 * tensor whose shape differs, throws `TensorSpecError` (code `MISSING_TENSOR` or
 * `TENSOR_SHAPE_MISMATCH`) naming the tensor, the expected and the found shape. Returns the specs
 * of the tensors present (what to load).
 */
export function validateTensors(
  specs: readonly TensorSpec[],
  dir: TensorDirectory,
  where = 'the GGUF file',
): TensorSpec[] {
  const present: TensorSpec[] = [];
  for (const spec of specs) {
    const found = dir.shape(spec.name);
    if (!found) {
      if (spec.optional) continue;
      throw new TensorSpecError(
        'MISSING_TENSOR',
        spec.name,
        `Tensor "${spec.name}" (expected shape ${fmt(spec.shape)}) is missing in ${where}.`,
        spec.shape,
      );
    }
    if (!sameShape(spec.shape, found)) {
      throw new TensorSpecError(
        'TENSOR_SHAPE_MISMATCH',
        spec.name,
        `Tensor "${spec.name}" in ${where} has shape ${fmt(found)}, expected ${fmt(spec.shape)} (ne0 first).`,
        spec.shape,
        found,
      );
    }
    present.push(spec);
  }
  return present;
}
