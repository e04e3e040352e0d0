import type { GGUFFile } from './gguf-file.js';
import type { GGUFTensorInfo } from './tensor-info.js';
import {
  GGUF_VALUE_TYPE_SHORT_NAMES,
  type GGUFTypeInfo,
  type GGUFValue,
  GGUFValueType,
} from './value-types.js';

export interface InspectOptions {
  /** Include the tensor table. */
  tensors?: boolean;
  /** Longest value shown in text output before it is cut with `...` (llama.cpp uses 40). */
  maxValueLength?: number;
  /** Arrays longer than this are summarised in JSON output (default 16); 0 = never. */
  maxArrayItems?: number;
}

/** `arr[str,32000]`-style type name, as llama.cpp's loader prints it. */
export function describeType(info: GGUFTypeInfo, value: GGUFValue): string {
  if (typeof info === 'number') return GGUF_VALUE_TYPE_SHORT_NAMES[info] ?? String(info);
  const n = Array.isArray(value) ? value.length : 0;
  return `arr[${GGUF_VALUE_TYPE_SHORT_NAMES[info.elementType] ?? info.elementType},${n}]`;
}

/** The shortest decimal that reads back as the same float32. */
export function f32Text(v: number): string {
  if (!Number.isFinite(v) || Math.fround(v) !== v) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

function scalarText(v: GGUFValue, quote: boolean, f32: boolean): string {
  if (typeof v === 'string') return quote ? `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : v;
  if (Array.isArray(v)) return `[${v.map((x) => scalarText(x, true, f32)).join(', ')}]`;
  if (f32 && typeof v === 'number') return f32Text(v);
  return String(v);
}

function isF32(info: GGUFTypeInfo | undefined): boolean {
  return (
    info === GGUFValueType.FLOAT32 || (typeof info === 'object' && info.elementType === GGUFValueType.FLOAT32)
  );
}

/** A value as one line of text, cut to `max` characters. */
export function valueText(v: GGUFValue, max = 40, type?: GGUFTypeInfo): string {
  const f32 = isF32(type);
  // Build only as much of a long array as can be shown.
  let s: string;
  if (Array.isArray(v)) {
    s = '[';
    for (let i = 0; i < v.length && s.length <= max; i++)
      s += (i > 0 ? ', ' : '') + scalarText(v[i] as GGUFValue, true, f32);
    s += ']';
  } else s = scalarText(v, false, f32);
  if (s.length > max) s = `${s.slice(0, max - 3)}...`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
  return s.replace(/[\x00-\x1f\x7f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)} ${units[u]}`;
}

function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}

/** Human-readable report: file facts, metadata, type counts, optional tensor table, totals. */
export function formatInspect(file: GGUFFile, options: InspectOptions = {}): string {
  const max = options.maxValueLength ?? 40;
  const s = file.summary();
  const lines: string[] = [];
  lines.push(`file: ${file.source ?? '(in memory)'}`);
  lines.push(
    `GGUF v${file.version}, ${file.littleEndian ? 'little' : 'big'}-endian, ${file.entries.length} metadata keys, ${file.tensors.length} tensors, alignment ${file.alignment}, data at byte ${file.dataOffset}${file.fileSize !== undefined ? `, file ${fmtBytes(file.fileSize)}` : ''}`,
  );
  lines.push('');
  lines.push('metadata:');
  file.entries.forEach((e, i) => {
    lines.push(
      `  kv ${String(i).padStart(3)}: ${e.key.padStart(42)} ${describeType(e.type, e.value).padEnd(16)} = ${valueText(e.value, max, e.type)}`,
    );
  });
  if (s.byType.length > 0) {
    lines.push('');
    lines.push('tensor types:');
    for (const t of s.byType) {
      lines.push(
        `  ${t.typeName.padEnd(8)} ${String(t.tensors).padStart(5)} tensors  ${fmtCount(t.elements).padStart(10)} params  ${fmtBytes(t.bytes).padStart(11)}`,
      );
    }
  }
  if (options.tensors && file.tensors.length > 0) {
    lines.push('');
    lines.push('tensors:');
    const w = Math.min(48, Math.max(4, ...file.tensors.map((t) => t.name.length)));
    lines.push(
      `  ${'name'.padEnd(w)}  ${'type'.padEnd(8)}  ${'shape'.padEnd(24)}  ${'bytes'.padStart(12)}  offset`,
    );
    for (const t of file.tensors) {
      lines.push(
        `  ${t.name.padEnd(w)}  ${t.typeName.padEnd(8)}  ${`[${t.shape.join(', ')}]`.padEnd(24)}  ${String(t.byteSize).padStart(12)}  ${t.absoluteOffset}`,
      );
    }
  }
  lines.push('');
  lines.push(
    `totals: ${s.tensorCount} tensors, ${fmtCount(s.parameterCount)} parameters (${s.parameterCount}), ${fmtBytes(s.tensorBytes)} of tensor data (${s.tensorBytes} bytes), ${s.bitsPerWeight.toFixed(2)} bits per weight`,
  );
  return lines.join('\n');
}

type JSONValue = string | number | boolean | null | JSONValue[] | { [k: string]: JSONValue };

function toJSONValue(v: GGUFValue, maxItems: number): JSONValue {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (Array.isArray(v)) {
    if (maxItems > 0 && v.length > maxItems) {
      return {
        length: v.length,
        head: v.slice(0, maxItems).map((x) => toJSONValue(x, maxItems)),
        truncated: true,
      };
    }
    return v.map((x) => toJSONValue(x, maxItems));
  }
  return v;
}

function tensorJSON(t: GGUFTensorInfo): JSONValue {
  return {
    name: t.name,
    type: t.typeName,
    typeId: t.type,
    shape: t.shape,
    nElements: t.nElements,
    byteSize: t.byteSize,
    offset: t.offset,
    absoluteOffset: t.absoluteOffset,
  };
}

/** The same report as a JSON-serialisable object (bigints beyond 2^53 as strings). */
export function inspectJSON(file: GGUFFile, options: InspectOptions = {}): Record<string, JSONValue> {
  const maxItems = options.maxArrayItems ?? 16;
  const s = file.summary();
  const out: Record<string, JSONValue> = {
    file: file.source ?? null,
    version: file.version,
    littleEndian: file.littleEndian,
    alignment: file.alignment,
    dataOffset: file.dataOffset,
    fileSize: file.fileSize ?? null,
    metadata: file.entries.map((e) => ({
      key: e.key,
      type: describeType(e.type, e.value),
      value: toJSONValue(e.value, maxItems),
    })),
    tensorTypes: s.byType.map((t) => ({
      type: t.typeName,
      tensors: t.tensors,
      elements: t.elements,
      bytes: t.bytes,
    })),
    totals: {
      tensors: s.tensorCount,
      parameters: s.parameterCount,
      bytes: s.tensorBytes,
      bitsPerWeight: s.bitsPerWeight,
    },
  };
  if (options.tensors) out.tensors = file.tensors.map(tensorJSON);
  return out;
}
