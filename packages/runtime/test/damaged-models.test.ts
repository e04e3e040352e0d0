/**
 * Issue 12: damaged models used to give empty output and success. NaN/Inf weights and corrupted
 * quantization scales make non-finite logits, which now stop generation with NonFiniteLogitsError
 * (NON_FINITE_LOGITS); metadata that can only produce NaN (rms epsilon ≤ 0, rope.freq_base ≤ 0),
 * unknown token types and a block_count the tensors cannot back are refused at load. Synthetic
 * Llama and Phi-3 models are written and then damaged byte by byte. Both backends.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import {
  availableBackends,
  BACKENDS,
  patchMetadataArrayEntry,
  patchMetadataScalar,
  patchTensorBytes,
  patchTensorF32,
  writeSyntheticLlama,
  writeSyntheticPhi3,
} from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, NonFiniteLogitsError } from '../src/index.js';
import { TINY } from './helpers/fixtures.js';

const backends = await availableBackends('damaged-models');
const anyBackend = BACKENDS.some((b) => backends[b]);
const dir = mkdtempSync(join(tmpdir(), 'quant-damaged-'));
const file = (name: string) => join(dir, name);
const prompt = [1, 300, 301, 302];
const PHI3 = { nEmbd: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 96, seed: 3, weightType: 'F32' } as const;

beforeAll(async () => {
  if (!anyBackend) return;
  const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
  try {
    const q = (t: number, src: Float32Array, rows: number, cols: number) => k.quantize(t, src, rows, cols);
    await writeSyntheticLlama(file('llama.gguf'), TINY);
    await writeSyntheticLlama(file('llama-q8.gguf'), { ...TINY, weightType: 'Q8_0' }, q);
    await writeSyntheticPhi3(file('phi3.gguf'), PHI3, q);
  } finally {
    k.dispose();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of `base` with `damage` applied. */
async function damaged(base: string, name: string, damage: (p: string) => unknown): Promise<string> {
  const p = file(name);
  copyFileSync(file(base), p);
  await damage(p);
  return p;
}

describe.skipIf(!anyBackend)('metadata that can only give NaN is refused at load', () => {
  const backend = backends.native ? 'native' : 'wasm';
  const cases: [string, string, (p: string) => void, string, RegExp][] = [
    [
      'llama: negative rms epsilon',
      'llama.gguf',
      (p) => patchMetadataScalar(p, 'llama.attention.layer_norm_rms_epsilon', 'f32', -1e-5),
      'INVALID_METADATA',
      /llama\.attention\.layer_norm_rms_epsilon = -0\.0000\d* .*must be positive/,
    ],
    [
      'llama: zero rms epsilon',
      'llama.gguf',
      (p) => patchMetadataScalar(p, 'llama.attention.layer_norm_rms_epsilon', 'f32', 0),
      'INVALID_METADATA',
      /layer_norm_rms_epsilon = 0 /,
    ],
    [
      'llama: rope.freq_base = 0',
      'llama.gguf',
      (p) => patchMetadataScalar(p, 'llama.rope.freq_base', 'f32', 0),
      'INVALID_METADATA',
      /llama\.rope\.freq_base = 0 .*must be positive/,
    ],
    [
      'llama: rope.freq_base < 0',
      'llama.gguf',
      (p) => patchMetadataScalar(p, 'llama.rope.freq_base', 'f32', -10000),
      'INVALID_METADATA',
      /freq_base = -10000/,
    ],
    [
      'phi3: negative rms epsilon',
      'phi3.gguf',
      (p) => patchMetadataScalar(p, 'phi3.attention.layer_norm_rms_epsilon', 'f32', -1e-5),
      'INVALID_METADATA',
      /phi3\.attention\.layer_norm_rms_epsilon/,
    ],
    [
      'phi3: rope.freq_base = 0',
      'phi3.gguf',
      (p) => patchMetadataScalar(p, 'phi3.rope.freq_base', 'f32', 0),
      'INVALID_METADATA',
      /phi3\.rope\.freq_base/,
    ],
    [
      'llama: token type 99',
      'llama.gguf',
      (p) => patchMetadataArrayEntry(p, 'tokenizer.ggml.token_type', 300, 99),
      'TOKENIZER_BAD_METADATA',
      /token_type\[300\] = 99 .*not a token type/,
    ],
    [
      'phi3: token type -1',
      'phi3.gguf',
      (p) => patchMetadataArrayEntry(p, 'tokenizer.ggml.token_type', 5, -1),
      'TOKENIZER_BAD_METADATA',
      /token_type\[5\] = -1/,
    ],
    [
      'llama: block_count 10^6',
      'llama.gguf',
      (p) => patchMetadataScalar(p, 'llama.block_count', 'u32', 1_000_000),
      'INVALID_METADATA',
      /block_count = 1000000 does not fit/,
    ],
    [
      'phi3: block_count 10^6',
      'phi3.gguf',
      (p) => patchMetadataScalar(p, 'phi3.block_count', 'u32', 1_000_000),
      'INVALID_METADATA',
      /phi3\.block_count = 1000000 does not fit the file/,
    ],
  ];
  for (const [label, base, damage, code, message] of cases) {
    it(label, async () => {
      const p = await damaged(base, `${label.replace(/\W+/g, '_')}.gguf`, damage);
      const err = await loadModel(p, { backend, threads: 1, contextSize: 64 }).catch((e) => e);
      expect(err, label).toBeInstanceOf(Error);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    });
  }
});

for (const backend of BACKENDS) {
  describe.skipIf(!backends[backend])(`${backend} backend: non-finite logits stop generation`, () => {
    const cases: [string, string, (p: string) => Promise<void>][] = [
      [
        'a NaN weight (output_norm)',
        'llama.gguf',
        (p) => patchTensorF32(p, 'output_norm.weight', 3, Number.NaN),
      ],
      [
        'an infinite weight (token embedding of the prompt)',
        'llama.gguf',
        (p) => patchTensorF32(p, 'token_embd.weight', 300 * TINY.nEmbd + 5, Number.POSITIVE_INFINITY),
      ],
      [
        'a corrupted Q8_0 scale (f16 NaN) in the LM head',
        'llama-q8.gguf',
        // A Q8_0 block is an f16 scale and 32 int8: 0x7e00 is an f16 NaN.
        (p) => patchTensorBytes(p, 'output.weight', 0, Uint8Array.of(0x00, 0x7e)),
      ],
      [
        'phi3: a NaN weight (attn_norm)',
        'phi3.gguf',
        (p) => patchTensorF32(p, 'blk.0.attn_norm.weight', 0, Number.NaN),
      ],
    ];
    for (const [label, base, damage] of cases) {
      it(label, async () => {
        const p = await damaged(base, `${backend}-${label.replace(/\W+/g, '_')}.gguf`, damage);
        const model = await loadModel(p, { backend, threads: 1, contextSize: 64 });
        try {
          const g = model.generate(prompt, { temperature: 0, maxTokens: 8 });
          const err = await g.text().catch((e) => e);
          expect(err).toBeInstanceOf(NonFiniteLogitsError);
          expect(err.code).toBe('NON_FINITE_LOGITS');
          expect(err.message).toMatch(
            /non-finite logits at position 3 .*NaN\/Inf weights, corrupted quantization scales/,
          );
          expect(err.nanCount + err.infCount).toBeGreaterThan(0);
          expect(g.finishReason).toBe('error');
          expect(g.tokens).toEqual([]);
          // The same prompt on the undamaged model generates normally.
          const good = await loadModel(file(base), { backend, threads: 1, contextSize: 64 });
          try {
            const ok = good.generate(prompt, { temperature: 0, maxTokens: 4, replaceEog: true });
            await ok.text();
            expect(ok.tokens.length).toBe(4);
          } finally {
            good.dispose();
          }
        } finally {
          model.dispose();
        }
      });
    }
  });
}
