/**
 * The plugin-api README's example plugin (packages/plugin-api/examples/foo-plugin.mjs, which the
 * README shows verbatim) against llama.cpp: its tensors written by the kit from the plugin's own
 * specs, once as "foo" for quant and once as "llama" for llama.cpp (same seed, same bytes), and
 * every position's logits compared on every kernel backend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fooPlugin } from '../../plugin-api/examples/foo-plugin.mjs';
import { compareWithLlamaCpp, describeParity, syntheticPrompt, writeSyntheticModel } from '../src/index';

const hparams = (nKvHeads: number) => ({
  block_count: 2,
  context_length: 1024,
  embedding_length: 128,
  feed_forward_length: 256,
  'attention.head_count': 8,
  'attention.head_count_kv': nKvHeads,
  'attention.layer_norm_rms_epsilon': 1e-5,
  'rope.freq_base': 10000,
});

const BACKENDS = ['native', 'wasm'] as const;
/** Which kernel backends load here (this package's tests cannot use @quant/test-utils, which depends on it). */
const backends: Record<string, boolean> = {};
for (const backend of BACKENDS) {
  try {
    (await loadKernels({ backend, threads: 1 })).dispose();
    backends[backend] = true;
  } catch (e) {
    console.warn(`[plugin-kit] ${backend} kernels unavailable: ${(e as Error).message}`);
    backends[backend] = false;
  }
}
const anyBackend = BACKENDS.some((b) => backends[b]);

describe.skipIf(!anyBackend)('the README example plugin matches llama.cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-kit-'));
  const files: Record<string, { foo: string; llama: string }> = {};
  const cases = [
    { label: 'GQA (8 heads / 2 KV), tied LM head', key: 'gqa', nKvHeads: 2, optional: false, seed: 3 },
    { label: 'MHA with output.weight', key: 'mha', nKvHeads: 8, optional: true, seed: 4 },
  ];
  beforeAll(async () => {
    for (const c of cases) {
      const foo = join(dir, `${c.key}.foo.gguf`);
      const llama = join(dir, `${c.key}.llama.gguf`);
      const written = await writeSyntheticModel(foo, {
        architecture: 'foo',
        hparams: hparams(c.nKvHeads),
        plugin: fooPlugin,
        optional: c.optional,
        seed: c.seed,
      });
      expect(written.specs.some((s) => s.name === 'output.weight')).toBe(c.optional);
      expect(written.specs.filter((s) => s.name.startsWith('blk.')).length).toBe(2 * 9);
      await writeSyntheticModel(llama, {
        architecture: 'llama',
        hparams: hparams(c.nKvHeads),
        specs: written.specs,
        seed: c.seed,
      });
      files[c.key] = { foo, llama };
    }
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      for (const c of cases) {
        it(c.label, async () => {
          const f = files[c.key] as { foo: string; llama: string };
          const r = await compareWithLlamaCpp({
            model: f.foo,
            llamaCppModel: f.llama,
            tokens: syntheticPrompt(c.seed, 24),
            backend,
          });
          expect(r.reference.length).toBe(24);
          expect(r.withinF32Bound, describeParity(r)).toBe(true);
          expect(r.argmaxMismatches).toEqual([]);
        });
      }
    });
  }

  it('the comparison fails on different weights (it is not vacuous)', async () => {
    const r = await compareWithLlamaCpp({
      model: (files.gqa as { foo: string }).foo,
      llamaCppModel: (files.mha as { llama: string }).llama,
      tokens: syntheticPrompt(3, 8),
    });
    expect(r.withinF32Bound).toBe(false);
  });
});
