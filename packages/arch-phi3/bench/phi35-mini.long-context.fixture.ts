/**
 * Long context on the Phi-3.5-mini-shaped synthetic Q4_K_M model (./phi35-mini-file.ts) with a
 * 4-bit KV cache (QUANT_LONG_KV, default q4_0 for K and V; llama.cpp the same through
 * node-llama-cpp's experimentalKvCacheKeyType/ValueType, flash attention on):
 *
 * 1. A 131,072-token session (the model's full LongRoPE context) is created and evaluates a few
 *    tokens: its KV cache is 32 layers × 131,072 × 2 × 3072 values at 4.5 bits = 13.5 GiB instead
 *    of f16's 48 GiB, which does not fit a 24 GB machine (the memory check refuses it, naming the
 *    quantized types that fit).
 * 2. For each fill in QUANT_LONG_FILLS (default "4096,16384,32768"): a session of that many tokens
 *    plus room to decode is filled with a deterministic prompt, then decodes DECODE tokens one at a
 *    time; the fill time, decode tokens/s and the process's peak RSS are printed beside llama.cpp's
 *    (its context in the same process: its RSS is measured as the growth over ours).
 *
 * Run: pnpm --filter @quant/arch-phi3 bench -- phi35-mini.long-context  (QUANT_BENCH_THREADS=n)
 * The 32K fill takes long on 2 cores (prompt speed × 32,768 tokens, both sides); pick fills with
 * QUANT_LONG_FILLS.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { KVCacheType } from '@quant/kernels';
import { ContextTooLargeError, loadModel } from '@quant/runtime';
import { oracle } from '@quant/test-utils';
import type { Token } from 'node-llama-cpp';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureFixture, PATH, THREADS, VOCAB } from './phi35-mini-file';

const KV = (process.env.QUANT_LONG_KV ?? 'q4_0') as KVCacheType;
const FILLS = (process.env.QUANT_LONG_FILLS ?? '4096,16384,32768').split(',').map(Number);
const DECODE = Number(process.env.QUANT_LONG_DECODE ?? 16);
const FULL = 131_072;
const BATCH = 512;

const tokens = (n: number) => [1, ...Array.from({ length: n - 1 }, (_, i) => 100 + ((i * 7919) % 30000))];
const gen = Array.from({ length: DECODE }, (_, i) => 200 + ((i * 104729) % 30000));

/** Peak resident set of this process so far (VmHWM), in GiB. */
function peakRssGiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 / 1024 : Number.NaN;
}
function rssGiB(): number {
  return process.memoryUsage().rss / 1024 ** 3;
}

describe.skipIf(!existsSync(VOCAB))(`Phi-3.5-mini-shaped Q4_K_M, ${KV} KV cache: long context`, () => {
  afterAll(async () => {
    await (await oracle()).dispose?.();
  });

  it(`a ${FULL}-token session with a ${KV} cache is created and runs; f16 is refused with the sizes`, async () => {
    await ensureFixture();
    const model = await loadModel(PATH, { threads: THREADS, contextSize: FULL, batchSize: BATCH });
    try {
      let refused: unknown;
      try {
        model.createSession({ kvType: 'f16' }).dispose();
      } catch (e) {
        refused = e;
      }
      expect(refused).toBeInstanceOf(ContextTooLargeError);
      console.log(`[long-context] f16 at ${FULL}: ${(refused as Error).message}`);
      const t0 = performance.now();
      const s = model.createSession({ kvType: KV });
      const created = performance.now() - t0;
      console.log(
        `[long-context] ${FULL}-token ${KV} session: KV cache ${(s.cache.byteLength / 1024 ** 3).toFixed(2)} GiB, created in ${created.toFixed(0)} ms, RSS ${rssGiB().toFixed(2)} GiB`,
      );
      const logits = await s.evaluate(tokens(64));
      expect(logits.every(Number.isFinite)).toBe(true);
      console.log(
        `[long-context] evaluated 64 tokens; RSS ${rssGiB().toFixed(2)} GiB, peak ${peakRssGiB().toFixed(2)} GiB`,
      );
      s.dispose();
    } finally {
      model.dispose();
    }
  });

  for (const fill of FILLS) {
    it(`fill ${fill} tokens, decode ${DECODE}: quant beside llama.cpp (${KV} cache, ${THREADS} threads)`, async () => {
      await ensureFixture();
      const ctxSize = fill + DECODE + 16;
      const prompt = tokens(fill);
      const model = await loadModel(PATH, { threads: THREADS, contextSize: ctxSize, batchSize: BATCH });
      let ours: { fill: number; decode: number; peak: number };
      try {
        const s = model.createSession({ kvType: KV });
        const t0 = performance.now();
        await s.evaluate(prompt);
        const tFill = performance.now() - t0;
        const t1 = performance.now();
        for (const t of gen) await s.evaluate([t]);
        const tDec = performance.now() - t1;
        ours = { fill: tFill, decode: tDec, peak: peakRssGiB() };
        s.dispose();
      } finally {
        model.dispose();
      }
      const before = rssGiB();
      const llama = await oracle();
      const lm = await llama.loadModel({ modelPath: PATH });
      let ref: { fill: number; decode: number; rss: number };
      try {
        const ctx = await lm.createContext({
          contextSize: ctxSize,
          threads: THREADS,
          batchSize: BATCH,
          flashAttention: true,
          experimentalKvCacheKeyType: KV.toUpperCase(),
          experimentalKvCacheValueType: KV.toUpperCase(),
        } as never);
        try {
          const seq = ctx.getSequence();
          const t0 = performance.now();
          await seq.evaluateWithoutGeneratingNewTokens(prompt as unknown as Token[]);
          const tFill = performance.now() - t0;
          const t1 = performance.now();
          for (const t of gen) await seq.evaluateWithoutGeneratingNewTokens([t as unknown as Token]);
          const tDec = performance.now() - t1;
          ref = { fill: tFill, decode: tDec, rss: rssGiB() - before };
        } finally {
          await ctx.dispose();
        }
      } finally {
        await lm.dispose();
      }
      console.log(
        `[long-context ${KV}, fill ${fill}, ${THREADS} threads]\n` +
          `quant      fill ${(ours.fill / 1000).toFixed(1)} s (${((fill * 1000) / ours.fill).toFixed(1)} tok/s)  decode ${((DECODE * 1000) / ours.decode).toFixed(2)} tok/s  peak RSS ${ours.peak.toFixed(2)} GiB\n` +
          `llama.cpp  fill ${(ref.fill / 1000).toFixed(1)} s (${((fill * 1000) / ref.fill).toFixed(1)} tok/s)  decode ${((DECODE * 1000) / ref.decode).toFixed(2)} tok/s  RSS growth ${ref.rss.toFixed(2)} GiB`,
      );
    });
  }
});
