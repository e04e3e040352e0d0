// Hand-written pre-tokenizers for the three most used patterns (gpt2, llama3, qwen2), equivalent to
// running their regexes (see pretokenizers.ts) but several times faster: one pass over the code points
// with a category table. llama.cpp does the same (unicode_regex_split_custom_*). The tests check these
// against the regex path on random text.

import { U15_L, U15_N } from './unicode-15.1.js';

const OTHER = 0;
const LETTER = 1;
const NUMBER = 2;
const SPACE = 3;
const NONE = 4; // past the end

let table: Uint8Array | undefined;

function parseBody(body: string, fill: (a: number, b: number) => void): void {
  const re = /\\u\{([0-9A-F]+)\}|\\u([0-9A-F]{4})|(-)/g;
  const items: (number | '-')[] = [];
  for (let m = re.exec(body); m !== null; m = re.exec(body)) {
    items.push(m[3] !== undefined ? '-' : Number.parseInt(m[1] ?? m[2]!, 16));
  }
  for (let i = 0; i < items.length; i++) {
    const a = items[i] as number;
    if (items[i + 1] === '-') {
      fill(a, items[i + 2] as number);
      i += 2;
    } else fill(a, a);
  }
}

/** Category of every code point (Unicode 15.1 letters / numbers, llama.cpp whitespace). */
function classTable(): Uint8Array {
  if (table !== undefined) return table;
  const t = new Uint8Array(0x110000); // OTHER = 0
  parseBody(U15_L, (a, b) => t.fill(LETTER, a, b + 1));
  parseBody(U15_N, (a, b) => t.fill(NUMBER, a, b + 1));
  for (const ws of [
    0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
  ])
    t[ws] = SPACE;
  t.fill(SPACE, 0x2000, 0x200b);
  table = t;
  return t;
}

/** Split text the way `/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)/` does (with gaps). */
export function splitGpt2(text: string): string[] {
  const t = classTable();
  const n = text.length;
  const out: string[] = [];
  const cls = (i: number): number => {
    if (i >= n) return NONE;
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= n) return t[c]!;
    const d = text.charCodeAt(i + 1);
    return d >= 0xdc00 && d <= 0xdfff ? t[0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)]! : t[c]!;
  };
  const step = (i: number): number => {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) return 2;
    }
    return 1;
  };
  let pos = 0;
  while (pos < n) {
    const c = text.charCodeAt(pos);
    if (c === 0x27 && pos + 1 < n) {
      const c1 = text.charCodeAt(pos + 1);
      if (c1 === 0x73 || c1 === 0x74 || c1 === 0x6d || c1 === 0x64) {
        out.push(text.substring(pos, pos + 2));
        pos += 2;
        continue;
      }
      if (pos + 2 < n) {
        const c2 = text.charCodeAt(pos + 2);
        if ((c1 === 0x72 && c2 === 0x65) || (c1 === 0x76 && c2 === 0x65) || (c1 === 0x6c && c2 === 0x6c)) {
          out.push(text.substring(pos, pos + 3));
          pos += 3;
          continue;
        }
      }
    }
    const lead = c === 0x20 ? 1 : 0;
    const k = cls(pos + lead);
    if (k === LETTER || k === NUMBER || k === OTHER) {
      let p = pos + lead;
      while (cls(p) === k) p += step(p);
      out.push(text.substring(pos, p));
      pos = p;
      continue;
    }
    // whitespace run: \s+(?!\S) keeps the last one for the next token when something follows
    let q = pos;
    while (cls(q) === SPACE) q++;
    if (q - pos > 1 && q < n) q--;
    if (q === pos) q = pos + step(pos);
    out.push(text.substring(pos, q));
    pos = q;
  }
  return out;
}

/**
 * Split text as Llama 3's pattern does (maxDigits = 3) or Qwen2's (maxDigits = 1):
 * `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
 */
export function splitLlama3(text: string, maxDigits: number): string[] {
  const t = classTable();
  const n = text.length;
  const out: string[] = [];
  const cls = (i: number): number => {
    if (i >= n) return NONE;
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= n) return t[c]!;
    const d = text.charCodeAt(i + 1);
    return d >= 0xdc00 && d <= 0xdfff ? t[0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)]! : t[c]!;
  };
  const step = (i: number): number => {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) return 2;
    }
    return 1;
  };
  const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 32 : c);
  let pos = 0;
  while (pos < n) {
    const c = text.charCodeAt(pos);
    if (c === 0x27 && pos + 1 < n) {
      const c1 = lower(text.charCodeAt(pos + 1));
      if (c1 === 0x73 || c1 === 0x74 || c1 === 0x6d || c1 === 0x64) {
        out.push(text.substring(pos, pos + 2));
        pos += 2;
        continue;
      }
      if (pos + 2 < n) {
        const c2 = lower(text.charCodeAt(pos + 2));
        if ((c1 === 0x72 && c2 === 0x65) || (c1 === 0x76 && c2 === 0x65) || (c1 === 0x6c && c2 === 0x6c)) {
          out.push(text.substring(pos, pos + 3));
          pos += 3;
          continue;
        }
      }
    }
    const k = cls(pos);
    const w = step(pos);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (c !== 0x0d && c !== 0x0a && k !== NUMBER && (k === LETTER || cls(pos + w) === LETTER)) {
      let p = pos + w;
      while (cls(p) === LETTER) p += step(p);
      out.push(text.substring(pos, p));
      pos = p;
      continue;
    }
    // \p{N}{1,maxDigits}
    if (k === NUMBER) {
      let p = pos;
      for (let d = 0; d < maxDigits && cls(p) === NUMBER; d++) p += step(p);
      out.push(text.substring(pos, p));
      pos = p;
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const lead = c === 0x20 ? 1 : 0;
    if (cls(pos + lead) === OTHER) {
      let p = pos + lead;
      while (cls(p) === OTHER) p += step(p);
      for (let e = text.charCodeAt(p); p < n && (e === 0x0d || e === 0x0a); e = text.charCodeAt(++p));
      out.push(text.substring(pos, p));
      pos = p;
      continue;
    }
    // \s*[\r\n]+ | \s+(?!\S) | \s+
    let q = pos;
    let lastNl = -1;
    while (cls(q) === SPACE) {
      const e = text.charCodeAt(q);
      q++;
      if (e === 0x0d || e === 0x0a) lastNl = q;
    }
    if (lastNl > 0) q = lastNl;
    else if (q - pos > 1 && q < n) q--;
    if (q === pos) q = pos + w;
    out.push(text.substring(pos, q));
    pos = q;
  }
  return out;
}
