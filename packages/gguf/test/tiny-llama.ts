// A tiny Llama model built with the writer: SentencePiece vocab (byte fallback), 2 layers,
// F32 norms, F16 / Q8_0 / Q4_0 weights with valid block scales.
import { GGMLType, type GGUFWriteInput, type GGUFWriteTensor, typed } from '@quant/gguf';
import { rng } from './helpers';

export const N_EMBD = 64;
export const N_HEAD = 4;
export const N_HEAD_KV = 2;
export const N_FF = 128;
export const N_LAYER = 2;

const WORDS = [
  '▁Once',
  '▁upon',
  '▁a',
  '▁time',
  '▁there',
  '▁was',
  '▁little',
  '▁girl',
  '▁',
  'e',
  't',
  'a',
  'o',
  'n',
  'i',
  's',
];

export function vocab(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // unknown, control, control
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // byte
  }
  for (const w of WORDS) {
    tokens.push(w);
    types.push(1); // normal
  }
  const scores = tokens.map((_, i) => (i < 259 ? 0 : -i));
  return { tokens, scores, types };
}

/** f16 bits of a value (round to nearest; finite small values only). */
function f16(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | ((x >>> 13) & 0x3ff);
}

function f32Tensor(n: number, fill: (i: number) => number): Uint8Array {
  return new Uint8Array(Float32Array.from({ length: n }, (_, i) => fill(i)).buffer);
}

function f16Tensor(n: number, r: () => number): Uint8Array {
  return new Uint8Array(Uint16Array.from({ length: n }, () => f16((r() - 0.5) * 0.2)).buffer);
}

/** Q8_0 blocks: f16 scale + 32 int8; `zero` makes every weight 0. */
function q8Tensor(n: number, r: () => number, zero = false): Uint8Array {
  const out = new Uint8Array((n / 32) * 34);
  const v = new DataView(out.buffer);
  for (let b = 0; b < n / 32; b++) {
    v.setUint16(b * 34, f16(zero ? 0 : 0.002), true);
    for (let j = 0; j < 32; j++) v.setInt8(b * 34 + 2 + j, zero ? 0 : Math.floor(r() * 255) - 127);
  }
  return out;
}

/** Q4_0 blocks: f16 scale + 16 bytes of nibbles. */
function q4Tensor(n: number, r: () => number): Uint8Array {
  const out = new Uint8Array((n / 32) * 18);
  const v = new DataView(out.buffer);
  for (let b = 0; b < n / 32; b++) {
    v.setUint16(b * 18, f16(0.01), true);
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = Math.floor(r() * 256);
  }
  return out;
}

/** The model; with `zeroOutput`, output.weight is all zeros, so every logit must be exactly 0. */
export function tinyLlama(seed: number, zeroOutput: boolean): GGUFWriteInput {
  const r = rng(seed);
  const { tokens, scores, types } = vocab();
  const nVocab = tokens.length;
  const kv = (N_EMBD / N_HEAD) * N_HEAD_KV;
  const tensors: GGUFWriteTensor[] = [
    {
      name: 'token_embd.weight',
      type: GGMLType.F16,
      shape: [N_EMBD, nVocab],
      data: f16Tensor(N_EMBD * nVocab, r),
    },
    // Lazily produced, as a quantizer would stream them.
    {
      name: 'output.weight',
      type: GGMLType.Q8_0,
      shape: [N_EMBD, nVocab],
      data: async () => q8Tensor(N_EMBD * nVocab, r, zeroOutput),
    },
    { name: 'output_norm.weight', type: GGMLType.F32, shape: [N_EMBD], data: f32Tensor(N_EMBD, () => 1) },
  ];
  for (let l = 0; l < N_LAYER; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      { name: `${p}attn_norm.weight`, type: GGMLType.F32, shape: [N_EMBD], data: f32Tensor(N_EMBD, () => 1) },
      {
        name: `${p}attn_q.weight`,
        type: GGMLType.Q8_0,
        shape: [N_EMBD, N_EMBD],
        data: q8Tensor(N_EMBD * N_EMBD, r),
      },
      { name: `${p}attn_k.weight`, type: GGMLType.Q8_0, shape: [N_EMBD, kv], data: q8Tensor(N_EMBD * kv, r) },
      { name: `${p}attn_v.weight`, type: GGMLType.Q4_0, shape: [N_EMBD, kv], data: q4Tensor(N_EMBD * kv, r) },
      {
        name: `${p}attn_output.weight`,
        type: GGMLType.F16,
        shape: [N_EMBD, N_EMBD],
        data: f16Tensor(N_EMBD * N_EMBD, r),
      },
      { name: `${p}ffn_norm.weight`, type: GGMLType.F32, shape: [N_EMBD], data: f32Tensor(N_EMBD, () => 1) },
      {
        name: `${p}ffn_gate.weight`,
        type: GGMLType.F16,
        shape: [N_EMBD, N_FF],
        data: f16Tensor(N_EMBD * N_FF, r),
      },
      {
        name: `${p}ffn_up.weight`,
        type: GGMLType.Q8_0,
        shape: [N_EMBD, N_FF],
        data: q8Tensor(N_EMBD * N_FF, r),
      },
      {
        name: `${p}ffn_down.weight`,
        type: GGMLType.Q4_0,
        shape: [N_FF, N_EMBD],
        data: q4Tensor(N_FF * N_EMBD, r),
      },
    );
  }
  return {
    metadata: {
      'general.architecture': 'llama',
      'general.name': 'tiny synthetic llama',
      'general.file_type': 7,
      'llama.context_length': 256,
      'llama.embedding_length': N_EMBD,
      'llama.block_count': N_LAYER,
      'llama.feed_forward_length': N_FF,
      'llama.attention.head_count': N_HEAD,
      'llama.attention.head_count_kv': N_HEAD_KV,
      'llama.rope.dimension_count': N_EMBD / N_HEAD,
      'llama.rope.freq_base': 10000, // plain number: the known-key table makes it f32
      'llama.attention.layer_norm_rms_epsilon': 1e-5,
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.scores': scores,
      'tokenizer.ggml.token_type': types,
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.unknown_token_id': 0,
      'tokenizer.ggml.add_bos_token': true,
      'general.quantization_version': typed.u32(2),
    },
    tensors,
  };
}
