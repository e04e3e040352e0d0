/**
 * In-place byte patches of a written GGUF, to make damaged models for tests (a bad metadata value,
 * a NaN weight, a corrupted quantization scale) without a second writer. Values are found by their
 * GGUF encoding: a metadata entry is `u64 keyLength, key bytes, u32 valueType, value`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseGGUF } from '@quant/gguf';

/** GGUF metadata value types (gguf.md). */
const GGUF_TYPE = { u32: 4, i32: 5, f32: 6, array: 9 } as const;

function keyValueOffset(bytes: Buffer, key: string): number {
  const k = Buffer.from(key, 'utf8');
  const needle = Buffer.alloc(8 + k.length);
  needle.writeBigUInt64LE(BigInt(k.length), 0);
  k.copy(needle, 8);
  const at = bytes.indexOf(needle);
  if (at < 0) throw new Error(`patchGGUF: metadata key ${key} not found`);
  if (bytes.indexOf(needle, at + 1) >= 0) throw new Error(`patchGGUF: metadata key ${key} found twice`);
  return at + needle.length; // the u32 value type
}

/** Overwrites the scalar metadata value of `key` (it must already be stored as `type`). */
export function patchMetadataScalar(
  path: string,
  key: string,
  type: 'u32' | 'i32' | 'f32',
  value: number,
): void {
  const bytes = readFileSync(path);
  const at = keyValueOffset(bytes, key);
  const stored = bytes.readUInt32LE(at);
  if (stored !== GGUF_TYPE[type]) throw new Error(`patchGGUF: ${key} has value type ${stored}, not ${type}`);
  if (type === 'u32') bytes.writeUInt32LE(value, at + 4);
  else if (type === 'i32') bytes.writeInt32LE(value, at + 4);
  else bytes.writeFloatLE(value, at + 4);
  writeFileSync(path, bytes);
}

/** Overwrites entry `index` of the i32/u32 array metadata value of `key`. */
export function patchMetadataArrayEntry(path: string, key: string, index: number, value: number): void {
  const bytes = readFileSync(path);
  const at = keyValueOffset(bytes, key);
  if (bytes.readUInt32LE(at) !== GGUF_TYPE.array) throw new Error(`patchGGUF: ${key} is not an array`);
  const elem = bytes.readUInt32LE(at + 4);
  const n = Number(bytes.readBigUInt64LE(at + 8));
  if (index >= n) throw new Error(`patchGGUF: ${key} has ${n} entries`);
  const p = at + 16 + index * 4;
  if (elem === GGUF_TYPE.i32) bytes.writeInt32LE(value, p);
  else if (elem === GGUF_TYPE.u32) bytes.writeUInt32LE(value, p);
  else throw new Error(`patchGGUF: ${key} has element type ${elem}, not i32/u32`);
  writeFileSync(path, bytes);
}

/** Overwrites bytes of a tensor's data, `offset` bytes into it. */
export async function patchTensorBytes(
  path: string,
  tensor: string,
  offset: number,
  data: Uint8Array,
): Promise<void> {
  const file = await parseGGUF(path);
  const t = file.tensor(tensor);
  await file.close();
  if (!t) throw new Error(`patchGGUF: tensor ${tensor} not found`);
  if (offset + data.length > t.byteSize) throw new Error(`patchGGUF: patch beyond ${tensor}'s data`);
  const bytes = readFileSync(path);
  bytes.set(data, t.absoluteOffset + offset);
  writeFileSync(path, bytes);
}

/** Writes one f32 `value` as element `index` of an F32 tensor. */
export function patchTensorF32(path: string, tensor: string, index: number, value: number): Promise<void> {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value, 0);
  return patchTensorBytes(path, tensor, index * 4, b);
}
