// Per-code-point properties as llama.cpp's unicode tables define them (Unicode 15.1 general
// categories, White_Space as llama.cpp lists it). Lowercase and NFD come from the JS engine.

import { WS_CLASS } from './pretokenizers.js';
import { U15_C, U15_L, U15_M, U15_N, U15_P, U15_S } from './unicode-15.1.js';

const cls = (body: string): RegExp => new RegExp(`^[${body}]$`, 'u');
const WS_RE = cls(WS_CLASS);
const LETTER = cls(U15_L);
const NUMBER = cls(U15_N);
const MARK = cls(U15_M);
const PUNCT = cls(U15_P);
const SYMBOL = cls(U15_S);
const CONTROL = cls(U15_C);

export const F_WHITESPACE = 1;
export const F_LETTER = 2;
export const F_NUMBER = 4;
export const F_MARK = 8;
export const F_PUNCT = 16;
export const F_SYMBOL = 32;
export const F_CONTROL = 64;

const flagCache = new Map<number, number>();

/** Category flags of a code point (whitespace is llama.cpp's White_Space set). */
export function cpFlags(cp: number): number {
  let f = flagCache.get(cp);
  if (f !== undefined) return f;
  const s = String.fromCodePoint(cp);
  f = 0;
  if (WS_RE.test(s)) f |= F_WHITESPACE;
  if (LETTER.test(s)) f |= F_LETTER;
  else if (NUMBER.test(s)) f |= F_NUMBER;
  else if (MARK.test(s)) f |= F_MARK;
  else if (PUNCT.test(s)) f |= F_PUNCT;
  else if (SYMBOL.test(s)) f |= F_SYMBOL;
  else if (CONTROL.test(s)) f |= F_CONTROL;
  flagCache.set(cp, f);
  return f;
}

/** Simple (1:1) lowercase mapping, as UnicodeData's lowercase field (llama.cpp's unicode_tolower). */
export function toLowerSimple(cp: number): number {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp;
  const lower = String.fromCodePoint(cp).toLowerCase();
  // full mappings that expand (only U+0130 unconditionally) keep their first code point, which is the
  // simple mapping
  return lower.codePointAt(0)!;
}

/** First code point of the NFD decomposition (llama.cpp's unicode_cpts_normalize_nfd keeps only that). */
export function nfdFirst(cp: number): number {
  if (cp < 0xc0) return cp;
  return String.fromCodePoint(cp).normalize('NFD').codePointAt(0)!;
}
