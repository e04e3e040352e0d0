import { GGUFError } from './errors.js';
import { knownKeyType } from './known-keys.js';
import {
  GGUF_VALUE_TYPE_SHORT_NAMES,
  type GGUFArrayTypeInfo,
  type GGUFTypeInfo,
  type GGUFValue,
  GGUFValueType,
  type GGUFValueTypeId,
  isValueTypeId,
} from './value-types.js';

type NumericTypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** A metadata value as given to the writer: plain (type inferred), a typed array, or explicitly typed. */
export type GGUFWriteValue = GGUFValue | NumericTypedArray | GGUFTypedValue | GGUFWriteValue[];

/** An explicitly typed value. `type` is a type id, a name (`'u32'`, `'FLOAT32'`, `'arr[f32]'`) or a type info. */
export interface GGUFTypedValue {
  type: GGUFTypeInfo | string;
  value: GGUFValue | NumericTypedArray | GGUFWriteValue[];
}

/** Helpers to give a metadata value an explicit type: `typed.f32(1e-5)`, `typed.array('i32', ids)`. */
export const typed = {
  u8: (value: number): GGUFTypedValue => ({ type: GGUFValueType.UINT8, value }),
  i8: (value: number): GGUFTypedValue => ({ type: GGUFValueType.INT8, value }),
  u16: (value: number): GGUFTypedValue => ({ type: GGUFValueType.UINT16, value }),
  i16: (value: number): GGUFTypedValue => ({ type: GGUFValueType.INT16, value }),
  u32: (value: number): GGUFTypedValue => ({ type: GGUFValueType.UINT32, value }),
  i32: (value: number): GGUFTypedValue => ({ type: GGUFValueType.INT32, value }),
  u64: (value: bigint | number): GGUFTypedValue => ({ type: GGUFValueType.UINT64, value }),
  i64: (value: bigint | number): GGUFTypedValue => ({ type: GGUFValueType.INT64, value }),
  f32: (value: number): GGUFTypedValue => ({ type: GGUFValueType.FLOAT32, value }),
  f64: (value: number): GGUFTypedValue => ({ type: GGUFValueType.FLOAT64, value }),
  bool: (value: boolean): GGUFTypedValue => ({ type: GGUFValueType.BOOL, value }),
  string: (value: string): GGUFTypedValue => ({ type: GGUFValueType.STRING, value }),
  array: (elementType: GGUFValueTypeId | string, value: GGUFValue[] | NumericTypedArray): GGUFTypedValue => ({
    type: { type: GGUFValueType.ARRAY, elementType: parseScalarType(elementType) },
    value,
  }),
};

const NAME_TO_ID: Record<string, GGUFValueTypeId> = {};
GGUF_VALUE_TYPE_SHORT_NAMES.forEach((n, i) => {
  NAME_TO_ID[n] = i as GGUFValueTypeId;
});
for (const [k, v] of Object.entries(GGUFValueType)) NAME_TO_ID[k.toLowerCase()] = v;
Object.assign(NAME_TO_ID, { string: 8, array: 9, float: 6, double: 12 });

function parseScalarType(t: GGUFValueTypeId | string): GGUFValueTypeId {
  if (typeof t === 'number' && isValueTypeId(t)) return t;
  const id = typeof t === 'string' ? NAME_TO_ID[t.toLowerCase()] : undefined;
  if (id === undefined)
    throw new GGUFError('GGUF_INVALID_ARGUMENT', `unknown metadata value type '${String(t)}'`);
  return id;
}

/** Parses `'u32'`, `'FLOAT32'`, `'arr[str]'`, `'arr[arr[i32]]'` or a type info into a type info. */
export function parseTypeInfo(t: GGUFTypeInfo | string): GGUFTypeInfo {
  if (typeof t === 'object') return t;
  if (typeof t === 'string') {
    const m = /^arr(?:ay)?\[(.*)\]$/i.exec(t.trim());
    if (m?.[1] !== undefined) {
      const inner = parseTypeInfo(m[1]);
      return typeof inner === 'number'
        ? { type: GGUFValueType.ARRAY, elementType: inner }
        : { type: GGUFValueType.ARRAY, elementType: GGUFValueType.ARRAY, items: [inner] };
    }
  }
  const id = parseScalarType(t);
  if (id === GGUFValueType.ARRAY)
    throw new GGUFError('GGUF_INVALID_ARGUMENT', "an array type needs its element type, e.g. 'arr[f32]'");
  return id;
}

export function isTypedValue(v: unknown): v is GGUFTypedValue {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !ArrayBuffer.isView(v) &&
    'type' in v &&
    'value' in v
  );
}

const TYPED_ARRAY_TYPES: [new (...a: never[]) => unknown, GGUFValueTypeId][] = [
  [Uint8Array, GGUFValueType.UINT8],
  [Uint8ClampedArray, GGUFValueType.UINT8],
  [Int8Array, GGUFValueType.INT8],
  [Uint16Array, GGUFValueType.UINT16],
  [Int16Array, GGUFValueType.INT16],
  [Uint32Array, GGUFValueType.UINT32],
  [Int32Array, GGUFValueType.INT32],
  [Float32Array, GGUFValueType.FLOAT32],
  [Float64Array, GGUFValueType.FLOAT64],
  [BigUint64Array, GGUFValueType.UINT64],
  [BigInt64Array, GGUFValueType.INT64],
];

function typedArrayType(v: unknown): GGUFValueTypeId | undefined {
  if (!ArrayBuffer.isView(v)) return undefined;
  for (const [ctor, t] of TYPED_ARRAY_TYPES) if (v instanceof ctor) return t;
  return undefined;
}

function inferScalar(v: unknown, key: string): GGUFValueTypeId {
  switch (typeof v) {
    case 'string':
      return GGUFValueType.STRING;
    case 'boolean':
      return GGUFValueType.BOOL;
    case 'bigint':
      return v < 0n ? GGUFValueType.INT64 : GGUFValueType.UINT64;
    case 'number':
      if (!Number.isInteger(v)) return GGUFValueType.FLOAT32;
      if (v >= 0 && v <= 0xffffffff) return GGUFValueType.UINT32;
      if (v < 0 && v >= -0x80000000) return GGUFValueType.INT32;
      return v < 0 ? GGUFValueType.INT64 : GGUFValueType.UINT64;
    default:
      throw new GGUFError(
        'GGUF_INVALID_ARGUMENT',
        `metadata '${key}' has a value of unsupported type ${v === null ? 'null' : typeof v}`,
        { key },
      );
  }
}

/** Smallest common type of a plain array's elements. */
function inferArray(arr: readonly unknown[], key: string): GGUFArrayTypeInfo {
  if (arr.length === 0) return { type: GGUFValueType.ARRAY, elementType: GGUFValueType.UINT32 };
  if (arr.every((x) => Array.isArray(x) || ArrayBuffer.isView(x) || isTypedValue(x))) {
    return {
      type: GGUFValueType.ARRAY,
      elementType: GGUFValueType.ARRAY,
      items: arr.map((x) => inferType(x, key, undefined) as GGUFArrayTypeInfo),
    };
  }
  const first = typeof arr[0];
  if (!arr.every((x) => typeof x === first)) {
    throw new GGUFError(
      'GGUF_INVALID_ARGUMENT',
      `metadata array '${key}' mixes element types; give it an explicit type`,
      { key },
    );
  }
  if (first !== 'number') return { type: GGUFValueType.ARRAY, elementType: inferScalar(arr[0], key) };
  let allInt = true;
  let min = 0;
  let max = 0;
  for (const x of arr as number[]) {
    if (!Number.isInteger(x)) allInt = false;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  let elementType: GGUFValueTypeId = GGUFValueType.FLOAT32;
  if (allInt) {
    if (min >= 0 && max <= 0xffffffff) elementType = GGUFValueType.UINT32;
    else if (min >= -0x80000000 && max <= 0x7fffffff) elementType = GGUFValueType.INT32;
    else elementType = GGUFValueType.INT64;
  }
  return { type: GGUFValueType.ARRAY, elementType };
}

/** The type a value will be written with: explicit, from `declared`, a well-known key, or inferred. */
export function inferType(v: unknown, key: string, declared: GGUFTypeInfo | undefined): GGUFTypeInfo {
  if (isTypedValue(v)) return parseTypeInfo(v.type);
  if (declared !== undefined) return declared;
  const ta = typedArrayType(v);
  if (ta !== undefined) return { type: GGUFValueType.ARRAY, elementType: ta };
  const known = knownKeyType(key);
  if (Array.isArray(v)) {
    if (known !== undefined && v.length > 0 && v.every((x) => fits(x, known)))
      return { type: GGUFValueType.ARRAY, elementType: known };
    return inferArray(v, key);
  }
  if (known !== undefined && fits(v, known)) return known;
  return inferScalar(v, key);
}

function fits(v: unknown, t: GGUFValueTypeId): boolean {
  switch (t) {
    case GGUFValueType.STRING:
      return typeof v === 'string';
    case GGUFValueType.BOOL:
      return typeof v === 'boolean';
    case GGUFValueType.FLOAT32:
    case GGUFValueType.FLOAT64:
      return typeof v === 'number';
    case GGUFValueType.UINT32:
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    case GGUFValueType.INT32:
      return typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff;
    default:
      return false;
  }
}

/** The plain value of a possibly typed value. */
export function plainValue(v: GGUFWriteValue): GGUFValue | NumericTypedArray | GGUFWriteValue[] {
  return isTypedValue(v) ? v.value : v;
}
