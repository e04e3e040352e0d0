/**
 * The memory check before loading reads the model's shape through its architecture plugin (the
 * same reader and validation loadModel uses), not by reading the keys a second time: the KV cache
 * estimate follows the plugin's layer count, KV heads and head size, and metadata the plugin
 * refuses counts no KV cache, so loadModel reports the real problem instead of a memory estimate.
 */
import { parseGGUF } from '@quant/gguf';
import { patchMetadataScalar } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultContext, estimateModelBytes } from '../src/load';
import { SMALL, TempDir } from './helpers/fixtures';

let tmp: TempDir;
beforeAll(() => {
  tmp = new TempDir();
});
afterAll(() => tmp?.remove());

async function estimate(path: string, ctx: number, kvType?: Parameters<typeof estimateModelBytes>[2]) {
  const file = await parseGGUF(path);
  try {
    return { ...estimateModelBytes(file, ctx, kvType), defaultContext: defaultContext(file) };
  } finally {
    await file.close();
  }
}

describe('estimateModelBytes', () => {
  it('KV cache = layers · ctx · kv_heads · head_dim · (K + V bytes), from the config the file was written with', async () => {
    const p = await tmp.model('small.gguf', { ...SMALL, contextLength: 2048 });
    // SMALL: 2 layers, 2 KV heads, head size 64 / 4 = 16.
    const layers = SMALL.nLayers;
    const kvHeads = SMALL.nKvHeads;
    const headDim = SMALL.nEmbd / SMALL.nHeads;
    const f16 = await estimate(p, 512);
    expect(f16.kv).toBe(layers * 512 * kvHeads * headDim * (2 + 2));
    expect(f16.weights).toBeGreaterThan(0);
    // q8_0 K (34 bytes per 32 values) + f32 V
    const mixed = await estimate(p, 512, { k: 'q8_0', v: 'f32' });
    expect(mixed.kv).toBeCloseTo(layers * 512 * kvHeads * headDim * (34 / 32 + 4), 6);
    // The runtime's default context: the trained context, at most 4096.
    expect(f16.defaultContext).toBe(2048);
  });

  it('metadata the plugin refuses (head_count_kv not dividing head_count) counts no KV cache', async () => {
    const p = tmp.file('bad-kv-heads.gguf');
    await tmp.model('bad-kv-heads.gguf', SMALL);
    patchMetadataScalar(p, 'llama.attention.head_count_kv', 'u32', 3);
    expect((await estimate(p, 512)).kv).toBe(0);
  });

  it('an architecture no plugin runs counts no KV cache (loadModel names the missing plugin)', async () => {
    const p = await tmp.model('gptx.gguf', { ...SMALL, arch: 'gptx' });
    const e = await estimate(p, 512);
    expect(e.kv).toBe(0);
    expect(e.defaultContext).toBe(4096);
  });
});
