/**
 * Small random-weight Llama GGUFs (fixed seeds) with a tiny SentencePiece vocabulary that both
 * llama.cpp and quant load, so the CLI tests run without ../shared. The end-of-text token's output
 * row is zero, so sampling practically never ends an answer by itself (useful for Ctrl-C tests).
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { encodeGGUFHeader, writeGGUF } from '@quant/gguf';

export interface SyntheticConfig {
  arch?: string;
  nEmbd: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  nFF: number;
  contextLength?: number;
  seed: number;
  chatTemplate?: string;
}

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
    '▁upon',
    '▁time',
  ];
  for (const p of pieces) {
    tokens.push(p);
    types.push(1);
  }
  const scores = tokens.map((t, i) => (types[i] === 1 ? -i / 10 - (t.length > 2 ? 0 : 5) : 0));
  return { tokens, scores, types };
}

/** mulberry32: a small seeded PRNG, uniform in (-a, a). */
function rng(seed: number): (a: number) => number {
  let s = seed >>> 0;
  return (a) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return (u * 2 - 1) * a;
  };
}

function metadataFor(cfg: SyntheticConfig, arch: string): Record<string, unknown> {
  const vocab = syntheticVocab();
  const k = (s: string) => `${arch}.${s}`;
  const m: Record<string, unknown> = {
    'general.architecture': arch,
    'general.name': `synthetic-${arch}`,
    'general.file_type': { type: 'u32', value: 0 },
    [k('context_length')]: { type: 'u32', value: cfg.contextLength ?? 4096 },
    [k('embedding_length')]: { type: 'u32', value: cfg.nEmbd },
    [k('block_count')]: { type: 'u32', value: cfg.nLayers },
    [k('feed_forward_length')]: { type: 'u32', value: cfg.nFF },
    [k('attention.head_count')]: { type: 'u32', value: cfg.nHeads },
    [k('attention.head_count_kv')]: { type: 'u32', value: cfg.nKvHeads },
    [k('rope.dimension_count')]: { type: 'u32', value: cfg.nEmbd / cfg.nHeads },
    [k('attention.layer_norm_rms_epsilon')]: { type: 'f32', value: 1e-5 },
    [k('rope.freq_base')]: { type: 'f32', value: 10000 },
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': vocab.tokens,
    'tokenizer.ggml.scores': { type: 'arr[f32]', value: vocab.scores },
    'tokenizer.ggml.token_type': { type: 'arr[i32]', value: vocab.types },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: 1 },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: 2 },
    'tokenizer.ggml.unknown_token_id': { type: 'u32', value: 0 },
    'tokenizer.ggml.add_bos_token': true,
  };
  if (cfg.chatTemplate) m['tokenizer.chat_template'] = cfg.chatTemplate;
  return m;
}

/** Writes an all-F32 random Llama (or, with `arch`, the same tensors under another architecture name). */
export async function writeSyntheticModel(path: string, cfg: SyntheticConfig): Promise<void> {
  const arch = cfg.arch ?? 'llama';
  const nVocab = syntheticVocab().tokens.length;
  const headDim = cfg.nEmbd / cfg.nHeads;
  const kvDim = cfg.nKvHeads * headDim;
  const r = rng(cfg.seed);
  const tensors: { name: string; type: number; shape: number[]; data: Uint8Array }[] = [];
  const add = (name: string, shape: number[], v: Float32Array) =>
    tensors.push({ name, type: 0, shape, data: new Uint8Array(v.buffer) });
  const matrix = (name: string, cols: number, rows: number, scale: number) => {
    const v = new Float32Array(rows * cols);
    for (let i = 0; i < v.length; i++) v[i] = r(scale);
    add(name, [cols, rows], v);
    return v;
  };
  const vec = (name: string, n: number) => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = 1 + r(0.2);
    add(name, [n], v);
  };
  const u = (cols: number) => Math.sqrt(3 / cols);
  matrix('token_embd.weight', cfg.nEmbd, nVocab, 1);
  vec('output_norm.weight', cfg.nEmbd);
  const out = matrix('output.weight', cfg.nEmbd, nVocab, 4 * u(cfg.nEmbd));
  out.fill(0, 2 * cfg.nEmbd, 3 * cfg.nEmbd); // </s> (id 2): logit always 0
  for (let il = 0; il < cfg.nLayers; il++) {
    const b = (n: string) => `blk.${il}.${n}`;
    vec(b('attn_norm.weight'), cfg.nEmbd);
    matrix(b('attn_q.weight'), cfg.nEmbd, cfg.nEmbd, u(cfg.nEmbd));
    matrix(b('attn_k.weight'), cfg.nEmbd, kvDim, u(cfg.nEmbd));
    matrix(b('attn_v.weight'), cfg.nEmbd, kvDim, u(cfg.nEmbd));
    matrix(b('attn_output.weight'), cfg.nEmbd, cfg.nEmbd, u(cfg.nEmbd));
    vec(b('ffn_norm.weight'), cfg.nEmbd);
    matrix(b('ffn_gate.weight'), cfg.nEmbd, cfg.nFF, u(cfg.nEmbd));
    matrix(b('ffn_up.weight'), cfg.nEmbd, cfg.nFF, u(cfg.nEmbd));
    matrix(b('ffn_down.weight'), cfg.nFF, cfg.nEmbd, u(cfg.nFF));
  }
  await writeGGUF(path, { metadata: metadataFor(cfg, arch) as never, tensors });
}

/**
 * A valid GGUF header declaring a token embedding of `bytes` bytes, written as a sparse file (no
 * disk space used): a model larger than this machine's memory, for the "too large" error.
 */
export function writeHugeSparseModel(path: string, bytes: number): void {
  const cfg: SyntheticConfig = { nEmbd: 4096, nLayers: 1, nHeads: 32, nKvHeads: 32, nFF: 11008, seed: 1 };
  const rows = Math.ceil(bytes / (4096 * 4));
  const header = encodeGGUFHeader({
    metadata: metadataFor(cfg, 'llama') as never,
    tensors: [{ name: 'token_embd.weight', type: 0, shape: [4096, rows] }],
  });
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header.header);
    ftruncateSync(fd, header.totalSize);
  } finally {
    closeSync(fd);
  }
}
