/**
 * Loads the Phi-3.5-mini-shaped synthetic Q4_K_M model (./phi35-mini-file.ts), generates, and
 * compares the logits of a short chat prompt with llama.cpp (node-llama-cpp) at a context using the
 * short LongRoPE table and one using the long table, within the quantized bounds (same argmax
 * everywhere, mean KL ≤ 0.01). Prints timings.
 * Run: pnpm --filter @quant/arch-phi3 bench   (QUANT_BENCH_THREADS=n, default 2)
 */
import { existsSync } from 'node:fs';
import { loadModel } from '@quant/runtime';
import { compareLogits, oracle, oracleLogits } from '@quant/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureFixture, PATH, THREADS, VOCAB } from './phi35-mini-file';

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
