/**
 * The ggml tensor types this package plans with and writes. Ids, block sizes and block byte sizes
 * come from @quant/gguf's type table.
 */
import { findGGMLType, GGMLType } from '@quant/gguf';

/** The type ids the rules and quantizers name. */
export const T = {
  F32: GGMLType.F32,
  F16: GGMLType.F16,
  BF16: GGMLType.BF16,
  Q4_0: GGMLType.Q4_0,
  Q4_1: GGMLType.Q4_1,
  Q5_0: GGMLType.Q5_0,
  Q5_1: GGMLType.Q5_1,
  Q8_0: GGMLType.Q8_0,
  Q2_K: GGMLType.Q2_K,
  Q3_K: GGMLType.Q3_K,
  Q4_K: GGMLType.Q4_K,
  Q5_K: GGMLType.Q5_K,
  Q6_K: GGMLType.Q6_K,
} as const;

/** True for an id ggml defines. */
export function isKnownType(id: number): boolean {
  return findGGMLType(id) !== undefined;
}

export function typeName(id: number): string {
  return findGGMLType(id)?.name ?? `type ${id}`;
}

export function blockSize(id: number): number {
  const f = findGGMLType(id);
  if (!f) throw new RangeError(`unknown ggml type ${id}`);
  return f.blockSize;
}

export function isQuantizedType(id: number): boolean {
  return findGGMLType(id)?.quantized ?? true;
}

/** Bytes of one row of `cols` elements of `type` (cols a multiple of the block size). */
export function rowBytes(id: number, cols: number): number {
  const f = findGGMLType(id);
  if (!f) throw new RangeError(`unknown ggml type ${id}`);
  return (cols / f.blockSize) * f.typeSize;
}
