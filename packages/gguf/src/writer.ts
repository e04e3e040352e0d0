import { ByteWriter } from './byte-writer.js';
import { GGUFError } from './errors.js';
import { type GGUFWriteValue, inferType, plainValue } from './metadata-encode.js';
import { ggmlTensorBytes, resolveGGMLType } from './types-table.js';
import { writeValue } from './value-encode.js';
import { type GGUFTypeInfo, GGUFValueType, typeInfoName } from './value-types.js';

type Bytes = Uint8Array | ArrayBufferView | ArrayBuffer;
/** Tensor data: bytes, or a function producing them (called once, when the tensor is written). */
export type GGUFTensorData = Bytes | (() => Bytes | Promise<Bytes>);

export interface GGUFWriteTensor {
  name: string;
  /** ggml type id or name (`'Q8_0'`). */
  type: number | string;
  /** ggml order: shape[0] = row length. Its length (1–4) is written as n_dims. */
  shape: readonly number[];
  /** The tensor's bytes (exactly ggmlTensorBytes(type, shape)); optional when the input has readTensorData. */
  data?: GGUFTensorData;
}

export interface GGUFWriteEntry {
  key: string;
  type?: GGUFTypeInfo;
  value: GGUFWriteValue;
}

export interface GGUFWriteInput {
  /** Metadata by key. Values may be plain (type inferred), typed arrays, or `{ type, value }`. */
  metadata?: Record<string, GGUFWriteValue>;
  /** Declared types by key (e.g. a parsed file's metadataTypes), used where a value is plain. */
  metadataTypes?: Record<string, GGUFTypeInfo>;
  /** Ordered metadata; takes precedence over `metadata` (keeps exact order, e.g. from a parsed file). */
  entries?: readonly GGUFWriteEntry[];
  tensors?: readonly GGUFWriteTensor[];
  /** Tensor data alignment; default general.alignment or 32. */
  alignment?: number;
  /** Byte order of the header (default true). Tensor bytes are written as given. */
  littleEndian?: boolean;
  /** 2 or 3 (default 3; same layout). Other values write 3. */
  version?: number;
  /** Fallback source of tensor bytes (a parsed GGUFFile has one), used when a tensor has no `data`. */
  readTensorData?: (name: string) => Promise<Uint8Array>;
}

export interface GGUFTensorLayout {
  name: string;
  type: number;
  shape: number[];
  /** Offset relative to the data section. */
  offset: number;
  byteSize: number;
}

export interface GGUFEncodedHeader {
  /** Header bytes including the padding up to the data section. */
  header: Uint8Array;
  dataOffset: number;
  alignment: number;
  tensors: GGUFTensorLayout[];
  /** Total file size. */
  totalSize: number;
}

/** Encodes the header (metadata, tensor infos, padding) and computes every tensor's offset. */
export function encodeGGUFHeader(input: GGUFWriteInput): GGUFEncodedHeader {
  const le = input.littleEndian ?? true;
  const w = new ByteWriter(le);
  const entries = collectEntries(input);
  const alignment = resolveAlignment(input, entries);
  const tensors = layoutTensors(input.tensors ?? [], alignment);

  w.bytes(new Uint8Array([0x47, 0x47, 0x55, 0x46]));
  w.u32(input.version === 2 ? 2 : 3);
  w.u64n(tensors.length);
  w.u64n(entries.length);
  for (const e of entries) {
    w.string(e.key);
    w.u32(typeof e.type === 'number' ? e.type : GGUFValueType.ARRAY);
    writeValue(w, e.type, plainValue(e.value), e.key);
  }
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64n(d);
    w.i32(t.type);
    w.u64n(t.offset);
  }
  if (tensors.length > 0) w.pad(alignment);
  const header = w.result();
  const last = tensors[tensors.length - 1];
  const dataSize = last === undefined ? 0 : padTo(last.offset + last.byteSize, alignment);
  return { header, dataOffset: header.length, alignment, tensors, totalSize: header.length + dataSize };
}

function padTo(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

interface ResolvedEntry {
  key: string;
  type: GGUFTypeInfo;
  value: GGUFWriteValue;
}

function collectEntries(input: GGUFWriteInput): ResolvedEntry[] {
  const out: ResolvedEntry[] = [];
  const seen = new Set<string>();
  const declared = input.metadataTypes ?? {};
  const push = (key: string, value: GGUFWriteValue, type: GGUFTypeInfo | undefined): void => {
    if (typeof key !== 'string' || key.length === 0)
      throw new GGUFError('GGUF_INVALID_ARGUMENT', 'metadata keys must be non-empty strings');
    if (seen.has(key))
      throw new GGUFError('GGUF_INVALID_ARGUMENT', `metadata key '${key}' is given twice`, { key });
    seen.add(key);
    const t = inferType(value, key, type ?? (Object.hasOwn(declared, key) ? declared[key] : undefined));
    out.push({ key, type: t, value });
  };
  if (input.entries !== undefined) for (const e of input.entries) push(e.key, e.value, e.type);
  else
    for (const key of Object.keys(input.metadata ?? {}))
      push(key, (input.metadata as Record<string, GGUFWriteValue>)[key] as GGUFWriteValue, undefined);
  return out;
}

function resolveAlignment(input: GGUFWriteInput, entries: ResolvedEntry[]): number {
  const e = entries.find((x) => x.key === 'general.alignment');
  let a = input.alignment;
  if (e !== undefined) {
    if (e.type !== GGUFValueType.UINT32) {
      throw new GGUFError(
        'GGUF_BAD_ALIGNMENT_TYPE',
        `'general.alignment' must be u32, not ${typeInfoName(e.type)}`,
        { key: 'general.alignment' },
      );
    }
    const v = Number(plainValue(e.value));
    if (a !== undefined && a !== v) {
      throw new GGUFError(
        'GGUF_INVALID_ARGUMENT',
        `options.alignment ${a} disagrees with general.alignment ${v}`,
        { key: 'general.alignment' },
      );
    }
    a = v;
  }
  a ??= 32;
  if (!Number.isInteger(a) || a <= 0 || a > 0xffffffff || (a & (a - 1)) !== 0) {
    throw new GGUFError('GGUF_BAD_ALIGNMENT', `alignment ${a} is not a power of two`);
  }
  return a;
}

function layoutTensors(tensors: readonly GGUFWriteTensor[], alignment: number): GGUFTensorLayout[] {
  const names = new Set<string>();
  const out: GGUFTensorLayout[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (typeof t.name !== 'string')
      throw new GGUFError('GGUF_INVALID_ARGUMENT', 'tensor names must be strings');
    if (names.has(t.name))
      throw new GGUFError('GGUF_INVALID_ARGUMENT', `tensor '${t.name}' is given twice`, { tensor: t.name });
    names.add(t.name);
    if (new TextEncoder().encode(t.name).length >= 64) {
      throw new GGUFError(
        'GGUF_BAD_TENSOR_NAME',
        `tensor name '${t.name}' is 64 bytes or longer; llama.cpp refuses it`,
        { tensor: t.name },
      );
    }
    if (!Array.isArray(t.shape) || t.shape.length < 1 || t.shape.length > 4) {
      throw new GGUFError('GGUF_BAD_N_DIMS', `tensor '${t.name}' must have 1–4 dimensions`, {
        tensor: t.name,
      });
    }
    const info = resolveGGMLType(t.type);
    let byteSize: number;
    try {
      byteSize = ggmlTensorBytes(info.id, t.shape);
    } catch (e) {
      throw e instanceof GGUFError ? new GGUFError(e.code, e.detail, { tensor: t.name }) : e;
    }
    out.push({ name: t.name, type: info.id, shape: [...t.shape], offset, byteSize });
    offset = padTo(offset + byteSize, alignment);
  }
  return out;
}

/** Normalizes tensor bytes to a Uint8Array view. */
export function asBytes(b: Bytes): Uint8Array {
  if (b instanceof Uint8Array) return b;
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  throw new GGUFError(
    'GGUF_INVALID_ARGUMENT',
    'tensor data must be a Uint8Array, ArrayBufferView or ArrayBuffer',
  );
}

function checkSize(t: GGUFTensorLayout, b: Uint8Array): Uint8Array {
  if (b.length !== t.byteSize) {
    throw new GGUFError(
      'GGUF_TENSOR_DATA_SIZE',
      `tensor '${t.name}' has ${b.length} bytes of data, but its type and shape need ${t.byteSize}`,
      { tensor: t.name },
    );
  }
  return b;
}

function dataSource(input: GGUFWriteInput, t: GGUFWriteTensor): GGUFTensorData {
  if (t.data !== undefined) return t.data;
  if (typeof input.readTensorData !== 'function')
    throw new GGUFError('GGUF_INVALID_ARGUMENT', `tensor '${t.name}' has no data`, { tensor: t.name });
  return () => (input.readTensorData as (name: string) => Promise<Uint8Array>).call(input, t.name);
}

/**
 * The file as a sequence of chunks: header, then each tensor's bytes and padding. Tensor data
 * functions are called one at a time, so memory stays near one tensor.
 */
export async function* ggufChunks(input: GGUFWriteInput): AsyncGenerator<Uint8Array> {
  const enc = encodeGGUFHeader(input);
  yield enc.header;
  const src = input.tensors ?? [];
  for (let i = 0; i < enc.tensors.length; i++) {
    const t = enc.tensors[i] as GGUFTensorLayout;
    const d = dataSource(input, src[i] as GGUFWriteTensor);
    const bytes = checkSize(t, asBytes(typeof d === 'function' ? await d() : d));
    yield bytes;
    const pad = padTo(t.byteSize, enc.alignment) - t.byteSize;
    if (pad > 0) yield new Uint8Array(pad);
  }
}

/** A web ReadableStream of the file (browsers, Node ≥ 18), e.g. to pipe into a download or OPFS file. */
export function ggufStream(input: GGUFWriteInput): ReadableStream<Uint8Array> {
  const it = ggufChunks(input);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await it.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      } catch (e) {
        controller.error(e);
      }
    },
    async cancel() {
      await it.return(undefined);
    },
  });
}

/**
 * The whole file as bytes. Tensor data must be bytes or a function returning bytes synchronously
 * (use writeGGUF or ggufChunks for asynchronous data).
 */
export function serializeGGUF(input: GGUFWriteInput): Uint8Array {
  const enc = encodeGGUFHeader(input);
  const out = new Uint8Array(enc.totalSize);
  out.set(enc.header, 0);
  const src = input.tensors ?? [];
  enc.tensors.forEach((t, i) => {
    const d = (src[i] as GGUFWriteTensor).data;
    if (d === undefined)
      throw new GGUFError(
        'GGUF_INVALID_ARGUMENT',
        `tensor '${t.name}' has no data (serializeGGUF needs the bytes; use writeGGUF for a parsed file)`,
        { tensor: t.name },
      );
    const v = typeof d === 'function' ? d() : d;
    if (v instanceof Promise) {
      throw new GGUFError(
        'GGUF_INVALID_ARGUMENT',
        `tensor '${t.name}' data is asynchronous; use writeGGUF or ggufChunks`,
        { tensor: t.name },
      );
    }
    out.set(checkSize(t, asBytes(v)), enc.dataOffset + t.offset);
  });
  return out;
}
