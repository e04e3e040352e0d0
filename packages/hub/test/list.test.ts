/** `listCachedModels` and `removeCachedModel` on a cache filled from the local Hub stand-in. */
import { existsSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import { fakeCommit, HubServer, sha256Hex } from '@quant/test-utils';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'vitest';
import { HubError, listCachedModels, removeCachedModel, resolveModel } from '../src/index.js';
import { isolatedEnv, syntheticGGUF } from './helpers/fixtures.js';

let server: HubServer;
let llama: Uint8Array;
let phi3: Uint8Array;
const C1 = fakeCommit('list-main');
const C2 = fakeCommit('list-v1');

beforeAll(async () => {
  llama = await syntheticGGUF(11);
  phi3 = await syntheticGGUF(12, 'phi3'); // llama tensors under another architecture name: only the header matters here
  server = await new HubServer().start();
  server.addRepo('t/m', {
    revisions: {
      main: { commit: C1, files: { 'm-Q4_K_M.gguf': llama, 'm-Q8_0.gguf': phi3 } },
      v1: { commit: C2, files: { 'm-Q4_K_M.gguf': llama, 'old-Q4_0.gguf': phi3 } },
    },
  });
});
afterAll(() => server.stop());

let ctx: ReturnType<typeof isolatedEnv>;
let registry: string;
beforeEach(() => {
  ctx = isolatedEnv();
  registry = join(ctx.root, 'registry.json');
  writeFileSync(
    registry,
    JSON.stringify({ models: [{ name: 'tiny', aliases: ['t:q4'], ref: 'hf:t/m:Q4_K_M' }] }),
  );
  ctx.env.QUANT_MODEL_REGISTRY = registry;
});
afterEach(() => rmSync(ctx.root, { recursive: true, force: true }));
const opts = () => ({ env: ctx.env, endpoint: server.hubUrl });

test('list: reference, names, file, size, quantization, architecture from the header, last use', async () => {
  expect((await listCachedModels(opts())).models).toEqual([]);
  const before = Date.now();
  await resolveModel('tiny', opts());
  await resolveModel('hf:t/m:Q8_0', opts());
  await resolveModel('hf:t/m/old-Q4_0.gguf@v1', opts());
  const { models, cacheDir } = await listCachedModels(opts());
  expect(cacheDir).toBe(ctx.cache);
  expect(models.map((m) => [m.reference, m.file, m.size, m.quant, m.architecture, m.commit])).toEqual([
    ['hf:t/m/m-Q4_K_M.gguf', 'm-Q4_K_M.gguf', llama.length, 'Q4_K_M', 'llama', C1],
    ['hf:t/m/m-Q8_0.gguf', 'm-Q8_0.gguf', phi3.length, 'Q8_0', 'phi3', C1],
    ['hf:t/m/old-Q4_0.gguf@v1', 'old-Q4_0.gguf', phi3.length, 'Q4_0', 'phi3', C2],
  ]);
  expect(models[0]!.names).toEqual(['tiny', 't:q4']);
  expect(models[0]!.refs).toEqual(['main']);
  expect(models[0]!.lastUsed.getTime()).toBeGreaterThanOrEqual(before - 2000);
});

test('rm of one file keeps blobs another snapshot still links; the last link removes the blob', async () => {
  await resolveModel('hf:t/m:Q8_0', opts());
  const v1 = await resolveModel('hf:t/m/old-Q4_0.gguf@v1', opts());
  const blob = join(ctx.cache, 'models--t--m', 'blobs', sha256Hex(phi3));
  expect(readlinkSync(v1.path)).toBe(`../../blobs/${sha256Hex(phi3)}`);

  const first = await removeCachedModel('hf:t/m:Q4_0', opts());
  expect(first).toEqual({ removed: ['hf:t/m/old-Q4_0.gguf@v1'], freedBytes: 0 });
  expect(existsSync(blob)).toBe(true); // m-Q8_0.gguf of main still uses it
  expect(existsSync(v1.path)).toBe(false);
  expect(existsSync(join(ctx.cache, 'models--t--m', 'refs', 'v1'))).toBe(false); // its snapshot is gone
  expect((await scanCacheDir(ctx.cache)).warnings).toEqual([]);

  const second = await removeCachedModel('hf:t/m/m-Q8_0.gguf', opts());
  expect(second).toEqual({ removed: ['hf:t/m/m-Q8_0.gguf'], freedBytes: phi3.length });
  expect(existsSync(blob)).toBe(false);
  expect(existsSync(join(ctx.cache, 'models--t--m'))).toBe(false); // nothing left of the repository
});

test('rm by alias, of a whole repository, and of something not cached', async () => {
  await resolveModel('tiny', opts());
  await resolveModel('hf:t/m:Q8_0', opts());
  expect(await removeCachedModel('t:q4', opts())).toEqual({
    removed: ['hf:t/m/m-Q4_K_M.gguf'],
    freedBytes: llama.length,
  });
  const all = await removeCachedModel('hf:t/m', opts());
  expect(all.freedBytes).toBe(phi3.length);
  expect(existsSync(join(ctx.cache, 'models--t--m'))).toBe(false);
  for (const ref of ['hf:t/m', 'hf:other/repo:Q4_K_M', 'https://example.com/x.gguf']) {
    const e = await removeCachedModel(ref, opts()).catch((x) => x);
    expect(e, ref).toBeInstanceOf(HubError);
    expect((e as HubError).code, ref).toBe('NOT_CACHED');
  }
});
