// UTF-8 helpers. Internally, text is handled the way llama.cpp handles it: as UTF-8 bytes. We keep
// those bytes in "binary strings" (one JS char per byte, 0..255), which V8 stores compactly and lets
// us use indexOf / substring / Map lookups without allocating per character.

const encoder = new TextEncoder();
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** UTF-8 bytes → binary string (one char per byte). */
export function bytesToBinary(bytes: Uint8Array): string {
  let out = '';
  const CHUNK = 8192;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return out;
}

/** Binary string → bytes. */
export function binaryToBytes(bin: string, start = 0, end = bin.length): Uint8Array {
  const out = new Uint8Array(end - start);
  for (let i = start; i < end; i++) out[i - start] = bin.charCodeAt(i);
  return out;
}

/**
 * A JS string → UTF-8 bytes. Lone surrogates become U+FFFD (EF BF BD), which is also what
 * node-llama-cpp (N-API `Utf8Value`) passes to llama.cpp.
 */
export function stringToUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A JS string → its UTF-8 as a binary string. */
export function stringToBinary(text: string): string {
  // Pure-ASCII fast path: the string already is its own binary form.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (!/[^\x00-\x7f]/.test(text)) return text;
  return bytesToBinary(encoder.encode(text));
}

/** Binary string (UTF-8 bytes) → JS string, replacing invalid sequences with U+FFFD (WHATWG rules). */
export function binaryToString(bin: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (!/[^\x00-\x7f]/.test(bin)) return bin;
  return lenientDecoder.decode(binaryToBytes(bin));
}

/** Bytes → JS string with U+FFFD for invalid sequences (WHATWG rules, as V8's String::NewFromUtf8). */
export function utf8ToString(bytes: Uint8Array): string {
  return lenientDecoder.decode(bytes);
}

/** Length of a UTF-8 sequence from its first byte, as llama.cpp's unicode_len_utf8 computes it. */
export function utf8SeqLen(lead: number): number {
  const hi = lead >> 4;
  return hi < 12 ? 1 : hi < 14 ? 2 : hi === 14 ? 3 : 4;
}

/**
 * Decode a binary-string range to code points exactly as llama.cpp's unicode_cpts_from_utf8 does:
 * an invalid sequence becomes U+FFFD and consumes one byte; no overlong/surrogate checks. Returned as
 * a JS string (surrogate code points stay lone surrogates; code points above U+10FFFF, which llama.cpp
 * cannot re-encode, become U+FFFD).
 */
export function binaryToCodepointString(bin: string, start = 0, end = bin.length): string {
  // Fast path: valid UTF-8 decodes identically with the standard decoder.
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (bin.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return start === 0 && end === bin.length ? bin : bin.substring(start, end);
  const bytes = binaryToBytes(bin, start, end);
  try {
    return fatalDecoder.decode(bytes);
  } catch {
    // fall through to the llama.cpp-compatible decoder
  }
  let out = '';
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b0 = bytes[i]!;
    let cp = -1;
    let len = 1;
    if (b0 < 0x80) {
      cp = b0;
    } else if ((b0 & 0x40) === 0) {
      cp = -1;
    } else if ((b0 & 0x20) === 0) {
      if (i + 1 < n && (bytes[i + 1]! & 0xc0) === 0x80) {
        cp = ((b0 & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
        len = 2;
      }
    } else if ((b0 & 0x10) === 0) {
      if (i + 2 < n && (bytes[i + 1]! & 0xc0) === 0x80 && (bytes[i + 2]! & 0xc0) === 0x80) {
        cp = ((b0 & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
        len = 3;
      }
    } else if ((b0 & 0x08) === 0) {
      if (
        i + 3 < n &&
        (bytes[i + 1]! & 0xc0) === 0x80 &&
        (bytes[i + 2]! & 0xc0) === 0x80 &&
        (bytes[i + 3]! & 0xc0) === 0x80
      ) {
        cp =
          ((b0 & 0x07) << 18) |
          ((bytes[i + 1]! & 0x3f) << 12) |
          ((bytes[i + 2]! & 0x3f) << 6) |
          (bytes[i + 3]! & 0x3f);
        len = 4;
      }
    }
    if (cp < 0) {
      // invalid sequence: U+FFFD, consume one byte
      cp = 0xfffd;
      len = 1;
    } else if (cp > 0x10ffff) {
      cp = 0xfffd;
    }
    out += cp > 0xffff ? String.fromCodePoint(cp) : String.fromCharCode(cp);
    i += len;
  }
  return out;
}

/**
 * A JS string's code points → UTF-8 as a binary string, encoding lone surrogates as 3-byte sequences
 * (what llama.cpp's unicode_cpt_to_utf8 does with a surrogate code point).
 */
export function codepointStringToBinary(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out += s[i];
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x800) {
      out += String.fromCharCode(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out += String.fromCharCode(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    } else {
      out += String.fromCharCode(
        0xf0 | (c >> 18),
        0x80 | ((c >> 12) & 0x3f),
        0x80 | ((c >> 6) & 0x3f),
        0x80 | (c & 0x3f),
      );
    }
  }
  return out;
}

/** C `isspace` in the "C" locale (what llama.cpp uses for lstrip/rstrip of special tokens). */
export function isAsciiSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}
