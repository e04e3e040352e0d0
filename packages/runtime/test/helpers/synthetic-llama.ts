/**
 * Writes small random-weight Llama-family GGUFs for tests (fixed seeds), with a tiny SentencePiece
 * vocabulary (specials, 256 byte tokens, a few pieces) that llama.cpp and @quant/tokenizer load.
 */
import { writeGGUF } from '@quant/gguf';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export type SyntheticWeightType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q5_K' | 'Q6_K';
export const TYPE_IDS: Record<SyntheticWeightType, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 8,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
};

export interface SyntheticLlamaConfig {
  /** general.architecture (default 'llama'); metadata keys use it as prefix. */
  arch?: string;
  nEmbd: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  nFF: number;
  contextLength?: number;
  weightType: SyntheticWeightType;
  /** No output.weight: the LM head is token_embd.weight. */
  tied?: boolean;
  /** Add q/k/v/o biases. */
  biases?: boolean;
  /** Add a Llama 3 style rope_freqs.weight table. */
  ropeFreqs?: boolean;
  /** Linear rope scaling factor (rope.scaling.factor). */
  ropeScale?: number;
  freqBase?: number;
  seed: number;
  /** Override a tensor's shape (to test validation). */
  badShape?: { name: string; shape: number[] };
  /** Store one tensor with another ggml type and these raw bytes (to test unsupported types). */
  rawTensor?: { name: string; type: number; bytes: Uint8Array };
  /** Chat template to embed. */
  chatTemplate?: string;
}

export type Quantizer = (type: number, src: Float32Array, rows: number, cols: number) => Uint8Array;

/** The vocabulary: <unk>, <s>, </s>, <0x00>…<0xFF>, then pieces. */
export function syntheticVocab(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
  const pieces = [
    '▁',
    ...letters,
    ...letters.map((l) => `▁${l}`),
    '▁the',
    '▁and',
    '▁cat',
    '▁dog',
    'ing',
    'ed',
    'er',
    '▁once',
  ];
  for (const p of pieces) {
    tokens.push(p);
    types.push(1);
  }
  const scores = tokens.map((t, i) => (types[i] === 1 ? -i / 10 - (t.length > 2 ? 0 : 5) : 0));
  return { tokens, scores, types };
}

function rng(seed: number) {
  const g = xoroshiro128plus(seed);
  return (a: number) => (uniformFloat64(g) * 2 - 1) * a;
}

export async function writeSyntheticLlama(
  path: string,
  cfg: SyntheticLlamaConfig,
  quantize: Quantizer,
): Promise<void> {
  const arch = cfg.arch ?? 'llama';
  const vocab = syntheticVocab();
  const nVocab = vocab.tokens.length;
  const headDim = cfg.nEmbd / cfg.nHeads;
  const qDim = cfg.nHeads * headDim;
  const kvDim = cfg.nKvHeads * headDim;
  const r = rng(cfg.seed);
  const wt = TYPE_IDS[cfg.weightType];

  const tensors: { name: string; type: number; shape: number[]; data: Uint8Array }[] = [];
  const f32 = (name: string, shape: number[], values: Float32Array) =>
    tensors.push({
      name,
      type: 0,
      shape: cfg.badShape?.name === name ? cfg.badShape.shape : shape,
      data: new Uint8Array(values.buffer),
    });
  const matrix = (
    name: string,
    cols0: number,
    rows0: number,
    scale: number,
    lean?: (row: number) => Float32Array,
    leanWeight = 0,
  ): Float32Array => {
    const bad = cfg.badShape?.name === name ? cfg.badShape.shape : undefined;
    const cols = bad ? (bad[0] as number) : cols0;
    const rows = bad ? (bad[1] as number) : rows0;
    const v = new Float32Array(rows * cols);
    for (let i = 0; i < v.length; i++) v[i] = r(scale);
    if (lean) {
      for (let row = 0; row < rows; row++) {
        const t = lean(row);
        for (let c = 0; c < cols; c++)
          v[row * cols + c] = (v[row * cols + c] as number) + leanWeight * (t[c] as number);
      }
    }
    const shape = [cols, rows];
    if (wt === 0) tensors.push({ name, type: 0, shape, data: new Uint8Array(v.buffer) });
    else tensors.push({ name, type: wt, shape, data: quantize(wt, v, rows, cols) });
    return v;
  };
  const vec = (name: string, n: number, center: number, spread: number) => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = center + r(spread);
    f32(name, [n], v);
  };
  const u = (cols: number) => Math.sqrt(3 / cols);

  const embd = matrix('token_embd.weight', cfg.nEmbd, nVocab, 1);
  vec('output_norm.weight', cfg.nEmbd, 1, 0.2);
  if (!cfg.tied) {
    // Like a trained model, make predictions confident: each row leans towards the embedding of
    // another token, so the top logit usually stands clear of the rest (random heads give near-ties
    // that quantization noise reorders).
    matrix(
      'output.weight',
      cfg.nEmbd,
      nVocab,
      0.5 * u(cfg.nEmbd),
      (row) =>
        embd.subarray(((row * 7 + 3) % nVocab) * cfg.nEmbd, (((row * 7 + 3) % nVocab) + 1) * cfg.nEmbd),
      0.1,
    );
  }
  if (cfg.ropeFreqs) {
    const f = new Float32Array(headDim / 2);
    for (let i = 0; i < f.length; i++) f[i] = 1 + (i / f.length) * 7;
    f32('rope_freqs.weight', [headDim / 2], f);
  }
  for (let il = 0; il < cfg.nLayers; il++) {
    const b = (n: string) => `blk.${il}.${n}`;
    vec(b('attn_norm.weight'), cfg.nEmbd, 1, 0.2);
    matrix(b('attn_q.weight'), cfg.nEmbd, qDim, u(cfg.nEmbd));
    matrix(b('attn_k.weight'), cfg.nEmbd, kvDim, u(cfg.nEmbd));
    matrix(b('attn_v.weight'), cfg.nEmbd, kvDim, u(cfg.nEmbd));
    matrix(b('attn_output.weight'), qDim, cfg.nEmbd, u(qDim));
    if (cfg.biases) {
      vec(b('attn_q.bias'), qDim, 0, 0.5);
      vec(b('attn_k.bias'), kvDim, 0, 0.5);
      vec(b('attn_v.bias'), kvDim, 0, 0.5);
      vec(b('attn_output.bias'), cfg.nEmbd, 0, 0.5);
    }
    vec(b('ffn_norm.weight'), cfg.nEmbd, 1, 0.2);
    matrix(b('ffn_gate.weight'), cfg.nEmbd, cfg.nFF, u(cfg.nEmbd));
    matrix(b('ffn_up.weight'), cfg.nEmbd, cfg.nFF, u(cfg.nEmbd));
    matrix(b('ffn_down.weight'), cfg.nFF, cfg.nEmbd, u(cfg.nFF));
  }

  const k = (s: string) => `${arch}.${s}`;
  const metadata: Record<string, unknown> = {
    'general.architecture': arch,
    'general.name': `synthetic-${arch}-${cfg.weightType}`,
    [k('context_length')]: { type: 'u32', value: cfg.contextLength ?? 1024 },
    [k('embedding_length')]: { type: 'u32', value: cfg.nEmbd },
    [k('block_count')]: { type: 'u32', value: cfg.nLayers },
    [k('feed_forward_length')]: { type: 'u32', value: cfg.nFF },
    [k('attention.head_count')]: { type: 'u32', value: cfg.nHeads },
    [k('attention.head_count_kv')]: { type: 'u32', value: cfg.nKvHeads },
    [k('rope.dimension_count')]: { type: 'u32', value: headDim },
    [k('attention.layer_norm_rms_epsilon')]: { type: 'f32', value: 1e-5 },
    [k('rope.freq_base')]: { type: 'f32', value: cfg.freqBase ?? 10000 },
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': vocab.tokens,
    'tokenizer.ggml.scores': { type: 'arr[f32]', value: vocab.scores },
    'tokenizer.ggml.token_type': { type: 'arr[i32]', value: vocab.types },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: 1 },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: 2 },
    'tokenizer.ggml.unknown_token_id': { type: 'u32', value: 0 },
    'tokenizer.ggml.add_bos_token': true,
  };
  if (cfg.ropeScale) {
    metadata[k('rope.scaling.type')] = 'linear';
    metadata[k('rope.scaling.factor')] = { type: 'f32', value: cfg.ropeScale };
  }
  if (cfg.chatTemplate) metadata['tokenizer.chat_template'] = cfg.chatTemplate;
  const raw = cfg.rawTensor;
  const finalTensors = raw
    ? tensors.map((t) => (t.name === raw.name ? { ...t, type: raw.type, data: raw.bytes } : t))
    : tensors;
  await writeGGUF(path, { metadata: metadata as never, tensors: finalTensors });
}
