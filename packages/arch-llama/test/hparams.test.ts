import {
  MetadataReader,
  type ModelDescription,
  type TensorDirectory,
  validateTensors,
} from '@quant/plugin-api';
import { describe, expect, it } from 'vitest';
import { llamaTensors, readLlamaHyperparameters } from '../src/index.js';

/** A metadata + tensor-table view; `tensorCount` fakes how many tensors the file has. */
function desc(
  meta: Record<string, unknown>,
  shapes: Record<string, number[]> = {},
  arch = 'llama',
  tensorCount = 100,
): ModelDescription {
  const names = [...Object.keys(shapes), ...Array.from({ length: tensorCount }, (_, i) => `t${i}`)];
  const tensors: TensorDirectory = {
    has: (n) => n in shapes,
    shape: (n) => shapes[n],
    type: () => 0,
    names: () => names,
  };
  return { meta: new MetadataReader(arch, meta, 'test.gguf'), tensors, architecture: arch };
}

const base = {
  'llama.context_length': 2048,
  'llama.embedding_length': 64,
  'llama.block_count': 2,
  'llama.feed_forward_length': 172,
  'llama.attention.head_count': 8,
  'llama.attention.head_count_kv': 4,
  'llama.attention.layer_norm_rms_epsilon': 1e-5,
  'tokenizer.ggml.tokens': new Array(512).fill('x'),
};

describe('readLlamaHyperparameters', () => {
  it('reads the llama.cpp keys with llama.cpp defaults', () => {
    const h = readLlamaHyperparameters(desc(base));
    expect(h).toMatchObject({
      nLayers: 2,
      nEmbd: 64,
      nVocab: 512,
      nHeads: 8,
      nKvHeads: 4,
      headDim: 8,
      nRot: 8,
      nFF: 172,
      contextLength: 2048,
      ropeFreqBase: 10000,
      ropeFreqScale: 1,
      ropeAttnFactor: 1,
      originalContextLength: 2048,
    });
    expect(h.rmsEps).toBeCloseTo(1e-5);
    expect(h.attentionScale).toBeCloseTo(1 / Math.sqrt(8));
  });

  it('linear rope scaling: freqScale = 1/factor (new and old key); "none" disables it', () => {
    expect(
      readLlamaHyperparameters(
        desc({ ...base, 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 4 }),
      ).ropeFreqScale,
    ).toBe(0.25);
    expect(readLlamaHyperparameters(desc({ ...base, 'llama.rope.scale_linear': 2 })).ropeFreqScale).toBe(0.5);
    expect(
      readLlamaHyperparameters(
        desc({ ...base, 'llama.rope.scaling.type': 'none', 'llama.rope.scaling.factor': 4 }),
      ).ropeFreqScale,
    ).toBe(1);
  });

  it('prefers llama.vocab_size, then the token list, then token_embd', () => {
    expect(readLlamaHyperparameters(desc({ ...base, 'llama.vocab_size': 600 })).nVocab).toBe(600);
    const { 'tokenizer.ggml.tokens': _, ...noTokens } = base;
    expect(readLlamaHyperparameters(desc(noTokens, { 'token_embd.weight': [64, 700] })).nVocab).toBe(700);
  });

  it('reads keys under an alias architecture prefix', () => {
    const aliased = Object.fromEntries(
      Object.entries(base).map(([k, v]) => [k.replace(/^llama\./, 'mistral.'), v]),
    );
    expect(readLlamaHyperparameters(desc(aliased, {}, 'mistral')).nLayers).toBe(2);
  });

  it('rejects what it cannot run, naming the key', () => {
    expect(() => readLlamaHyperparameters(desc({ ...base, 'llama.attention.head_count_kv': 3 }))).toThrow(
      expect.objectContaining({ code: 'INVALID_METADATA', key: 'llama.attention.head_count_kv' }),
    );
    expect(() => readLlamaHyperparameters(desc({ ...base, 'llama.rope.dimension_count': 4 }))).toThrow(
      /invalid llama\.rope\.dimension_count/,
    );
    expect(() => readLlamaHyperparameters(desc({ ...base, 'llama.rope.scaling.type': 'yarn' }))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_MODEL' }),
    );
    expect(() => readLlamaHyperparameters(desc({ ...base, 'llama.expert_count': 8 }))).toThrow(
      /mixture-of-experts/,
    );
    expect(() => readLlamaHyperparameters(desc({ ...base, 'llama.block_count': 4e9 }))).toThrow(
      expect.objectContaining({ code: 'INVALID_METADATA', key: 'llama.block_count' }),
    );
    expect(() => readLlamaHyperparameters(desc(base, {}, 'llama', 10))).toThrow(/has 10 tensors/);
    expect(() => readLlamaHyperparameters(desc({ ...base, 'llama.attention.head_count': 128 }))).toThrow(
      /head size is 0/,
    );
    const { 'llama.attention.layer_norm_rms_epsilon': _, ...noEps } = base;
    expect(() => readLlamaHyperparameters(desc(noEps))).toThrow(
      expect.objectContaining({ code: 'MISSING_METADATA', key: 'llama.attention.layer_norm_rms_epsilon' }),
    );
  });
});

describe('llamaTensors', () => {
  const h = readLlamaHyperparameters(desc(base));
  const specs = llamaTensors(h);

  it('lists llama.cpp’s shapes (ne0 first), GQA-sized K/V, optional head and biases', () => {
    const by = new Map(specs.map((s) => [s.name, s]));
    expect(by.get('token_embd.weight')).toMatchObject({ shape: [64, 512], role: 'matrix' });
    expect(by.get('output.weight')).toMatchObject({ shape: [64, 512], optional: true });
    expect(by.get('blk.1.attn_k.weight')).toMatchObject({ shape: [64, 32], role: 'matrix' });
    expect(by.get('blk.1.attn_output.weight')).toMatchObject({ shape: [64, 64] });
    expect(by.get('blk.0.ffn_down.weight')).toMatchObject({ shape: [172, 64] });
    expect(by.get('blk.0.attn_q.bias')).toMatchObject({ shape: [64], role: 'vector', optional: true });
    expect(by.get('rope_freqs.weight')).toMatchObject({ shape: [4], role: 'host', optional: true });
    expect(specs.filter((s) => !s.optional)).toHaveLength(3 + 2 * 9 - 1);
  });

  it('a file without output.weight (tied embeddings) validates', () => {
    const shapes = Object.fromEntries(specs.filter((s) => !s.optional).map((s) => [s.name, [...s.shape]]));
    const present = validateTensors(specs, desc(base, shapes).tensors);
    expect(present.some((s) => s.name === 'output.weight')).toBe(false);
  });
});
