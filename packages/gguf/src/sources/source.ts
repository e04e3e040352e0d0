/**
 * Random access to the bytes of a GGUF file. The parser reads a growing prefix for the header and
 * then single ranges for tensor data. Implement this to parse from anything else (OPFS, S3 …).
 */
export interface GGUFByteSource {
  /** File path or URL, used in error messages. */
  readonly name: string | undefined;
  /** Total size in bytes, when known (an HTTP source learns it from its first response). */
  readonly size: number | undefined;
  /** Bytes delivered so far (all reads). */
  readonly bytesRead: number;
  /**
   * Up to `length` bytes starting at `offset`. Returns fewer only when the file ends; an empty
   * array at or beyond the end.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases handles. Reads after close fail with GGUF_CLOSED. */
  close(): Promise<void>;
  /** True when the whole file is in memory (then the parser reads it in one go). */
  readonly inMemory?: boolean;
}

export function isByteSource(x: unknown): x is GGUFByteSource {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as GGUFByteSource).read === 'function' &&
    'bytesRead' in x
  );
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
