// Byte-level BPE (llama.cpp's llm_tokenizer_bpe_session): pre-split with the family's regexes, map each
// word's UTF-8 bytes to GPT-2's printable byte chars, then merge adjacent symbols by rank (lowest rank
// first, leftmost on ties) until no ranked pair is left.

import { byteEncode } from './byte-level.js';
import { BigramHeap } from './heap.js';
import { preSplit } from './pretokenizers.js';
import type { Vocab } from './vocab.js';

const MAX_CACHE = 100_000;

export class BpeSession {
  private readonly heap = new BigramHeap();
  private readonly popped = new Int32Array(4);
  private start = new Int32Array(64);
  private len = new Int32Array(64);
  private prev = new Int32Array(64);
  private next = new Int32Array(64);
  private sym = new Int32Array(64);
  /** Token id of each single byte char (by char code), -1 if none. */
  private readonly charIds: Int32Array;
  /** Pre-tokenization cache: a word (as split from the text) → its token ids. */
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly vocab: Vocab) {
    this.charIds = new Int32Array(0x200).fill(-1);
    for (let c = 0; c < 0x200; c++) this.charIds[c] = vocab.textToId.get(String.fromCharCode(c)) ?? -1;
  }

  /** Tokenize one raw-text fragment (a JS string of code points) and append the ids to `out`. */
  tokenize(text: string, out: number[]): void {
    const pre = this.vocab.preTokenizer!;
    const words = preSplit(text, pre.regexes, pre.substituteWs, pre.fast);
    const cache = this.cache;
    for (const word of words) {
      let ids = cache.get(word);
      if (ids === undefined) {
        ids = [];
        this.word(byteEncode(word), ids);
        if (cache.size >= MAX_CACHE) cache.clear();
        cache.set(word, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
  }

  /** Merge one byte-encoded word. */
  word(w: string, out: number[]): void {
    const vocab = this.vocab;
    const n = w.length;
    if (n === 0) return;
    const map = vocab.textToId;
    if (vocab.ignoreMerges || n === 1) {
      const id = map.get(w);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    if (this.start.length < n) {
      const cap = Math.max(n, this.start.length * 2);
      this.start = new Int32Array(cap);
      this.len = new Int32Array(cap);
      this.prev = new Int32Array(cap);
      this.next = new Int32Array(cap);
      this.sym = new Int32Array(cap);
    }
    const start = this.start;
    const len = this.len;
    const prev = this.prev;
    const next = this.next;
    const sym = this.sym;
    const charIds = this.charIds;
    // byte-encoded words hold only BMP chars (U+0021..U+0143): one symbol per UTF-16 unit
    for (let i = 0; i < n; i++) {
      start[i] = i;
      len[i] = 1;
      prev[i] = i - 1;
      next[i] = i + 1 === n ? -1 : i + 1;
      const c = w.charCodeAt(i);
      sym[i] = c < charIds.length ? charIds[c]! : (map.get(w[i]!) ?? -1);
    }
    const ranks = vocab.bpeRanks;
    const pairRanks = vocab.bpePairRanks;
    const heap = this.heap;
    heap.clear();
    const add = (l: number, r: number): void => {
      if (l < 0 || r < 0) return;
      let rank: number | undefined;
      const a = sym[l]!;
      const b = sym[r]!;
      if (a >= 0 && b >= 0) {
        const k = pairRanks.get(a, b);
        rank = k >= 0 ? k : undefined;
      } else {
        const sl = start[l]!;
        const sr = start[r]!;
        rank = ranks.get(`${w.substring(sl, sl + len[l]!)} ${w.substring(sr, sr + len[r]!)}`);
      }
      if (rank === undefined) return;
      heap.push(rank, l, r, len[l]! + len[r]!);
    };
    for (let i = 1; i < n; i++) add(i - 1, i);
    const p = this.popped;
    const result = vocab.bpeMergeResult;
    while (heap.pop(p)) {
      const l = p[0]!;
      const r = p[1]!;
      const ln = len[l]!;
      const rn = len[r]!;
      if (ln === 0 || rn === 0 || ln + rn !== p[2]) continue; // outdated
      len[l] = ln + rn;
      len[r] = 0;
      const rank = p[3]!;
      let id = result[rank]!;
      if (id === -2) {
        // first use of this merge: the token of its result text (the merged text is left + right)
        id = map.get(w.substring(start[l]!, start[l]! + ln + rn)) ?? -1;
        result[rank] = id;
      }
      sym[l] = id;
      const rnext = next[r]!;
      next[l] = rnext;
      if (rnext >= 0) prev[rnext] = l;
      add(prev[l]!, l);
      add(l, rnext);
    }
    for (let i = 0; i !== -1; i = next[i]!) {
      const id = sym[i]!;
      if (id >= 0) {
        out.push(id);
        continue;
      }
      const s = start[i]!;
      const text = w.substring(s, s + len[i]!);
      // llama.cpp then looks up each UTF-8 byte of the symbol alone; only ASCII chars can match
      for (let k = 0; k < text.length; k++) {
        if (text.charCodeAt(k) < 0x80) {
          const b = map.get(text[k]!);
          if (b !== undefined) out.push(b);
        }
      }
    }
  }
}
