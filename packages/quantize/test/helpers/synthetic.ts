/**
 * Small synthetic F16 models of both architectures with random weights (fixed seed) and a minimal
 * SentencePiece vocab, for tests that must run without ../shared.
 */
import { gaussian, mulberry32, spmBaseVocab } from '@quant/test-utils';
import { f32ToF16Bits } from './half.js';

export type Arch = 'llama' | 'phi3';

export interface SyntheticShape {
  nEmbd: number;
  nFf: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  /** Extra SentencePiece pieces after <unk>, <s>, </s> and the 256 byte tokens. */
  nExtraTokens: number;
}

export const SMALL: SyntheticShape = {
  nEmbd: 256,
  nFf: 512,
  nLayer: 4,
  nHead: 4,
  nHeadKv: 2,
  nExtraTokens: 64,
};
/** Row lengths that are not multiples of 256, so K-quants fall back (64-wide rows, 96-wide ffn). */
export const NARROW: SyntheticShape = {
  nEmbd: 64,
  nFf: 96,
  nLayer: 3,
  nHead: 4,
  nHeadKv: 2,
  nExtraTokens: 64,
};

export interface SyntheticMeta {
  key: string;
  kind: 'string' | 'u32' | 'f32' | 'bool' | 'string[]' | 'f32[]' | 'i32[]';
  value: string | number | boolean | string[] | number[];
}

export interface SyntheticTensor {
  name: string;
  /** ggml type id: 0 = F32, 1 = F16 */
  type: 0 | 1;
  shape: number[];
  values: Float32Array;
}

export interface SyntheticModel {
  arch: Arch;
  metadata: SyntheticMeta[];
  tensors: SyntheticTensor[];
  nVocab: number;
}

function vocab(nExtra: number): { tokens: string[]; scores: number[]; types: number[] } {
  const { tokens, types } = spmBaseVocab();
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  for (let i = 0; i < nExtra; i++) {
    const a = letters[i % 26]!;
    const b = letters[Math.floor(i / 26) % 26]!;
    tokens.push(i < 26 ? `▁${a}` : `${a}${b}`);
    types.push(1);
  }
  // llama.cpp looks this token up in models whose name says phi3.
  tokens.push('<|endoftext|>');
  types.push(3);
  const scores = tokens.map((_, i) => (i < 259 || i === tokens.length - 1 ? 0 : -i));
  return { tokens, scores, types };
}

/** Builds a model: F16 2-D weights (scaled so activations stay O(1)), F32 norms and rope factors. */
export function syntheticModel(arch: Arch, s: SyntheticShape = SMALL, seed = 1234): SyntheticModel {
  const r = mulberry32(seed);
  const v = vocab(s.nExtraTokens);
  const nVocab = v.tokens.length;
  const headDim = s.nEmbd / s.nHead;
  const kvDim = s.nHeadKv * headDim;
  const tensors: SyntheticTensor[] = [];
  const mat = (name: string, cols: number, rows: number, std = 1 / Math.sqrt(cols)) =>
    tensors.push({ name, type: 1, shape: [cols, rows], values: gaussian(r, cols * rows, std) });
  const norm = (name: string, n: number) => {
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = 0.8 + 0.4 * r();
    tensors.push({ name, type: 0, shape: [n], values });
  };

  mat('token_embd.weight', s.nEmbd, nVocab, 1);
  norm('output_norm.weight', s.nEmbd);
  mat('output.weight', s.nEmbd, nVocab);
  for (let i = 0; i < s.nLayer; i++) {
    const p = `blk.${i}.`;
    norm(`${p}attn_norm.weight`, s.nEmbd);
    if (arch === 'llama') {
      mat(`${p}attn_q.weight`, s.nEmbd, s.nEmbd);
      mat(`${p}attn_k.weight`, s.nEmbd, kvDim);
      mat(`${p}attn_v.weight`, s.nEmbd, kvDim);
    } else {
      mat(`${p}attn_qkv.weight`, s.nEmbd, s.nEmbd + 2 * kvDim);
    }
    mat(`${p}attn_output.weight`, s.nEmbd, s.nEmbd);
    norm(`${p}ffn_norm.weight`, s.nEmbd);
    if (arch === 'llama') {
      mat(`${p}ffn_gate.weight`, s.nEmbd, s.nFf);
      mat(`${p}ffn_up.weight`, s.nEmbd, s.nFf);
    } else {
      mat(`${p}ffn_up.weight`, s.nEmbd, 2 * s.nFf);
    }
    mat(`${p}ffn_down.weight`, s.nFf, s.nEmbd);
  }
  if (arch === 'phi3') {
    // LongRoPE factors: 1-D, never quantized (ones: the short factors apply at our context size).
    for (const n of ['rope_factors_long.weight', 'rope_factors_short.weight']) {
      tensors.push({ name: n, type: 0, shape: [headDim / 2], values: new Float32Array(headDim / 2).fill(1) });
    }
  }

  const a = arch;
  const metadata: SyntheticMeta[] = [
    { key: 'general.architecture', kind: 'string', value: arch },
    { key: 'general.name', kind: 'string', value: `synthetic-${arch}` },
    { key: 'general.file_type', kind: 'u32', value: 1 },
    { key: `${a}.context_length`, kind: 'u32', value: 512 },
    { key: `${a}.embedding_length`, kind: 'u32', value: s.nEmbd },
    { key: `${a}.feed_forward_length`, kind: 'u32', value: s.nFf },
    { key: `${a}.block_count`, kind: 'u32', value: s.nLayer },
    { key: `${a}.attention.head_count`, kind: 'u32', value: s.nHead },
    { key: `${a}.attention.head_count_kv`, kind: 'u32', value: s.nHeadKv },
    { key: `${a}.attention.layer_norm_rms_epsilon`, kind: 'f32', value: 1e-5 },
    { key: `${a}.rope.dimension_count`, kind: 'u32', value: headDim },
    { key: `${a}.rope.freq_base`, kind: 'f32', value: 10000 },
    { key: 'tokenizer.ggml.model', kind: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.pre', kind: 'string', value: 'default' },
    { key: 'tokenizer.ggml.tokens', kind: 'string[]', value: v.tokens },
    { key: 'tokenizer.ggml.scores', kind: 'f32[]', value: v.scores },
    { key: 'tokenizer.ggml.token_type', kind: 'i32[]', value: v.types },
    { key: 'tokenizer.ggml.unknown_token_id', kind: 'u32', value: 0 },
    { key: 'tokenizer.ggml.bos_token_id', kind: 'u32', value: 1 },
    { key: 'tokenizer.ggml.eos_token_id', kind: 'u32', value: 2 },
    { key: 'tokenizer.ggml.add_bos_token', kind: 'bool', value: true },
    { key: 'tokenizer.ggml.add_eos_token', kind: 'bool', value: false },
  ];
  if (arch === 'phi3')
    metadata.push({ key: 'phi3.rope.scaling.original_context_length', kind: 'u32', value: 512 });
  return { arch, metadata, tensors, nVocab };
}

/** Little-endian bytes of a tensor's values in its type (F32 or F16). */
export function tensorBytes(t: SyntheticTensor): Uint8Array {
  if (t.type === 0) return new Uint8Array(t.values.buffer.slice(0));
  const out = new Uint8Array(t.values.length * 2);
  const dv = new DataView(out.buffer);
  for (const [i, x] of t.values.entries()) dv.setUint16(i * 2, f32ToF16Bits(x), true);
  return out;
}
