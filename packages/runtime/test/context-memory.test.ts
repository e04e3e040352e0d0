/**
 * Issue 12: a session's KV cache is checked against the memory available before it is allocated
 * (contextSize 1e7 used to allocate 6.4 GB; nothing bounded it on the native backend). The error,
 * ContextTooLargeError (CONTEXT_TOO_LARGE), gives the bytes needed, the bytes available and the
 * largest context that fits. Expected byte counts are computed here from the KV cache's definition
 * (K and V, per layer, position, KV head and head dimension, 2 bytes in f16 / 4 in f32).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, BACKENDS, writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ContextTooLargeError, loadModel, type Model } from '../src/index.js';
import { TINY } from './helpers/fixtures.js';

const backends = await availableBackends('context-memory');
const dir = mkdtempSync(join(tmpdir(), 'quant-ctx-mem-'));
const path = join(dir, 'tiny.gguf');
beforeAll(() => writeSyntheticLlama(path, TINY));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** KV bytes per token of TINY: K and V × layers × kvHeads × headDim × element size. */
const perToken = (bytesPerElement: number) =>
  2 * TINY.nLayers * TINY.nKvHeads * (TINY.nEmbd / TINY.nHeads) * bytesPerElement;

for (const backend of BACKENDS) {
  describe.skipIf(!backends[backend])(`${backend} backend`, () => {
    let model: Model;
    beforeAll(async () => {
      model = await loadModel(path, { backend, threads: 1, contextSize: 64 });
    });
    afterAll(() => model?.dispose());

    it('a context far beyond memory is refused before allocating, with the numbers', () => {
      const contextSize = 1e10 / perToken(2) > 2 ** 31 ? 2 ** 31 - 1 : Math.ceil(1e12 / perToken(2));
      let err: unknown;
      try {
        model.createSession({ contextSize }).dispose();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ContextTooLargeError);
      const e = err as ContextTooLargeError;
      expect(e.code).toBe('CONTEXT_TOO_LARGE');
      expect(e.bytes).toBe(contextSize * perToken(2));
      expect(e.available).toBeLessThan(e.bytes);
      expect(e.maxContextSize * perToken(2)).toBeLessThanOrEqual(e.available);
      expect(e.maxContextSize % 256).toBe(0);
      expect(e.message).toMatch(new RegExp(`A ${contextSize}-token context needs .* of KV cache`));
      expect(e.message).toMatch(new RegExp(`at most ${e.maxContextSize} tokens fit`));
      if (backend === 'wasm') {
        // wasm32 addresses 4 GiB, less the weights.
        expect(e.available).toBeLessThan(4 * GiB);
        expect(e.message).toContain('wasm');
      }
    });

    it('generate({ contextSize }) fails the same way (finishReason "error")', async () => {
      const g = model.generate([1, 2, 3], { contextSize: 2 ** 31 - 1, maxTokens: 1 });
      await expect(g.text()).rejects.toMatchObject({ code: 'CONTEXT_TOO_LARGE' });
      expect(g.finishReason).toBe('error');
    });

    it('f32 caches count 4 bytes per element', () => {
      const err = (() => {
        try {
          model.createSession({ contextSize: 2 ** 31 - 1, kvType: 'f32' });
        } catch (e) {
          return e as ContextTooLargeError;
        }
      })();
      expect(err?.bytes).toBe((2 ** 31 - 1) * perToken(4));
    });
  });
}

describe.skipIf(!backends.native)('native backend: the limit is the memory the OS reports free', () => {
  it('a cache larger than os.freemem() is refused; one that fits is created', async () => {
    const model = await loadModel(path, { backend: 'native', threads: 1, contextSize: 64 });
    try {
      // Pretend only 64 MiB are free; a 128 MiB cache must then be refused (without the check it
      // would simply be allocated).
      vi.spyOn(os, 'freemem').mockReturnValue(64 * MiB);
      const ctx = (128 * MiB) / perToken(2);
      expect(() => model.createSession({ contextSize: ctx })).toThrow(
        expect.objectContaining({
          code: 'CONTEXT_TOO_LARGE',
          available: 64 * MiB,
          maxContextSize: (64 * MiB) / perToken(2),
        }),
      );
      const s = model.createSession({ contextSize: (32 * MiB) / perToken(2) });
      s.dispose();
    } finally {
      model.dispose();
    }
  });
});
