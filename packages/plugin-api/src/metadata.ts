import { MetadataError } from './errors.js';

/** Key → value view of GGUF metadata (a `Map` or a plain object). */
export type MetadataSource = ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;

function isMap(m: MetadataSource): m is ReadonlyMap<string, unknown> {
  return (
    typeof (m as ReadonlyMap<string, unknown>).get === 'function' &&
    typeof (m as ReadonlyMap<string, unknown>).has === 'function'
  );
}

function describe(v: unknown): string {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return `an array of ${(v as ArrayLike<unknown>).length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Typed reads of GGUF metadata for a plugin's `readHyperparameters`. `arch*` methods prefix the key
 * with the file's `general.architecture` (e.g. `archU32('block_count')` reads `llama.block_count`),
 * so a plugin registered under aliases reads each file's own keys. A missing key without a fallback,
 * or a value of the wrong type, throws `MetadataError` naming the key and the file.
 */
export class MetadataReader {
  readonly architecture: string;
  /** What to call the file in messages (a path, or "<bytes>"). */
  readonly source: string;
  private readonly entries: MetadataSource;

  constructor(architecture: string, entries: MetadataSource, source = 'the GGUF file') {
    this.architecture = architecture;
    this.entries = entries;
    this.source = source;
  }

  /** `${architecture}.${suffix}` */
  archKey(suffix: string): string {
    return `${this.architecture}.${suffix}`;
  }

  has(key: string): boolean {
    return isMap(this.entries) ? this.entries.has(key) : Object.hasOwn(this.entries, key);
  }

  /** The raw value, or undefined. */
  raw(key: string): unknown {
    return isMap(this.entries) ? this.entries.get(key) : (this.entries as Record<string, unknown>)[key];
  }

  private missing(key: string): never {
    throw new MetadataError(
      'MISSING_METADATA',
      key,
      `Metadata key "${key}" is missing in ${this.source}; the ${this.architecture} plugin needs it.`,
    );
  }

  private invalid(key: string, want: string, v: unknown): never {
    throw new MetadataError(
      'INVALID_METADATA',
      key,
      `Metadata key "${key}" in ${this.source} should be ${want}, found ${describe(v)}.`,
    );
  }

  private num(key: string, fallback: number | undefined, integer: boolean): number {
    const v = this.raw(key);
    if (v === undefined) return fallback === undefined ? this.missing(key) : fallback;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n))
      return this.invalid(key, integer ? 'an integer' : 'a number', v);
    if (integer && (!Number.isInteger(n) || n < 0)) return this.invalid(key, 'a non-negative integer', v);
    return n;
  }

  /** Unsigned integer (any GGUF integer type, bigint included). */
  u32(key: string, fallback?: number): number {
    return this.num(key, fallback, true);
  }

  /** Float (any GGUF numeric type). */
  f32(key: string, fallback?: number): number {
    return this.num(key, fallback, false);
  }

  string(key: string, fallback?: string): string {
    const v = this.raw(key);
    if (v === undefined) return fallback === undefined ? this.missing(key) : fallback;
    if (typeof v !== 'string') return this.invalid(key, 'a string', v);
    return v;
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return fallback === undefined ? this.missing(key) : fallback;
    if (typeof v !== 'boolean') return this.invalid(key, 'a boolean', v);
    return v;
  }

  /** An array value (plain or typed array), or undefined when absent. */
  array(key: string): readonly unknown[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (Array.isArray(v)) return v;
    if (ArrayBuffer.isView(v) && !(v instanceof DataView))
      return Array.from(v as unknown as ArrayLike<unknown>);
    return this.invalid(key, 'an array', v);
  }

  /**
   * An integer given either as a scalar or as a per-layer array whose entries are all equal
   * (llama.cpp allows per-layer arrays for head counts and FFN widths; quant plugins support the
   * uniform case and reject the rest with a clear error).
   */
  uniformU32(key: string, fallback?: number): number {
    const v = this.raw(key);
    if (v !== undefined && (Array.isArray(v) || ArrayBuffer.isView(v))) {
      const arr = this.array(key) ?? [];
      const first = arr[0];
      const n = typeof first === 'bigint' ? Number(first) : first;
      if (typeof n !== 'number' || !Number.isInteger(n)) return this.invalid(key, 'an integer array', v);
      for (const x of arr) {
        if (Number(x) !== n) {
          throw new MetadataError(
            'INVALID_METADATA',
            key,
            `Metadata key "${key}" in ${this.source} varies per layer (${arr.join(', ')}); the ${this.architecture} plugin supports one value for all layers.`,
          );
        }
      }
      return n;
    }
    return this.u32(key, fallback);
  }

  archU32(suffix: string, fallback?: number): number {
    return this.u32(this.archKey(suffix), fallback);
  }
  archF32(suffix: string, fallback?: number): number {
    return this.f32(this.archKey(suffix), fallback);
  }
  archString(suffix: string, fallback?: string): string {
    return this.string(this.archKey(suffix), fallback);
  }
  archBool(suffix: string, fallback?: boolean): boolean {
    return this.bool(this.archKey(suffix), fallback);
  }
  archUniformU32(suffix: string, fallback?: number): number {
    return this.uniformU32(this.archKey(suffix), fallback);
  }
}
