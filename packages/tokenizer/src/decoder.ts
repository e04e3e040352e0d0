// Token ids → text, as llama.cpp's token_to_piece / detokenize: per-token pieces (bytes), the SPM
// leading-space rule, the BPE clean-up of spaces before punctuation, and a streaming decoder that only
// emits complete UTF-8 characters.

import { TokenAttr } from './attributes.js';
import { CHAR_TO_BYTE } from './byte-level.js';
import { stringToUtf8, utf8ToString } from './utf8.js';
import type { Vocab } from './vocab.js';

const SPECIAL_ATTRS = TokenAttr.UNKNOWN | TokenAttr.CONTROL;
const EMPTY = new Uint8Array(0);
const SPACE_ESCAPE = /\u2581/g;

/** The piece of one token with special = true (llama.cpp's cached token_to_piece). */
export function computePiece(vocab: Vocab, id: number): Uint8Array {
  const attr = vocab.attrs[id]!;
  const text = vocab.tokens[id]!;
  if (attr & (SPECIAL_ATTRS | TokenAttr.USER_DEFINED)) return stringToUtf8(text);
  if (attr & TokenAttr.NORMAL) {
    if (vocab.type === 'bpe' && !vocab.escapeWhitespaces) return byteDecode(text);
    return stringToUtf8(text.replace(SPACE_ESCAPE, ' '));
  }
  if (attr & TokenAttr.BYTE) {
    if (vocab.type === 'wpm') return EMPTY;
    return new Uint8Array([Number.parseInt(text.substring(3, 5), 16) & 0xff]);
  }
  return EMPTY;
}

/** GPT-2 byte chars → bytes (llama_decode_text, including its "[UNK_BYTE_0x…]" marker for other chars). */
function byteDecode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c]! : -1;
    if (b >= 0) {
      out.push(b);
      continue;
    }
    const hex = Array.from(stringToUtf8(ch), (x) => x.toString(16).padStart(2, '0')).join('');
    for (const x of stringToUtf8(`[UNK_BYTE_0x${hex}${text}]`)) out.push(x);
  }
  return Uint8Array.from(out);
}

export class PieceCache {
  private readonly pieces: (Uint8Array | undefined)[];

  constructor(private readonly vocab: Vocab) {
    this.pieces = new Array(vocab.size);
  }

  /** Bytes of a token; control/unknown tokens are empty unless `special`. */
  get(id: number, special: boolean): Uint8Array {
    if (!special && this.vocab.attrs[id]! & SPECIAL_ATTRS) return EMPTY;
    let p = this.pieces[id];
    if (p === undefined) {
      p = computePiece(this.vocab, id);
      this.pieces[id] = p;
    }
    return p;
  }
}

/**
 * llama_detokenize(tokens, remove_special, unparse_special) → UTF-8 bytes. Ids must be valid.
 */
export function detokenizeBytes(
  vocab: Vocab,
  pieces: PieceCache,
  ids: ArrayLike<number>,
  removeSpecial: boolean,
  unparseSpecial: boolean,
): Uint8Array {
  let first = 0;
  let last = ids.length;
  let removeSpace = vocab.addSpacePrefix;
  if (removeSpecial && vocab.addBos && last > first && ids[first] === vocab.bos) {
    removeSpace = false;
    first++;
  }
  if (removeSpecial && vocab.addEos && last > first && ids[last - 1] === vocab.eos) last--;
  let total = 0;
  const parts: Uint8Array[] = [];
  for (let i = first; i < last; i++) {
    let p = pieces.get(ids[i]!, unparseSpecial);
    if (removeSpace && p.length > 0 && p[0] === 0x20) p = p.subarray(1);
    removeSpace = false;
    parts.push(p);
    total += p.length;
  }
  let text: Uint8Array = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    text.set(p, o);
    o += p.length;
  }
  if (vocab.cleanSpaces && total > 0) text = cleanSpaces(text);
  return text;
}

const SP = 0x20;
const Q = 0x27;

/** llama.cpp's three clean_spaces passes over the detokenized bytes. */
function cleanSpaces(src: Uint8Array): Uint8Array {
  const t = Uint8Array.from(src);
  // pass 1: " ?", " !", " .", " ," lose the space
  let n1 = t.length;
  let total = 1;
  for (let i = 1; i < n1; i++) {
    const x = t[i]!;
    if (t[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) total--;
    t[total++] = x;
  }
  // pass 2: " ' " → "'"
  n1 = total;
  total = 1;
  for (let i = 1; i < n1; i++) {
    const x = t[i]!;
    if (x === Q && i + 1 < n1 && t[i - 1] === SP && t[i + 1] === SP) {
      total--;
      t[++i] = 0;
    }
    t[total++] = x;
  }
  // pass 3: " 's", " 'm", " 're", " 've" lose the space
  n1 = total;
  total = 1;
  for (let i = 1; i < n1; i++) {
    const x = t[i]!;
    if (t[i - 1] === SP && x === Q && i + 1 < n1) {
      const x1 = t[i + 1]!;
      if (x1 === 0x73 || x1 === 0x6d) total--;
      else if (i + 2 < n1) {
        const x2 = t[i + 2]!;
        if ((x1 === 0x72 && x2 === 0x65) || (x1 === 0x76 && x2 === 0x65)) total--;
      }
    }
    t[total++] = x;
  }
  return t.subarray(0, total);
}

/** How many bytes a UTF-8 sequence starting with `b` needs; 0 for a byte that cannot start one. */
function seqNeed(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/** Length of the longest suffix of `buf` that is an incomplete (but so far valid) UTF-8 sequence. */
export function incompleteTail(buf: Uint8Array, n: number): number {
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = seqNeed(b);
    if (need > back) {
      // check the second byte's range for E0/ED/F0/F4 leads
      if (back >= 2) {
        const c = buf[n - back + 1]!;
        if (
          (b === 0xe0 && c < 0xa0) ||
          (b === 0xed && c > 0x9f) ||
          (b === 0xf0 && c < 0x90) ||
          (b === 0xf4 && c > 0x8f)
        )
          return 0;
      }
      return back;
    }
    return 0;
  }
  return 0;
}

/** Options of a streaming decoder. */
export interface StreamDecoderOptions {
  /** Render control/unknown tokens as empty (default false: render their text, like decode()). */
  skipSpecial?: boolean;
  /**
   * Drop one leading space from the first token's piece when the vocab adds a space prefix (SPM), as
   * decode() does. Default false: pieces are llama.cpp's token_to_piece, right for generated text.
   */
  stripLeadingSpace?: boolean;
}

/**
 * Streaming decoder: push token ids one at a time, get back the text that is complete so far. Bytes of
 * a UTF-8 character split across tokens (byte-fallback tokens, byte-level BPE) are held back until the
 * character is complete; bytes that can never form a character come out as U+FFFD. Pieces are
 * llama.cpp's token_to_piece (no leading-space stripping).
 */
export class StreamDecoder {
  private pending = new Uint8Array(8);
  private pendingLen = 0;
  private readonly special: boolean;
  private stripSpace: boolean;

  constructor(
    private readonly pieces: PieceCache,
    private readonly check: (id: number) => void,
    options: StreamDecoderOptions = {},
    addSpacePrefix = false,
  ) {
    this.special = !options.skipSpecial;
    this.stripSpace = options.stripLeadingSpace === true && addSpacePrefix;
  }

  /** Add one token; returns the newly completed text (possibly ''). */
  push(id: number): string {
    this.check(id);
    let piece = this.pieces.get(id, this.special);
    if (this.stripSpace) {
      this.stripSpace = false;
      if (piece.length > 0 && piece[0] === 0x20) piece = piece.subarray(1);
    }
    if (piece.length === 0) return '';
    const need = this.pendingLen + piece.length;
    let buf: Uint8Array;
    if (this.pendingLen === 0) {
      buf = piece;
    } else {
      buf = new Uint8Array(need);
      buf.set(this.pending.subarray(0, this.pendingLen));
      buf.set(piece, this.pendingLen);
    }
    const tail = incompleteTail(buf, buf.length);
    const text = tail === buf.length ? '' : utf8ToString(buf.subarray(0, buf.length - tail));
    if (this.pending.length < tail) this.pending = new Uint8Array(8);
    this.pending.set(buf.subarray(buf.length - tail));
    this.pendingLen = tail;
    return text;
  }

  /** Emit whatever is held back (an incomplete character becomes U+FFFD). */
  flush(): string {
    if (this.pendingLen === 0) return '';
    const text = utf8ToString(this.pending.subarray(0, this.pendingLen));
    this.pendingLen = 0;
    return text;
  }
}
