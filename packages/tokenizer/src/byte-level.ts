// GPT-2's byte-level encoding: every byte maps to a printable char, so byte-level BPE vocabularies
// store tokens as strings of those chars ("Ġ" is the space byte).

/** GPT-2's byte → printable char map (bytes_to_unicode). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const map: string[] = new Array(256);
  const direct = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let k = 0;
  for (let b = 0; b < 256; b++) {
    if (direct(b)) map[b] = String.fromCharCode(b);
    else map[b] = String.fromCharCode(256 + k++);
  }
  return map;
})();

/** Reverse of BYTE_TO_CHAR: char code → byte, -1 when not a byte char. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const rev = new Int16Array(0x200).fill(-1);
  for (let b = 0; b < 256; b++) rev[BYTE_TO_CHAR[b]!.charCodeAt(0)] = b;
  return rev;
})();

/** A word's UTF-8 bytes → GPT-2 byte chars (surrogate code points are encoded as 3 bytes, like llama.cpp). */
export function byteEncode(word: string): string {
  let out = '';
  for (let i = 0; i < word.length; i++) {
    let c = word.charCodeAt(i);
    if (c < 0x80) {
      out += BYTE_TO_CHAR[c]!;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < word.length) {
      const d = word.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x800) {
      out += BYTE_TO_CHAR[0xc0 | (c >> 6)]! + BYTE_TO_CHAR[0x80 | (c & 0x3f)]!;
    } else if (c < 0x10000) {
      out +=
        BYTE_TO_CHAR[0xe0 | (c >> 12)]! +
        BYTE_TO_CHAR[0x80 | ((c >> 6) & 0x3f)]! +
        BYTE_TO_CHAR[0x80 | (c & 0x3f)]!;
    } else {
      out +=
        BYTE_TO_CHAR[0xf0 | (c >> 18)]! +
        BYTE_TO_CHAR[0x80 | ((c >> 12) & 0x3f)]! +
        BYTE_TO_CHAR[0x80 | ((c >> 6) & 0x3f)]! +
        BYTE_TO_CHAR[0x80 | (c & 0x3f)]!;
    }
  }
  return out;
}
