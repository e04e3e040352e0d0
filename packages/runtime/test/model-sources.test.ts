/**
 * loadModel's sources (issue 16): URLs read with a few large Range requests (not one per tensor),
 * Request-like options (headers, signal), Blobs, ArrayBuffers that are not kept alive after loading
 * on a backend that copies the weights, split GGUF sets from paths, Blobs and URLs, and the early
 * memory check of the wasm backend. Every result is compared with the same model loaded from its path.
 */
import { mkdtempSync, openAsBlob, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GGUFError } from '@quant/gguf';
import {
  availableBackends,
  hasShared,
  type StaticServer,
  sharedPath,
  startStaticServer,
  warnSkipped,
  writeSplitGGUF,
  writeSyntheticLlama,
} from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortError,
  ContextTooLargeError,
  type LoadProgress,
  loadModel,
  type Model,
  ModelTooLargeError,
} from '../src/index.js';
import { checkModelMemory, forwardScratchBytes } from '../src/model/memory.js';

const backends = await availableBackends('model-sources');
const shared = hasShared('models/stories260K.gguf');
if (!shared)
  warnSkipped(
    'model-sources',
    '../shared/models/stories260K.gguf is absent: only the synthetic model is used',
  );

const dir = mkdtempSync(join(tmpdir(), 'quant-sources-'));
const synthetic = join(dir, 'synthetic.gguf');
let server: StaticServer;
/** The models every case runs on: a synthetic Llama written here, and stories260K when ../shared has it. */
const models: { name: string; path: string }[] = [{ name: 'synthetic', path: synthetic }];
if (shared) models.push({ name: 'stories260K', path: sharedPath('models', 'stories260K.gguf') });

beforeAll(async () => {
  await writeSyntheticLlama(synthetic, { nEmbd: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 128, seed: 5 });
  for (const m of models) {
    await writeSplitGGUF(m.path, dir, `${m.name}-split`, 3);
  }
  server = await startStaticServer({ '/models/': dir, '/shared/': sharedPath('models') });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const PROMPT = 'Once upon a time';
const N = 24;

async function story(model: Model): Promise<{ text: string; tokens: number[] }> {
  try {
    const g = model.generate(PROMPT, { maxTokens: N, temperature: 0 });
    const text = await g.text();
    return { text, tokens: [...g.tokens] };
  } finally {
    model.dispose();
  }
}

function urlOf(m: { name: string; path: string }): string {
  return m.name === 'synthetic'
    ? `${server.origin}/models/synthetic.gguf`
    : `${server.origin}/shared/${basename(m.path)}`;
}

for (const backend of ['wasm', 'native'] as const) {
  describe.skipIf(!backends[backend])(`${backend} backend`, () => {
    for (const m of models) {
      describe(m.name, () => {
        let expected: { text: string; tokens: number[] };
        beforeAll(async () => {
          expected = await story(await loadModel(m.path, { backend }));
          expect(expected.tokens.length).toBeGreaterThan(0);
        });

        it('a URL is read with a few large Range requests, not one per tensor', async () => {
          const url = urlOf(m);
          const path = new URL(url).pathname;
          const before = server.requests(path).length;
          const model = await loadModel(url, { backend });
          const requests = server.requests(path).slice(before);
          // Header (one 64 KiB read, more for a big vocabulary) + one 32 MiB range of tensor data;
          // before the batching: one request per tensor (51 for stories260K).
          expect(requests.length, JSON.stringify(requests)).toBeLessThanOrEqual(3);
          expect(model.file.tensors.length).toBeGreaterThan(10);
          expect(await story(model)).toEqual(expected);
        });

        it('headers and a Request: every request carries them', async () => {
          const seen: string[] = [];
          const spy: typeof fetch = (input, init) => {
            seen.push(
              `${new Headers(init?.headers).get('authorization')}|${new Headers(init?.headers).get('x-extra')}`,
            );
            return fetch(input, init);
          };
          const fromOptions = await loadModel(urlOf(m), {
            backend,
            headers: { Authorization: 'Bearer a' },
            fetch: spy,
          });
          expect(await story(fromOptions)).toEqual(expected);
          const fromRequest = await loadModel(new Request(urlOf(m), { headers: { 'X-Extra': 'b' } }), {
            backend,
            headers: [['authorization', 'Bearer c']],
            fetch: spy,
          });
          expect(await story(fromRequest)).toEqual(expected);
          expect(seen.length).toBeGreaterThanOrEqual(4);
          expect(new Set(seen)).toEqual(new Set(['Bearer a|null', 'Bearer c|b']));
        });

        it('an aborted signal stops loading with AbortError', async () => {
          const ac = new AbortController();
          ac.abort(new Error('stop'));
          await expect(loadModel(urlOf(m), { backend, signal: ac.signal })).rejects.toBeInstanceOf(
            AbortError,
          );
          const late = new AbortController();
          const p = loadModel(urlOf(m), {
            backend,
            signal: late.signal,
            onProgress: (pr: LoadProgress) => {
              if (pr.loaded === 2) late.abort();
            },
          });
          await expect(p).rejects.toBeInstanceOf(AbortError);
        });

        it('Blob, ArrayBuffer and Uint8Array sources give the same story', async () => {
          const bytes = readFileSync(m.path);
          expect(await story(await loadModel(await openAsBlob(m.path), { backend }))).toEqual(expected);
          expect(await story(await loadModel(new Blob([bytes]), { backend }))).toEqual(expected);
          const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
          expect(await story(await loadModel(ab, { backend }))).toEqual(expected);
          expect(await story(await loadModel(new Uint8Array(bytes), { backend }))).toEqual(expected);
        });

        it('split sets: an array of paths, the first part alone, Blobs and URLs', async () => {
          const names = [1, 2, 3].map((i) => `${m.name}-split-0000${i}-of-00003.gguf`);
          const paths = names.map((n) => join(dir, n));
          expect(await story(await loadModel(paths, { backend }))).toEqual(expected);
          expect(
            await story(await loadModel([paths[2], paths[0], paths[1]] as string[], { backend })),
          ).toEqual(expected);
          expect(await story(await loadModel(paths[0] as string, { backend }))).toEqual(expected);
          expect(
            await story(await loadModel(await Promise.all(paths.map((p) => openAsBlob(p))), { backend })),
          ).toEqual(expected);
          const urls = names.map((n) => `${server.origin}/models/${n}`);
          expect(await story(await loadModel(urls[0] as string, { backend }))).toEqual(expected);
          // Parts missing: a typed error naming what to pass.
          const missing = loadModel(await openAsBlob(paths[0] as string), { backend });
          await expect(missing).rejects.toBeInstanceOf(GGUFError);
          await expect(missing).rejects.toMatchObject({ code: 'GGUF_SPLIT_INVALID' });
          await expect(
            loadModel([paths[0], paths[0], paths[1]] as string[], { backend }),
          ).rejects.toMatchObject({
            code: 'GGUF_SPLIT_INVALID',
          });
        });
      });
    }
  });
}

describe.skipIf(!backends.wasm)('wasm backend: memory', () => {
  it('an ArrayBuffer source is not kept alive by the loaded model (wasm copies the weights)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const load = async () => {
      const bytes = readFileSync(synthetic);
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      return { model: await loadModel(ab, { backend: 'wasm' }), ref: new WeakRef(ab) };
    };
    const { model, ref } = await load();
    try {
      for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
        await new Promise((r) => setTimeout(r, 10));
        gc();
      }
      expect(ref.deref(), 'the source ArrayBuffer is still reachable from the model').toBeUndefined();
      expect((await model.generate(PROMPT, { maxTokens: 4, temperature: 0 }).text()).length).toBeGreaterThan(
        0,
      );
    } finally {
      model.dispose();
    }
  });

  it('a context that cannot fit in wasm32 fails before any weight is loaded', async () => {
    const progress: LoadProgress[] = [];
    const p = loadModel(synthetic, {
      backend: 'wasm',
      contextSize: 2 ** 24,
      onProgress: (x) => progress.push(x),
    });
    await expect(p).rejects.toBeInstanceOf(ContextTooLargeError);
    const e = (await p.catch((x) => x)) as ContextTooLargeError;
    expect(e.maxContextSize).toBeGreaterThan(0);
    expect(e.maxContextSize).toBeLessThan(2 ** 24);
    expect(progress).toEqual([]);
  });

  it('how big a model fits: Phi-3.5-mini Q4_K_M with a 4K f16 cache does, its Q8_0 does not', () => {
    const wasm = { backend: 'wasm' as const, maxMemoryBytes: 4 * 2 ** 30 - 64 * 2 ** 20 };
    // Phi-3.5-mini: 32 layers, 32 KV heads of 96, n_embd 3072, n_ff 8192, 32064 tokens; file sizes of the
    // published Q4_K_M (2 393 232 672 bytes) and Q8_0 (4 061 221 216 bytes) GGUFs (their tensor data is
    // all but a few MiB of that).
    const kv = { layers: 32, kvHeads: 32, headDim: 96 };
    const scratchBytes = forwardScratchBytes({ nEmbd: 3072, nVocab: 32064, widest: 8192 }, 512, 16);
    expect(() =>
      checkModelMemory(
        wasm,
        { weightBytes: 2_393_232_672, scratchBytes },
        kv,
        4096,
        { k: 'f16', v: 'f16' },
        'phi',
      ),
    ).not.toThrow();
    expect(() =>
      checkModelMemory(
        wasm,
        { weightBytes: 4_061_221_216, scratchBytes },
        kv,
        4096,
        { k: 'f16', v: 'f16' },
        'phi',
      ),
    ).toThrow(ModelTooLargeError);
    // 16K of f16 cache (6 GiB) does not fit next to the Q4_K_M weights; the error says what does.
    let err: unknown;
    try {
      checkModelMemory(
        wasm,
        { weightBytes: 2_393_232_672, scratchBytes },
        kv,
        16384,
        { k: 'f16', v: 'f16' },
        'phi',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContextTooLargeError);
    expect((err as ContextTooLargeError).maxContextSize).toBeGreaterThanOrEqual(4096);
    expect((err as ContextTooLargeError).maxContextSize).toBeLessThan(8192);
    // The native backend has no such limit.
    expect(() =>
      checkModelMemory(
        { backend: 'native', maxMemoryBytes: Number.MAX_SAFE_INTEGER },
        { weightBytes: 4_061_221_216, scratchBytes },
        kv,
        16384,
        { k: 'f16', v: 'f16' },
        'phi',
      ),
    ).not.toThrow();
  });
});
