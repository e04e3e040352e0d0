// The vocabulary: tokens, scores, attributes, special ids and flags, built from a VocabSpec the way
// llama.cpp's llama_vocab::impl::load() builds them (same defaults, same auto-detection, same order
// of attribute fixes).

import { attrFromType, isTokenType, TokenAttr } from './attributes.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { TokenizerError } from './errors.js';
import { PairTable } from './pair-table.js';
import { type PreTokenizer, preTokenizerFor } from './pretokenizers.js';
import { applySpecialRules } from './special-rules.js';
import { stringToBinary } from './utf8.js';

/** Which algorithm turns text into tokens. */
export type VocabType = 'spm' | 'bpe' | 'wpm';

/** Special token roles read from metadata (`tokenizer.ggml.<role>_token_id`). */
export interface SpecialTokenIds {
  bos?: number;
  eos?: number;
  eot?: number;
  eom?: number;
  unk?: number;
  sep?: number;
  pad?: number;
  mask?: number;
  fimPre?: number;
  fimSuf?: number;
  fimMid?: number;
  fimPad?: number;
  fimRep?: number;
  fimSep?: number;
}

/** Everything a tokenizer is built from: the `tokenizer.ggml.*` metadata, source-independent. */
export interface VocabSpec {
  /** `tokenizer.ggml.model`: 'llama' (SentencePiece), 'gpt2' (byte-level BPE) or 'bert' (WordPiece). */
  model: string;
  /** `tokenizer.ggml.pre`, if present. */
  pre?: string;
  tokens: readonly string[];
  scores?: ArrayLike<number>;
  tokenTypes?: ArrayLike<number>;
  merges?: readonly string[];
  ids?: SpecialTokenIds;
  addBos?: boolean;
  addEos?: boolean;
  addSep?: boolean;
  addSpacePrefix?: boolean;
  removeExtraWhitespaces?: boolean;
  normalizerLowercase?: boolean;
  normalizerStripAccents?: boolean;
  /** `general.name` (llama.cpp keys Phi-3's rstrip rules on it). */
  modelName?: string;
  /** `general.architecture`. */
  architecture?: string;
}

/** A special token as the partitioner sees it. */
export interface SpecialToken {
  id: number;
  /** UTF-8 bytes of the token text as a binary string. */
  bin: string;
  attr: number;
}

export class Vocab {
  readonly type: VocabType;
  readonly model: string;
  readonly pre: string;
  readonly preTokenizer: PreTokenizer | null;
  readonly tokens: readonly string[];
  readonly scores: Float32Array;
  readonly attrs: Uint16Array;
  /** token text (as stored) → id. */
  readonly textToId: Map<string, number>;
  /** SPM only: token text as UTF-8 binary string → id. */
  readonly binToId: Map<string, number>;
  /** BPE only: "left right" → merge rank, for merges where a side is not itself a token. */
  readonly bpeRanks: Map<string, number>;
  /** BPE only: (left id, right id) → merge rank, for merges whose sides are both tokens. */
  readonly bpePairRanks: PairTable;
  /** BPE only: token id of each merge's result text, -1 if none, -2 until first looked up. */
  readonly bpeMergeResult: Int32Array;
  /** Longest token text in bytes. */
  readonly maxTokenLen: number;
  /** SPM: no token has a non-"▁" char followed by "▁", so text can be merged per "▁word" segment. */
  readonly spmSplittable: boolean;

  bos: number | null;
  eos: number | null;
  eot: number | null;
  eom: number | null;
  unk: number | null;
  sep: number | null;
  pad: number | null;
  mask: number | null;
  fimPre: number | null;
  fimSuf: number | null;
  fimMid: number | null;
  fimPad: number | null;
  fimRep: number | null;
  fimSep: number | null;

  addSpacePrefix = false;
  addBos = false;
  addEos = false;
  addSep = false;
  ignoreMerges = false;
  cleanSpaces = false;
  removeExtraWhitespaces = false;
  escapeWhitespaces = true;
  normalizerLowercase = true;
  normalizerStripAccents = true;

  readonly eogIds: Set<number>;
  /** Control, user-defined and unknown tokens, longest text first. */
  readonly specialTokens: SpecialToken[];

  constructor(spec: VocabSpec) {
    const model = spec.model;
    this.model = model;
    let bos: number | null = 1;
    let eos: number | null = 2;
    let unk: number | null = 0;
    let sep: number | null = null;
    let pad: number | null = null;
    let mask: number | null = null;
    let type: VocabType;
    const pre = spec.pre ?? '';

    if (model === 'llama') {
      type = 'spm';
    } else if (model === 'bert') {
      type = 'wpm';
      bos = 101;
      eos = null;
      unk = 100;
      sep = 102;
      pad = 0;
      mask = 103;
      this.addSep = true;
    } else if (model === 'gpt2') {
      type = 'bpe';
      bos = 11;
      eos = 11;
      unk = null;
    } else {
      throw new TokenizerError(
        'TOKENIZER_UNSUPPORTED_MODEL',
        `tokenizer.ggml.model '${model}' is not supported: this package implements 'llama' (SentencePiece), 'gpt2' (byte-level BPE) and 'bert' (WordPiece)`,
        { key: 'tokenizer.ggml.model' },
      );
    }
    this.type = type;
    this.pre = pre;

    if (type === 'bpe') {
      this.addSpacePrefix = false;
      this.escapeWhitespaces = false;
      this.cleanSpaces = true;
      const p = preTokenizerFor(pre);
      if (p === null) {
        throw new TokenizerError(
          'TOKENIZER_UNSUPPORTED_PRE',
          `tokenizer.ggml.pre '${pre}' is not a pre-tokenizer this package implements (see the README for the list)`,
          { key: 'tokenizer.ggml.pre' },
        );
      }
      this.preTokenizer = p;
      if (p.ignoreMerges) this.ignoreMerges = true;
      if (p.addBos) this.addBos = true;
      if (p.cleanSpaces === false) this.cleanSpaces = false;
      if (p.addSep) this.addSep = true;
      if (p.noBos) bos = null;
    } else {
      this.preTokenizer = null;
      if (type === 'spm') {
        this.addSpacePrefix = true;
        this.cleanSpaces = false;
        this.addBos = true;
        this.addEos = false;
      } else {
        this.addSpacePrefix = false;
        this.cleanSpaces = true;
        this.addBos = true;
        this.addEos = false;
        this.addSep = true;
      }
    }
    if (spec.addSpacePrefix !== undefined) this.addSpacePrefix = spec.addSpacePrefix;
    if (spec.removeExtraWhitespaces !== undefined) this.removeExtraWhitespaces = spec.removeExtraWhitespaces;

    // tokens, scores, attributes
    const tokens = spec.tokens;
    const n = tokens.length;
    if (n === 0) {
      throw new TokenizerError(
        'TOKENIZER_BAD_METADATA',
        'tokenizer.ggml.tokens is empty: the vocabulary has no tokens',
        {
          key: 'tokenizer.ggml.tokens',
        },
      );
    }
    if (spec.scores !== undefined && spec.scores.length < n) {
      throw new TokenizerError(
        'TOKENIZER_BAD_METADATA',
        `tokenizer.ggml.scores has ${spec.scores.length} entries for ${n} tokens`,
        { key: 'tokenizer.ggml.scores' },
      );
    }
    if (spec.tokenTypes !== undefined && spec.tokenTypes.length < n) {
      throw new TokenizerError(
        'TOKENIZER_BAD_METADATA',
        `tokenizer.ggml.token_type has ${spec.tokenTypes.length} entries for ${n} tokens`,
        { key: 'tokenizer.ggml.token_type' },
      );
    }
    const texts: string[] = new Array(n);
    const scores = new Float32Array(n);
    const attrs = new Uint16Array(n);
    const textToId = new Map<string, number>();
    let maxLen = 0;
    for (let i = 0; i < n; i++) {
      let word = tokens[i];
      if (typeof word !== 'string') {
        throw new TokenizerError('TOKENIZER_BAD_METADATA', `tokenizer.ggml.tokens[${i}] is not a string`, {
          key: 'tokenizer.ggml.tokens',
          tokenId: i,
        });
      }
      if (word.length === 0) word = `[EMPTY_${i}]`;
      texts[i] = word;
      textToId.set(word, i);
      scores[i] = spec.scores !== undefined ? Number(spec.scores[i]) : 0;
      if (spec.tokenTypes !== undefined) {
        const type = Number(spec.tokenTypes[i]);
        if (!isTokenType(type)) {
          throw new TokenizerError(
            'TOKENIZER_BAD_METADATA',
            `tokenizer.ggml.token_type[${i}] = ${String(spec.tokenTypes[i])} (token ${JSON.stringify(word.length > 40 ? `${word.slice(0, 40)}…` : word)}) is not a token type: llama.cpp defines 0 (undefined), 1 (normal), 2 (unknown), 3 (control), 4 (user-defined), 5 (unused) and 6 (byte); the file is damaged`,
            { key: 'tokenizer.ggml.token_type', tokenId: i },
          );
        }
        attrs[i] = attrFromType(type);
      } else {
        attrs[i] = TokenAttr.NORMAL;
      }
    }
    this.tokens = texts;
    this.scores = scores;
    this.attrs = attrs;
    this.textToId = textToId;

    const binToId = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      if (type === 'spm') {
        const bin = stringToBinary(texts[i]!);
        if (bin.length > maxLen) maxLen = bin.length;
        binToId.set(bin, i);
      } else {
        const len = utf8Length(texts[i]!);
        if (len > maxLen) maxLen = len;
      }
    }
    this.binToId = binToId;
    this.maxTokenLen = maxLen;
    this.spmSplittable = type === 'spm' && !texts.some((t) => /[^\u2581]\u2581/.test(t));

    // merges
    const ranks = new Map<string, number>();
    let pairRanks = new PairTable(0);
    let mergeResult = new Int32Array(0);
    if (type === 'bpe') {
      const merges = spec.merges;
      if (merges === undefined) {
        throw new TokenizerError(
          'TOKENIZER_MISSING_KEY',
          'tokenizer.ggml.merges is missing: a gpt2 (BPE) vocabulary needs its merges',
          { key: 'tokenizer.ggml.merges' },
        );
      }
      mergeResult = new Int32Array(merges.length).fill(-2);
      pairRanks = new PairTable(merges.length);
      for (let i = 0; i < merges.length; i++) {
        const word = merges[i]!;
        // llama.cpp splits at the first space after the first char; a merge without one is ("", ""),
        // which never matches two non-empty symbols
        const pos = word.indexOf(' ', 1);
        if (pos < 0) continue;
        const left = word.substring(0, pos);
        const right = word.substring(pos + 1);
        const l = textToId.get(left);
        const r = textToId.get(right);
        if (l !== undefined && r !== undefined) {
          // both sides are tokens (the usual case): key by ids; the first occurrence of a pair wins
          pairRanks.add(l, r, i);
        } else if (!ranks.has(word)) {
          ranks.set(word, i);
        }
      }
    }
    this.bpeRanks = ranks;
    this.bpePairRanks = pairRanks;
    this.bpeMergeResult = mergeResult;

    // special ids: defaults out of range are disabled; metadata ids out of range keep the default
    const ids = spec.ids ?? {};
    const pick = (def: number | null, given: number | undefined): number | null => {
      let id = def;
      if (id !== null && id >= n) id = null;
      if (given !== undefined && Number.isInteger(given) && given >= 0 && given < n) id = given;
      return id;
    };
    this.bos = pick(bos, ids.bos);
    this.eos = pick(eos, ids.eos);
    this.eot = pick(null, ids.eot);
    this.eom = pick(null, ids.eom);
    this.unk = pick(unk, ids.unk);
    this.sep = pick(sep, ids.sep);
    this.pad = pick(pad, ids.pad);
    this.mask = pick(mask, ids.mask);
    this.fimPre = pick(null, ids.fimPre);
    this.fimSuf = pick(null, ids.fimSuf);
    this.fimMid = pick(null, ids.fimMid);
    this.fimPad = pick(null, ids.fimPad);
    this.fimRep = pick(null, ids.fimRep);
    this.fimSep = pick(null, ids.fimSep);

    if (spec.addBos !== undefined) this.addBos = spec.addBos;
    if (spec.addEos !== undefined) this.addEos = spec.addEos;
    if (spec.addSep !== undefined) this.addSep = spec.addSep;

    if (spec.normalizerLowercase !== undefined) this.normalizerLowercase = spec.normalizerLowercase;
    this.normalizerStripAccents = this.normalizerLowercase;
    if (spec.normalizerStripAccents !== undefined) this.normalizerStripAccents = spec.normalizerStripAccents;

    const rules = applySpecialRules(this, spec);
    this.eogIds = rules.eogIds;
    this.specialTokens = rules.specialTokens;
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The token for one byte, as llama.cpp's byte_to_token: `<0xNN>`, else the raw byte, else unk. */
  byteToToken(byte: number): number {
    if (this.type === 'spm') {
      const hex = byte.toString(16).toUpperCase().padStart(2, '0');
      const id = this.textToId.get(`<0x${hex}>`);
      if (id !== undefined) return id;
      const raw = this.binToId.get(String.fromCharCode(byte));
      if (raw !== undefined) return raw;
    } else {
      const id = this.textToId.get(BYTE_TO_CHAR[byte]!);
      if (id !== undefined) return id;
    }
    if (this.unk !== null) return this.unk;
    throw new TokenizerError(
      'TOKENIZER_NO_BYTE_TOKEN',
      `the vocabulary has no token for byte 0x${byte.toString(16).padStart(2, '0')} and no unknown token`,
    );
  }
}

/** UTF-8 byte length of a JS string (lone surrogates count as 3 bytes, as U+FFFD). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
