/** GGUF metadata value type ids (the `gguf_type` enum of the GGUF spec). */
export const GGUFValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GGUFValueTypeName = keyof typeof GGUFValueType;
export type GGUFValueTypeId = (typeof GGUFValueType)[GGUFValueTypeName];

/** Short names as llama.cpp prints them (`u32`, `f32`, `str`, `arr` …), by type id. */
export const GGUF_VALUE_TYPE_SHORT_NAMES: readonly string[] = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'str',
  'arr',
  'u64',
  'i64',
  'f64',
];

/** A scalar metadata value: numbers for ≤32-bit ints and floats, bigint for 64-bit ints. */
export type GGUFScalar = string | boolean | number | bigint;
/** A metadata value as parsed: scalars, or (possibly nested) arrays of them. */
export type GGUFValue = GGUFScalar | GGUFValue[];

/**
 * The declared type of a metadata value: a scalar type id, or for arrays the element type id,
 * and, for arrays of arrays, the declared type of each inner array.
 */
export type GGUFTypeInfo = GGUFValueTypeId | GGUFArrayTypeInfo;
export interface GGUFArrayTypeInfo {
  type: typeof GGUFValueType.ARRAY;
  elementType: GGUFValueTypeId;
  /** Present when elementType is ARRAY: the type of each inner array, in order. */
  items?: GGUFArrayTypeInfo[];
}

/** Fixed byte width of a scalar type (0 for string/array). */
export const GGUF_VALUE_TYPE_SIZE: readonly number[] = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

export function isValueTypeId(t: number): t is GGUFValueTypeId {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

/** The element/scalar type id of a type info. */
export function baseTypeOf(info: GGUFTypeInfo): GGUFValueTypeId {
  return typeof info === 'number' ? info : info.type;
}

/** Human-readable name of a type info: `u32`, `arr[str]`, `arr[arr[i32]]`. */
export function typeInfoName(info: GGUFTypeInfo): string {
  if (typeof info === 'number') return GGUF_VALUE_TYPE_SHORT_NAMES[info] ?? `type${info}`;
  const inner: GGUFTypeInfo =
    info.elementType === GGUFValueType.ARRAY && info.items?.[0] ? info.items[0] : info.elementType;
  return `arr[${typeInfoName(inner)}]`;
}
