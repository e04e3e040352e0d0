// Written models parse with @quant/gguf and hold the declared tensors, shapes, types and metadata.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import { type Kernels, loadKernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mulberry32,
  signedXoroshiro,
  syntheticPrompt,
  syntheticVocab,
  writeSyntheticLlama,
  writeSyntheticPhi3,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'quant-test-utils-'));
let k: Kernels;
beforeAll(async () => {
  k = await loadKernels({ threads: 1 });
});
afterAll(() => {
  k.dispose();
  rmSync(dir, { recursive: true, force: true });
});
const quantize = (t: number, s: Float32Array, r: number, c: number) => k.quantize(t, s, r, c);

describe('syntheticVocab', () => {
  it('has the specials, the 256 byte tokens and the pieces', () => {
    const v = syntheticVocab(['▁upon']);
    expect(v.tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(v.tokens[258]).toBe('<0xFF>');
    expect(v.tokens.at(-1)).toBe('▁upon');
    expect(v.types.slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect(new Set(v.tokens).size).toBe(v.tokens.length);
    expect(v.scores.length).toBe(v.tokens.length);
  });
  it('prompts start with BOS and use ordinary tokens only', () => {
    const p = syntheticPrompt(3, 20);
    expect(p.length).toBe(20);
    expect(p[0]).toBe(1);
    const n = syntheticVocab().tokens.length;
    for (const t of p.slice(1)) expect(t >= 3 && t < n).toBe(true);
  });
});

describe('random generators', () => {
  it('are deterministic and in range', () => {
    const a = mulberry32(9);
    const b = mulberry32(9);
    for (let i = 0; i < 1000; i++) {
      const x = a();
      expect(x).toBe(b());
      expect(x >= 0 && x < 1).toBe(true);
    }
    const s = signedXoroshiro(4);
    for (let i = 0; i < 1000; i++) expect(Math.abs(s(0.5))).toBeLessThanOrEqual(0.5);
  });
});

describe('writeSyntheticLlama', () => {
  it('writes a GQA Q8_0 model with the declared shapes, types and hyperparameters', async () => {
    const p = join(dir, 'llama.gguf');
    await writeSyntheticLlama(
      p,
      { nEmbd: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 96, weightType: 'Q8_0', biases: true, seed: 1 },
      quantize,
    );
    const f = await parseGGUF(p);
    try {
      const nVocab = syntheticVocab().tokens.length;
      const t = new Map(f.tensors.map((x) => [x.name, x]));
      expect(f.metadata['general.architecture']).toBe('llama');
      expect(f.metadata['llama.attention.head_count_kv']).toBe(2);
      expect(f.metadata['llama.feed_forward_length']).toBe(96);
      expect((f.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(nVocab);
      expect(t.size).toBe(3 + 2 * 13);
      expect(t.get('token_embd.weight')).toMatchObject({ shape: [64, nVocab], type: 8 });
      expect(t.get('output_norm.weight')).toMatchObject({ shape: [64], type: 0 });
      expect(t.get('blk.1.attn_k.weight')).toMatchObject({ shape: [64, 32], type: 8 });
      expect(t.get('blk.1.attn_k.bias')).toMatchObject({ shape: [32], type: 0 });
      expect(t.get('blk.0.ffn_down.weight')).toMatchObject({ shape: [96, 64], type: 8 });
    } finally {
      await f.close();
    }
  });

  it('needs a quantizer for quantized weights', async () => {
    await expect(
      writeSyntheticLlama(join(dir, 'x.gguf'), {
        nEmbd: 64,
        nLayers: 1,
        nHeads: 4,
        nKvHeads: 4,
        nFF: 64,
        weightType: 'Q8_0',
        seed: 1,
      }),
    ).rejects.toThrow(/needs a quantizer/);
  });
});

describe('writeSyntheticPhi3', () => {
  it('writes fused qkv / gate-up tensors and LongRoPE tables; the float weights match the file', async () => {
    const p = join(dir, 'phi3.gguf');
    const floats = await writeSyntheticPhi3(
      p,
      {
        nEmbd: 64,
        nLayers: 1,
        nHeads: 4,
        nKvHeads: 2,
        nFF: 96,
        weightType: 'F32',
        seed: 2,
        longRope: { originalContextLength: 128 },
      },
      quantize,
    );
    const f = await parseGGUF(p);
    try {
      const t = new Map(f.tensors.map((x) => [x.name, x]));
      expect(f.metadata['general.architecture']).toBe('phi3');
      expect(f.metadata['phi3.rope.scaling.original_context_length']).toBe(128);
      expect(t.get('blk.0.attn_qkv.weight')).toMatchObject({ shape: [64, 64 + 2 * 32], type: 0 });
      expect(t.get('blk.0.ffn_up.weight')).toMatchObject({ shape: [64, 2 * 96], type: 0 });
      expect(t.get('rope_factors_long.weight')).toMatchObject({ shape: [8], type: 0 });
      const bytes = await f.readTensorData('blk.0.attn_qkv.weight');
      const stored = new Float32Array(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      );
      expect(stored).toEqual(floats.get('blk.0.attn_qkv.weight'));
    } finally {
      await f.close();
    }
  });
});
