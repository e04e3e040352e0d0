/**
 * Writes small random-weight phi3 GGUFs for tests (fixed seeds), laid out as llama.cpp's phi3
 * converter writes them: fused `attn_qkv` ([Q | K | V] rows), fused `ffn_up` ([gate | up] rows),
 * optional LongRoPE factor tables. Returns the float weights too, for the reference forward pass.
 */
import { parseGGUF, writeGGUF } from '@quant/gguf';
import { signedMulberry32 } from './rng.js';
import { spmVocabMetadata, syntheticVocab } from './spm-vocab.js';
import { type Quantizer, TYPE_IDS } from './types.js';

/** Matrix types of synthetic phi3 models (F32 or what llama.cpp's phi3 files use). */
export type WeightType = 'F32' | 'Q8_0' | 'Q4_K' | 'Q5_K' | 'Q6_K';

export interface SyntheticPhi3Config {
  nEmbd: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  nFF: number;
  /** Rotated dims per head (default the head size). */
  nRot?: number;
  seed: number;
  /** Matrix type, or a function of the tensor name (e.g. a Q4_K_M-like mix). */
  weightType: WeightType | ((name: string) => WeightType);
  contextLength?: number;
  freqBase?: number;
  /** `phi3.attention.sliding_window` (default 2048). */
  slidingWindow?: number;
  /** Write rope_factors_short/long, `rope.scaling.original_context_length` and (if given) `rope.scaling.attn_factor`. */
  longRope?: { originalContextLength: number; attnFactor?: number };
  /** Separate attn_q/attn_k/attn_v instead of the fused attn_qkv. */
  separateQkv?: boolean;
  /** QKV biases: fused `attn_qkv.bias` (or separate q/k/v biases with separateQkv). */
  qkvBias?: boolean;
  /** No output.weight (the LM head is token_embd.weight). */
  tied?: boolean;
  /** Overrides a tensor's shape in the file (validation tests). */
  badShape?: { name: string; shape: number[] };
  /** Tensors to leave out of the file (validation tests). */
  omit?: string[];
  /** Changes a tensor's float values before it is written (and quantized). */
  edit?: (name: string, values: Float32Array) => void;
  /** `general.name` (default "synthetic-p3-<seed>"). */
  name?: string;
  /** Extra metadata (validation tests); `undefined` removes a key. */
  metadata?: Record<string, unknown>;
  /** Take the vocabulary (every `tokenizer.*` key) from this GGUF instead of the tiny test vocabulary. */
  vocabFile?: string;
  /** Keep the float weights for the reference pass (default true; off for big fixtures). */
  keepFloats?: boolean;
  /**
   * Weight gains, as multiples of the variance-preserving √(3/fan_in) uniform bound. The defaults
   * (qkv 2, branch 1, output 4) make small models sensitive to any graph error; a deep model with
   * them is chaotic (llama.cpp's own CPU builds disagree on it), so deep fixtures use smaller gains.
   */
  gains?: {
    /** attn_qkv (or attn_q/k/v) (default 2). */
    qkv?: number;
    /** The residual branches' outputs, attn_output and ffn_down (default 1). */
    branch?: number;
    /** output.weight (default 4). */
    output?: number;
    /**
     * Adds `lean` (default 0) times the embedding of token (7·row + 3) mod nVocab to each row of
     * output.weight, so that (like a trained model) the top logit usually stands clear of the rest.
     */
    lean?: number;
  };
}

/** The float weights the file was made from (before quantization), by tensor name. */
export type FloatWeights = Map<string, Float32Array>;

export async function writeSyntheticPhi3(
  path: string,
  cfg: SyntheticPhi3Config,
  quantize: Quantizer,
): Promise<FloatWeights> {
  const vocab = cfg.vocabFile ? await vocabFrom(cfg.vocabFile) : tinyVocab();
  const nVocab = vocab.nVocab;
  const headDim = cfg.nEmbd / cfg.nHeads;
  const nRot = cfg.nRot ?? headDim;
  const qDim = cfg.nHeads * headDim;
  const kvDim = cfg.nKvHeads * headDim;
  const r = signedMulberry32(cfg.seed);
  const floats: FloatWeights = new Map();
  const keep = cfg.keepFloats !== false;
  // Tensor data is made when the writer asks for it (in order), so big fixtures stream.
  const tensors: { name: string; type: number; shape: number[]; data: () => Uint8Array }[] = [];
  const shapeOf = (name: string, shape: number[]) =>
    cfg.badShape?.name === name ? cfg.badShape.shape : shape;

  const f32 = (name: string, make: (n: number) => Float32Array, n: number) => {
    const shape = shapeOf(name, [n]);
    tensors.push({
      name,
      type: 0,
      shape,
      data: () => {
        const v = make(shape.reduce((a, b) => a * b, 1));
        cfg.edit?.(name, v);
        if (keep) floats.set(name, v);
        return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      },
    });
  };
  const lean = cfg.gains?.lean ?? 0;
  let embd: Float32Array | undefined; // token_embd's values, kept for the LM head's lean
  const matrix = (name: string, cols0: number, rows0: number, scale: number) => {
    const wt = TYPE_IDS[typeof cfg.weightType === 'function' ? cfg.weightType(name) : cfg.weightType];
    const shape = shapeOf(name, [cols0, rows0]);
    const cols = shape[0] as number;
    const rows = shape[1] as number;
    tensors.push({
      name,
      type: wt,
      shape,
      data: () => {
        const v = new Float32Array(rows * cols);
        for (let i = 0; i < v.length; i++) v[i] = r(scale);
        if (name === 'token_embd.weight' && lean !== 0) embd = v;
        if (name === 'output.weight' && embd) {
          for (let row = 0; row < rows; row++) {
            const src = ((row * 7 + 3) % rows) * cols;
            for (let c = 0; c < cols; c++)
              v[row * cols + c] = (v[row * cols + c] as number) + lean * (embd[src + c] as number);
          }
        }
        cfg.edit?.(name, v);
        if (keep) floats.set(name, v);
        return wt === 0 ? new Uint8Array(v.buffer) : quantize(wt, v, rows, cols);
      },
    });
  };
  const vec = (name: string, n: number, center: number, spread: number) =>
    f32(name, (len) => Float32Array.from({ length: len }, () => center + r(spread)), n);
  const u = (cols: number) => Math.sqrt(3 / cols);
  const gQkv = cfg.gains?.qkv ?? 2;
  const gBranch = cfg.gains?.branch ?? 1;

  matrix('token_embd.weight', cfg.nEmbd, nVocab, 1);
  vec('output_norm.weight', cfg.nEmbd, 1, 0.2);
  if (!cfg.tied) matrix('output.weight', cfg.nEmbd, nVocab, (cfg.gains?.output ?? 4) * u(cfg.nEmbd));
  if (cfg.longRope) {
    const h = nRot / 2;
    f32(
      'rope_factors_short.weight',
      (len) => Float32Array.from({ length: len }, (_, i) => 1 + (i / h) * 0.5 + r(0.05)),
      h,
    );
    f32(
      'rope_factors_long.weight',
      (len) => Float32Array.from({ length: len }, (_, i) => 1 + (i / h) ** 2 * 40 + r(0.5)),
      h,
    );
  }
  for (let il = 0; il < cfg.nLayers; il++) {
    const b = (n: string) => `blk.${il}.${n}`;
    vec(b('attn_norm.weight'), cfg.nEmbd, 1, 0.2);
    if (cfg.separateQkv) {
      matrix(b('attn_q.weight'), cfg.nEmbd, qDim, gQkv * u(cfg.nEmbd));
      matrix(b('attn_k.weight'), cfg.nEmbd, kvDim, gQkv * u(cfg.nEmbd));
      matrix(b('attn_v.weight'), cfg.nEmbd, kvDim, (gQkv / 2) * u(cfg.nEmbd));
      if (cfg.qkvBias) {
        vec(b('attn_q.bias'), qDim, 0, 0.5);
        vec(b('attn_k.bias'), kvDim, 0, 0.5);
        vec(b('attn_v.bias'), kvDim, 0, 0.5);
      }
    } else {
      matrix(b('attn_qkv.weight'), cfg.nEmbd, qDim + 2 * kvDim, gQkv * u(cfg.nEmbd));
      if (cfg.qkvBias) vec(b('attn_qkv.bias'), qDim + 2 * kvDim, 0, 0.5);
    }
    matrix(b('attn_output.weight'), qDim, cfg.nEmbd, gBranch * u(qDim));
    vec(b('ffn_norm.weight'), cfg.nEmbd, 1, 0.2);
    matrix(b('ffn_up.weight'), cfg.nEmbd, 2 * cfg.nFF, u(cfg.nEmbd));
    matrix(b('ffn_down.weight'), cfg.nFF, cfg.nEmbd, gBranch * u(cfg.nFF));
  }

  const k = (s: string) => `phi3.${s}`;
  const metadata: Record<string, unknown> = {
    'general.architecture': 'phi3',
    // Not "phi3" in the name: llama.cpp then patches <|endoftext|> etc., which this tiny vocab lacks.
    'general.name': cfg.name ?? `synthetic-p3-${cfg.seed}`,
    [k('context_length')]: { type: 'u32', value: cfg.contextLength ?? 4096 },
    [k('embedding_length')]: { type: 'u32', value: cfg.nEmbd },
    [k('block_count')]: { type: 'u32', value: cfg.nLayers },
    [k('feed_forward_length')]: { type: 'u32', value: cfg.nFF },
    [k('attention.head_count')]: { type: 'u32', value: cfg.nHeads },
    [k('attention.head_count_kv')]: { type: 'u32', value: cfg.nKvHeads },
    [k('rope.dimension_count')]: { type: 'u32', value: nRot },
    [k('attention.layer_norm_rms_epsilon')]: { type: 'f32', value: 1e-5 },
    [k('rope.freq_base')]: { type: 'f32', value: cfg.freqBase ?? 10000 },
    [k('attention.sliding_window')]: { type: 'u32', value: cfg.slidingWindow ?? 2048 },
    ...vocab.metadata,
  };
  if (cfg.longRope) {
    metadata[k('rope.scaling.original_context_length')] = {
      type: 'u32',
      value: cfg.longRope.originalContextLength,
    };
    if (cfg.longRope.attnFactor !== undefined)
      metadata[k('rope.scaling.attn_factor')] = { type: 'f32', value: cfg.longRope.attnFactor };
  }
  for (const [key, value] of Object.entries(cfg.metadata ?? {})) {
    if (value === undefined) delete metadata[key];
    else metadata[key] = value;
  }
  const kept = tensors.filter((t) => !cfg.omit?.includes(t.name));
  await writeGGUF(path, { metadata: metadata as never, metadataTypes: vocab.types, tensors: kept });
  return floats;
}

interface Vocab {
  nVocab: number;
  metadata: Record<string, unknown>;
  types?: Record<string, never>;
}

/** The tiny SentencePiece test vocabulary of ./spm-vocab.ts. */
function tinyVocab(): Vocab {
  const v = syntheticVocab();
  return { nVocab: v.tokens.length, metadata: spmVocabMetadata(v) };
}

/** Every `tokenizer.*` key (with its declared type) of a vocabulary GGUF. */
async function vocabFrom(path: string): Promise<Vocab> {
  const file = await parseGGUF(path);
  try {
    const metadata: Record<string, unknown> = {};
    const types: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(file.metadata)) {
      if (!key.startsWith('tokenizer.')) continue;
      metadata[key] = value;
      types[key] = file.metadataTypes[key];
    }
    const tokens = file.metadata['tokenizer.ggml.tokens'] as unknown[];
    return { nVocab: tokens.length, metadata, types: types as Record<string, never> };
  } finally {
    await file.close();
  }
}
