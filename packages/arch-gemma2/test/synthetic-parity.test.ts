/**
 * Live parity with llama.cpp (node-llama-cpp) on random-weight gemma2 models that @quant/plugin-kit
 * writes from the plugin's own tensor specs: interleaved sliding-window (window 8–16) and full
 * attention over prompts several times the window, evaluated by quant in batches of 64 (so windows
 * straddle batch boundaries); attention and final logit soft-capping (small caps, so tanh is far from
 * linear, and llama.cpp's defaults); GQA and MHA; a head size that makes nHeads·headDim differ from
 * embedding_length (as in Gemma 2 2B/9B); a per-layer sliding_window_pattern and a separate SWA RoPE
 * base; F32 and Q8_0 weights; f32 and f16 KV caches on llama.cpp's standard and flash paths; every
 * kernel backend. And a check that the window and the caps change llama.cpp's logits, so parity
 * cannot hold by accident.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GGUFWriteValue } from '@quant/gguf';
import { loadKernels } from '@quant/kernels';
import { MetadataReader } from '@quant/plugin-api';
import {
  compareWithLlamaCpp,
  describeParity,
  llamaCppLogits,
  maxAbsDiff,
  syntheticPrompt,
  writeSyntheticModel,
} from '@quant/plugin-kit';
import { availableBackends, BACKENDS } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gemma2Plugin, readGemma2Hyperparameters } from '../src/index';

const f32 = (value: number) => ({ type: 'f32', value }) as GGUFWriteValue;
const u32 = (value: number) => ({ type: 'u32', value }) as GGUFWriteValue;

interface Shape {
  nKvHeads: number;
  window: number;
  /** Soft-caps (absent: the keys are not written, llama.cpp's defaults 50 / 30 apply). */
  caps?: { attn: number; final: number };
  /** `attention.sliding_window_pattern` as a per-layer bool array (absent: llama.cpp's period 2). */
  pattern?: readonly boolean[];
  freqBaseSwa?: number;
}

const hparams = (s: Shape): Record<string, GGUFWriteValue> => ({
  block_count: 4,
  context_length: 4096,
  embedding_length: 256,
  feed_forward_length: 512,
  'attention.head_count': 8,
  'attention.head_count_kv': s.nKvHeads,
  // 8 heads × 48 = 384 query dims ≠ 256 (Gemma 2 2B: 8 × 256 = 2048 ≠ 2304)
  'attention.key_length': u32(48),
  'attention.value_length': u32(48),
  'attention.layer_norm_rms_epsilon': 1e-6,
  'rope.freq_base': 10000,
  'attention.sliding_window': u32(s.window),
  ...(s.caps ? { attn_logit_softcapping: f32(s.caps.attn), final_logit_softcapping: f32(s.caps.final) } : {}),
  ...(s.pattern
    ? { 'attention.sliding_window_pattern': { type: 'arr[bool]', value: s.pattern } as GGUFWriteValue }
    : {}),
  ...(s.freqBaseSwa ? { 'rope.freq_base_swa': f32(s.freqBaseSwa) } : {}),
});

const SMALL_CAPS = { attn: 2, final: 3 };

const cases = [
  {
    label: 'F32 GQA (8 heads / 4 KV), window 8 on layers 0 and 2, attention cap 2, final cap 3, f32 KV',
    key: 'gqa',
    shape: { nKvHeads: 4, window: 8, caps: SMALL_CAPS },
    type: 'F32',
    seed: 1,
    tokens: 150,
  },
  {
    label: 'F32 MHA, window 16 on layers 0 and 3 (bool pattern), SWA RoPE base, default caps, f32 KV',
    key: 'mha',
    shape: { nKvHeads: 8, window: 16, pattern: [true, false, false, true], freqBaseSwa: 1000 },
    type: 'F32',
    seed: 2,
    tokens: 120,
  },
  {
    label: 'F32 GQA, window 8, caps 2 / 3, f16 KV on the flash path',
    key: 'gqa',
    shape: { nKvHeads: 4, window: 8, caps: SMALL_CAPS },
    type: 'F32',
    seed: 1,
    tokens: 100,
    kvType: 'f16',
    flash: true,
  },
  {
    label: 'F32 GQA, window 8, caps 2 / 3, f16 KV on the standard path',
    key: 'gqa',
    shape: { nKvHeads: 4, window: 8, caps: SMALL_CAPS },
    type: 'F32',
    seed: 1,
    tokens: 100,
    kvType: 'f16',
    flash: false,
  },
  {
    label: 'Q8_0 GQA, window 12, default caps, f32 KV',
    key: 'q8',
    shape: { nKvHeads: 4, window: 12 },
    type: 'Q8_0',
    seed: 3,
    tokens: 100,
  },
] as const satisfies readonly {
  label: string;
  key: string;
  shape: Shape;
  type: 'F32' | 'Q8_0';
  seed: number;
  tokens: number;
  kvType?: 'f32' | 'f16';
  flash?: boolean;
}[];

/** Written once each: the case models, and the first one's weights without window / without caps. */
const models = [
  ...new Map(
    cases.map((c) => [c.key, { key: c.key, shape: c.shape, type: c.type, seed: c.seed }] as const),
  ).values(),
  { key: 'gqa-nowindow', shape: { nKvHeads: 4, window: 4096, caps: SMALL_CAPS }, type: 'F32', seed: 1 },
  {
    key: 'gqa-nocap',
    shape: { nKvHeads: 4, window: 8, caps: { attn: 1e6, final: 1e6 } },
    type: 'F32',
    seed: 1,
  },
] as const;

const read = (s: Shape, extra: Record<string, unknown> = {}) => {
  const entries = new Map<string, unknown>([['general.architecture', 'gemma2']]);
  for (const [k, v] of Object.entries(hparams(s)))
    entries.set(`gemma2.${k}`, typeof v === 'object' && v !== null && 'value' in v ? v.value : v);
  for (const [k, v] of Object.entries(extra)) entries.set(`gemma2.${k}`, v);
  entries.set(
    'tokenizer.ggml.tokens',
    Array.from({ length: 300 }, (_, i) => `t${i}`),
  );
  return readGemma2Hyperparameters({
    meta: new MetadataReader('gemma2', entries, 'test.gguf'),
    tensors: {
      has: () => false,
      shape: () => undefined,
      type: () => undefined,
      names: () => Array.from({ length: 99 }, (_, i) => `t${i}`),
    },
    architecture: 'gemma2',
  });
};

describe('readGemma2Hyperparameters', () => {
  it('reads the layer pattern, window, caps and SWA rope base as llama.cpp does', () => {
    const a = read({ nKvHeads: 4, window: 8, caps: SMALL_CAPS });
    // llama.cpp set_swa_pattern(2): il % 2 < 1 slides → even layers
    expect(a.swaLayers).toEqual([true, false, true, false]);
    expect(a.slidingWindow).toBe(8);
    expect([a.attnSoftcap, a.finalSoftcap]).toEqual([2, 3]);
    expect(a.embedScale).toBe(16);
    const b = read({ nKvHeads: 8, window: 16, pattern: [true, false, false, true], freqBaseSwa: 1000 });
    expect(b.swaLayers).toEqual([true, false, false, true]);
    expect([b.attnSoftcap, b.finalSoftcap]).toEqual([50, 30]);
    expect([b.ropeFreqBase, b.ropeFreqBaseSwa]).toEqual([10000, 1000]);
    // a scalar period n: layer il slides when il % n < n − 1; 0 = every layer
    expect(read({ nKvHeads: 4, window: 8 }, { 'attention.sliding_window_pattern': 4 }).swaLayers).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(read({ nKvHeads: 4, window: 8 }, { 'attention.sliding_window_pattern': 0 }).swaLayers).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });

  it('refuses metadata that would make every logit meaningless, naming the key', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return `${(e as { code?: string }).code} ${(e as { key?: string }).key} ${(e as Error).message}`;
      }
      return 'no error';
    };
    expect(code(() => read({ nKvHeads: 4, window: 0 }))).toMatch(
      /^INVALID_METADATA gemma2\.attention\.sliding_window .*test\.gguf/,
    );
    expect(code(() => read({ nKvHeads: 4, window: 8, caps: { attn: 0, final: 30 } }))).toMatch(
      /^INVALID_METADATA gemma2\.attn_logit_softcapping /,
    );
    expect(code(() => read({ nKvHeads: 4, window: 8, caps: { attn: 50, final: -1 } }))).toMatch(
      /^INVALID_METADATA gemma2\.final_logit_softcapping /,
    );
    expect(code(() => read({ nKvHeads: 4, window: 8, pattern: [true, false] }))).toMatch(
      /^INVALID_METADATA gemma2\.attention\.sliding_window_pattern .*2 entries.*4 layers/,
    );
  });
});

const backends = await availableBackends('arch-gemma2 synthetic-parity');
const anyBackend = BACKENDS.some((b) => backends[b]);

describe.skipIf(!anyBackend)('synthetic gemma2 models vs node-llama-cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-gemma2-'));
  const path = (key: string) => join(dir, `${key}.gguf`);
  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      for (const m of models) {
        const written = await writeSyntheticModel(path(m.key), {
          architecture: 'gemma2',
          hparams: hparams(m.shape),
          plugin: gemma2Plugin,
          weightType: m.type,
          quantize: (t, src, rows, cols) => k.quantize(t, src, rows, cols),
          seed: m.seed,
        });
        // llama.cpp's gemma2 has no LM head tensor (tied, always) and four norms per block
        expect(written.specs.some((s) => s.name === 'output.weight')).toBe(false);
        expect(written.specs.filter((s) => /post_(attention|ffw)_norm\.weight$/.test(s.name)).length).toBe(8);
      }
    } finally {
      k.dispose();
    }
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      for (const c of cases) {
        it(c.label, async () => {
          const r = await compareWithLlamaCpp({
            model: path(c.key),
            tokens: syntheticPrompt(c.seed, c.tokens),
            backend,
            ...('kvType' in c ? { kvType: c.kvType, flashAttention: c.flash } : {}),
          });
          if (c.type === 'F32' && !('kvType' in c)) expect(r.withinF32Bound, describeParity(r)).toBe(true);
          else expect(r.withinQuantizedBound, describeParity(r)).toBe(true);
          if ('kvType' in c) {
            // An f16 cache rounds K and V to 11 bits: a last-bit difference in a key before rounding
            // (matmul summation order) moves it by an f16 ulp, and for 64 or more query rows llama.cpp's
            // CPU flash attention takes its tiled path (f32 query) where the kernels follow its
            // one-row path (f16 query). Both stay within 1e-2·max|logit| here; without the caps
            // llama.cpp's logits move by more than 5e-2·max|logit| (the last test).
            expect(r.maxAbsDiff, describeParity(r)).toBeLessThan(1e-2 * r.maxAbsRef);
            expect(r.meanKL, describeParity(r)).toBeLessThan(1e-6);
          }
        });
      }
    });
  }

  it('the window and the soft-caps change llama.cpp’s logits (and quant follows each)', async () => {
    const tokens = syntheticPrompt(1, 40);
    const base = await llamaCppLogits(path('gqa'), tokens);
    const noWindow = await llamaCppLogits(path('gqa-nowindow'), tokens);
    const noCap = await llamaCppLogits(path('gqa-nocap'), tokens);
    const flat = (rows: Float32Array[], from: number, to: number) => {
      const out: number[] = [];
      for (const r of rows.slice(from, to)) out.push(...r);
      return out;
    };
    const bound = 1e-3 * Math.max(...flat(base, 0, tokens.length).map(Math.abs));
    // inside the window the two agree (up to summation order); beyond it the window matters
    expect(maxAbsDiff(flat(base, 0, 8), flat(noWindow, 0, 8))).toBeLessThan(bound);
    expect(maxAbsDiff(flat(base, 8, tokens.length), flat(noWindow, 8, tokens.length))).toBeGreaterThan(
      50 * bound,
    );
    expect(maxAbsDiff(flat(base, 0, tokens.length), flat(noCap, 0, tokens.length))).toBeGreaterThan(
      50 * bound,
    );
    // quant matches each variant, so it honours both
    const backend = backends.native ? 'native' : 'wasm';
    for (const key of ['gqa-nowindow', 'gqa-nocap']) {
      const r = await compareWithLlamaCpp({ model: path(key), tokens, backend });
      expect(r.withinF32Bound, `${key}: ${describeParity(r)}`).toBe(true);
    }
  });
});
