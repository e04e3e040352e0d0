/**
 * Writes small random-weight Llama-family GGUFs for tests (fixed seeds), with the tiny SentencePiece
 * vocabulary of ./spm-vocab.ts, which llama.cpp and @quant/tokenizer load.
 */
import { writeGGUF } from '@quant/gguf';
import { signedMulberry32, signedXoroshiro } from './rng.js';
import { EOS_ID, spmVocabMetadata, syntheticVocab } from './spm-vocab.js';
import { type Quantizer, type SyntheticWeightType, TYPE_IDS, type WrittenTensor } from './types.js';

export interface SyntheticLlamaConfig {
  /** general.architecture (default 'llama'); metadata keys use it as prefix. */
  arch?: string;
  nEmbd: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  nFF: number;
  /** `<arch>.context_length` (default 1024). */
  contextLength?: number;
  /** Matrix type (default F32; anything else needs a quantizer). */
  weightType?: SyntheticWeightType;
  seed: number;
  /** Random generator (default 'xoroshiro': pure-rand's xoroshiro128+; 'mulberry32' is the small one). */
  rng?: 'xoroshiro' | 'mulberry32';
  /** No output.weight: the LM head is token_embd.weight. */
  tied?: boolean;
  /**
   * The LM head: weights uniform in ±scale·√(3/nEmbd) (default 0.5), plus `lean` (default 0.1) times
   * the embedding of token (7·row + 3) mod nVocab, so that (like a trained model) the top logit
   * usually stands clear of the rest; random heads give near-ties that quantization noise reorders.
   */
  output?: { scale?: number; lean?: number };
  /** Zero the LM head's row of </s>: its logit is always 0, so sampling practically never stops. */
  silentEos?: boolean;
  /** Add q/k/v/o biases. */
  biases?: boolean;
  /** Add a Llama 3 style rope_freqs.weight table. */
  ropeFreqs?: boolean;
  /** Linear rope scaling factor (rope.scaling.factor). */
  ropeScale?: number;
  freqBase?: number;
  /** `general.name` (default `synthetic-<arch>-<weightType>`). */
  name?: string;
  /** `general.file_type` (not written by default). */
  fileType?: number;
  /** Pieces appended to the default vocabulary. */
  extraPieces?: readonly string[];
  /** Override a tensor's shape (to test validation). */
  badShape?: { name: string; shape: number[] };
  /** Store one tensor with another ggml type and these raw bytes (to test unsupported types). */
  rawTensor?: { name: string; type: number; bytes: Uint8Array };
  /** Chat template to embed. */
  chatTemplate?: string;
  /**
   * Outlier key channels, as trained models have: in every KV head, `pairs` RoPE pairs of channels
   * (2c, 2c+1) of attn_k get their weight rows multiplied by `gain` (e.g. 15), so those key
   * channels are `gain` times larger than the rest.
   */
  keyOutliers?: { pairs: number; gain: number };
}

/** The RoPE pair indices `keyOutliers` amplifies in a head of `headDim` channels. */
export function outlierPairs(headDim: number, pairs: number): number[] {
  const out: number[] = [];
  for (let i = 0; out.length < Math.min(pairs, headDim / 2); i++) {
    const c = (3 + i * 7) % (headDim / 2);
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

const noQuantizer: Quantizer = (type) => {
  throw new Error(`writeSyntheticLlama: weight type ${type} needs a quantizer (pass kernels.quantize)`);
};

/** The model's metadata (architecture keys, then the vocabulary), in `writeGGUF` form. */
export function syntheticLlamaMetadata(cfg: SyntheticLlamaConfig): Record<string, unknown> {
  const arch = cfg.arch ?? 'llama';
  const k = (s: string) => `${arch}.${s}`;
  const m: Record<string, unknown> = {
    'general.architecture': arch,
    'general.name': cfg.name ?? `synthetic-${arch}-${cfg.weightType ?? 'F32'}`,
  };
  if (cfg.fileType !== undefined) m['general.file_type'] = { type: 'u32', value: cfg.fileType };
  Object.assign(m, {
    [k('context_length')]: { type: 'u32', value: cfg.contextLength ?? 1024 },
    [k('embedding_length')]: { type: 'u32', value: cfg.nEmbd },
    [k('block_count')]: { type: 'u32', value: cfg.nLayers },
    [k('feed_forward_length')]: { type: 'u32', value: cfg.nFF },
    [k('attention.head_count')]: { type: 'u32', value: cfg.nHeads },
    [k('attention.head_count_kv')]: { type: 'u32', value: cfg.nKvHeads },
    [k('rope.dimension_count')]: { type: 'u32', value: cfg.nEmbd / cfg.nHeads },
    [k('attention.layer_norm_rms_epsilon')]: { type: 'f32', value: 1e-5 },
    [k('rope.freq_base')]: { type: 'f32', value: cfg.freqBase ?? 10000 },
    ...spmVocabMetadata(syntheticVocab(cfg.extraPieces)),
  });
  if (cfg.ropeScale) {
    m[k('rope.scaling.type')] = 'linear';
    m[k('rope.scaling.factor')] = { type: 'f32', value: cfg.ropeScale };
  }
  if (cfg.chatTemplate) m['tokenizer.chat_template'] = cfg.chatTemplate;
  return m;
}

/** Writes the model to `path`; matrices other than F32 are made with `quantize`. */
export async function writeSyntheticLlama(
  path: string,
  cfg: SyntheticLlamaConfig,
  quantize: Quantizer = noQuantizer,
): Promise<void> {
  const nVocab = syntheticVocab(cfg.extraPieces).tokens.length;
  const headDim = cfg.nEmbd / cfg.nHeads;
  const qDim = cfg.nHeads * headDim;
  const kvDim = cfg.nKvHeads * headDim;
  const r = cfg.rng === 'mulberry32' ? signedMulberry32(cfg.seed) : signedXoroshiro(cfg.seed);
  const wt = TYPE_IDS[cfg.weightType ?? 'F32'];

  const tensors: WrittenTensor[] = [];
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
    edit?: (v: Float32Array) => void,
  ): Float32Array => {
    const bad = cfg.badShape?.name === name ? cfg.badShape.shape : undefined;
    const cols = bad ? (bad[0] as number) : cols0;
    const rows = bad ? (bad[1] as number) : rows0;
    const v = new Float32Array(rows * cols);
    for (let i = 0; i < v.length; i++) v[i] = r(scale);
    if (lean && leanWeight !== 0) {
      for (let row = 0; row < rows; row++) {
        const t = lean(row);
        for (let c = 0; c < cols; c++)
          v[row * cols + c] = (v[row * cols + c] as number) + leanWeight * (t[c] as number);
      }
    }
    edit?.(v);
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
    const leanTo = (row: number) => ((row * 7 + 3) % nVocab) * cfg.nEmbd;
    matrix(
      'output.weight',
      cfg.nEmbd,
      nVocab,
      (cfg.output?.scale ?? 0.5) * u(cfg.nEmbd),
      (row) => embd.subarray(leanTo(row), leanTo(row) + cfg.nEmbd),
      cfg.output?.lean ?? 0.1,
      cfg.silentEos ? (v) => v.fill(0, EOS_ID * cfg.nEmbd, (EOS_ID + 1) * cfg.nEmbd) : undefined,
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
    const ko = cfg.keyOutliers;
    matrix(
      b('attn_k.weight'),
      cfg.nEmbd,
      kvDim,
      u(cfg.nEmbd),
      undefined,
      0,
      ko
        ? (v) => {
            for (let h = 0; h < cfg.nKvHeads; h++)
              for (const c of outlierPairs(headDim, ko.pairs))
                for (const ch of [2 * c, 2 * c + 1]) {
                  const row = (h * headDim + ch) * cfg.nEmbd;
                  for (let i = 0; i < cfg.nEmbd; i++) v[row + i] = (v[row + i] as number) * ko.gain;
                }
          }
        : undefined,
    );
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

  const raw = cfg.rawTensor;
  const finalTensors = raw
    ? tensors.map((t) => (t.name === raw.name ? { ...t, type: raw.type, data: raw.bytes } : t))
    : tensors;
  await writeGGUF(path, { metadata: syntheticLlamaMetadata(cfg) as never, tensors: finalTensors });
}
