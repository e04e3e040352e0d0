// SentencePiece-style tokenization (llama.cpp's llm_tokenizer_spm_session): split the text into UTF-8
// characters, then repeatedly merge the adjacent pair whose concatenation is the vocabulary token with
// the highest score (leftmost on ties). Symbols that end up not being tokens are emitted as byte tokens.
// Works on UTF-8 bytes held in a binary string, exactly like the C++ works on std::string bytes.

import { BigramHeap } from './heap.js';
import { utf8SeqLen } from './utf8.js';
import type { Vocab } from './vocab.js';

const MAX_CACHE = 100_000;
const ESC0 = 0xe2; // "▁" = E2 96 81

export class SpmSession {
  /** Segment cache, used when no vocab token can span a "x▁" boundary (see Vocab.spmSplittable). */
  private readonly cache = new Map<string, number[]>();

  private readonly heap = new BigramHeap(1024);
  private readonly popped = new Int32Array(3);
  private start = new Int32Array(1024);
  private len = new Int32Array(1024);
  private prev = new Int32Array(1024);
  private next = new Int32Array(1024);

  constructor(private readonly vocab: Vocab) {}

  /** Tokenize `bin` (UTF-8 bytes as a binary string, spaces already escaped to ▁) into `out`. */
  tokenize(bin: string, out: number[]): void {
    if (!this.vocab.spmSplittable || bin.length < 64) {
      this.merge(bin, out);
      return;
    }
    // No token contains a non-"▁" char followed by "▁", so no merge can cross the boundary before a
    // "▁" that follows another char: the segments are independent and the result is the same as
    // merging the whole text. Boundaries are taken at llama.cpp's symbol starts (so invalid UTF-8,
    // whose lead byte swallows following bytes, is handled identically).
    const total = bin.length;
    const cache = this.cache;
    let segStart = 0;
    let prevIsEsc = false;
    for (let offs = 0; offs < total; ) {
      const c = bin.charCodeAt(offs);
      const n = Math.min(utf8SeqLen(c), total - offs);
      const isEsc =
        n === 3 && c === ESC0 && bin.charCodeAt(offs + 1) === 0x96 && bin.charCodeAt(offs + 2) === 0x81;
      if (isEsc && !prevIsEsc && offs > segStart) {
        this.segment(bin.substring(segStart, offs), out, cache);
        segStart = offs;
      }
      prevIsEsc = isEsc;
      offs += n;
    }
    this.segment(bin.substring(segStart), out, cache);
  }

  private segment(seg: string, out: number[], cache: Map<string, number[]>): void {
    let ids = cache.get(seg);
    if (ids === undefined) {
      ids = [];
      this.merge(seg, ids);
      if (cache.size >= MAX_CACHE) cache.clear();
      cache.set(seg, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }

  /** llama.cpp's SPM merge loop over one piece of text. */
  merge(bin: string, out: number[]): void {
    const total = bin.length;
    if (total === 0) return;
    if (this.start.length < total) {
      const cap = Math.max(total, this.start.length * 2);
      this.start = new Int32Array(cap);
      this.len = new Int32Array(cap);
      this.prev = new Int32Array(cap);
      this.next = new Int32Array(cap);
    }
    const start = this.start;
    const len = this.len;
    const prev = this.prev;
    const next = this.next;
    let count = 0;
    for (let offs = 0; offs < total; ) {
      const n = Math.min(utf8SeqLen(bin.charCodeAt(offs)), total - offs);
      start[count] = offs;
      len[count] = n;
      prev[count] = count - 1;
      offs += n;
      next[count] = offs === total ? -1 : count + 1;
      count++;
    }

    const map = this.vocab.binToId;
    const scores = this.vocab.scores;
    const nVocab = this.vocab.size;
    const heap = this.heap;
    heap.clear();
    const add = (l: number, r: number): void => {
      if (l < 0 || r < 0) return;
      const s = start[l]!;
      const size = len[l]! + len[r]!;
      const id = map.get(bin.substring(s, s + size));
      if (id === undefined || id >= nVocab) return;
      heap.push(-scores[id]!, l, r, size);
    };
    for (let i = 1; i < count; i++) add(i - 1, i);
    const p = this.popped;
    while (heap.pop(p)) {
      const l = p[0]!;
      const r = p[1]!;
      const ln = len[l]!;
      const rn = len[r]!;
      if (ln === 0 || rn === 0 || ln + rn !== p[2]) continue; // one side already merged
      len[l] = ln + rn;
      len[r] = 0;
      const rnext = next[r]!;
      next[l] = rnext;
      if (rnext >= 0) prev[rnext] = l;
      add(prev[l]!, l);
      add(l, rnext);
    }

    const vocab = this.vocab;
    for (let i = 0; i !== -1; i = next[i]!) {
      const s = start[i]!;
      const n = len[i]!;
      const id = map.get(bin.substring(s, s + n));
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (let k = 0; k < n; k++) out.push(vocab.byteToToken(bin.charCodeAt(s + k)));
    }
  }
}
