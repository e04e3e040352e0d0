// SentencePiece-style tokenization (llama.cpp's llm_tokenizer_spm_session): split the text into UTF-8
// characters, then repeatedly merge the adjacent pair whose concatenation is the vocabulary token with
// the highest score (leftmost on ties). Symbols that end up not being tokens are emitted as byte tokens.
// Works on UTF-8 bytes held in a binary string, exactly like the C++ works on std::string bytes.

import { BigramHeap } from './heap.js';
import { utf8SeqLen } from './utf8.js';
import type { Vocab } from './vocab.js';

export class SpmSession {
  private readonly heap = new BigramHeap(1024);
  private readonly popped = new Int32Array(3);
  private start = new Int32Array(1024);
  private len = new Int32Array(1024);
  private prev = new Int32Array(1024);
  private next = new Int32Array(1024);

  constructor(private readonly vocab: Vocab) {}

  /** Tokenize `bin` (UTF-8 bytes as a binary string, spaces already escaped to ▁) into `out`. */
  tokenize(bin: string, out: number[]): void {
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
