/**
 * Live parity with llama.cpp (node-llama-cpp) on random-weight phi3 models written by the test:
 * MHA and GQA, fused and separate Q/K/V, QKV biases, partial rotary, tied embeddings, LongRoPE
 * factor tables at a context at or below `original_context_length` (short table) and above it
 * (long table; also a context that only exceeds it after llama.cpp's rounding up to 256), with and
 * without `rope.scaling.attn_factor`, Q8_0 and K-quant weights. The files' sliding windows are at
 * least the context size, so llama.cpp (which ignores Phi SWA) and quant compute the same thing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { loadModel } from '@quant/runtime';
import {
  availableBackends,
  BACKENDS,
  compareLogits,
  expectParity,
  oracleLogits,
  type SyntheticPhi3Config,
  syntheticPrompt,
  type WeightType,
  writeSyntheticPhi3,
} from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface Variant {
  label: string;
  file: string;
  /** Session context size for both llama.cpp and quant. */
  contextSize: number;
  /** The LongRoPE table llama.cpp's rule picks here. */
  table: 'long' | 'short' | 'none';
}

const base = { nEmbd: 256, nLayers: 2, nHeads: 8, nFF: 512 } as const;
/** A Q4_K_M-like mix: Q6_K for ffn_down and the head, Q5_K for attn_qkv, Q4_K elsewhere. */
const kMix = (name: string): WeightType =>
  name.endsWith('ffn_down.weight') || name === 'output.weight'
    ? 'Q6_K'
    : name.endsWith('attn_qkv.weight')
      ? 'Q5_K'
      : 'Q4_K';
const longRope = { originalContextLength: 256, attnFactor: 1.1902380714238083 };
/**
 * Quantized models' LM heads lean towards one token per row (as a trained model's top logit stands
 * clear of the rest): with a purely random head the reference's top two logits are often closer
 * than the rounding differences between llama.cpp's own CPU builds.
 */
const lean = 0.05;

const files: Record<string, SyntheticPhi3Config> = {
  mha: { ...base, nKvHeads: 8, weightType: 'F32', seed: 1 },
  gqa: { ...base, nKvHeads: 2, weightType: 'F32', qkvBias: true, seed: 2 },
  separate: { ...base, nKvHeads: 4, weightType: 'F32', separateQkv: true, qkvBias: true, seed: 3 },
  partial: { ...base, nKvHeads: 2, nRot: 24, weightType: 'F32', tied: true, freqBase: 500000, seed: 4 },
  longrope: { ...base, nKvHeads: 2, weightType: 'F32', contextLength: 4096, longRope, seed: 5 },
  longropeNoAttn: {
    ...base,
    nKvHeads: 8,
    weightType: 'F32',
    contextLength: 4096,
    longRope: { originalContextLength: 256 },
    seed: 6,
  },
  q8: { ...base, nKvHeads: 2, weightType: 'Q8_0', contextLength: 4096, longRope, gains: { lean }, seed: 7 },
  kquant: { ...base, nKvHeads: 2, weightType: kMix, contextLength: 4096, longRope, gains: { lean }, seed: 8 },
  kquantMha: { ...base, nKvHeads: 8, weightType: 'Q4_K', tied: true, seed: 9 },
};

const variants: Variant[] = [
  { label: 'F32 MHA, fused QKV', file: 'mha', contextSize: 512, table: 'none' },
  { label: 'F32 GQA (8 heads / 2 KV), fused QKV + bias', file: 'gqa', contextSize: 512, table: 'none' },
  { label: 'F32 GQA, separate Q/K/V + biases', file: 'separate', contextSize: 512, table: 'none' },
  {
    label: 'F32 partial rotary (24 of 32 dims), tied, freq_base 5e5',
    file: 'partial',
    contextSize: 512,
    table: 'none',
  },
  {
    label: 'F32 LongRoPE, context 256 = original → short table',
    file: 'longrope',
    contextSize: 256,
    table: 'short',
  },
  {
    label: 'F32 LongRoPE, context 512 > original → long table',
    file: 'longrope',
    contextSize: 512,
    table: 'long',
  },
  {
    label: 'F32 LongRoPE, context 200 (pads to 256) → short table',
    file: 'longrope',
    contextSize: 200,
    table: 'short',
  },
  {
    label: 'F32 LongRoPE, context 300 (pads to 512) → long table',
    file: 'longrope',
    contextSize: 300,
    table: 'long',
  },
  {
    label: 'F32 LongRoPE without attn_factor, context 256 → short',
    file: 'longropeNoAttn',
    contextSize: 256,
    table: 'short',
  },
  {
    label: 'F32 LongRoPE without attn_factor, context 768 → long',
    file: 'longropeNoAttn',
    contextSize: 768,
    table: 'long',
  },
  { label: 'Q8_0 GQA LongRoPE, context 256 → short', file: 'q8', contextSize: 256, table: 'short' },
  { label: 'Q8_0 GQA LongRoPE, context 512 → long', file: 'q8', contextSize: 512, table: 'long' },
  {
    label: 'K-quant mix (Q4_K/Q5_K/Q6_K) GQA LongRoPE, context 256 → short',
    file: 'kquant',
    contextSize: 256,
    table: 'short',
  },
  {
    label: 'K-quant mix (Q4_K/Q5_K/Q6_K) GQA LongRoPE, context 1024 → long',
    file: 'kquant',
    contextSize: 1024,
    table: 'long',
  },
  { label: 'Q4_K MHA tied', file: 'kquantMha', contextSize: 512, table: 'none' },
];

const isF32 = (v: Variant) => (files[v.file] as SyntheticPhi3Config).weightType === 'F32';
const promptOf = (v: Variant) => syntheticPrompt((files[v.file] as SyntheticPhi3Config).seed, 40);

const backends = await availableBackends('arch-phi3 synthetic-parity');
const anyBackend = BACKENDS.some((b) => backends[b]);
if (!anyBackend) console.warn('[arch-phi3 synthetic-parity] no kernel backend available: skipping.');

describe.skipIf(!anyBackend)('synthetic phi3 models vs node-llama-cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-phi3-'));
  const paths = new Map<string, string>();
  const expected = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      for (const [name, cfg] of Object.entries(files)) {
        const p = join(dir, `${name}.gguf`);
        await writeSyntheticPhi3(p, cfg, (t, src, rows, cols) => k.quantize(t, src, rows, cols));
        paths.set(name, p);
      }
    } finally {
      k.dispose();
    }
    for (const v of variants)
      expected.set(
        v.label,
        await oracleLogits(paths.get(v.file) as string, promptOf(v), {
          contextSize: v.contextSize,
          kvType: 'f32',
        }),
      );
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the two LongRoPE tables and the attention factor change llama.cpp’s logits (the cases are not vacuous)', () => {
    const rel = (a: string, b: string) => {
      const x = expected.get(a) as Float32Array[];
      const y = expected.get(b) as Float32Array[];
      let d = 0;
      let m = 0;
      x.forEach((row, p) => {
        row.forEach((v, i) => {
          d = Math.max(d, Math.abs(v - ((y[p] as Float32Array)[i] as number)));
          m = Math.max(m, Math.abs(v));
        });
      });
      return d / m;
    };
    const byTable = (f: string, t: string) =>
      (variants.find((v) => v.file === f && v.table === t) as Variant).label;
    expect(rel(byTable('longrope', 'short'), byTable('longrope', 'long'))).toBeGreaterThan(0.01);
    expect(rel(byTable('kquant', 'short'), byTable('kquant', 'long'))).toBeGreaterThan(0.01);
  });

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      for (const v of variants) {
        it(v.label, async () => {
          const model = await loadModel(paths.get(v.file) as string, {
            backend,
            threads: 1,
            contextSize: v.contextSize,
            batchSize: 16,
            kvType: 'f32',
            flashAttention: false, // as the oracle's context (irrelevant with an f32 cache)
          });
          try {
            const s = model.createSession();
            try {
              expect((s as unknown as { state: { ropeTable: string } }).state.ropeTable).toBe(v.table);
              const ours = await s.evaluate(promptOf(v), { allLogits: true });
              const c = compareLogits(expected.get(v.label) as Float32Array[], ours, model.hparams.nVocab);
              expectParity(c, isF32(v));
            } finally {
              s.dispose();
            }
          } finally {
            model.dispose();
          }
        });
      }
    });
  }
});
