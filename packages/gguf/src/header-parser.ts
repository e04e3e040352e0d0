import { placeTensors } from './data-section.js';
import { GGUFError, type GGUFErrorCode } from './errors.js';
import { readNumericArray } from './numeric-array.js';
import type { GGUFTensorInfo } from './tensor-info.js';
import { findGGMLType } from './types-table.js';
import {
  GGUF_VALUE_TYPE_SIZE,
  type GGUFArrayTypeInfo,
  type GGUFTypeInfo,
  type GGUFValue,
  GGUFValueType,
  type GGUFValueTypeId,
  typeInfoName,
} from './value-types.js';

/** Thrown internally when the buffer ends before the parser is done and more bytes can be fetched. */
export class NeedMoreBytes {
  constructor(readonly end: number) {}
}

export interface HeaderParseOptions {
  /** Read GGUF v1 files (32-bit counts). Default true. */
  allowV1?: boolean;
  /** Reject tensors with a zero dimension (llama.cpp accepts them). Default false. */
  rejectEmptyTensors?: boolean;
  /** Tensor names must be shorter than this many bytes (llama.cpp's GGML_MAX_NAME). Default 64. */
  maxTensorNameLength?: number;
  /** 'strict' (default) raises GGUF_INVALID_UTF8; 'replace' decodes with U+FFFD. */
  utf8?: 'strict' | 'replace';
  /** Arrays nested deeper than this are refused. Default 16. */
  maxArrayDepth?: number;
}

export interface GGUFKeyValue {
  key: string;
  type: GGUFTypeInfo;
  value: GGUFValue;
  /** Absolute offset of the key's length field. */
  offset: number;
}

export interface ParsedHeader {
  version: number;
  littleEndian: boolean;
  entries: GGUFKeyValue[];
  metadata: Record<string, GGUFValue>;
  metadataTypes: Record<string, GGUFTypeInfo>;
  tensors: GGUFTensorInfo[];
  tensorsByName: Map<string, GGUFTensorInfo>;
  alignment: number;
  dataOffset: number;
  /** End of the tensor infos, before padding. */
  headerEnd: number;
}

const DEFAULT_ALIGNMENT = 32;
const TWO32 = 4294967296;
const MAX_SAFE_HI = 0x1fffff; // high 32-bit word of Number.MAX_SAFE_INTEGER

const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

const ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

enum StrKind {
  Key = 0,
  Value = 1,
  Element = 2,
  TensorName = 3,
}

function describeString(kind: StrKind, index: number, key: string): string {
  switch (kind) {
    case StrKind.Key:
      return `key #${index}`;
    case StrKind.Value:
      return `value of '${key}'`;
    case StrKind.Element:
      return `element ${index} of '${key}'`;
    default:
      return `name of tensor #${index}`;
  }
}

enum Stage {
  Preamble = 0,
  KV = 1,
  Tensors = 2,
  Done = 3,
}

/**
 * An incremental GGUF header parser over a growing prefix of the file. `run` parses as far as the
 * buffer allows; when it runs out it throws NeedMoreBytes, keeping everything parsed up to the
 * last complete key/value or tensor info, so a second `run` with a longer prefix resumes there.
 */
export class HeaderParser {
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.buf.buffer);
  private complete = false;
  private pos = 0;
  private committed = 0;
  private stage = Stage.Preamble;

  private version = 0;
  private le = true;
  private wide = true; // 64-bit counts and lengths (v2+)
  private nTensors = 0;
  private nKV = 0;
  private readonly entries: GGUFKeyValue[] = [];
  private readonly metadata: Record<string, GGUFValue> = {};
  private readonly metadataTypes: Record<string, GGUFTypeInfo> = {};
  private readonly tensors: GGUFTensorInfo[] = [];
  private readonly tensorInfoPos: number[] = [];
  private readonly tensorsByName = new Map<string, GGUFTensorInfo>();
  private alignment = DEFAULT_ALIGNMENT;
  private readonly opts: Required<HeaderParseOptions>;

  /**
   * @param fileSize total file size when known (enables exact bounds checks)
   * @param forceWideLayout parse a version-1 file with the v2 layout (used to diagnose mislabelled files)
   */
  constructor(
    private readonly fileSize: number | undefined,
    options: HeaderParseOptions = {},
    private readonly forceWideLayout = false,
  ) {
    this.opts = {
      allowV1: options.allowV1 ?? true,
      rejectEmptyTensors: options.rejectEmptyTensors ?? false,
      maxTensorNameLength: options.maxTensorNameLength ?? 64,
      utf8: options.utf8 ?? 'strict',
      maxArrayDepth: options.maxArrayDepth ?? 16,
    };
  }

  /** Parse with `buf` = the first buf.length bytes of the file; `complete` = there are no more bytes. */
  run(buf: Uint8Array, complete: boolean): ParsedHeader {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.complete = complete;
    this.pos = this.committed;
    if (this.stage === Stage.Preamble) {
      this.preamble();
      this.commit(Stage.KV);
    }
    if (this.stage === Stage.KV) {
      while (this.entries.length < this.nKV) {
        this.keyValue();
        this.committed = this.pos;
      }
      this.resolveAlignment();
      this.commit(Stage.Tensors);
    }
    if (this.stage === Stage.Tensors) {
      while (this.tensors.length < this.nTensors) {
        this.tensorInfo();
        this.committed = this.pos;
      }
      this.commit(Stage.Done);
    }
    return this.finish();
  }

  private commit(stage: Stage): void {
    this.committed = this.pos;
    this.stage = stage;
  }

  private fail(
    code: GGUFErrorCode,
    message: string,
    offset: number,
    extra: { tensor?: string; key?: string } = {},
  ): never {
    throw new GGUFError(code, message, { offset, ...extra });
  }

  /** Bytes between `pos` and the end of the file, when the file size is known. */
  private remaining(): number {
    if (this.fileSize !== undefined) return this.fileSize - this.pos;
    return this.complete ? this.buf.length - this.pos : Number.POSITIVE_INFINITY;
  }

  private need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.complete || (this.fileSize !== undefined && this.pos + n > this.fileSize)) {
      const have = Math.max(0, (this.fileSize ?? this.buf.length) - this.pos);
      this.fail(
        'GGUF_TRUNCATED',
        `file ends early: needed ${n} more bytes, only ${have} left. The file is truncated (incomplete download?)`,
        this.pos,
      );
    }
    throw new NeedMoreBytes(this.pos + n);
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, this.le);
    this.pos += 4;
    return v;
  }
  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, this.le);
    this.pos += 4;
    return v;
  }
  /** An unsigned 64-bit value as a number; values above 2^53 come back as Infinity. */
  private u64n(): number {
    this.need(8);
    const lo = this.view.getUint32(this.pos + (this.le ? 0 : 4), this.le);
    const hi = this.view.getUint32(this.pos + (this.le ? 4 : 0), this.le);
    this.pos += 8;
    return hi > MAX_SAFE_HI ? Number.POSITIVE_INFINITY : hi * TWO32 + lo;
  }
  /** A signed 64-bit value as a (possibly rounded) number. */
  private i64f(): number {
    this.need(8);
    const lo = this.view.getUint32(this.pos + (this.le ? 0 : 4), this.le);
    const hi = this.view.getInt32(this.pos + (this.le ? 4 : 0), this.le);
    this.pos += 8;
    return hi * TWO32 + lo;
  }
  /** A count or length: u32 in v1, u64 from v2 on. */
  private count(): number {
    return this.wide ? this.u64n() : this.u32();
  }

  /** Reads a string; `kind`/`index`/`key` only name it in error messages (built on failure only). */
  private string(kind: StrKind, index: number, key = ''): string {
    const at = this.pos;
    const len = this.count();
    if (len > this.remaining()) {
      this.fail(
        'GGUF_BAD_STRING_LENGTH',
        `${describeString(kind, index, key)} length ${len === Number.POSITIVE_INFINITY ? '≥ 2^53' : len} exceeds the ${this.remaining()} bytes left in the file (truncated file or corrupt length)`,
        at,
      );
    }
    this.need(len);
    const start = this.pos;
    this.pos += len;
    if (len === 1 && (this.buf[start] as number) < 0x80) return ASCII[this.buf[start] as number] as string;
    if (len === 0) return '';
    const bytes = this.buf.subarray(start, this.pos);
    if (this.opts.utf8 === 'replace') return lenientDecoder.decode(bytes);
    try {
      return strictDecoder.decode(bytes);
    } catch {
      return this.fail('GGUF_INVALID_UTF8', `${describeString(kind, index, key)} is not valid UTF-8`, at);
    }
  }

  private preamble(): void {
    const b = this.buf;
    const magic = [0x47, 0x47, 0x55, 0x46];
    for (let i = 0; i < Math.min(4, b.length); i++) {
      if (b[i] !== magic[i]) this.fail('GGUF_BAD_MAGIC', `not a GGUF file: it does not start with 'GGUF'`, 0);
    }
    this.need(4);
    if (b[0] !== 0x47 || b[1] !== 0x47 || b[2] !== 0x55 || b[3] !== 0x46) {
      const shown = Array.from(b.subarray(0, 4), (c) =>
        c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?',
      ).join('');
      this.fail('GGUF_BAD_MAGIC', `not a GGUF file: magic is '${shown}', expected 'GGUF'`, 0);
    }
    this.pos = 4;
    let version = this.u32();
    if (version === 0) this.fail('GGUF_BAD_VERSION', 'GGUF version 0 is invalid', 4);
    if ((version & 0xffff) === 0) {
      const be = this.view.getUint32(4, false);
      if (be >= 1 && be <= 3) {
        this.le = false;
        version = be;
      } else {
        this.fail('GGUF_BAD_VERSION', `GGUF version ${version} (big-endian ${be}) is not 1, 2 or 3`, 4);
      }
    }
    if (version > 3) {
      this.fail(
        'GGUF_BAD_VERSION',
        `GGUF version ${version} is newer than this reader supports (1–3); update @quant/gguf`,
        4,
      );
    }
    if (version === 1 && !this.opts.allowV1) {
      this.fail('GGUF_BAD_VERSION', 'GGUF v1 files are refused (allowV1: false); convert the file to v3', 4);
    }
    this.version = version;
    this.wide = version >= 2 || this.forceWideLayout;
    const minTensor = (this.wide ? 8 : 4) + 4 + 4 + 8;
    const minKV = (this.wide ? 8 : 4) + 1 + 4 + 1;
    let at = this.pos;
    this.nTensors = this.count();
    if (this.nTensors * minTensor > this.remaining() || this.nTensors > 2 ** 40) {
      this.fail(
        'GGUF_BAD_TENSOR_COUNT',
        `tensor count ${fmtCount(this.nTensors)} cannot fit in the ${this.remaining()} bytes left in the file`,
        at,
      );
    }
    at = this.pos;
    this.nKV = this.count();
    if (this.nKV * minKV + this.nTensors * minTensor > this.remaining() || this.nKV > 2 ** 40) {
      this.fail(
        'GGUF_BAD_KV_COUNT',
        `metadata count ${fmtCount(this.nKV)} cannot fit in the ${this.remaining()} bytes left in the file`,
        at,
      );
    }
  }

  private keyValue(): void {
    const at = this.pos;
    const index = this.entries.length;
    const key = this.string(StrKind.Key, index);
    if (key.length === 0) this.fail('GGUF_EMPTY_KEY', `metadata key #${index} is empty`, at);
    if (Object.hasOwn(this.metadata, key))
      this.fail('GGUF_DUPLICATE_KEY', `metadata key '${key}' appears twice`, at, { key });
    const typeAt = this.pos;
    const type = this.u32();
    if (type > 12)
      this.fail(
        'GGUF_BAD_VALUE_TYPE',
        `metadata key '${key}' has invalid value type ${type} (valid: 0–12)`,
        typeAt,
        { key },
      );
    let value: GGUFValue;
    let info: GGUFTypeInfo;
    if (type === GGUFValueType.ARRAY) {
      const r = this.array(key, 1);
      value = r.value;
      info = r.info;
    } else {
      value = this.scalar(type as GGUFValueTypeId, key);
      info = type as GGUFValueTypeId;
    }
    this.entries.push({ key, type: info, value, offset: at });
    setOwn(this.metadata, key, value);
    setOwn(this.metadataTypes, key, info);
  }

  private scalar(type: GGUFValueTypeId, key: string): GGUFValue {
    const p = this.pos;
    switch (type) {
      case GGUFValueType.UINT8:
        return this.u8();
      case GGUFValueType.INT8:
        this.need(1);
        this.pos += 1;
        return this.view.getInt8(p);
      case GGUFValueType.UINT16:
        this.need(2);
        this.pos += 2;
        return this.view.getUint16(p, this.le);
      case GGUFValueType.INT16:
        this.need(2);
        this.pos += 2;
        return this.view.getInt16(p, this.le);
      case GGUFValueType.UINT32:
        return this.u32();
      case GGUFValueType.INT32:
        return this.i32();
      case GGUFValueType.FLOAT32:
        this.need(4);
        this.pos += 4;
        return this.view.getFloat32(p, this.le);
      case GGUFValueType.BOOL:
        return this.u8() !== 0;
      case GGUFValueType.STRING:
        return this.string(StrKind.Value, 0, key);
      case GGUFValueType.UINT64:
        this.need(8);
        this.pos += 8;
        return this.view.getBigUint64(p, this.le);
      case GGUFValueType.INT64:
        this.need(8);
        this.pos += 8;
        return this.view.getBigInt64(p, this.le);
      case GGUFValueType.FLOAT64:
        this.need(8);
        this.pos += 8;
        return this.view.getFloat64(p, this.le);
      default:
        return this.fail('GGUF_BAD_VALUE_TYPE', `invalid value type ${type}`, p, { key });
    }
  }

  private array(key: string, depth: number): { value: GGUFValue[]; info: GGUFArrayTypeInfo } {
    const typeAt = this.pos;
    const elementType = this.u32();
    if (elementType > 12) {
      this.fail(
        'GGUF_BAD_VALUE_TYPE',
        `array '${key}' has invalid element type ${elementType} (valid: 0–12)`,
        typeAt,
        { key },
      );
    }
    if (elementType === GGUFValueType.ARRAY && depth >= this.opts.maxArrayDepth) {
      this.fail(
        'GGUF_BAD_VALUE_TYPE',
        `array '${key}' nests arrays deeper than ${this.opts.maxArrayDepth} levels`,
        typeAt,
        { key },
      );
    }
    const lenAt = this.pos;
    const n = this.count();
    const elSize =
      GGUF_VALUE_TYPE_SIZE[elementType] ||
      (elementType === GGUFValueType.STRING ? (this.wide ? 8 : 4) : 4 + (this.wide ? 8 : 4));
    if (n * elSize > this.remaining()) {
      this.fail(
        'GGUF_BAD_ARRAY_LENGTH',
        `array '${key}' claims ${fmtCount(n)} elements of ${typeInfoName(elementType as GGUFValueTypeId)}, more than the ${this.remaining()} bytes left in the file can hold`,
        lenAt,
        { key },
      );
    }
    const info: GGUFArrayTypeInfo = {
      type: GGUFValueType.ARRAY,
      elementType: elementType as GGUFValueTypeId,
    };
    if (elementType === GGUFValueType.ARRAY) {
      const value: GGUFValue[] = [];
      const items: GGUFArrayTypeInfo[] = [];
      for (let i = 0; i < n; i++) {
        const r = this.array(key, depth + 1);
        value.push(r.value);
        items.push(r.info);
      }
      info.items = items;
      return { value, info };
    }
    if (elementType === GGUFValueType.STRING) {
      const value: string[] = [];
      for (let i = 0; i < n; i++) value.push(this.string(StrKind.Element, i, key));
      return { value, info };
    }
    this.need(n * elSize);
    const value = readNumericArray(this.view, this.pos, this.le, elementType as GGUFValueTypeId, n);
    this.pos += n * elSize;
    return { value, info };
  }

  private resolveAlignment(): void {
    const entry = this.entries.find((e) => e.key === 'general.alignment');
    if (entry === undefined) return;
    if (entry.type !== GGUFValueType.UINT32) {
      this.fail(
        'GGUF_BAD_ALIGNMENT_TYPE',
        `'general.alignment' must be u32 but is ${typeInfoName(entry.type)}`,
        entry.offset,
        { key: 'general.alignment' },
      );
    }
    const a = entry.value as number;
    if (a === 0 || (a & (a - 1)) !== 0) {
      this.fail(
        'GGUF_BAD_ALIGNMENT',
        `'general.alignment' is ${a}, which is not a power of two`,
        entry.offset,
        { key: 'general.alignment' },
      );
    }
    this.alignment = a;
  }

  private tensorInfo(): void {
    const at = this.pos;
    const index = this.tensors.length;
    const name = this.string(StrKind.TensorName, index);
    const nameBytes = this.pos - at - (this.wide ? 8 : 4);
    if (nameBytes >= this.opts.maxTensorNameLength) {
      this.fail(
        'GGUF_BAD_TENSOR_NAME',
        `tensor #${index} name is ${nameBytes} bytes, the limit is ${this.opts.maxTensorNameLength - 1} (llama.cpp's GGML_MAX_NAME)`,
        at,
        { tensor: name },
      );
    }
    if (this.tensorsByName.has(name))
      this.fail('GGUF_DUPLICATE_TENSOR', `tensor name '${name}' appears twice`, at, { tensor: name });
    const dimsAt = this.pos;
    const nDims = this.u32();
    if (nDims > 4)
      this.fail('GGUF_BAD_N_DIMS', `tensor '${name}' has ${nDims} dimensions; the maximum is 4`, dimsAt, {
        tensor: name,
      });
    const shape: number[] = new Array(nDims);
    let product = 1;
    let exact: bigint[] | undefined; // dimensions above 2^53, read exactly
    for (let j = 0; j < nDims; j++) {
      const dAt = this.pos;
      const d = this.wide ? this.i64f() : this.u32();
      if (d < 0) {
        this.fail(
          'GGUF_BAD_DIMENSION',
          `tensor '${name}' dimension ${j} is ${d}; dimensions cannot be negative`,
          dAt,
          {
            tensor: name,
          },
        );
      }
      if (d === 0 && this.opts.rejectEmptyTensors) {
        this.fail(
          'GGUF_BAD_DIMENSION',
          `tensor '${name}' dimension ${j} is 0 (empty tensors refused by rejectEmptyTensors)`,
          dAt,
          { tensor: name },
        );
      }
      if (d > Number.MAX_SAFE_INTEGER) {
        exact ??= [];
        exact[j] = this.view.getBigInt64(dAt, this.le);
      }
      shape[j] = d;
      product *= d;
    }
    // Above 2^53 the float product is inexact: decide the overflow checks on exact integers.
    let exactProduct: bigint | undefined;
    if (product > Number.MAX_SAFE_INTEGER) {
      exactProduct = shape.reduce((acc, d, j) => acc * (exact?.[j] ?? BigInt(d)), 1n);
      if (exactProduct >= 1n << 63n) {
        this.fail(
          'GGUF_ELEMENT_COUNT_OVERFLOW',
          `tensor '${name}' with shape [${dimsText(shape, exact)}] has 2^63 or more elements`,
          dimsAt,
          {
            tensor: name,
          },
        );
      }
    } else if (exact !== undefined) {
      this.fail(
        'GGUF_ELEMENT_COUNT_OVERFLOW',
        `tensor '${name}' has a dimension above 2^53 ([${dimsText(shape, exact)}])`,
        dimsAt,
        {
          tensor: name,
        },
      );
    }
    const typeAt = this.pos;
    const type = this.i32();
    const ti = findGGMLType(type);
    if (ti === undefined) {
      this.fail('GGUF_UNKNOWN_TENSOR_TYPE', `tensor '${name}' has unknown ggml type id ${type}`, typeAt, {
        tensor: name,
      });
    }
    const row = exact?.[0] ?? shape[0] ?? 1;
    if (typeof row === 'bigint' ? row % BigInt(ti.blockSize) !== 0n : row % ti.blockSize !== 0) {
      this.fail(
        'GGUF_BAD_ROW_SIZE',
        `tensor '${name}' of type ${ti.name} has rows of ${row} elements, not a multiple of the block size ${ti.blockSize}`,
        typeAt,
        { tensor: name },
      );
    }
    const byteSize = (product / ti.blockSize) * ti.typeSize;
    if (exactProduct !== undefined || !Number.isSafeInteger(byteSize)) {
      const bytes = ((exactProduct ?? BigInt(product)) / BigInt(ti.blockSize)) * BigInt(ti.typeSize);
      this.fail(
        'GGUF_BYTE_SIZE_OVERFLOW',
        `tensor '${name}' with shape [${dimsText(shape, exact)}] of type ${ti.name} takes ${bytes} bytes, more than ${bytes >= 1n << 64n ? '2^64' : '2^53 (the largest offset JavaScript can address)'}`,
        typeAt,
        { tensor: name },
      );
    }
    const offAt = this.pos;
    const offset = this.u64n();
    if (!Number.isSafeInteger(offset)) {
      this.fail(
        'GGUF_TENSOR_OFFSET_OUT_OF_BOUNDS',
        `tensor '${name}' data offset is ≥ 2^53, beyond any file`,
        offAt,
        { tensor: name },
      );
    }
    const info: GGUFTensorInfo = {
      name,
      type,
      typeName: ti.name,
      shape,
      offset,
      absoluteOffset: 0,
      byteSize,
      nElements: product,
    };
    this.tensorsByName.set(name, info);
    this.tensorInfoPos.push(offAt);
    this.tensors.push(info);
  }

  private finish(): ParsedHeader {
    const headerEnd = this.pos;
    const a = this.alignment;
    const dataOffset = this.tensors.length > 0 ? Math.ceil(headerEnd / a) * a : headerEnd;
    const size = this.fileSize ?? (this.complete ? this.buf.length : undefined);
    placeTensors(this.tensors, this.tensorInfoPos, a, dataOffset, size);
    return {
      version: this.version,
      littleEndian: this.le,
      entries: this.entries,
      metadata: this.metadata,
      metadataTypes: this.metadataTypes,
      tensors: this.tensors,
      tensorsByName: this.tensorsByName,
      alignment: a,
      dataOffset,
      headerEnd,
    };
  }
}

function dimsText(shape: number[], exact: bigint[] | undefined): string {
  return shape.map((d, j) => String(exact?.[j] ?? d)).join(', ');
}

function fmtCount(n: number): string {
  return n === Number.POSITIVE_INFINITY ? '≥ 2^53' : String(n);
}
