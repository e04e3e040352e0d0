/**
 * Quantized and half KV caches against llama.cpp (node-llama-cpp with the same
 * experimentalKvCacheKeyType/ValueType, flash attention on) on synthetic llama models with head
 * sizes 64 and 128 and a phi3 model with head size 96, a 40-token prompt in batches of 16, on every
 * backend; and the refusals of types a model cannot use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KVCacheType, loadKernels } from '@quant/kernels';
import {
  availableBackends,
  BACKENDS,
  compareLogits,
  expectParity,
  oracleLogits,
  syntheticPrompt,
  writeSyntheticLlama,
  writeSyntheticPhi3,
} from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KVTypeUnsupportedError, loadModel } from '../src/index.js';

type Pair =
  | Exclude<KVCacheType, 'iq4_nlr'>
  | { k: Exclude<KVCacheType, 'iq4_nlr'>; v: Exclude<KVCacheType, 'iq4_nlr'> };
const ALL: Pair[] = [
  'f32',
  'f16',
  'bf16',
  'q8_0',
  'q4_0',
  'q4_1',
  'q5_0',
  'q5_1',
  'iq4_nl',
  { k: 'q8_0', v: 'f16' },
  { k: 'f16', v: 'q4_0' },
  { k: 'q4_0', v: 'q8_0' },
];
const name = (p: Pair) => (typeof p === 'string' ? p : `k=${p.k},v=${p.v}`);

interface ModelCase {
  label: string;
  headDim: number;
  write(path: string, q: (t: number, s: Float32Array, r: number, c: number) => Uint8Array): Promise<unknown>;
  seed: number;
}
const MODELS: ModelCase[] = [
  {
    label: 'llama GQA head 64',
    headDim: 64,
    seed: 31,
    write: (p) =>
      writeSyntheticLlama(p, { nEmbd: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 512, seed: 31 }),
  },
  {
    label: 'llama MHA head 128',
    headDim: 128,
    seed: 32,
    write: (p) =>
      writeSyntheticLlama(p, { nEmbd: 256, nLayers: 2, nHeads: 2, nKvHeads: 2, nFF: 512, seed: 32 }),
  },
  {
    label: 'phi3 head 96',
    headDim: 96,
    seed: 33,
    write: (p, q) =>
      writeSyntheticPhi3(
        p,
        { nEmbd: 384, nLayers: 2, nHeads: 4, nKvHeads: 4, nFF: 512, seed: 33, weightType: 'F32' },
        q,
      ),
  },
];

const prompt = (seed: number) => syntheticPrompt(seed, 40);
const backends = await availableBackends('kv-cache-types');
const anyBackend = BACKENDS.some((b) => backends[b]);

describe.skipIf(!anyBackend)('KV cache types vs llama.cpp (flash attention, same cache types)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-kvtypes-'));
  const paths = new Map<string, string>();
  const expected = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      for (const m of MODELS) {
        const p = join(dir, `${m.label.replace(/[^a-z0-9]+/gi, '_')}.gguf`);
        await m.write(p, (t, src, rows, cols) => k.quantize(t, src, rows, cols));
        paths.set(m.label, p);
        for (const t of ALL)
          expected.set(
            `${m.label}|${name(t)}`,
            await oracleLogits(p, prompt(m.seed), { kvType: t, flashAttention: true, batchSize: 16 }),
          );
      }
    } finally {
      k.dispose();
    }
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      for (const m of MODELS) {
        it(`${m.label}: every cache type's logits match llama.cpp's with that cache type`, async () => {
          const model = await loadModel(paths.get(m.label) as string, {
            backend,
            threads: 1,
            contextSize: 512,
            batchSize: 16,
          });
          try {
            for (const t of ALL) {
              const s = model.createSession({ kvType: t });
              expect(s.cache.types).toEqual(typeof t === 'string' ? { k: t, v: t } : t);
              const ours = await s.evaluate(prompt(m.seed), { allLogits: true });
              s.dispose();
              const c = compareLogits(
                expected.get(`${m.label}|${name(t)}`) as Float32Array[],
                ours,
                model.hparams.nVocab,
              );
              console.log(
                `[kv-cache-types ${backend}] ${m.label} ${name(t)}: mean KL ${c.meanKL.toExponential(2)}, max|Δ| ${c.maxAbsDiff.toExponential(2)} (max|logit| ${c.maxAbsRef.toFixed(2)})`,
              );
              // f32 on llama: the F32 bound. phi3's f32 cache differs from llama.cpp's flash path by
              // 1.7e-3·max|logit| even without quantization (see the runtime README, LongRoPE/flash
              // note), so it gets the quantized bounds like every other type.
              expectParity(c, t === 'f32' && m.label.startsWith('llama'));
            }
          } finally {
            model.dispose();
          }
        }, 120_000);
      }
    });
  }

  it('refuses types a model cannot use, naming the ones that work', async () => {
    // a head of 40 values: no block type fits
    const p = join(dir, 'head40.gguf');
    await writeSyntheticLlama(p, { nEmbd: 160, nLayers: 1, nHeads: 4, nKvHeads: 4, nFF: 256, seed: 5 });
    const model = await loadModel(p, {
      backend: backends.native ? 'native' : 'wasm',
      threads: 1,
      contextSize: 64,
    });
    try {
      let e: unknown;
      try {
        model.createSession({ kvType: { k: 'f16', v: 'q4_0' } });
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(KVTypeUnsupportedError);
      expect((e as KVTypeUnsupportedError).code).toBe('UNSUPPORTED_KV_TYPE');
      expect((e as KVTypeUnsupportedError).supported).toEqual(['f32', 'f16', 'bf16']);
      expect((e as Error).message).toMatch(/head size 40 is not a multiple of 32/);
      expect(() => model.createSession({ kvType: 'q4_k' as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION' }),
      );
    } finally {
      model.dispose();
    }
    const m2 = await loadModel(paths.get('llama GQA head 64') as string, { threads: 1, contextSize: 64 });
    try {
      expect(() => m2.createSession({ kvType: 'q8_0', flashAttention: false })).toThrow(
        /only read by the flash-attention path.*Types that work here: f32, f16, bf16\./,
      );
      // a quantized K alone is fine on the standard path (llama.cpp's mul_mat reads it)
      m2.createSession({ kvType: { k: 'q8_0', v: 'f16' }, flashAttention: false }).dispose();
    } finally {
      m2.dispose();
    }
  });
});
