/**
 * KV caches of disposed sessions are kept for the next session of the same shape
 * (LoadModelOptions.kvPool): a reused cache still holds the previous session's rows, which must
 * never leak into the new session's logits; the pool's limit, trimKvPool() and the option's
 * validation; a cache that would not fit frees the kept ones first. The expected logits come from
 * a model that keeps no cache (kvPool: 0), i.e. a fresh, never-used cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, syntheticPrompt, writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, loadModel, QuantRuntimeError } from '../src/index.js';

const backends = await availableBackends('kv-pool');
const dir = mkdtempSync(join(tmpdir(), 'quant-kv-pool-'));
const file = join(dir, 'llama.gguf');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await writeSyntheticLlama(file, { nEmbd: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 256, seed: 31 });
});

const same = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

for (const backend of ['native', 'wasm'] as const) {
  describe.skipIf(!backends[backend])(`KV pool [${backend}]`, () => {
    it('a new session reuses a disposed session’s cache and gets the logits of a fresh cache', async () => {
      const model = await loadModel(file, { backend, threads: 1, contextSize: 64 });
      const fresh = await loadModel(file, { backend, threads: 1, contextSize: 64, kvPool: 0 });
      try {
        // fill 50 positions, then hand the cache back
        const a = model.createSession();
        await a.evaluate(syntheticPrompt(50, 7));
        a.dispose();
        await new Promise((r) => setTimeout(r, 0));
        expect(model.kvPool.caches).toBe(1);
        expect(model.kvPool.bytes).toBe(model.sessionKvBytes(64));

        const b = model.createSession();
        expect(model.kvPool).toMatchObject({ caches: 0, bytes: 0, reused: 1 });
        const ref = fresh.createSession();
        expect(fresh.kvPool.reused).toBe(0);
        const prompt = syntheticPrompt(5, 9);
        let lb = await b.evaluate(prompt);
        let lr = await ref.evaluate(prompt);
        expect(same(lb, lr)).toBe(true);
        // greedy steps past the short prompt: every position the old session stored there is stale
        for (let i = 0; i < 12; i++) {
          lb = await b.evaluate([argmax(lb)]);
          lr = await ref.evaluate([argmax(lr)]);
          expect(same(lb, lr), `step ${i}`).toBe(true);
        }
      } finally {
        model.dispose();
        fresh.dispose();
      }
    });

    it('keeps at most kvPool caches, only of the same context size and type; trimKvPool frees them', async () => {
      const model = await loadModel(file, { backend, threads: 1, contextSize: 32, kvPool: 2 });
      try {
        const ss = [0, 1, 2].map(() => model.createSession());
        for (const s of ss) await s.evaluate([1, 2, 3]);
        for (const s of ss) s.dispose();
        await new Promise((r) => setTimeout(r, 0));
        expect(model.kvPool.caches).toBe(2);
        // another context size or KV type gets a new cache
        const other = model.createSession({ contextSize: 48 });
        const q8 = model.createSession({ kvType: 'q8_0' });
        expect(model.kvPool).toMatchObject({ caches: 2, reused: 0 });
        other.dispose();
        q8.dispose();
        await new Promise((r) => setTimeout(r, 0));
        expect(model.kvPool.caches).toBe(2); // the two newest kept, the oldest freed
        const freed = await model.trimKvPool();
        expect(freed).toBe(model.sessionKvBytes(48) + model.sessionKvBytes(32, 'q8_0'));
        expect(model.kvPool).toMatchObject({ caches: 0, bytes: 0 });
        // iq4_nlr keeps per-layer smoothing scales besides its rows: never kept
        const nlr = model.createSession({ kvType: { k: 'iq4_nlr', v: 'f16' } });
        nlr.dispose();
        await new Promise((r) => setTimeout(r, 0));
        expect(model.kvPool.caches).toBe(0);
      } finally {
        model.dispose();
      }
      const none = await loadModel(file, { backend, threads: 1, contextSize: 32, kvPool: 0 });
      try {
        const s = none.createSession();
        s.dispose();
        await new Promise((r) => setTimeout(r, 0));
        expect(none.kvPool.caches).toBe(0);
      } finally {
        none.dispose();
      }
    });
  });
}

describe.skipIf(!backends.wasm)('KV pool under memory pressure [wasm]', () => {
  it('a cache that does not fit beside the kept ones frees them first', async () => {
    // 1 KiB per position (2 layers × K and V × 2 heads × 32 floats × 4 B): a 1.5M-position f32 cache
    // is 1.5 GiB, two do not fit in the wasm backend's 4 GiB together with a third
    const model = await loadModel(file, { backend: 'wasm', threads: 1, contextSize: 32, kvType: 'f32' });
    try {
      const big = 1_500_000;
      const a = model.createSession({ contextSize: big });
      const b = model.createSession({ contextSize: big });
      a.dispose();
      b.dispose();
      await new Promise((r) => setTimeout(r, 0));
      expect(model.kvPool.caches).toBe(2);
      // 2.5M positions: fits only once the two kept caches are freed
      const c = model.createSession({ contextSize: 2_500_000 });
      expect(model.kvPool.caches).toBe(0);
      expect(model.kvPool.reused).toBe(0);
      expect((await c.evaluate([1, 2])).length).toBe(model.hparams.nVocab);
      c.dispose();
    } finally {
      model.dispose();
    }
  });
});

describe('kvPool option', () => {
  it('is refused unless an integer ≥ 0', async () => {
    for (const bad of [-1, 1.5, '2', Number.NaN]) {
      const e = await loadModel(file, { kvPool: bad as number }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(QuantRuntimeError);
      expect((e as QuantRuntimeError).code).toBe('INVALID_OPTION');
      expect(String((e as Error).message)).toMatch(/kvPool/);
    }
  });
});
