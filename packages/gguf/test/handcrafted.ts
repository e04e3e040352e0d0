// Hand-built GGUF bytes (written here from the spec, independent of the package's writer), in the
// spirit of llama.cpp's tests/test-gguf.cpp handcrafted files.

export class Bytes {
  private parts: number[] = [];
  constructor(private readonly le = true) {}
  get length(): number {
    return this.parts.length;
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i] as number);
    return this;
  }
  private num(bytes: number, set: (v: DataView) => void): this {
    const v = new DataView(new ArrayBuffer(bytes));
    set(v);
    return this.raw(new Uint8Array(v.buffer));
  }
  u8(x: number): this {
    return this.raw([x & 255]);
  }
  u32(x: number): this {
    return this.num(4, (v) => v.setUint32(0, x >>> 0, this.le));
  }
  i32(x: number): this {
    return this.num(4, (v) => v.setInt32(0, x, this.le));
  }
  u64(x: bigint | number): this {
    return this.num(8, (v) => v.setBigUint64(0, BigInt.asUintN(64, BigInt(x)), this.le));
  }
  i64(x: bigint | number): this {
    return this.num(8, (v) => v.setBigInt64(0, BigInt.asIntN(64, BigInt(x)), this.le));
  }
  f32(x: number): this {
    return this.num(4, (v) => v.setFloat32(0, x, this.le));
  }
  str(s: string | Uint8Array): this {
    const b = typeof s === 'string' ? new TextEncoder().encode(s) : s;
    return this.u64(b.length).raw(b);
  }
  pad(a: number): this {
    while (this.parts.length % a !== 0) this.parts.push(0);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export interface TensorSpec {
  name: string;
  type: number;
  dims: (number | bigint)[];
  offset: number | bigint;
}

export interface FileSpec {
  magic?: string;
  version?: number;
  nTensors?: number | bigint;
  nKV?: number | bigint;
  /** Each entry writes one key/value with raw callbacks. */
  kvs?: ((b: Bytes) => void)[];
  tensors?: TensorSpec[];
  alignment?: number;
  dataBytes?: number;
  le?: boolean;
}

export interface Built {
  bytes: Uint8Array;
  /** Offset of the i-th kv entry and i-th tensor info. */
  kvAt: number[];
  tensorAt: number[];
  dataOffset: number;
}

/** A v3 file from a spec; default: 2 KVs, no tensors. */
export function build(spec: FileSpec): Built {
  const b = new Bytes(spec.le ?? true);
  b.raw(new TextEncoder().encode(spec.magic ?? 'GGUF'));
  b.u32(spec.version ?? 3);
  const kvs = spec.kvs ?? [];
  const tensors = spec.tensors ?? [];
  b.u64(spec.nTensors ?? tensors.length);
  b.u64(spec.nKV ?? kvs.length);
  const kvAt: number[] = [];
  for (const kv of kvs) {
    kvAt.push(b.length);
    kv(b);
  }
  const tensorAt: number[] = [];
  for (const t of tensors) {
    tensorAt.push(b.length);
    b.str(t.name).u32(t.dims.length);
    for (const d of t.dims) b.i64(d);
    b.i32(t.type).u64(t.offset);
  }
  if (tensors.length > 0) b.pad(spec.alignment ?? 32);
  const dataOffset = b.length;
  for (let i = 0; i < (spec.dataBytes ?? 0); i++) b.u8(i);
  return { bytes: b.bytes(), kvAt, tensorAt, dataOffset };
}

export const kvString = (key: string, value: string | Uint8Array) => (b: Bytes) =>
  b.str(key).u32(8).str(value);
export const kvU32 = (key: string, value: number) => (b: Bytes) => b.str(key).u32(4).u32(value);
export const kvI32 = (key: string, value: number) => (b: Bytes) => b.str(key).u32(5).i32(value);
export const kvF32 = (key: string, value: number) => (b: Bytes) => b.str(key).u32(6).f32(value);
