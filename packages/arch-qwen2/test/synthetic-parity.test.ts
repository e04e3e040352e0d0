/**
 * Live parity with llama.cpp (node-llama-cpp) on random-weight qwen2 models that @quant/plugin-kit
 * writes from the plugin's own tensor specs: GQA and MHA, Q/K/V biases, tied and separate LM head,
 * F32 and Q8_0 weights, on every kernel backend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { compareWithLlamaCpp, describeParity, syntheticPrompt, writeSyntheticModel } from '@quant/plugin-kit';
import { availableBackends, BACKENDS } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qwen2Plugin } from '../src/index';

const hparams = (nKvHeads: number, freqBase = 1000000) => ({
  block_count: 2,
  context_length: 4096,
  embedding_length: 256,
  feed_forward_length: 512,
  'attention.head_count': 8,
  'attention.head_count_kv': nKvHeads,
  'attention.layer_norm_rms_epsilon': 1e-6,
  'rope.freq_base': freqBase,
});

const cases = [
  {
    label: 'F32 GQA (8 heads / 2 KV), Q/K/V biases, tied head',
    key: 'gqa',
    nKvHeads: 2,
    optional: false,
    type: 'F32',
    seed: 1,
  },
  {
    label: 'F32 MHA, output.weight + output.bias',
    key: 'mha',
    nKvHeads: 8,
    optional: true,
    type: 'F32',
    seed: 2,
  },
  {
    label: 'Q8_0 GQA, output.weight',
    key: 'q8',
    nKvHeads: 2,
    optional: /^output\.weight$/,
    type: 'Q8_0',
    seed: 3,
  },
] as const;

const backends = await availableBackends('arch-qwen2 synthetic-parity');
const anyBackend = BACKENDS.some((b) => backends[b]);

describe.skipIf(!anyBackend)('synthetic qwen2 models vs node-llama-cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-qwen2-'));
  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      for (const c of cases) {
        const written = await writeSyntheticModel(join(dir, `${c.key}.gguf`), {
          architecture: 'qwen2',
          hparams: hparams(c.nKvHeads),
          plugin: qwen2Plugin,
          optional: c.optional,
          weightType: c.type,
          quantize: (t, src, rows, cols) => k.quantize(t, src, rows, cols),
          seed: c.seed,
        });
        // the biases are part of the architecture: written for every block
        expect(written.specs.filter((s) => /attn_[qkv]\.bias$/.test(s.name)).length).toBe(6);
      }
    } finally {
      k.dispose();
    }
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      for (const c of cases) {
        it(c.label, async () => {
          const r = await compareWithLlamaCpp({
            model: join(dir, `${c.key}.gguf`),
            tokens: syntheticPrompt(c.seed, 32),
            backend,
          });
          if (c.type === 'F32') expect(r.withinF32Bound, describeParity(r)).toBe(true);
          else expect(r.withinQuantizedBound, describeParity(r)).toBe(true);
        });
      }
    });
  }
});
