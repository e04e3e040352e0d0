// Small synthetic vocabularies (SPM with byte fallback, byte-level BPE, WordPiece) written as GGUF
// files, so the tests exercise every code path without ../shared. llama.cpp (node-llama-cpp) loads the
// same files as the oracle.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { typed, writeGGUF } from '@quant/gguf';
import { rng } from './random-text.js';

/** GPT-2's byte-to-character map of byte-level BPE vocabularies (byte b is token text BYTE_CHARS[b]). */
export const BYTE_CHARS: string[] = (() => {
  const map: string[] = new Array(256);
  let k = 0;
  for (let b = 0; b < 256; b++) {
    const direct = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    map[b] = String.fromCharCode(direct ? b : 256 + k++);
  }
  return map;
})();

/** The `general.*` / `llama.*` keys a vocab-only GGUF needs for llama.cpp to load it. */
export function hparams(name: string, nVocab: number): Record<string, unknown> {
  return {
    'general.architecture': 'llama',
    'general.name': name,
    'llama.block_count': typed.u32(1),
    'llama.context_length': typed.u32(64),
    'llama.embedding_length': typed.u32(8),
    'llama.feed_forward_length': typed.u32(16),
    'llama.attention.head_count': typed.u32(2),
    'llama.attention.head_count_kv': typed.u32(2),
    'llama.attention.layer_norm_rms_epsilon': typed.f32(1e-5),
    'llama.rope.dimension_count': typed.u32(4),
    'llama.vocab_size': typed.u32(nVocab),
  };
}

export const SPM_ALPHABET = ['a', 'b', 'c', '▁', 'é', '日', '🦙'];
export const SPM_SPECIALS = { control: ['<|user|>', '<|end|>', '<|endoftext|>'], user: ['<mask>'] };

/** A SentencePiece vocab with byte fallback, tied scores and control / user-defined tokens. */
export function spmVocab(seed: number, name = 'synthetic-spm', splittable = false): Record<string, unknown> {
  const next = rng(seed);
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
    scores.push(0);
  }
  const seen = new Set(tokens);
  const add = (t: string, type = 1): void => {
    if (seen.has(t)) return;
    if (splittable && /[^▁]▁/.test(t)) return;
    seen.add(t);
    tokens.push(t);
    types.push(type);
    scores.push(type === 1 ? -Math.floor(next() * 6) : 0); // few distinct scores → many ties
  };
  for (const a of SPM_ALPHABET) add(a);
  for (const a of SPM_ALPHABET) for (const b of SPM_ALPHABET) if (next() < 0.6) add(a + b);
  for (let i = 0; i < 60; i++) {
    let t = '';
    const n = 3 + Math.floor(next() * 4);
    for (let k = 0; k < n; k++) t += SPM_ALPHABET[Math.floor(next() * SPM_ALPHABET.length)];
    add(t);
  }
  for (const t of SPM_SPECIALS.control) add(t, 3);
  for (const t of SPM_SPECIALS.user) add(t, 4);
  return {
    ...hparams(name, tokens.length),
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.scores': new Float32Array(scores),
    'tokenizer.ggml.token_type': new Int32Array(types),
    'tokenizer.ggml.bos_token_id': typed.u32(1),
    'tokenizer.ggml.eos_token_id': typed.u32(2),
    'tokenizer.ggml.unknown_token_id': typed.u32(0),
  };
}

export const BPE_ALPHABET = ['a', 'b', 'c', ' ', '\n', '1', '2', "'", '.', 'é', '日', '🦙'];

/** A byte-level BPE vocab: the 256 byte chars plus random merges, and special tokens. */
export function bpeVocab(seed: number, pre: string): Record<string, unknown> {
  const next = rng(seed);
  const tokens = [...BYTE_CHARS];
  const types: number[] = tokens.map(() => 1);
  const merges: string[] = [];
  const seen = new Set(tokens);
  // merges over the byte-encoded alphabet, built up so longer tokens appear
  const pool = BPE_ALPHABET.map((c) =>
    Array.from(new TextEncoder().encode(c), (b) => BYTE_CHARS[b]).join(''),
  );
  const units = [...new Set(pool.flatMap((p) => [...p]))];
  // first make each multi-byte alphabet char a token, then random pairs of existing tokens
  const grow = (left: string, right: string): void => {
    const t = left + right;
    if (seen.has(t)) return;
    seen.add(t);
    merges.push(`${left} ${right}`);
    tokens.push(t);
    types.push(1);
  };
  for (const p of pool) {
    let cur = p[0]!;
    for (let i = 1; i < p.length; i++) {
      grow(cur, p[i]!);
      cur += p[i];
    }
  }
  const made = [...units, ...pool];
  for (let i = 0; i < 120; i++) {
    const l = made[Math.floor(next() * made.length)]!;
    const r = made[Math.floor(next() * made.length)]!;
    if (l.length + r.length > 8) continue;
    grow(l, r);
    made.push(l + r);
  }
  for (const t of ['<|endoftext|>', '<|user|>']) {
    tokens.push(t);
    types.push(3);
  }
  tokens.push('<extra>');
  types.push(4);
  const eos = tokens.indexOf('<|endoftext|>');
  return {
    ...hparams(`synthetic-bpe-${pre}`, tokens.length),
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': pre,
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': new Int32Array(types),
    'tokenizer.ggml.merges': merges,
    'tokenizer.ggml.bos_token_id': typed.u32(eos),
    'tokenizer.ggml.eos_token_id': typed.u32(eos),
  };
}

/** A WordPiece vocab (BERT layout as convert_hf_to_gguf writes it: "▁word", bare "##suffix"). */
export function wpmVocab(): Record<string, unknown> {
  const tokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const types = [3, 3, 3, 3, 3];
  const words = [
    '▁hello',
    '▁world',
    '▁he',
    'llo',
    'lo',
    'l',
    'o',
    '▁a',
    'a',
    'b',
    '▁ab',
    '▁!',
    '▁,',
    '▁.',
    '▁日',
    '▁本',
    '▁e',
    'e',
    '▁cafe',
    '▁x',
  ];
  for (const w of words) {
    tokens.push(w);
    types.push(1);
  }
  return {
    ...hparams('synthetic-wpm', tokens.length),
    'tokenizer.ggml.model': 'bert',
    'tokenizer.ggml.pre': 'default',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': new Int32Array(types),
    'tokenizer.ggml.unknown_token_id': typed.u32(1),
    'tokenizer.ggml.seperator_token_id': typed.u32(3),
    'tokenizer.ggml.padding_token_id': typed.u32(0),
    'tokenizer.ggml.cls_token_id': typed.u32(2),
    'tokenizer.ggml.bos_token_id': typed.u32(2),
    'tokenizer.ggml.mask_token_id': typed.u32(4),
  };
}

let dir: string | undefined;
/** Write metadata as a tensor-less GGUF file in a temp dir; returns its path. */
export async function writeVocabFile(name: string, metadata: Record<string, unknown>): Promise<string> {
  dir ??= mkdtempSync(join(tmpdir(), 'quant-tokenizer-'));
  const path = join(dir, `${name}.gguf`);
  await writeGGUF(path, { metadata: metadata as never });
  return path;
}

/** Random text over an alphabet plus extra strings. */
export function alphabetText(
  next: () => number,
  alphabet: readonly string[],
  extras: readonly string[],
  n: number,
): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = next();
    s +=
      r < 0.15 && extras.length > 0
        ? extras[Math.floor(next() * extras.length)]
        : alphabet[Math.floor(next() * alphabet.length)];
  }
  return s;
}
