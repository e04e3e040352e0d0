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

/** Options of `GGUFFile.readTensorsData`. */
export interface ReadTensorsOptions {
  /**
   * Largest byte range read at once (default 32 MiB): neighbouring tensors are read together up to
   * this size, so an HTTP source makes one request per range, not one per tensor. A single larger
   * tensor is read alone. At most two ranges are in memory at a time (the next one is prefetched).
   */
  maxRangeBytes?: number;
  /** Bytes of unrequested data between two tensors that are read rather than split the range (default 1 MiB). */
  maxGapBytes?: number;
}

/** One tensor's data from `GGUFFile.readTensorsData`. */
export interface TensorData {
  name: string;
  info: GGUFTensorInfo;
  /** Exactly `info.byteSize` bytes (a view into the range read). */
  data: Uint8Array;
}

interface ReadRange {
  file: GGUFFile;
  start: number;
  end: number;
  tensors: GGUFTensorInfo[];
}

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
  /** For a split set: the part file of each tensor. */
  private partOf: Map<string, number> | undefined;
  private partFiles: GGUFFile[] | undefined;

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

  /** @internal */
  fileCtx(): { file?: string } {
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
    const part = this.partOf?.get(name);
    if (part !== undefined && this.partFiles?.[part] !== this)
      return (this.partFiles as GGUFFile[])[part]!.readTensorData(name);
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

  /**
   * The data of many tensors (default: all), read in few large ranges in file order — for an HTTP
   * source one request per range instead of one per tensor. Yields each tensor once, in file order
   * (for a split set, part after part). Throws GGUF_DATA_TRUNCATED like `readTensorData`.
   */
  async *readTensorsData(
    names?: Iterable<string>,
    options: ReadTensorsOptions = {},
  ): AsyncGenerator<TensorData, void, undefined> {
    const maxRange = Math.max(1, options.maxRangeBytes ?? 32 * 2 ** 20);
    const maxGap = Math.max(0, options.maxGapBytes ?? 2 ** 20);
    const wanted = names === undefined ? this.tensors.map((t) => t.name) : [...new Set(names)];
    const byPart = new Map<GGUFFile, GGUFTensorInfo[]>();
    for (const name of wanted) {
      const info = this.requireTensor(name);
      const file = this.partFile(name);
      const list = byPart.get(file) ?? [];
      list.push(info);
      byPart.set(file, list);
    }
    const ranges: ReadRange[] = [];
    for (const file of this.parts) {
      const list = byPart.get(file);
      if (!list) continue;
      list.sort((a, b) => a.absoluteOffset - b.absoluteOffset);
      let cur: ReadRange | undefined;
      for (const t of list) {
        file.checkInFile(t);
        const end = t.absoluteOffset + t.byteSize;
        if (cur !== undefined && t.absoluteOffset - cur.end <= maxGap && end - cur.start <= maxRange) {
          cur.end = Math.max(cur.end, end);
          cur.tensors.push(t);
        } else {
          cur = { file, start: t.absoluteOffset, end, tensors: [t] };
          ranges.push(cur);
        }
      }
    }
    const read = (r: ReadRange) => r.file.src.read(r.start, r.end - r.start);
    let next: Promise<Uint8Array> | undefined = ranges.length > 0 ? read(ranges[0] as ReadRange) : undefined;
    // A prefetched read that is never awaited (the consumer stopped early) must not be an unhandled rejection.
    next?.catch(() => {});
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i] as ReadRange;
      const bytes = await (next as Promise<Uint8Array>);
      next = i + 1 < ranges.length ? read(ranges[i + 1] as ReadRange) : undefined;
      next?.catch(() => {});
      for (const t of r.tensors) {
        const from = t.absoluteOffset - r.start;
        if (from + t.byteSize > bytes.length) {
          throw new GGUFError(
            'GGUF_DATA_TRUNCATED',
            `expected ${t.byteSize} bytes of tensor data, the file has only ${Math.max(0, bytes.length - from)}`,
            { offset: r.start + bytes.length, tensor: t.name, ...r.file.fileCtx() },
          );
        }
        yield { name: t.name, info: t, data: bytes.subarray(from, from + t.byteSize) };
      }
    }
  }

  private checkInFile(t: GGUFTensorInfo): void {
    if (this.src.size !== undefined && t.absoluteOffset + t.byteSize > this.src.size) {
      throw new GGUFError(
        'GGUF_DATA_TRUNCATED',
        `tensor data ends at byte ${t.absoluteOffset + t.byteSize}, beyond the end of the ${this.src.size}-byte file`,
        { offset: t.absoluteOffset, tensor: t.name, ...this.fileCtx() },
      );
    }
  }

  /** The files of a split set in order (`split.no` 0, 1, …), or just this file. */
  get parts(): readonly GGUFFile[] {
    return this.partFiles ?? [this];
  }

  /** Index in `parts` of the file holding a tensor's data (0 for a single file). */
  tensorPart(name: string): number {
    this.requireTensor(name);
    return this.partOf?.get(name) ?? 0;
  }

  private partFile(name: string): GGUFFile {
    return this.parts[this.partOf?.get(name) ?? 0] as GGUFFile;
  }

  /**
   * @internal (use parseGGUFSplit) One file presenting a split set: the metadata of the first part,
   * the tensors of all parts; tensor reads go to the part that holds the tensor.
   */
  static fromParts(parts: readonly GGUFFile[]): GGUFFile {
    const first = parts[0] as GGUFFile;
    const tensors: GGUFTensorInfo[] = [];
    const byName = new Map<string, GGUFTensorInfo>();
    const partOf = new Map<string, number>();
    parts.forEach((p, i) => {
      for (const t of p.tensors) {
        if (byName.has(t.name)) {
          throw new GGUFError(
            'GGUF_SPLIT_INVALID',
            `tensor '${t.name}' is in part ${partOf.get(t.name)! + 1} and again in part ${i + 1} of the split set; the parts come from different models`,
            { tensor: t.name, ...p.fileCtx() },
          );
        }
        tensors.push(t);
        byName.set(t.name, t);
        partOf.set(t.name, i);
      }
    });
    const merged = new GGUFFile(
      {
        version: first.version,
        littleEndian: first.littleEndian,
        entries: [...first.entries],
        metadata: first.metadata,
        metadataTypes: first.metadataTypes,
        tensors,
        tensorsByName: byName,
        alignment: first.alignment,
        dataOffset: first.dataOffset,
        headerEnd: first.headerSize,
      },
      first.src,
    );
    merged.partOf = partOf;
    merged.partFiles = [...parts];
    (merged as { fileSize: number | undefined }).fileSize = parts.every((p) => p.fileSize !== undefined)
      ? parts.reduce((a, p) => a + (p.fileSize as number), 0)
      : undefined;
    return merged;
  }

  /** Raw bytes of any range of the file (the first part of a split set). */
  readBytes(offset: number, length: number): Promise<Uint8Array> {
    return this.src.read(offset, length);
  }

  /** Parameter count, byte totals, bits per weight and counts by type. */
  summary(): GGUFSummary {
    return summarize(this);
  }

  /** Bytes fetched from the source so far (all parts of a split set). */
  get bytesRead(): number {
    return this.partFiles ? this.partFiles.reduce((a, p) => a + p.src.bytesRead, 0) : this.src.bytesRead;
  }

  /**
   * Releases the file handle (file sources) and the reference to in-memory bytes or a Blob (every
   * part of a split set). Later tensor reads fail with GGUF_CLOSED.
   */
  async close(): Promise<void> {
    if (this.partFiles) await Promise.all(this.partFiles.map((p) => p.src.close()));
    else await this.src.close();
  }
}
