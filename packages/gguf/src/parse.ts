import { GGUFError } from './errors.js';
import { GGUFFile } from './gguf-file.js';
import { type HeaderParseOptions, HeaderParser, NeedMoreBytes, type ParsedHeader } from './header-parser.js';
import { BlobSource } from './sources/blob.js';
import { BytesSource, toUint8Array } from './sources/bytes.js';
import { FileSource } from './sources/file.js';
import { HttpSource, type HttpSourceOptions } from './sources/http.js';
import { fileUrlToPath } from './sources/node-fs.js';
import { concatBytes, type GGUFByteSource, isByteSource } from './sources/source.js';

/** Anything parseGGUF reads: a path, a file:/http(s): URL, bytes, a Blob, or a custom source. */
export type GGUFSource = string | URL | Uint8Array | ArrayBuffer | ArrayBufferView | Blob | GGUFByteSource;

export interface ParseGGUFOptions extends HeaderParseOptions, HttpSourceOptions {
  /** Bytes read in the first request for the header (default 64 KiB for URLs, 1 MiB for files). */
  initialReadBytes?: number;
  /** Headers larger than this are refused with GGUF_HEADER_TOO_LARGE (default 1 GiB). */
  maxHeaderBytes?: number;
}

const isHttp = (s: string): boolean => /^https?:\/\//i.test(s);

async function openSource(source: GGUFSource, options: ParseGGUFOptions): Promise<GGUFByteSource> {
  if (typeof source === 'string') {
    if (isHttp(source)) return new HttpSource(source, options);
    if (/^file:\/\//i.test(source)) return FileSource.open(await fileUrlToPath(new URL(source)));
    return FileSource.open(source);
  }
  if (typeof URL !== 'undefined' && source instanceof URL) {
    if (source.protocol === 'http:' || source.protocol === 'https:')
      return new HttpSource(source.href, options);
    if (source.protocol === 'file:') return FileSource.open(await fileUrlToPath(source));
    throw new GGUFError(
      'GGUF_INVALID_ARGUMENT',
      `unsupported URL protocol '${source.protocol}' (use http:, https: or file:)`,
      { file: source.href },
    );
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source))
    return new BytesSource(toUint8Array(source));
  if (typeof Blob !== 'undefined' && source instanceof Blob) return new BlobSource(source);
  if (isByteSource(source)) return source;
  throw new GGUFError(
    'GGUF_INVALID_ARGUMENT',
    'parseGGUF needs a path, URL, Uint8Array, ArrayBuffer, Blob or GGUFByteSource',
  );
}

/** Reads the header, growing the prefix read from the source until the parser is satisfied. */
async function readHeader(
  src: GGUFByteSource,
  options: ParseGGUFOptions,
  forceWideLayout = false,
): Promise<ParsedHeader> {
  const maxHeader = options.maxHeaderBytes ?? 2 ** 30;
  let want = src.inMemory
    ? (src.size ?? 0)
    : Math.max(16, options.initialReadBytes ?? (src instanceof HttpSource ? 65536 : 1 << 20));
  if (src.size !== undefined) want = Math.min(want, src.size);
  let buf: Uint8Array = new Uint8Array(0);
  let parser = new HeaderParser(src.size, options, forceWideLayout);
  for (;;) {
    const before = src.size;
    const more = await src.read(buf.length, Math.max(0, want - buf.length));
    buf = concatBytes(buf, more);
    if (before === undefined && src.size !== undefined)
      parser = new HeaderParser(src.size, options, forceWideLayout);
    const complete = buf.length < want || (src.size !== undefined && buf.length >= src.size);
    try {
      return parser.run(buf, complete);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      let next = Math.max(e.end, Math.min(want * 2, want + 64 * 2 ** 20));
      if (src.size !== undefined) next = Math.min(next, src.size);
      if (e.end > maxHeader) {
        throw new GGUFError(
          'GGUF_HEADER_TOO_LARGE',
          `the header needs more than ${maxHeader} bytes (maxHeaderBytes); the file is corrupt or the limit too low`,
          { offset: buf.length },
        );
      }
      want = Math.min(Math.max(next, e.end), Math.max(maxHeader, e.end));
    }
  }
}

/**
 * Parses a GGUF file's header (v1–v3, either byte order) from a path, URL, bytes or Blob. Only the
 * header is read; tensor data is read on demand with `readTensorData`. Every malformed input
 * raises a GGUFError with a code and byte offset.
 */
export async function parseGGUF(source: GGUFSource, options: ParseGGUFOptions = {}): Promise<GGUFFile> {
  const src = await openSource(source, options);
  try {
    let header: ParsedHeader;
    try {
      header = await readHeader(src, options);
    } catch (e) {
      if (e instanceof GGUFError && (await looksLikeWideLayoutV1(src, options))) throw mislabelled(e.offset);
      throw e;
    }
    if (header.version === 1 && header.entries.length === 0 && (await looksLikeWideLayoutV1(src, options))) {
      throw mislabelled(8);
    }
    if (src instanceof FileSource) await src.release();
    return new GGUFFile(header, src);
  } catch (e) {
    await src.close().catch(() => {});
    // Sources wrap their own I/O failures; anything else would be a bug here and is not disguised.
    throw e instanceof GGUFError ? e.withFile(src.name) : e;
  }
}

function mislabelled(offset: number): GGUFError {
  return new GGUFError(
    'GGUF_VERSION_LAYOUT_MISMATCH',
    'the file says GGUF version 1 but its header uses the 64-bit counts of v2/v3; it was written with the wrong version number',
    { offset: 4 < offset ? 4 : offset },
  );
}

/** For a file declaring version 1: does it parse with the v2/v3 layout? */
async function looksLikeWideLayoutV1(src: GGUFByteSource, options: ParseGGUFOptions): Promise<boolean> {
  const head = await src.read(0, 8);
  if (head.length < 8 || head[0] !== 0x47 || head[1] !== 0x47 || head[2] !== 0x55 || head[3] !== 0x46)
    return false;
  const v = new DataView(head.buffer, head.byteOffset, 8);
  if (v.getUint32(4, true) !== 1 && v.getUint32(4, false) !== 1) return false;
  try {
    await readHeader(src, options, true);
    return true;
  } catch {
    return false;
  }
}
