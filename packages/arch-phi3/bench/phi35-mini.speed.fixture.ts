/**
 * Speed against llama.cpp on the Phi-3.5-mini-shaped synthetic Q4_K_M model (./phi35-mini-file.ts):
 * the same file, machine and thread count, each side with its defaults (flash attention, f16 KV
 * cache). In the spirit of llama-bench: pp = a prompt of N tokens evaluated from an empty cache,
 * tg = N tokens evaluated one at a time after it. Each measurement runs once to warm up, then
 * REPS times; the best run counts (the machine is shared, and noise only ever slows a run down).
 *
 * Targets (asserted): quant's tg at least TG_TARGET × llama.cpp's, pp at least PP_TARGET × llama.cpp's.
 * Run: pnpm --filter @quant/arch-phi3 bench   (QUANT_BENCH_THREADS=n, default 2)
 */
import { existsSync } from 'node:fs';
import { loadModel } from '@quant/runtime';
import { oracle } from '@quant/test-utils';
import type { Token } from 'node-llama-cpp';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureFixture, PATH, THREADS, VOCAB } from './phi35-mini-file';

const PP = 128;
const TG = 32;
const REPS = 3;
const CONTEXT = 512;
/** Token-generation speed target relative to llama.cpp (memory-bound: both read the same bytes). */
const TG_TARGET = 0.8;
/** Prompt speed target relative to llama.cpp (compute-bound: llama.cpp uses AMX/VNNI where present). */
const PP_TARGET = Number(process.env.QUANT_PP_TARGET ?? 0.25);

/** Deterministic prompt tokens (BOS first, then ids spread over the vocabulary). */
const prompt = [1, ...Array.from({ length: PP - 1 }, (_, i) => 100 + ((i * 7919) % 30000))];
const gen = Array.from({ length: TG }, (_, i) => 200 + ((i * 104729) % 30000));

async function best(run: () => Promise<number>): Promise<number> {
  await run();
  let b = Number.POSITIVE_INFINITY;
  for (let r = 0; r < REPS; r++) b = Math.min(b, await run());
  return b;
}

const tokS = (n: number, ms: number) => (n * 1000) / ms;

describe.skipIf(!existsSync(VOCAB))('Phi-3.5-mini-shaped Q4_K_M: speed against llama.cpp', () => {
  afterAll(async () => {
    await (await oracle()).dispose?.();
  });

  it(`pp${PP} and tg${TG}, ${THREADS} threads`, async () => {
    await ensureFixture();

    const model = await loadModel(PATH, { threads: THREADS, contextSize: CONTEXT });
    let ours: { pp: number; tg: number };
    try {
      const pp = await best(async () => {
        const s = model.createSession();
        try {
          const t0 = performance.now();
          await s.evaluate(prompt);
          return performance.now() - t0;
        } finally {
          s.dispose();
        }
      });
      const s = model.createSession();
      await s.evaluate(prompt);
      const start = s.position;
      const tg = await best(async () => {
        s.truncate(start);
        const t0 = performance.now();
        for (const t of gen) await s.evaluate([t]);
        return performance.now() - t0;
      });
      s.dispose();
      ours = { pp, tg };
    } finally {
      model.dispose();
    }

    const llama = await oracle();
    const lm = await llama.loadModel({ modelPath: PATH });
    let ref: { pp: number; tg: number };
    try {
      const ctx = await lm.createContext({ contextSize: CONTEXT, threads: THREADS, batchSize: PP });
      try {
        const seq = ctx.getSequence();
        const pp = await best(async () => {
          await seq.clearHistory();
          const t0 = performance.now();
          await seq.evaluateWithoutGeneratingNewTokens(prompt as unknown as Token[]);
          return performance.now() - t0;
        });
        const tg = await best(async () => {
          await seq.clearHistory();
          await seq.evaluateWithoutGeneratingNewTokens(prompt as unknown as Token[]);
          const t0 = performance.now();
          for (const t of gen) await seq.evaluateWithoutGeneratingNewTokens([t as unknown as Token]);
          return performance.now() - t0;
        });
        ref = { pp, tg };
      } finally {
        await ctx.dispose();
      }
    } finally {
      await lm.dispose();
    }

    const row = (name: string, r: { pp: number; tg: number }) =>
      `${name.padEnd(10)} pp${PP} ${tokS(PP, r.pp).toFixed(2).padStart(7)} tok/s   tg${TG} ${tokS(TG, r.tg).toFixed(2).padStart(6)} tok/s`;
    const ppRatio = ref.pp / ours.pp;
    const tgRatio = ref.tg / ours.tg;
    console.log(
      `[phi35-mini speed, ${THREADS} threads, best of ${REPS}]\n${row('quant', ours)}\n${row('llama.cpp', ref)}\n` +
        `quant / llama.cpp: pp ${ppRatio.toFixed(2)}×, tg ${tgRatio.toFixed(2)}×`,
    );
    expect(tgRatio).toBeGreaterThanOrEqual(TG_TARGET);
    expect(ppRatio).toBeGreaterThanOrEqual(PP_TARGET);
  });
});
