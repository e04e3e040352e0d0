/**
 * Live parity with llama.cpp (node-llama-cpp) on random-weight Llama models written by the test:
 * MHA and GQA, tied and untied embeddings, biases, rope_freqs, linear rope scaling, every weight type
 * the kernels quantize to, prompts longer than one batch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import {
  availableBackends,
  BACKENDS,
  compareLogits,
  expectParity,
  oracleLogits,
  type SyntheticLlamaConfig,
  syntheticPrompt,
  writeSyntheticLlama,
} from '@quant/test-utils';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { loadModel } from '../src/index.js';

const base = { nEmbd: 256, nLayers: 2, nHeads: 4, nFF: 512 } as const;
const variants: (SyntheticLlamaConfig & { label: string })[] = [
  { label: 'F32 MHA untied', ...base, nKvHeads: 4, weightType: 'F32', seed: 1 },
  {
    label: 'F32 GQA tied, biases, rope_freqs',
    ...base,
    nKvHeads: 2,
    weightType: 'F32',
    tied: true,
    biases: true,
    ropeFreqs: true,
    seed: 2,
  },
  {
    label: 'F32 GQA, linear rope scaling ×2, freq_base 500000',
    ...base,
    nKvHeads: 1,
    weightType: 'F32',
    ropeScale: 2,
    freqBase: 500000,
    seed: 3,
  },
  { label: 'F16 GQA untied', ...base, nKvHeads: 2, weightType: 'F16', seed: 4 },
  { label: 'Q8_0 MHA tied', ...base, nKvHeads: 4, weightType: 'Q8_0', tied: true, seed: 5 },
  { label: 'Q4_0 GQA untied', ...base, nKvHeads: 2, weightType: 'Q4_0', seed: 6 },
  { label: 'Q4_K GQA tied', ...base, nKvHeads: 2, weightType: 'Q4_K', tied: true, seed: 7 },
  { label: 'Q5_K MHA untied', ...base, nKvHeads: 4, weightType: 'Q5_K', seed: 8 },
  { label: 'Q6_K GQA untied', ...base, nKvHeads: 2, weightType: 'Q6_K', seed: 9 },
];

/** A prompt of 40 ordinary tokens (BOS first); the tests run it in batches of 16. */
const prompt = (seed: number): number[] => syntheticPrompt(seed, 40, 0);

const backends = await availableBackends('synthetic-parity');
const anyBackend = BACKENDS.some((b) => backends[b]);
if (!anyBackend) console.warn('[synthetic-parity] no kernel backend available: skipping.');

describe.skipIf(!anyBackend)('synthetic Llama models vs node-llama-cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-synth-'));
  const paths = new Map<string, string>();
  const expected = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      for (const v of variants) {
        const p = join(dir, `${v.label.replace(/[^a-z0-9]+/gi, '_')}.gguf`);
        await writeSyntheticLlama(p, v, (t, src, rows, cols) => k.quantize(t, src, rows, cols));
        paths.set(v.label, p);
        expected.set(v.label, await oracleLogits(p, prompt(v.seed)));
      }
    } finally {
      k.dispose();
    }
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      for (const v of variants) {
        it(v.label, async () => {
          const model = await loadModel(paths.get(v.label) as string, {
            backend,
            threads: 1,
            contextSize: 512,
            batchSize: 16,
            // The oracle runs llama.cpp with flash attention off (test-utils default): the same path here.
            flashAttention: false,
          });
          try {
            const s = model.createSession();
            const ours = await s.evaluate(prompt(v.seed), { allLogits: true });
            const ref = expected.get(v.label) as Float32Array[];
            const c = compareLogits(ref, ours, model.hparams.nVocab);
            expectParity(c, v.weightType === 'F32');
          } finally {
            model.dispose();
          }
        });
      }
    });
  }
});
