import { GGUFError } from './errors.js';
import type { GGUFKeyValue, ParsedHeader } from './header-parser.js';
import type { GGUFByteSource } from './sources/source.js';
import { type GGUFSummary, summarize } from './summary.js';
import type { GGUFTensorInfo } from './tensor-info.js';
import { type GGUFTypeInfo, type GGUFValue, GGUFValueType, typeInfoName } from './value-types.js';

const INT_TYPES: ReadonlySet<number> = new Set([
  GGUFValueType.UINT8,
  GGUFValueType.INT8,
  GGUFValueType.UINT16,
  GGUFValueType.INT16,
  GGUFValueType.UINT32,
  GGUFValueType.INT32,
  GGUFValueType.UINT64,
  GGUFValueType.INT64,
]);

/** A parsed GGUF file: header, metadata and tensor table, with lazy access to tensor data. */
export class GGUFFile {
  /** GGUF format version (1, 2 or 3). */
  readonly version: number;
  /** False for big-endian files (all numbers, including tensor data, are big-endian). */
  readonly littleEndian: boolean;
  /** Metadata values by key, in file order. */
  readonly metadata: Record<string, GGUFValue>;
  /** The declared type of every metadata value (needed to re-write it exactly). */
  readonly metadataTypes: Record<string, GGUFTypeInfo>;
  /** Metadata in file order, with types and the byte offset of each entry. */
  readonly entries: readonly GGUFKeyValue[];
  readonly tensors: GGUFTensorInfo[];
  /** Alignment of tensor data (general.alignment, default 32). */
  readonly alignment: number;
  /** Absolute byte offset where the data section starts. */
  readonly dataOffset: number;
  /** Byte offset where the tensor infos end (before the padding to dataOffset). */
  readonly headerSize: number;
  /** File size, when the source knows it. */
  readonly fileSize: number | undefined;
  /** File path or URL, when known. */
  readonly source: string | undefined;
  private readonly byName: Map<string, GGUFTensorInfo>;
  private readonly src: GGUFByteSource;

  constructor(header: ParsedHeader, src: GGUFByteSource) {
    this.version = header.version;
    this.littleEndian = header.littleEndian;
    this.metadata = header.metadata;
    this.metadataTypes = header.metadataTypes;
    this.entries = header.entries;
    this.tensors = header.tensors;
    this.alignment = header.alignment;
    this.dataOffset = header.dataOffset;
    this.headerSize = header.headerEnd;
    this.fileSize = src.size;
    this.source = src.name;
    this.src = src;
    this.byName = header.tensorsByName;
  }

  /** `general.architecture`, e.g. `llama`, or undefined. */
  get architecture(): string | undefined {
    const a = this.metadata['general.architecture'];
    return typeof a === 'string' ? a : undefined;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.metadata, key);
  }

  /** The raw value, or undefined. */
  get(key: string): GGUFValue | undefined {
    return Object.hasOwn(this.metadata, key) ? this.metadata[key] : undefined;
  }

  /** Declared type of a key, or undefined. */
  typeOf(key: string): GGUFTypeInfo | undefined {
    return Object.hasOwn(this.metadataTypes, key) ? this.metadataTypes[key] : undefined;
  }

  private need(key: string): GGUFValue {
    if (!Object.hasOwn(this.metadata, key)) {
      throw new GGUFError('GGUF_KEY_NOT_FOUND', `metadata key '${key}' is not in the file`, {
        key,
        ...this.fileCtx(),
      });
    }
    return this.metadata[key] as GGUFValue;
  }

  private wrong(key: string, wanted: string): never {
    const t = this.metadataTypes[key];
    throw new GGUFError(
      'GGUF_WRONG_VALUE_TYPE',
      `metadata key '${key}' is ${t === undefined ? 'missing' : typeInfoName(t)}, expected ${wanted}`,
      { key, ...this.fileCtx() },
    );
  }

  private fileCtx(): { file?: string } {
    return this.source === undefined ? {} : { file: this.source };
  }

  /** A string value. Throws GGUF_KEY_NOT_FOUND (unless a fallback is given) or GGUF_WRONG_VALUE_TYPE. */
  getString(key: string, fallback?: string): string {
    if (fallback !== undefined && !this.has(key)) return fallback;
    const v = this.need(key);
    if (typeof v !== 'string') this.wrong(key, 'str');
    return v;
  }

  getBool(key: string, fallback?: boolean): boolean {
    if (fallback !== undefined && !this.has(key)) return fallback;
    const v = this.need(key);
    if (typeof v !== 'boolean') this.wrong(key, 'bool');
    return v;
  }

  /** Any integer-typed value that fits in [0, 2^32). */
  getU32(key: string, fallback?: number): number {
    return this.intIn(key, 0, 4294967295, 'u32', fallback);
  }

  /** Any integer-typed value that fits in [-2^31, 2^31). */
  getI32(key: string, fallback?: number): number {
    return this.intIn(key, -2147483648, 2147483647, 'i32', fallback);
  }

  /** Any integer-typed value that is a safe JS integer. */
  getInt(key: string, fallback?: number): number {
    return this.intIn(key, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'integer', fallback);
  }

  /** Any integer-typed value as a bigint. */
  getBigInt(key: string, fallback?: bigint): bigint {
    if (fallback !== undefined && !this.has(key)) return fallback;
    const v = this.need(key);
    const t = this.metadataTypes[key];
    if (typeof t !== 'number' || !INT_TYPES.has(t)) this.wrong(key, 'an integer');
    return BigInt(v as number | bigint);
  }

  /** Any numeric value (integer or float) as a number; 64-bit integers must be safe. */
  getNumber(key: string, fallback?: number): number {
    if (fallback !== undefined && !this.has(key)) return fallback;
    const v = this.need(key);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER))
      return Number(v);
    return this.wrong(key, 'a number');
  }

  /** A float value (f32/f64; integers are accepted too). */
  getFloat(key: string, fallback?: number): number {
    return this.getNumber(key, fallback);
  }

  private intIn(key: string, lo: number, hi: number, wanted: string, fallback: number | undefined): number {
    if (fallback !== undefined && !this.has(key)) return fallback;
    const v = this.need(key);
    const t = this.metadataTypes[key];
    if (typeof t !== 'number' || !INT_TYPES.has(t)) this.wrong(key, wanted);
    const n =
      typeof v === 'bigint' ? (v >= BigInt(lo) && v <= BigInt(hi) ? Number(v) : Number.NaN) : (v as number);
    if (!(n >= lo && n <= hi)) {
      throw new GGUFError(
        'GGUF_WRONG_VALUE_TYPE',
        `metadata key '${key}' = ${String(v)} does not fit in ${wanted}`,
        { key, ...this.fileCtx() },
      );
    }
    return n;
  }

  /** An array value. Throws GGUF_KEY_NOT_FOUND (unless a fallback is given) or GGUF_WRONG_VALUE_TYPE. */
  getArray<T extends GGUFValue = GGUFValue>(key: string, fallback?: T[]): T[] {
    if (fallback !== undefined && !this.has(key)) return fallback;
    const v = this.need(key);
    if (!Array.isArray(v)) this.wrong(key, 'an array');
    return v as T[];
  }

  /** An array of strings. */
  getStringArray(key: string): string[] {
    const t = this.typeOf(key);
    const arr = this.getArray<string>(key);
    if (typeof t !== 'object' || t.elementType !== GGUFValueType.STRING) this.wrong(key, 'arr[str]');
    return arr;
  }

  /** An array of numbers (any ≤32-bit integer or float element type). */
  getNumberArray(key: string): number[] {
    const t = this.typeOf(key);
    const arr = this.getArray<number>(key);
    if (
      typeof t !== 'object' ||
      t.elementType === GGUFValueType.STRING ||
      t.elementType === GGUFValueType.ARRAY ||
      t.elementType === GGUFValueType.BOOL ||
      t.elementType === GGUFValueType.UINT64 ||
      t.elementType === GGUFValueType.INT64
    ) {
      this.wrong(key, 'an array of numbers');
    }
    return arr;
  }

  /** The full key `<general.architecture>.<suffix>`, e.g. `llama.context_length`. */
  archKey(suffix: string): string {
    const a = this.architecture;
    if (a === undefined) {
      throw new GGUFError(
        'GGUF_KEY_NOT_FOUND',
        `'general.architecture' is not set, so '${suffix}' cannot be scoped`,
        { key: 'general.architecture', ...this.fileCtx() },
      );
    }
    return `${a}.${suffix}`;
  }

  /** Architecture-scoped value: `arch('context_length')` → value of `llama.context_length`, or undefined. */
  arch(suffix: string): GGUFValue | undefined {
    const a = this.architecture;
    return a === undefined ? undefined : this.get(`${a}.${suffix}`);
  }

  /** Tensor info by name, or undefined. */
  tensor(name: string): GGUFTensorInfo | undefined {
    return this.byName.get(name);
  }

  /** Tensor info by name; throws GGUF_TENSOR_NOT_FOUND. */
  requireTensor(name: string): GGUFTensorInfo {
    const t = this.byName.get(name);
    if (t === undefined)
      throw new GGUFError('GGUF_TENSOR_NOT_FOUND', `no tensor named '${name}'`, {
        tensor: name,
        ...this.fileCtx(),
      });
    return t;
  }

  /**
   * The tensor's bytes (exactly byteSize), read from the source. For in-memory sources this is a
   * view into the given buffer, otherwise a fresh buffer. Throws GGUF_DATA_TRUNCATED if the file
   * ends before the tensor does.
   */
  async readTensorData(name: string): Promise<Uint8Array> {
    const t = this.requireTensor(name);
    if (this.src.size !== undefined && t.absoluteOffset + t.byteSize > this.src.size) {
      throw new GGUFError(
        'GGUF_DATA_TRUNCATED',
        `tensor data ends at byte ${t.absoluteOffset + t.byteSize}, beyond the end of the ${this.src.size}-byte file`,
        { offset: t.absoluteOffset, tensor: name, ...this.fileCtx() },
      );
    }
    const bytes = await this.src.read(t.absoluteOffset, t.byteSize);
    if (bytes.length !== t.byteSize) {
      throw new GGUFError(
        'GGUF_DATA_TRUNCATED',
        `expected ${t.byteSize} bytes of tensor data, the file has only ${bytes.length}`,
        { offset: t.absoluteOffset + bytes.length, tensor: name, ...this.fileCtx() },
      );
    }
    return bytes;
  }

  /** Raw bytes of any range of the file. */
  readBytes(offset: number, length: number): Promise<Uint8Array> {
    return this.src.read(offset, length);
  }

  /** Parameter count, byte totals, bits per weight and counts by type. */
  summary(): GGUFSummary {
    return summarize(this);
  }

  /** Bytes fetched from the source so far. */
  get bytesRead(): number {
    return this.src.bytesRead;
  }

  /** Releases the file handle (file sources). Later tensor reads fail with GGUF_CLOSED. */
  close(): Promise<void> {
    return this.src.close();
  }
}
