/**
 * The LongRoPE drift of issue 17: a phi3 F32 model with LongRoPE tables (original context 512) at
 * context 1024 (long table), a 94-token prompt evaluated in one batch, drifted from llama.cpp by
 * 2.4e-3–2.8e-3 × max|logit| (F32 bound: 1e-3) with the default f16 cache and flash attention, while
 * prompts under 64 tokens stayed within the bound. The cause was not the rope angles nor the
 * attention factor: for a batch of 64+ query rows llama.cpp's CPU flash attention takes its tiled
 * kernel (ggml_compute_forward_flash_attn_ext_tiled: f32 query, f32 scores and V accumulator, online
 * softmax per 64-position tile) instead of the row-by-row one (f16 query, f16 accumulator) that
 * quant emulated for every batch. Checked here at that shape, head sizes 32 and 96, on both
 * backends, within 1e-3·max|logit| — and for the f32 cache on the standard path (exact f32 on both
 * sides) — with the long and the short table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { loadModel } from '@quant/runtime';
import {
  availableBackends,
  BACKENDS,
  compareLogits,
  expectParity,
  oracleLogits,
  type SyntheticPhi3Config,
  syntheticPrompt,
  writeSyntheticPhi3,
} from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const longRope = { originalContextLength: 512 };
const files: Record<string, SyntheticPhi3Config> = {
  head32: {
    nEmbd: 256,
    nLayers: 2,
    nHeads: 8,
    nKvHeads: 2,
    nFF: 512,
    weightType: 'F32',
    contextLength: 4096,
    longRope,
    seed: 5,
  },
  head96: {
    nEmbd: 384,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 4,
    nFF: 512,
    weightType: 'F32',
    contextLength: 4096,
    longRope,
    seed: 5,
  },
};
interface Case {
  file: string;
  contextSize: number;
  table: 'long' | 'short';
  kvType: 'f16' | 'f32';
  flash: boolean;
}
const cases: Case[] = [];
for (const file of Object.keys(files))
  for (const [contextSize, table] of [
    [1024, 'long'],
    [256, 'short'],
  ] as const)
    for (const [kvType, flash] of [
      ['f16', true],
      ['f32', false],
    ] as const)
      cases.push({ file, contextSize, table, kvType, flash });
const label = (c: Case) =>
  `${c.file}, context ${c.contextSize} (${c.table} table), ${c.kvType} cache, ${c.flash ? 'flash' : 'standard'} attention`;
const prompt = syntheticPrompt(5, 94);
/** The whole prompt in one batch on both sides (llama.cpp's ubatch = its batch here). */
const batchSize = 512;

const backends = await availableBackends('arch-phi3 longrope-tiled-attention');
const anyBackend = BACKENDS.some((b) => backends[b]);

describe.skipIf(!anyBackend)('phi3 LongRoPE, a 94-token prompt in one batch vs llama.cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quant-phi3-tiled-'));
  const paths = new Map<string, string>();
  const expected = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
    try {
      for (const [name, cfg] of Object.entries(files)) {
        const p = join(dir, `${name}.gguf`);
        await writeSyntheticPhi3(p, cfg, (t, src, rows, cols) => k.quantize(t, src, rows, cols));
        paths.set(name, p);
      }
    } finally {
      k.dispose();
    }
    for (const c of cases)
      expected.set(
        label(c),
        await oracleLogits(paths.get(c.file) as string, prompt, {
          contextSize: c.contextSize,
          kvType: c.kvType,
          flashAttention: c.flash,
          batchSize,
        }),
      );
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const backend of BACKENDS) {
    describe.skipIf(!backends[backend])(`${backend} backend`, () => {
      for (const c of cases) {
        it(`${label(c)}: within 1e-3·max|logit|`, async () => {
          const model = await loadModel(paths.get(c.file) as string, {
            backend,
            threads: 1,
            contextSize: c.contextSize,
            batchSize,
            kvType: c.kvType,
            flashAttention: c.flash,
          });
          try {
            const s = model.createSession();
            expect((s as unknown as { state: { ropeTable: string } }).state.ropeTable).toBe(c.table);
            const before = model.batchStats.forwardPasses;
            const ours = await s.evaluate(prompt, { allLogits: true });
            expect(model.batchStats.forwardPasses - before).toBe(1); // one batch of 94 rows
            s.dispose();
            const cmp = compareLogits(expected.get(label(c)) as Float32Array[], ours, model.hparams.nVocab);
            console.log(
              `[longrope-tiled ${backend}] ${label(c)}: max|Δ| ${(cmp.maxAbsDiff / cmp.maxAbsRef).toExponential(2)}·max|logit|`,
            );
            expectParity(cmp, true);
          } finally {
            model.dispose();
          }
        });
      }
    });
  }
});
