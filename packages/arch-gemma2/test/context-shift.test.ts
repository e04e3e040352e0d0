/**
 * Context shift on gemma2 by rotating cached keys (the plugin's `keyRope`: NeoX pairs, the sliding
 * layers at `rope.freq_base_swa`) against llama.cpp's own shift (node-llama-cpp
 * `eraseContextTokenRanges`: llama_memory_seq_rm + llama_memory_seq_add, then its K-shift graph,
 * which rotates each layer at llama_model::get_rope_freq_base — the SWA base on sliding layers).
 *
 * The model has 2 layers (layer 0 slides with a window of 16, layer 1 attends to everything) so a
 * shift is *not* a re-evaluation: the kept tokens' layer-1 K/V saw the dropped tokens through layer
 * 0's window, so matching llama.cpp's shift (and not its fresh evaluation) shows the keys were
 * rotated. `rope.freq_base_swa` (1000) differs from `rope.freq_base` (10000), so rotating the
 * sliding layer's keys at the full-attention base fails the bound (checked below, as is the
 * re-evaluation fallback without keyRope).
 *
 * llama.cpp and SWA: gemma2 gets llama.cpp's iSWA cache (a full cache for layer 1, an SWA cache for
 * layer 0). The SWA cache frees nothing by itself; it only reuses cells of positions that left the
 * window when it runs out of empty cells (llama_kv_cache::find_slot). Its size is
 * GGML_PAD(min(n_ctx, n_swa + n_ubatch), 256) ≥ this test's context (llama.cpp pads n_ctx to 256
 * too), so after the 48-token prompt it still holds every position. Were a cell dropped, node-llama-
 * cpp would not shift at all (erasing at or before the sequence's lowest cached position makes it
 * re-evaluate), so the oracle asserts the lowest cached position is still 0 (BOS) before erasing.
 * With every cell kept, both sides mask the window on the shifted positions, so the comparison is
 * of the whole next-token logits.
 *
 * Bound: within 1e-3·max|logit|, for an f16 cache on the flash path and an f32 cache on the standard
 * path (llama.cpp's flash path casts an f32 cache to f16, which quant does not).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GGUFWriteValue } from '@quant/gguf';
import { loadKernels } from '@quant/kernels';
import { type KeyRope, keyRopeLayers } from '@quant/plugin-api';
import { compareLogits, syntheticPrompt, writeSyntheticModel } from '@quant/plugin-kit';
import { loadModel, type Model } from '@quant/runtime';
import { availableBackends, BACKENDS, oracle } from '@quant/test-utils';
import type { ControlledEvaluateInputItem, Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gemma2Hyperparameters, gemma2Plugin } from '../src/index';

const f32 = (value: number) => ({ type: 'f32', value }) as GGUFWriteValue;
const u32 = (value: number) => ({ type: 'u32', value }) as GGUFWriteValue;

const CTX = 64;
const PROMPT = 48;
const KEEP = 1;
const DROP = 28;
const WINDOW = 16;
const SEED = 7;
const TYPES = ['f32', 'f16'] as const;
type CacheType = (typeof TYPES)[number];
/** f16 on the flash path (as the parity tests), f32 on the standard path (see the header). */
const flashFor = (t: CacheType) => t !== 'f32';

const HPARAMS: Record<string, GGUFWriteValue> = {
  block_count: 2,
  context_length: 4096,
  embedding_length: 256,
  feed_forward_length: 512,
  'attention.head_count': 8,
  'attention.head_count_kv': 4,
  // 8 heads × 48 = 384 query dims ≠ 256, as in the parity test
  'attention.key_length': u32(48),
  'attention.value_length': u32(48),
  'attention.layer_norm_rms_epsilon': 1e-6,
  'rope.freq_base': 10000,
  'rope.freq_base_swa': f32(1000),
  // llama.cpp's default pattern (period 2): layer 0 slides, layer 1 is full attention
  'attention.sliding_window': u32(WINDOW),
};

const prompt = syntheticPrompt(SEED, PROMPT);
const next = syntheticPrompt(SEED + 100, 4).slice(1);
const kept = [...prompt.slice(0, KEEP), ...prompt.slice(KEEP + DROP)];

function logitRows(
  res: readonly ({ next?: { logits?: Map<number, number> } } | undefined)[],
): Float32Array[] {
  return res.map((r, i) => {
    const m = r?.next?.logits;
    if (!m) throw new Error(`oracle: llama.cpp returned no logits at ${i}`);
    const out = new Float32Array(m.size);
    for (const [id, v] of m) out[id] = v;
    return out;
  });
}

/**
 * llama.cpp: the prompt, erase [KEEP, KEEP + DROP) (its K-shift), then the next tokens; or
 * (`fresh`) a fresh context evaluating the kept tokens, then the next ones.
 */
async function oracleRun(path: string, t: CacheType, fresh: boolean): Promise<Float32Array[]> {
  const model = await (await oracle()).loadModel({ modelPath: path });
  try {
    const ctx = await model.createContext({
      contextSize: CTX,
      threads: 1,
      flashAttention: flashFor(t),
      batchSize: 16,
      experimentalKvCacheKeyType: t.toUpperCase(),
      experimentalKvCacheValueType: t.toUpperCase(),
    } as never);
    try {
      const seq = ctx.getSequence();
      const withLogits = (ids: readonly number[]) =>
        ids.map(
          (id): ControlledEvaluateInputItem => [id as unknown as Token, { generateNext: { logits: true } }],
        );
      if (fresh) {
        await seq.controlledEvaluate(kept.map((id) => id as unknown as Token));
        return logitRows(await seq.controlledEvaluate(withLogits(next)));
      }
      await seq.controlledEvaluate(prompt.map((id) => id as unknown as Token));
      // every position still cached (the SWA cache dropped nothing): the erase below is a shift
      expect(seq.stateCellsStartIndex).toBe(0);
      await seq.eraseContextTokenRanges([{ start: KEEP, end: KEEP + DROP }]);
      expect(seq.nextTokenIndex).toBe(kept.length);
      return logitRows(await seq.controlledEvaluate(withLogits(next)));
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** Ours: the prompt, discard(KEEP, DROP), then the next tokens; resolves with what discard did. */
async function ourShifted(
  model: Model,
  t: CacheType,
): Promise<{ done: 'rotate' | 'evaluate'; logits: Float32Array; rowsEvaluated: number; shifts: number }> {
  const s = model.createSession({ contextSize: CTX, kvType: t, batchSize: 16, flashAttention: flashFor(t) });
  try {
    await s.evaluate(prompt);
    const before = model.batchStats;
    const done = await s.discard(KEEP, DROP);
    const after = model.batchStats;
    expect(s.tokens).toEqual(kept);
    const logits = await s.evaluate(next, { allLogits: true });
    return {
      done,
      logits,
      rowsEvaluated: after.rows - before.rows,
      shifts: after.kvShifts - before.kvShifts,
    };
  } finally {
    s.dispose();
  }
}

const backends = await availableBackends('arch-gemma2 context-shift');
const anyBackend = BACKENDS.some((b) => backends[b]);

describe.skipIf(!anyBackend)('gemma2 context shift rotates cached keys as llama.cpp does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-gemma2-shift-'));
  const path = join(dir, 'gemma2-shift.gguf');
  const llamaShift = new Map<CacheType, Float32Array[]>();
  let llamaFresh: Float32Array[] = [];

  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      await writeSyntheticModel(path, {
        architecture: 'gemma2',
        hparams: HPARAMS,
        plugin: gemma2Plugin,
        weightType: 'F32',
        quantize: (type, src, rows, cols) => k.quantize(type, src, rows, cols),
        seed: SEED,
      });
    } finally {
      k.dispose();
    }
    for (const t of TYPES) llamaShift.set(t, await oracleRun(path, t, false));
    llamaFresh = await oracleRun(path, 'f32', true);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const shifted = (t: CacheType) => llamaShift.get(t) as Float32Array[];

  it('llama.cpp’s shift is not a re-evaluation of the kept tokens (the comparison is not vacuous)', () => {
    const nVocab = shifted('f32')[0]?.length as number;
    const c = compareLogits(llamaFresh, Float32Array.from(shifted('f32').flatMap((r) => [...r])), nVocab);
    console.log(
      `[gemma2 context-shift] llama.cpp shift vs its fresh evaluation: max|Δ| ${(c.maxAbsDiff / c.maxAbsRef).toExponential(2)}·max`,
    );
    expect(c.maxAbsDiff).toBeGreaterThan(1e-2 * c.maxAbsRef);
  });

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      it('logits after discard() match llama.cpp’s context shift (f32 and f16 caches), with no token evaluated', async () => {
        const model = await loadModel(path, { backend, threads: 1 });
        try {
          const h = model.hparams as unknown as Gemma2Hyperparameters;
          expect(h.swaLayers).toEqual([true, false]);
          expect([h.ropeFreqBase, h.ropeFreqBaseSwa, h.slidingWindow]).toEqual([10000, 1000, WINDOW]);
          for (const t of TYPES) {
            const r = await ourShifted(model, t);
            expect(r.done).toBe('rotate');
            expect(r.rowsEvaluated).toBe(0);
            expect(r.shifts).toBe(1);
            const c = compareLogits(shifted(t), r.logits, model.hparams.nVocab);
            console.log(
              `[gemma2 context-shift ${backend}] ${t} cache vs llama.cpp's shift: max|Δ| ${(c.maxAbsDiff / c.maxAbsRef).toExponential(2)}·max (bound 1e-3), mean KL ${c.meanKL.toExponential(2)}`,
            );
            expect(
              c.maxAbsDiff,
              `max|Δlogit| vs 1e-3·max|logit| = ${1e-3 * c.maxAbsRef}`,
            ).toBeLessThanOrEqual(1e-3 * c.maxAbsRef);
          }
        } finally {
          model.dispose();
        }
      });

      it('re-evaluating (no keyRope) or rotating the sliding layer at the full-attention base misses the bound', async () => {
        const model = await loadModel(path, { backend, threads: 1 });
        const plugin = model.plugin as { keyRope?: unknown };
        const saved = plugin.keyRope;
        const variants: [string, unknown, 'rotate' | 'evaluate'][] = [
          ['without keyRope (re-evaluation)', undefined, 'evaluate'],
          [
            'keys rotated at rope.freq_base on every layer',
            (h: Gemma2Hyperparameters): KeyRope[] => keyRopeLayers(h, 'neox'),
            'rotate',
          ],
        ];
        try {
          for (const [label, keyRope, want] of variants) {
            plugin.keyRope = keyRope;
            for (const t of TYPES) {
              const r = await ourShifted(model, t);
              expect(r.done, label).toBe(want);
              const c = compareLogits(shifted(t), r.logits, model.hparams.nVocab);
              console.log(
                `[gemma2 context-shift ${backend}] ${label}, ${t} cache vs llama.cpp's shift: max|Δ| ${(c.maxAbsDiff / c.maxAbsRef).toExponential(2)}·max`,
              );
              expect(c.maxAbsDiff, `${label}, ${t}`).toBeGreaterThan(1e-3 * c.maxAbsRef);
            }
          }
        } finally {
          plugin.keyRope = saved;
          model.dispose();
        }
      });
    });
  }
});
