/**
 * A Phi-3.5-mini-shaped synthetic model: random weights (fixed seed), the real Phi-3 vocabulary
 * (../shared/vocab/ggml-vocab-phi-3.gguf), the real shapes (32 layers, hidden 3072, 32 heads, no
 * GQA, ffn 8192, vocab 32064, 128K context with LongRoPE tables, original context 4096) and
 * llama-quantize's Q4_K_M type mix. Loads it, generates, and compares the logits of a short chat
 * prompt with llama.cpp (node-llama-cpp) at a context using the short table and one using the long
 * table, within the quantized bounds (same argmax everywhere, mean KL ≤ 0.01). Prints timings.
 *
 * Weight scales are those of a trained model, not the small unit tests' sensitive ones: residual
 * branches (attn_output, ffn_down) at a quarter of the variance-preserving gain, Q/K/V at unit gain,
 * and an LM head that leans towards one token per row so the top logit stands clear. With the unit
 * tests' gains (Q/K ×2, branches ×1) 32 random layers are chaotic: on this machine llama.cpp's own
 * CPU builds (its AVX2, AVX-512 and AMX variants) disagreed with each other by mean KL 2–3.5e-2 with
 * argmax flips, so no implementation short of one build's exact summation order could meet the bound.
 *
 * The file (~2.3 GB) is written once to $QUANT_PHI35_FIXTURE or the temp directory and reused.
 * Run: pnpm --filter @quant/arch-phi3 bench   (QUANT_BENCH_THREADS=n, default 2)
 */
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { loadModel } from '@quant/runtime';
import { compareLogits, oracle, oracleLogits, type WeightType, writeSyntheticPhi3 } from '@quant/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedDir } from '../../../vitest.shared';

const VOCAB = join(sharedDir, 'vocab', 'ggml-vocab-phi-3.gguf');
const PATH = process.env.QUANT_PHI35_FIXTURE ?? join(tmpdir(), 'quant-phi35-mini-synthetic-q4_k_m-v2.gguf');
const THREADS = Number(process.env.QUANT_BENCH_THREADS ?? 2);
const N_LAYERS = 32;

/** llama-quantize's use_more_bits(i, n): the first and last eighth, and every third layer between. */
const moreBits = (i: number, n: number) => i < n / 8 || i >= (7 * n) / 8 || (i - n / 8) % 3 === 2;

/** Q4_K_M as llama-quantize assigns it for phi3 (llama-quant.cpp): Q6_K head and some ffn_down, Q5_K attn_qkv. */
function q4km(name: string): WeightType {
  if (name === 'output.weight') return 'Q6_K';
  const m = /^blk\.(\d+)\.(.*)$/.exec(name);
  if (m?.[2] === 'attn_qkv.weight') return 'Q5_K';
  if (m?.[2] === 'ffn_down.weight' && moreBits(Number(m[1]), N_LAYERS)) return 'Q6_K';
  return 'Q4_K';
}

async function ensureFixture(): Promise<void> {
  if (existsSync(PATH) && statSync(PATH).size > 2e9) return;
  const k = await loadKernels({ threads: THREADS });
  const t0 = performance.now();
  try {
    await writeSyntheticPhi3(
      PATH,
      {
        nEmbd: 3072,
        nLayers: N_LAYERS,
        nHeads: 32,
        nKvHeads: 32,
        nFF: 8192,
        seed: 35,
        weightType: q4km,
        vocabFile: VOCAB,
        name: 'Phi3',
        contextLength: 131072,
        slidingWindow: 262144,
        longRope: { originalContextLength: 4096, attnFactor: 1.1902380714238083 },
        keepFloats: false,
        gains: { qkv: 1, branch: 0.25, output: 2, lean: 0.03 },
      },
      (t, src, rows, cols) => k.quantize(t, src, rows, cols),
    );
  } finally {
    k.dispose();
  }
  console.log(
    `[phi35-mini] wrote ${PATH} (${(statSync(PATH).size / 1e9).toFixed(2)} GB) in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}

describe.skipIf(!existsSync(VOCAB))('Phi-3.5-mini-shaped synthetic Q4_K_M model', () => {
  afterAll(async () => {
    await (await oracle()).dispose?.();
  });

  // Both of llama.cpp's attention paths, each against ours with the same one: standard attention on
  // an F32 cache, and flash attention on an F16 cache (node-llama-cpp's default on CPU).
  const attention = [
    { flashAttention: false, kvType: 'f32' },
    { flashAttention: true, kvType: 'f16' },
  ] as const;
  for (const contextSize of [512, 4352]) {
    for (const { flashAttention, kvType } of attention) {
      it(`context ${contextSize} (${contextSize > 4096 ? 'long' : 'short'} LongRoPE table), ${flashAttention ? 'flash' : 'standard'} attention, ${kvType} cache: logits match llama.cpp, generation runs`, async () => {
        await ensureFixture();
        const t0 = performance.now();
        const model = await loadModel(PATH, { threads: THREADS, contextSize, kvType, flashAttention });
        const tLoad = performance.now() - t0;
        try {
          expect(model.hparams).toMatchObject({
            nLayers: 32,
            nEmbd: 3072,
            nVocab: 32064,
            nKvHeads: 32,
            headDim: 96,
          });
          const prompt = model.tokenize(
            model.renderChat([{ role: 'user', content: 'What is the capital of France? Answer briefly.' }]),
            { parseSpecial: true },
          );

          const tRef = performance.now();
          const ref = await oracleLogits(PATH, prompt, { contextSize, kvType, flashAttention });
          const tRefEval = performance.now() - tRef;

          const s = model.createSession();
          const tOurs = performance.now();
          const ours = await s.evaluate(prompt, { allLogits: true });
          const tOursEval = performance.now() - tOurs;
          s.dispose();
          const c = compareLogits(ref, ours, model.hparams.nVocab);

          const tGen = performance.now();
          const gen = model.generate(prompt, { temperature: 0, maxTokens: 16, replaceEog: true });
          const text = await gen.text();
          const tGenMs = performance.now() - tGen;

          console.log(
            `[phi35-mini ctx ${contextSize} ${flashAttention ? 'flash' : 'standard'} ${kvType}] ${prompt.length} prompt tokens; load ${tLoad.toFixed(0)} ms; ` +
              `llama.cpp load+context+prompt ${tRefEval.toFixed(0)} ms; quant prompt ${tOursEval.toFixed(0)} ms ` +
              `(${((prompt.length * 1000) / tOursEval).toFixed(1)} tok/s); quant 16-token generation incl. prompt ${tGenMs.toFixed(0)} ms; ` +
              `max|Δ| ${c.maxAbsDiff.toFixed(4)} of max|logit| ${c.maxAbsRef.toFixed(2)}, mean KL ${c.meanKL.toExponential(2)}, ` +
              `argmax mismatches ${JSON.stringify(c.argmaxMismatches)}; text ${JSON.stringify(text)}`,
          );
          expect(gen.tokens).toHaveLength(16);
          expect(c.argmaxMismatches).toEqual([]);
          expect(c.meanKL).toBeLessThanOrEqual(0.01);
        } finally {
          model.dispose();
        }
      });
    }
  }
});
