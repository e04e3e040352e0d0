// Per-code-point properties as llama.cpp's unicode tables define them (generated there from
// UnicodeData.txt; here computed from the JS engine's own Unicode data, so code points assigned in a
// newer Unicode version than llama.cpp's tables may be classified differently).

import { WS_CLASS } from './pretokenizers.js';

const WS_RE = new RegExp(`^[${WS_CLASS}]$`, 'u');
const LETTER = /^\p{L}$/u;
const NUMBER = /^\p{N}$/u;
const MARK = /^\p{M}$/u;
const PUNCT = /^\p{P}$/u;
const SYMBOL = /^\p{S}$/u;
const CONTROL = /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u;

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
