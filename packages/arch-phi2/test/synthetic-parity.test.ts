/**
 * Live parity with llama.cpp (node-llama-cpp) on random-weight phi2 models that @quant/plugin-kit
 * writes from the plugin's own tensor specs: LayerNorm with bias, parallel attention + GELU FFN,
 * partial rotary (NeoX on 16 or 24 of 32 head dims), fused and separate Q/K/V with biases, F32 and
 * Q8_0 weights, on every kernel backend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { compareWithLlamaCpp, describeParity, syntheticPrompt, writeSyntheticModel } from '@quant/plugin-kit';
import { availableBackends, BACKENDS } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { phi2Plugin } from '../src/index';

const hparams = (nRot: number) => ({
  block_count: 2,
  context_length: 2048,
  embedding_length: 256,
  feed_forward_length: 1024,
  'attention.head_count': 8,
  'attention.head_count_kv': 8,
  'attention.layer_norm_epsilon': 1e-5,
  'rope.dimension_count': nRot,
  'rope.freq_base': 10000,
});

/** The plugin with every block's Q/K/V fused (as most phi2 GGUFs store it), to write such a file. */
const fusedPhi2 = {
  ...phi2Plugin,
  readHyperparameters: (m: Parameters<typeof phi2Plugin.readHyperparameters>[0]) => {
    const h = phi2Plugin.readHyperparameters(m);
    return { ...h, qkvLayout: h.qkvLayout.map(() => 'fused' as const) };
  },
};

const cases = [
  {
    label: 'F32 separate Q/K/V + biases, partial rotary 16/32',
    key: 'sep',
    nRot: 16,
    plugin: phi2Plugin,
    type: 'F32',
    seed: 1,
  },
  {
    label: 'F32 fused QKV + bias, partial rotary 24/32',
    key: 'fused',
    nRot: 24,
    plugin: fusedPhi2,
    type: 'F32',
    seed: 2,
  },
  {
    label: 'Q8_0 fused QKV, partial rotary 16/32',
    key: 'q8',
    nRot: 16,
    plugin: fusedPhi2,
    type: 'Q8_0',
    seed: 3,
  },
] as const;

const backends = await availableBackends('arch-phi2 synthetic-parity');
const anyBackend = BACKENDS.some((b) => backends[b]);

describe.skipIf(!anyBackend)('synthetic phi2 models vs node-llama-cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-phi2-'));
  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      for (const c of cases) {
        const written = await writeSyntheticModel(join(dir, `${c.key}.gguf`), {
          architecture: 'phi2',
          hparams: hparams(c.nRot),
          plugin: c.plugin,
          weightType: c.type,
          quantize: (t, src, rows, cols) => k.quantize(t, src, rows, cols),
          seed: c.seed,
        });
        // the Q/K/V biases are part of the architecture: written for every block
        expect(written.specs.filter((s) => /attn_(qkv|q|k|v)\.bias$/.test(s.name)).length).toBe(
          c.key === 'sep' ? 6 : 2,
        );
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
