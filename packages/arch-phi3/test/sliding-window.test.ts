/**
 * The sliding-window path (on by default, as Phi-3 was trained) against an independent float64
 * reference forward pass written in the test — llama.cpp cannot be the oracle here because it
 * disables Phi SWA. Also the `slidingWindow` option (off, override, per session) and LongRoPE
 * against the same reference.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { loadModel, type Model } from '@quant/runtime';
import {
  availableBackends,
  BACKENDS,
  type FloatWeights,
  type SyntheticPhi3Config,
  syntheticPrompt,
  writeSyntheticPhi3,
} from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReferenceOptions, referencePhi3 } from './helpers/reference-phi3.js';

const windowed: SyntheticPhi3Config = {
  nEmbd: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  nFF: 128,
  weightType: 'F32',
  slidingWindow: 8,
  seed: 21,
};
const longRope: SyntheticPhi3Config = {
  nEmbd: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 4,
  nFF: 128,
  weightType: 'F32',
  slidingWindow: 4096,
  contextLength: 4096,
  longRope: { originalContextLength: 256, attnFactor: 1.2 },
  seed: 22,
};
const PROMPT = syntheticPrompt(21, 40);

/** max |a - b| / max |b| over all rows. */
function relDiff(ours: Float32Array, ref: Float64Array[]): number {
  const nv = (ref[0] as Float64Array).length;
  let d = 0;
  let m = 0;
  ref.forEach((row, p) => {
    row.forEach((v, i) => {
      d = Math.max(d, Math.abs((ours[p * nv + i] as number) - v));
      m = Math.max(m, Math.abs(v));
    });
  });
  return d / m;
}
const refRows = (r: Float64Array[]) => {
  const nv = (r[0] as Float64Array).length;
  const out = new Float32Array(r.length * nv);
  r.forEach((row, p) => {
    out.set(row, p * nv);
  });
  return out;
};

const backends = await availableBackends('arch-phi3 sliding-window');

describe.skipIf(!BACKENDS.some((b) => backends[b]))(
  'sliding-window attention and LongRoPE vs a float64 reference',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'quant-phi3-swa-'));
    const paths: Record<string, string> = {};
    const floats: Record<string, FloatWeights> = {};
    const ref = (name: 'windowed' | 'longRope', o: ReferenceOptions) =>
      referencePhi3(floats[name] as FloatWeights, name === 'windowed' ? windowed : longRope, PROMPT, o);

    beforeAll(async () => {
      const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
      try {
        for (const [name, cfg] of Object.entries({ windowed, longRope })) {
          paths[name] = join(dir, `${name}.gguf`);
          floats[name] = await writeSyntheticPhi3(paths[name] as string, cfg, (t, s, r, c) =>
            k.quantize(t, s, r, c),
          );
        }
      } finally {
        k.dispose();
      }
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('the window changes the reference’s logits (the comparisons below are not vacuous)', () => {
      expect(
        relDiff(refRows(ref('windowed', { window: 8 })), ref('windowed', { window: 0 })),
      ).toBeGreaterThan(0.05);
      expect(
        relDiff(refRows(ref('windowed', { window: 8 })), ref('windowed', { window: 5 })),
      ).toBeGreaterThan(0.05);
    });

    for (const backend of BACKENDS) {
      describe.skipIf(!backends[backend])(`${backend} backend`, () => {
        let model: Model;
        beforeAll(async () => {
          model = await loadModel(paths.windowed as string, {
            backend,
            threads: 1,
            contextSize: 64,
            batchSize: 16,
            kvType: 'f32',
          });
        });
        afterAll(() => model?.dispose());

        const run = async (m: Model, opts: Record<string, unknown> | undefined, batch = 16) => {
          const s = m.createSession({ batchSize: batch, ...(opts ? { architectureOptions: opts } : {}) });
          try {
            return await s.evaluate(PROMPT, { allLogits: true });
          } finally {
            s.dispose();
          }
        };

        it('default: the file’s window (8) over a 40-token prompt in batches of 16', async () => {
          expect(relDiff(await run(model, undefined), ref('windowed', { window: 8 }))).toBeLessThan(1e-4);
        });

        it('default window, one token per forward pass (the decode path)', async () => {
          expect(relDiff(await run(model, undefined, 1), ref('windowed', { window: 8 }))).toBeLessThan(1e-4);
        });

        it('slidingWindow: false attends to the whole context (llama.cpp’s behaviour)', async () => {
          expect(
            relDiff(await run(model, { slidingWindow: false }), ref('windowed', { window: 0 })),
          ).toBeLessThan(1e-4);
        });

        it('slidingWindow: 5 overrides the file’s window', async () => {
          expect(
            relDiff(await run(model, { slidingWindow: 5 }), ref('windowed', { window: 5 })),
          ).toBeLessThan(1e-4);
        });

        it('loadModel architectureOptions apply to every session, sessions may override', async () => {
          const m = await loadModel(paths.windowed as string, {
            backend,
            threads: 1,
            contextSize: 64,
            kvType: 'f32',
            architectureOptions: { slidingWindow: false },
          });
          try {
            expect(relDiff(await run(m, undefined), ref('windowed', { window: 0 }))).toBeLessThan(1e-4);
            expect(
              relDiff(await run(m, { slidingWindow: true }), ref('windowed', { window: 8 })),
            ).toBeLessThan(1e-4);
          } finally {
            m.dispose();
          }
        });

        it('LongRoPE: short table at context 256, long table + attention factor at context 512', async () => {
          const m = await loadModel(paths.longRope as string, {
            backend,
            threads: 1,
            batchSize: 16,
            kvType: 'f32',
          });
          try {
            const short = floats.longRope?.get('rope_factors_short.weight');
            const long = floats.longRope?.get('rope_factors_long.weight');
            const at = async (contextSize: number) => {
              const s = m.createSession({ contextSize });
              try {
                return await s.evaluate(PROMPT, { allLogits: true });
              } finally {
                s.dispose();
              }
            };
            expect(
              relDiff(await at(256), ref('longRope', { window: 0, factors: short, attnFactor: 1.2 })),
            ).toBeLessThan(1e-4);
            expect(
              relDiff(await at(512), ref('longRope', { window: 0, factors: long, attnFactor: 1.2 })),
            ).toBeLessThan(1e-4);
            // llama.cpp pads 257 to 512 before comparing with original_context_length = 256.
            expect(
              relDiff(await at(257), ref('longRope', { window: 0, factors: long, attnFactor: 1.2 })),
            ).toBeLessThan(1e-4);
          } finally {
            m.dispose();
          }
        });
      });
    }
  },
);
