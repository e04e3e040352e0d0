import type { ByteWriter } from './byte-writer.js';
import { GGUFError } from './errors.js';
import { type GGUFWriteValue, inferType, isTypedValue, plainValue } from './metadata-encode.js';
import { type GGUFArrayTypeInfo, type GGUFTypeInfo, GGUFValueType, typeInfoName } from './value-types.js';

// Encodes metadata values with range checks: a value that does not fit its declared type is an
// error naming the key, never silently wrapped.

function bad(key: string, type: GGUFTypeInfo, v: unknown): never {
  const shown =
    typeof v === 'bigint'
      ? `${v}n`
      : Array.isArray(v) || ArrayBuffer.isView(v)
        ? 'an array'
        : JSON.stringify(v);
  throw new GGUFError(
    'GGUF_INVALID_ARGUMENT',
    `metadata '${key}': ${shown} is not a valid ${typeInfoName(type)} value`,
    { key },
  );
}

function intIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

function writeScalar(w: ByteWriter, t: number, v: unknown, key: string): void {
  switch (t) {
    case GGUFValueType.UINT8:
      if (!intIn(v, 0, 255)) bad(key, t, v);
      w.u8(v);
      return;
    case GGUFValueType.INT8:
      if (!intIn(v, -128, 127)) bad(key, t, v);
      w.i8(v);
      return;
    case GGUFValueType.UINT16:
      if (!intIn(v, 0, 65535)) bad(key, t, v);
      w.u16(v);
      return;
    case GGUFValueType.INT16:
      if (!intIn(v, -32768, 32767)) bad(key, t, v);
      w.i16(v);
      return;
    case GGUFValueType.UINT32:
      if (!intIn(v, 0, 0xffffffff)) bad(key, t, v);
      w.u32(v);
      return;
    case GGUFValueType.INT32:
      if (!intIn(v, -0x80000000, 0x7fffffff)) bad(key, t, v);
      w.i32(v);
      return;
    case GGUFValueType.FLOAT32:
      if (typeof v !== 'number') bad(key, t, v);
      w.f32(v);
      return;
    case GGUFValueType.FLOAT64:
      if (typeof v !== 'number') bad(key, t, v);
      w.f64(v);
      return;
    case GGUFValueType.BOOL:
      if (typeof v !== 'boolean') bad(key, t, v);
      w.u8(v ? 1 : 0);
      return;
    case GGUFValueType.STRING:
      if (typeof v !== 'string') bad(key, t, v);
      w.string(v);
      return;
    case GGUFValueType.UINT64: {
      const b = toBig(v);
      if (b === undefined || b < 0n || b > 0xffffffffffffffffn) bad(key, t, v);
      w.u64(b);
      return;
    }
    case GGUFValueType.INT64: {
      const b = toBig(v);
      if (b === undefined || b < -0x8000000000000000n || b > 0x7fffffffffffffffn) bad(key, t, v);
      w.i64(b);
      return;
    }
    default:
      throw new GGUFError('GGUF_INVALID_ARGUMENT', `metadata '${key}': invalid value type ${t}`, { key });
  }
}

function toBig(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  return undefined;
}

export function writeValue(w: ByteWriter, type: GGUFTypeInfo, v: unknown, key: string): void {
  if (typeof type === 'number') {
    if (type === GGUFValueType.ARRAY)
      throw new GGUFError('GGUF_INVALID_ARGUMENT', `metadata '${key}': array type without element type`, {
        key,
      });
    writeScalar(w, type, v, key);
    return;
  }
  writeArray(w, type, v, key);
}

function writeArray(w: ByteWriter, type: GGUFArrayTypeInfo, v: unknown, key: string): void {
  const items = Array.isArray(v)
    ? v
    : ArrayBuffer.isView(v) && !(v instanceof DataView)
      ? Array.from(v as unknown as ArrayLike<unknown>)
      : bad(key, type, v);
  w.u32(type.elementType);
  w.u64n(items.length);
  if (type.elementType === GGUFValueType.ARRAY) {
    items.forEach((item, i) => {
      const inner = isTypedValue(item)
        ? inferType(item, key, undefined)
        : (type.items?.[i] ?? inferType(item, key, undefined));
      if (typeof inner === 'number') bad(key, type, item);
      writeArray(w, inner, plainValue(item as GGUFWriteValue), key);
    });
    return;
  }
  for (const item of items) writeScalar(w, type.elementType, item, key);
}
