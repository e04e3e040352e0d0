import type { GGUFValue } from './value-types.js';
import { GGUFValueType, type GGUFValueTypeId } from './value-types.js';

/** `n` fixed-width values of one type starting at byte `p` (the caller checked they are there). */
export function readNumericArray(
  v: DataView,
  p: number,
  le: boolean,
  type: GGUFValueTypeId,
  n: number,
): GGUFValue[] {
  const out: GGUFValue[] = new Array(n);
  switch (type) {
    case GGUFValueType.UINT8:
      for (let i = 0; i < n; i++) out[i] = v.getUint8(p + i);
      break;
    case GGUFValueType.INT8:
      for (let i = 0; i < n; i++) out[i] = v.getInt8(p + i);
      break;
    case GGUFValueType.BOOL:
      for (let i = 0; i < n; i++) out[i] = v.getUint8(p + i) !== 0;
      break;
    case GGUFValueType.UINT16:
      for (let i = 0; i < n; i++) out[i] = v.getUint16(p + 2 * i, le);
      break;
    case GGUFValueType.INT16:
      for (let i = 0; i < n; i++) out[i] = v.getInt16(p + 2 * i, le);
      break;
    case GGUFValueType.UINT32:
      for (let i = 0; i < n; i++) out[i] = v.getUint32(p + 4 * i, le);
      break;
    case GGUFValueType.INT32:
      for (let i = 0; i < n; i++) out[i] = v.getInt32(p + 4 * i, le);
      break;
    case GGUFValueType.FLOAT32:
      for (let i = 0; i < n; i++) out[i] = v.getFloat32(p + 4 * i, le);
      break;
    case GGUFValueType.UINT64:
      for (let i = 0; i < n; i++) out[i] = v.getBigUint64(p + 8 * i, le);
      break;
    case GGUFValueType.INT64:
      for (let i = 0; i < n; i++) out[i] = v.getBigInt64(p + 8 * i, le);
      break;
    case GGUFValueType.FLOAT64:
      for (let i = 0; i < n; i++) out[i] = v.getFloat64(p + 8 * i, le);
      break;
    default:
      throw new RangeError(`not a fixed-width GGUF value type: ${type}`);
  }
  return out;
}
