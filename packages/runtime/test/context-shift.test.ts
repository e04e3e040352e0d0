/**
 * Context shift by rotating cached keys (llama.cpp's K-shift) instead of re-evaluating the kept
 * tokens, for every cache type, on synthetic llama and phi3 (LongRoPE) models:
 * - against llama.cpp's own shift (node-llama-cpp `eraseContextTokenRanges`: llama_memory_seq_rm +
 *   seq_add) on 2-layer models — where a shift is *not* a re-evaluation (the kept tokens' deeper K/V
 *   saw the dropped tokens), so matching llama.cpp's shift, and not its fresh evaluation, shows the
 *   keys were rotated. llama.cpp shifts f32 and f16 caches; its shift of a quantized K aborts
 *   (ggml-cpu ops.cpp:321 "not implemented": the f32 → quantized copy into the strided K view), so
 *   our q8_0/q4_0 shifts are compared with its f16 shift under the quantized bounds;
 * - against a fresh evaluation of the kept tokens at their new positions on 1-layer models (there
 *   the two are the same function: K/V depend only on token and position), which also covers
 *   LongRoPE with an attention factor (applied once, where llama.cpp's shift applies it again);
 * - `generate({ contextShift })` shifts without evaluating the kept tokens (forward-pass rows
 *   counted), alone and with two sessions generating in the same passes.
 * Bounds: f32/f16 caches within 1e-3·max|logit|; quantized caches argmax equal and mean KL ≤ 0.01.
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
  oracle,
  type SyntheticPhi3Config,
  syntheticPrompt,
  writeSyntheticLlama,
  writeSyntheticPhi3,
} from '@quant/test-utils';
import type { Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';

const TYPES: KVCacheType[] = ['f32', 'f16', 'q8_0', 'q4_0'];
/** Cache types llama.cpp's shift supports (a quantized K makes it abort). */
const ORACLE_TYPES: KVCacheType[] = ['f32', 'f16'];
const oracleType = (t: KVCacheType): KVCacheType => (ORACLE_TYPES.includes(t) ? t : 'f16');
/**
 * An f32 cache on the standard attention path on both sides: under flash attention llama.cpp casts
 * an F32 K/V to F16 (build_attn_mha), which quant does not (it keeps the f32 cache exact).
 */
const flashFor = (t: KVCacheType) => t !== 'f32';
const quantizedCache = (t: KVCacheType) => t !== 'f32' && t !== 'f16';
const CTX = 64;
const PROMPT = 48;
const KEEP = 1;
const DROP = 20;

interface ModelCase {
  label: string;
  file: string;
  write(path: string, q: (t: number, s: Float32Array, r: number, c: number) => Uint8Array): Promise<unknown>;
  seed: number;
}
const phi3 = (
  cfg: Partial<SyntheticPhi3Config> & { seed: number; nLayers: number },
): SyntheticPhi3Config => ({
  nEmbd: 256,
  nHeads: 4,
  nKvHeads: 2,
  nFF: 512,
  weightType: 'F32',
  contextLength: 4096,
  // Gentler attention than the parity files' default (qkv gain 2): with it, even a fresh q4_0 cache
  // is at mean KL 0.045 from the f32 cache's logits on these random models, so two independently
  // rounded 4-bit caches (shifted and fresh) could not be held to the quantized bounds.
  gains: { qkv: 0.35 },
  ...cfg,
});

/** 2-layer models, compared with llama.cpp's shift (no attention factor: llama.cpp's shift would apply it twice). */
const DEEP: ModelCase[] = [
  {
    label: 'llama GQA head 64, rope_freqs + freq scale',
    file: 'llama2',
    seed: 41,
    write: (p, q) =>
      writeSyntheticLlama(
        p,
        {
          nEmbd: 256,
          nLayers: 2,
          nHeads: 4,
          nKvHeads: 2,
          nFF: 512,
          seed: 41,
          weightType: 'F32',
          ropeFreqs: true,
          ropeScale: 2,
        },
        q,
      ),
  },
  {
    label: 'phi3 LongRoPE (long table), partial rotary 48 of 64',
    file: 'phi3deep',
    seed: 42,
    write: (p, q) =>
      writeSyntheticPhi3(
        p,
        phi3({ nLayers: 2, nRot: 48, seed: 42, longRope: { originalContextLength: 128 } }),
        q,
      ),
  },
];
/** 1-layer models, compared with a fresh evaluation of the kept tokens. */
const SHALLOW: ModelCase[] = [
  {
    label: 'llama 1 layer',
    file: 'llama1',
    seed: 43,
    write: (p, q) =>
      writeSyntheticLlama(
        p,
        {
          nEmbd: 256,
          nLayers: 1,
          nHeads: 4,
          nKvHeads: 2,
          nFF: 512,
          seed: 43,
          weightType: 'F32',
          ropeFreqs: true,
        },
        q,
      ),
  },
  {
    label: 'phi3 1 layer, LongRoPE (long table) with attention factor',
    file: 'phi3one',
    seed: 44,
    write: (p, q) =>
      writeSyntheticPhi3(
        p,
        phi3({
          nLayers: 1,
          seed: 44,
          longRope: { originalContextLength: 128, attnFactor: 1.1902380714238083 },
        }),
        q,
      ),
  },
];

const prompt = (seed: number) => syntheticPrompt(seed, PROMPT);
const next = (seed: number) => syntheticPrompt(seed + 100, 4).slice(1);
const kept = (seed: number) => [...prompt(seed).slice(0, KEEP), ...prompt(seed).slice(KEEP + DROP)];

/** llama.cpp: evaluate the prompt, erase [KEEP, KEEP + DROP) (seq_rm + seq_add: its K-shift), then the next tokens. */
async function oracleShifted(path: string, seed: number, kvType: KVCacheType): Promise<Float32Array[]> {
  const model = await (await oracle()).loadModel({ modelPath: path });
  try {
    const ctx = await model.createContext({
      contextSize: CTX,
      threads: 1,
      flashAttention: flashFor(kvType),
      batchSize: 16,
      experimentalKvCacheKeyType: kvType.toUpperCase(),
      experimentalKvCacheValueType: kvType.toUpperCase(),
    } as never);
    try {
      const seq = ctx.getSequence();
      await seq.controlledEvaluate(prompt(seed).map((t) => t as unknown as Token));
      await seq.eraseContextTokenRanges([{ start: KEEP, end: KEEP + DROP }]);
      const res = await seq.controlledEvaluate(
        next(seed).map((t) => [t as unknown as Token, { generateNext: { logits: true } }] as const),
      );
      return res.map((r, i) => {
        const m = r?.next?.logits;
        if (!m) throw new Error(`oracle: no logits at ${i}`);
        const out = new Float32Array(m.size);
        for (const [id, v] of m) out[id] = v;
        return out;
      });
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** llama.cpp: a fresh context evaluating the kept tokens, then the next ones. */
async function oracleFresh(path: string, seed: number, kvType: KVCacheType): Promise<Float32Array[]> {
  const model = await (await oracle()).loadModel({ modelPath: path });
  try {
    const ctx = await model.createContext({
      contextSize: CTX,
      threads: 1,
      flashAttention: flashFor(kvType),
      batchSize: 16,
      experimentalKvCacheKeyType: kvType.toUpperCase(),
      experimentalKvCacheValueType: kvType.toUpperCase(),
    } as never);
    try {
      const seq = ctx.getSequence();
      const all = [...kept(seed), ...next(seed)];
      const res = await seq.controlledEvaluate(
        all.map(
          (t, i) =>
            [
              t as unknown as Token,
              i >= kept(seed).length ? { generateNext: { logits: true } } : {},
            ] as const,
        ),
      );
      return res.slice(kept(seed).length).map((r) => {
        const m = r?.next?.logits as Map<number, number>;
        const out = new Float32Array(m.size);
        for (const [id, v] of m) out[id] = v;
        return out;
      });
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** Ours: the prompt, discard(KEEP, DROP) (must rotate), then the next tokens. */
async function ourShifted(model: Model, seed: number, kvType: KVCacheType): Promise<Float32Array> {
  const s = model.createSession({
    contextSize: CTX,
    kvType,
    batchSize: 16,
    flashAttention: flashFor(kvType),
  });
  try {
    expect(s.keyShift).toBe('rotate');
    await s.evaluate(prompt(seed));
    const before = model.batchStats;
    expect(await s.discard(KEEP, DROP)).toBe('rotate');
    const after = model.batchStats;
    expect(after.rows).toBe(before.rows); // nothing was evaluated
    expect(after.kvShifts).toBe(before.kvShifts + 1);
    expect(s.tokens).toEqual(kept(seed));
    return await s.evaluate(next(seed), { allLogits: true });
  } finally {
    s.dispose();
  }
}

async function ourFresh(model: Model, seed: number, kvType: KVCacheType): Promise<Float32Array[]> {
  const s = model.createSession({
    contextSize: CTX,
    kvType,
    batchSize: 16,
    flashAttention: flashFor(kvType),
  });
  try {
    await s.evaluate(kept(seed));
    return rows(await s.evaluate(next(seed), { allLogits: true }), model.hparams.nVocab);
  } finally {
    s.dispose();
  }
}

function flat(list: Float32Array[]): Float32Array {
  return Float32Array.from(list.flatMap((r) => Array.from(r)));
}

function rows(all: Float32Array, nVocab: number): Float32Array[] {
  return Array.from({ length: all.length / nVocab }, (_, i) => all.slice(i * nVocab, (i + 1) * nVocab));
}

const backends = await availableBackends('context-shift');
const anyBackend = BACKENDS.some((b) => backends[b]);

describe.skipIf(!anyBackend)('context shift rotates cached keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-shift-'));
  const paths = new Map<string, string>();
  const llamaShift = new Map<string, Float32Array[]>();
  const llamaFresh = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      for (const m of [...DEEP, ...SHALLOW]) {
        const p = join(dir, `${m.file}.gguf`);
        await m.write(p, (t, src, r, c) => k.quantize(t, src, r, c));
        paths.set(m.file, p);
      }
    } finally {
      k.dispose();
    }
    for (const m of DEEP)
      for (const t of ORACLE_TYPES) {
        llamaShift.set(`${m.file}|${t}`, await oracleShifted(paths.get(m.file) as string, m.seed, t));
        llamaFresh.set(`${m.file}|${t}`, await oracleFresh(paths.get(m.file) as string, m.seed, t));
      }
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('llama.cpp’s shift is not a re-evaluation on the 2-layer models (the comparison below is not vacuous)', () => {
    for (const m of DEEP) {
      const c = compareLogits(
        llamaFresh.get(`${m.file}|f32`) as Float32Array[],
        flat(llamaShift.get(`${m.file}|f32`) as Float32Array[]),
        (llamaShift.get(`${m.file}|f32`) as Float32Array[])[0]?.length as number,
      );
      expect(c.maxAbsDiff, m.label).toBeGreaterThan(1e-2 * c.maxAbsRef);
    }
  });

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      for (const m of DEEP) {
        it(`${m.label}: logits after discard() match llama.cpp's context shift, every cache type`, async () => {
          const model = await loadModel(paths.get(m.file) as string, { backend, threads: 1 });
          try {
            for (const t of TYPES) {
              const ours = await ourShifted(model, m.seed, t);
              const c = compareLogits(
                llamaShift.get(`${m.file}|${oracleType(t)}`) as Float32Array[],
                ours,
                model.hparams.nVocab,
              );
              console.log(
                `[context-shift ${backend}] ${m.label} ${t} vs llama.cpp's ${oracleType(t)} shift: max|Δ| ${(c.maxAbsDiff / c.maxAbsRef).toExponential(2)}·max, mean KL ${c.meanKL.toExponential(2)}`,
              );
              expectParity(c, !quantizedCache(t));
            }
          } finally {
            model.dispose();
          }
        });
      }
      for (const m of SHALLOW) {
        it(`${m.label}: logits after discard() equal a fresh evaluation of the kept tokens, every cache type`, async () => {
          const model = await loadModel(paths.get(m.file) as string, { backend, threads: 1 });
          try {
            for (const t of [...TYPES, 'bf16', 'iq4_nl', 'iq4_nlr'] as KVCacheType[]) {
              const ours = await ourShifted(model, m.seed, t);
              const fresh = await ourFresh(model, m.seed, t);
              const c = compareLogits(fresh, ours, model.hparams.nVocab);
              console.log(
                `[context-shift ${backend}] ${m.label} ${t} vs fresh: max|Δ| ${(c.maxAbsDiff / c.maxAbsRef).toExponential(2)}·max, mean KL ${c.meanKL.toExponential(2)}`,
              );
              expectParity(c, t === 'f32' || t === 'f16');
            }
          } finally {
            model.dispose();
          }
        });
      }

      it('generate({ contextShift }) shifts without evaluating the kept tokens, alone and batched', async () => {
        const m = SHALLOW[1] as ModelCase;
        const model = await loadModel(paths.get(m.file) as string, { backend, threads: 1, kvType: 'f32' });
        try {
          const run = async (seed: number) => {
            const s = model.createSession({ contextSize: 32 });
            const p = syntheticPrompt(seed, 20);
            const g = model.generate(p, {
              session: s,
              temperature: 0,
              replaceEog: true,
              maxTokens: 40,
              contextShift: true,
            });
            await g.text();
            expect(g.tokens.length).toBe(40);
            return { s, p, g };
          };
          for (const concurrent of [1, 2]) {
            const before = model.batchStats;
            const done = await Promise.all(Array.from({ length: concurrent }, (_, i) => run(50 + i)));
            const after = model.batchStats;
            // 20 + 40 tokens in a 32-token context: at least two shifts per generation, and every row
            // evaluated is a prompt or generated token (the last sampled one is not evaluated).
            expect(after.kvShifts - before.kvShifts).toBeGreaterThanOrEqual(2 * concurrent);
            expect(after.rows - before.rows).toBe(concurrent * (20 + 40 - 1));
            if (concurrent === 2) expect(after.maxSequencesInPass).toBeGreaterThanOrEqual(2);
            for (const { s, p, g } of done) {
              // The session holds BOS and the newest tokens; the next logits equal a fresh evaluation of them.
              const all = [...p, ...g.tokens.slice(0, -1)];
              expect(s.tokens[0]).toBe(p[0]);
              expect(all.join(',').endsWith(s.tokens.slice(1).join(','))).toBe(true);
              const last = g.tokens[g.tokens.length - 1] as number;
              const fresh = model.createSession({ contextSize: 32 });
              await fresh.evaluate(s.tokens);
              const want = await fresh.evaluate([last]);
              const got = await s.evaluate([last]);
              expectParity(compareLogits([want], got, model.hparams.nVocab), true);
              fresh.dispose();
              s.dispose();
            }
          }
        } finally {
          model.dispose();
        }
      });

      it('a plugin without keyRope re-evaluates (the fallback), with the same tokens kept', async () => {
        const m = SHALLOW[0] as ModelCase;
        const model = await loadModel(paths.get(m.file) as string, { backend, threads: 1, kvType: 'f32' });
        const plugin = model.plugin as { keyRope?: unknown };
        const saved = plugin.keyRope;
        plugin.keyRope = undefined;
        try {
          const s = model.createSession({ contextSize: CTX });
          expect(s.keyShift).toBe('evaluate');
          await s.evaluate(prompt(m.seed));
          await expect(s.discard(KEEP, PROMPT)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
          await expect(s.discard(-1, 2)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
          const before = model.batchStats;
          expect(await s.discard(KEEP, DROP)).toBe('evaluate');
          expect(model.batchStats.rows - before.rows).toBe(PROMPT - KEEP - DROP);
          expect(model.batchStats.kvShifts).toBe(before.kvShifts);
          expect(s.tokens).toEqual(kept(m.seed));
          s.dispose();
        } finally {
          plugin.keyRope = saved;
          model.dispose();
        }
      });
    });
  }
});
