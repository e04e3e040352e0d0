// WordPiece (BERT) tokenization as llama.cpp's llm_tokenizer_wpm_session: normalize (lowercase, strip
// accents by keeping the first NFD code point and dropping marks), split on whitespace, punctuation,
// ASCII symbols and CJK ideographs, then match each word greedily longest-first with a phantom "▁"
// prefix; a word that cannot be matched completely becomes the unknown token.

import {
  cpFlags,
  F_CONTROL,
  F_MARK,
  F_PUNCT,
  F_SYMBOL,
  F_WHITESPACE,
  nfdFirst,
  toLowerSimple,
} from './unicode.js';
import { stringToBinary } from './utf8.js';
import type { Vocab } from './vocab.js';

function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

export function wpmPreprocess(text: string, lowercase: boolean, stripAccents: boolean): string[] {
  const words: string[] = [''];
  for (const ch of text) {
    let cp = ch.codePointAt(0)!;
    // code points unassigned in Unicode 15.1 (flags 0) have no NFD / lowercase mapping in llama.cpp
    if (stripAccents && cpFlags(cp) !== 0) cp = nfdFirst(cp);
    const flags = cpFlags(cp);
    if (flags & F_WHITESPACE) {
      if (words[words.length - 1]!.length > 0) words.push('');
      continue;
    }
    if (cp === 0 || cp === 0xfffd || flags & F_CONTROL) continue;
    if (stripAccents && flags & F_MARK) continue;
    const s = String.fromCodePoint(lowercase && flags !== 0 ? toLowerSimple(cp) : cp);
    if (flags & F_PUNCT || (cp < 0x7f && flags & F_SYMBOL) || isChineseChar(cp)) {
      if (words[words.length - 1]!.length > 0) words.push('');
      words[words.length - 1] = s;
      words.push('');
    } else {
      words[words.length - 1] += s;
    }
  }
  if (words[words.length - 1]!.length === 0) words.pop();
  return words;
}

export function wpmTokenize(vocab: Vocab, text: string, out: number[]): void {
  const words = wpmPreprocess(text, vocab.normalizerLowercase, vocab.normalizerStripAccents);
  const map = vocab.textToId;
  const maxLen = vocab.maxTokenLen;
  for (const word of words) {
    if (word.length === 0) continue;
    const w = `▁${word}`;
    // byte offset of each UTF-16 boundary, to bound candidates by the longest token (in bytes)
    const bin = stringToBinary(w);
    const cps: number[] = []; // UTF-16 index of each code point start, plus the end
    const bytes: number[] = []; // byte offset at each of those
    let b = 0;
    for (let i = 0; i < w.length; ) {
      cps.push(i);
      bytes.push(b);
      const c = w.codePointAt(i)!;
      b += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      i += c > 0xffff ? 2 : 1;
    }
    cps.push(w.length);
    bytes.push(bin.length);
    const nc = cps.length - 1;
    const before = out.length;
    for (let i = 0; i < nc; ) {
      let matched = -1;
      for (let j = nc; j > i; j--) {
        if (bytes[j]! - bytes[i]! > maxLen) continue;
        const id = map.get(w.substring(cps[i]!, cps[j]!));
        if (id !== undefined) {
          out.push(id);
          matched = j;
          break;
        }
      }
      if (matched < 0) {
        out.length = before;
        break;
      }
      i = matched;
    }
    if (out.length === before && vocab.unk !== null) out.push(vocab.unk);
  }
}
