// Special-token partition (llama.cpp's tokenizer_st_partition): before the model's own algorithm runs,
// the text is cut at every occurrence of a special token, longest token text first. Control and
// unknown tokens are only matched when the caller asks to parse special text; user-defined tokens are
// always matched. A token with the LSTRIP / RSTRIP attribute eats the ASCII whitespace before / after it.

import { TokenAttr } from './attributes.js';
import { isAsciiSpace } from './utf8.js';
import type { SpecialToken } from './vocab.js';

/** A piece of input: raw text bytes [start, end) of the binary string, or an already-decided token. */
export type Fragment = { token: number } | { start: number; end: number };

export function partition(bin: string, specials: readonly SpecialToken[], parseSpecial: boolean): Fragment[] {
  let buf: Fragment[] = bin.length > 0 ? [{ start: 0, end: bin.length }] : [];
  if (bin.length === 0) return buf;
  for (const sp of specials) {
    if (!parseSpecial && (sp.attr & (TokenAttr.CONTROL | TokenAttr.UNKNOWN)) !== 0) continue;
    const text = sp.bin;
    const tlen = text.length;
    if (tlen === 0 || bin.indexOf(text) < 0) continue;
    const lstrip = (sp.attr & TokenAttr.LSTRIP) !== 0;
    const rstrip = (sp.attr & TokenAttr.RSTRIP) !== 0;
    const out: Fragment[] = [];
    for (const frag of buf) {
      if ('token' in frag) {
        out.push(frag);
        continue;
      }
      let s = frag.start;
      const e = frag.end;
      for (;;) {
        const m = s < e ? bin.indexOf(text, s) : -1;
        if (m < 0 || m + tlen > e) {
          if (e > s) out.push({ start: s, end: e });
          break;
        }
        let le = m;
        if (lstrip) while (le > s && isAsciiSpace(bin.charCodeAt(le - 1))) le--;
        if (le > s) out.push({ start: s, end: le });
        out.push({ token: sp.id });
        let rs = m + tlen;
        if (rstrip) while (rs < e && isAsciiSpace(bin.charCodeAt(rs))) rs++;
        s = rs;
      }
    }
    buf = out;
  }
  return buf;
}
