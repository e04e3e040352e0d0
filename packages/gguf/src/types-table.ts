import { GGUFError } from './errors.js';

/**
 * Every tensor type id llama.cpp's `ggml/include/ggml.h` defines (ids 4, 5, 31–33 and 36–38 were
 * removed from ggml and are not valid in GGUF files).
 */
export const GGMLType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
  NVFP4: 40,
  Q1_0: 41,
  Q2_0: 42,
} as const;

export type GGMLTypeName = keyof typeof GGMLType;
export type GGMLTypeId = (typeof GGMLType)[GGMLTypeName];

export interface GGMLTypeInfo {
  id: number;
  /** The GGMLType key, e.g. `Q4_K`. */
  name: GGMLTypeName;
  /** Elements per block (1 for plain types). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
  /** True for block-quantized types. */
  quantized: boolean;
}

// [blockSize, bytes per block] — from the block structs in ggml/src/ggml-common.h (QK_K = 256).
const LAYOUT: Record<GGMLTypeName, readonly [number, number]> = {
  F32: [1, 4],
  F16: [1, 2],
  Q4_0: [32, 2 + 16],
  Q4_1: [32, 2 * 2 + 16],
  Q5_0: [32, 2 + 4 + 16],
  Q5_1: [32, 2 * 2 + 4 + 16],
  Q8_0: [32, 2 + 32],
  Q8_1: [32, 2 * 2 + 32],
  Q2_K: [256, 2 * 2 + 256 / 16 + 256 / 4],
  Q3_K: [256, 2 + 256 / 4 + 256 / 8 + 12],
  Q4_K: [256, 2 * 2 + 12 + 256 / 2],
  Q5_K: [256, 2 * 2 + 12 + 256 / 2 + 256 / 8],
  Q6_K: [256, 2 + 256 / 16 + (3 * 256) / 4],
  Q8_K: [256, 4 + 256 + (256 / 16) * 2],
  IQ2_XXS: [256, 2 + (256 / 8) * 2],
  IQ2_XS: [256, 2 + (256 / 8) * 2 + 256 / 32],
  IQ3_XXS: [256, 2 + 3 * (256 / 8)],
  IQ1_S: [256, 2 + 256 / 8 + 256 / 16],
  IQ4_NL: [32, 2 + 16],
  IQ3_S: [256, 2 + 13 * (256 / 32) + 256 / 64],
  IQ2_S: [256, 2 + 256 / 4 + 256 / 16],
  IQ4_XS: [256, 2 + 2 + 256 / 64 + 256 / 2],
  I8: [1, 1],
  I16: [1, 2],
  I32: [1, 4],
  I64: [1, 8],
  F64: [1, 8],
  IQ1_M: [256, 256 / 8 + 256 / 16 + 256 / 32],
  BF16: [1, 2],
  TQ1_0: [256, 2 + 256 / 64 + (256 - (4 * 256) / 64) / 5],
  TQ2_0: [256, 2 + 256 / 4],
  MXFP4: [32, 1 + 16],
  NVFP4: [64, 64 / 16 + 32],
  Q1_0: [128, 2 + 128 / 8],
  Q2_0: [64, 2 + 64 / 4],
};

const BY_ID: (GGMLTypeInfo | undefined)[] = [];
for (const name of Object.keys(GGMLType) as GGMLTypeName[]) {
  const [blockSize, typeSize] = LAYOUT[name];
  BY_ID[GGMLType[name]] = Object.freeze({
    id: GGMLType[name],
    name,
    blockSize,
    typeSize,
    quantized: blockSize > 1,
  });
}

/** Every known type, ordered by id. */
export const GGML_TYPES: readonly GGMLTypeInfo[] = BY_ID.filter((t): t is GGMLTypeInfo => t !== undefined);

/** The type's info, or undefined for an id ggml does not define. */
export function findGGMLType(id: number): GGMLTypeInfo | undefined {
  return Number.isInteger(id) && id >= 0 ? BY_ID[id] : undefined;
}

/** Block size and bytes per block of a ggml type id; throws GGUFError for ids ggml does not define. */
export function ggmlTypeInfo(id: number): GGMLTypeInfo {
  const info = findGGMLType(id);
  if (info === undefined) {
    throw new GGUFError(
      'GGUF_UNKNOWN_TENSOR_TYPE',
      `unknown ggml type id ${id}; known ids are ${GGML_TYPES.map((t) => t.id).join(', ')}`,
    );
  }
  return info;
}

/** Resolves a type given as id or as name (`'Q4_K'`, case-insensitive) to its info. */
export function resolveGGMLType(type: number | string): GGMLTypeInfo {
  if (typeof type === 'number') return ggmlTypeInfo(type);
  const key = type.toUpperCase() as GGMLTypeName;
  if (Object.hasOwn(GGMLType, key)) return ggmlTypeInfo(GGMLType[key]);
  throw new GGUFError('GGUF_UNKNOWN_TENSOR_TYPE', `unknown ggml type name '${type}'`);
}

/**
 * Bytes a tensor of this type and shape (ggml order, shape[0] = row length) occupies.
 * Throws GGUFError when the row length is not a multiple of the block size or the size is not a
 * safe integer.
 */
export function ggmlTensorBytes(type: number | string, shape: readonly number[]): number {
  const info = resolveGGMLType(type);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new GGUFError('GGUF_BAD_DIMENSION', `invalid dimension ${d} in shape [${shape.join(', ')}]`);
    }
    n *= d;
  }
  const row = shape[0] ?? 1;
  if (row % info.blockSize !== 0) {
    throw new GGUFError(
      'GGUF_BAD_ROW_SIZE',
      `row length ${row} of a ${info.name} tensor is not a multiple of its block size ${info.blockSize}`,
    );
  }
  const bytes = (n / info.blockSize) * info.typeSize;
  if (!Number.isSafeInteger(bytes)) {
    throw new GGUFError('GGUF_BYTE_SIZE_OVERFLOW', `tensor of shape [${shape.join(', ')}] is too large`);
  }
  return bytes;
}
