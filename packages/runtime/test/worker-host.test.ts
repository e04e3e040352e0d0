/**
 * loadModelInWorker in Node: the model runs in a worker_threads Worker (the built dist/worker.js,
 * which is what users get) behind the Model API — the same greedy story as the model loaded in this
 * thread, pieces streamed while the generation runs, abort through a signal or by leaving the loop,
 * errors rebuilt as their own classes, sessions, an ArrayBuffer moved rather than copied, dispose.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GGUFError } from '@quant/gguf';
import { hasShared, sharedPath, warnSkipped, writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';

const dist = join(__dirname, '..', 'dist');
const built = existsSync(join(dist, 'worker.js')) && existsSync(join(dist, 'index.js'));
if (!built) {
  if (process.env.CI)
    throw new Error('packages/runtime/dist is missing: the test command builds it first (turbo run build)');
  warnSkipped(
    'worker-host',
    'packages/runtime/dist/worker.js is not built (npx turbo run build --filter=@quant/runtime): skipping',
  );
}
type Runtime = typeof import('../src/index.js');

const dir = mkdtempSync(join(tmpdir(), 'quant-worker-'));
const synthetic = join(dir, 'synthetic.gguf');
const model = hasShared('models/stories260K.gguf') ? sharedPath('models', 'stories260K.gguf') : synthetic;
const PROMPT = 'Once upon a time';
let rt: Runtime;
let expected: { text: string; tokens: number[] };

beforeAll(async () => {
  await writeSyntheticLlama(synthetic, {
    nEmbd: 64,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    nFF: 128,
    seed: 9,
    silentEos: true,
  });
  if (!built) return;
  rt = (await import(pathToFileURL(join(dist, 'index.js')).href)) as Runtime;
  const local = await loadModel(model);
  const g = local.generate(PROMPT, { maxTokens: 32, temperature: 0 });
  expected = { text: await g.text(), tokens: [...g.tokens] };
  local.dispose();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!built)('loadModelInWorker (worker_threads)', () => {
  it('streams the same greedy story as the model in this thread, with load progress', async () => {
    let progress = 0;
    const m = await rt.loadModelInWorker(model, { onProgress: () => progress++ });
    try {
      expect(progress).toBeGreaterThan(0);
      expect(m.architecture).toBe('llama');
      const g = m.generate(PROMPT, { maxTokens: 32, temperature: 0 });
      const pieces: string[] = [];
      for await (const p of g) pieces.push(p);
      expect(pieces.length).toBeGreaterThan(1);
      expect(pieces.join('')).toBe(expected.text);
      expect(g.tokens).toEqual(expected.tokens);
      expect(g.finishReason).toBe('length');
      expect(await m.tokenize(PROMPT)).toEqual((await loadModel(model)).tokenize(PROMPT));
    } finally {
      await m.dispose();
    }
  });

  it('abort (signal or leaving the loop), sessions, typed errors, a moved ArrayBuffer, dispose', async () => {
    const bytes = readFileSync(synthetic);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const m = await rt.loadModelInWorker(ab);
    try {
      expect(ab.byteLength).toBe(0); // transferred to the worker, not copied
      const ac = new AbortController();
      const g = m.generate(PROMPT, { maxTokens: 5000, temperature: 0, signal: ac.signal });
      let n = 0;
      const run = async () => {
        for await (const _ of g) if (++n === 3) ac.abort(new Error('stop'));
      };
      await expect(run()).rejects.toBeInstanceOf(rt.AbortError);
      expect(g.finishReason).toBe('abort');
      const g2 = m.generate(PROMPT, { maxTokens: 5000, temperature: 0 });
      for await (const _ of g2) break;
      expect(g2.finishReason).toBe('abort');
      // A session in the worker keeps its tokens between generations.
      const s = await m.createSession({ contextSize: 64 });
      await m.generate(PROMPT, { maxTokens: 4, temperature: 0, session: s }).text();
      expect((await s.tokens()).length).toBeGreaterThan(4);
      await s.dispose();
      // the disposed session's cache is kept in the worker's model and freed on request
      // (generate's own sessions of the default size are kept too)
      const kept = await m.kvPool;
      expect(kept.caches).toBeGreaterThanOrEqual(1);
      expect(await m.trimKvPool()).toBe(kept.bytes);
      expect(await m.kvPool).toMatchObject({ caches: 0, bytes: 0 });
      const full = m.generate(PROMPT, { maxTokens: 100, temperature: 0, contextSize: 8 });
      await expect(full.text()).rejects.toBeInstanceOf(rt.ContextFullError);
      await expect(full.text()).rejects.toThrow(/only once/);
    } finally {
      await m.dispose();
    }
    await expect(async () => m.generate(PROMPT)).rejects.toMatchObject({ code: 'DISPOSED' });
    const missing = await rt.loadModelInWorker(join(dir, 'missing.gguf')).catch((e: unknown) => e);
    expect((missing as Error).name).toBe('GGUFError');
    expect((missing as GGUFError).code).toBe('GGUF_SOURCE_ERROR');
    expect((missing as Error).message).toContain('missing.gguf');
  });
});
