/**
 * Continuous batching: sessions evaluated concurrently share forward passes, and every sequence's
 * logits and greedy tokens equal those of the same sequence run alone. Sequences of different
 * lengths start and stop at different steps; llama (GQA, F32 and Q4_K) and phi3 (fused QKV,
 * LongRoPE long table) models; both backends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import {
  argmaxOf,
  availableBackends,
  BACKENDS,
  compareLogits,
  syntheticPrompt,
  writeSyntheticLlama,
  writeSyntheticPhi3,
} from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model, type Session } from '../src/index.js';

const backends = await availableBackends('batching');
const dir = mkdtempSync(join(tmpdir(), 'quant-batching-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Fixture {
  label: string;
  /**
   * Bit-identical logits, or (false) within the F32 bound 1e-3·max|logit|: Q4_K matmuls over 8+
   * rows take llama.cpp's repacked-gemm order, which sums differently from the one-row path, so
   * a row's last bits depend on how many rows share its pass (as in llama.cpp).
   */
  exact: boolean;
  file: string;
  contextSize: number;
  write: (path: string) => Promise<void>;
}

const quantizer = async () => {
  const k = await loadKernels({ backend: backends.native ? 'native' : 'wasm', threads: 1 });
  return {
    q: (t: number, src: Float32Array, rows: number, cols: number) => k.quantize(t, src, rows, cols),
    done: () => k.dispose(),
  };
};

const fixtures: Fixture[] = [
  {
    label: 'llama F32 GQA',
    exact: true,
    file: 'llama-f32.gguf',
    contextSize: 128,
    write: (p) =>
      writeSyntheticLlama(p, { nEmbd: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 256, seed: 21 }).then(
        () => {},
      ),
  },
  {
    label: 'llama Q4_K GQA',
    exact: false,
    file: 'llama-q4k.gguf',
    contextSize: 128,
    write: async (p) => {
      const { q, done } = await quantizer();
      try {
        await writeSyntheticLlama(
          p,
          { nEmbd: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 512, weightType: 'Q4_K', seed: 22 },
          q,
        );
      } finally {
        done();
      }
    },
  },
  {
    label: 'phi3 fused QKV, LongRoPE (long table)',
    exact: true,
    file: 'phi3-longrope.gguf',
    // original context 64 < 256: every session here uses the long table, so all may share passes
    contextSize: 300,
    write: async (p) => {
      const { q, done } = await quantizer();
      try {
        await writeSyntheticPhi3(
          p,
          {
            nEmbd: 128,
            nLayers: 2,
            nHeads: 4,
            nKvHeads: 2,
            nFF: 256,
            seed: 23,
            weightType: 'F32',
            contextLength: 1024,
            longRope: { originalContextLength: 64, attnFactor: 1.19 },
          },
          q,
        );
      } finally {
        done();
      }
    },
  },
];

/** Sequences: prompt length, tokens to generate, and the step (in generated tokens of sequence 0) at which it starts. */
const plan = [
  { prompt: 9, gen: 12, startAfter: 0 },
  { prompt: 23, gen: 5, startAfter: 0 },
  { prompt: 3, gen: 9, startAfter: 2 },
  { prompt: 40, gen: 7, startAfter: 4 },
  { prompt: 1, gen: 3, startAfter: 6 },
];

interface Trace {
  tokens: number[];
  logits: Float32Array[];
}

/** Greedy decoding driven through session.evaluate, recording every logits vector. */
async function greedy(
  s: Session,
  prompt: number[],
  gen: number,
  onStep?: (i: number) => Promise<void>,
): Promise<Trace> {
  const trace: Trace = { tokens: [], logits: [] };
  let logits = await s.evaluate(prompt);
  for (let i = 0; i < gen; i++) {
    trace.logits.push(logits);
    const t = argmaxOf(logits);
    trace.tokens.push(t);
    await onStep?.(i);
    if (i + 1 < gen) logits = await s.evaluate([t]);
  }
  return trace;
}

const anyBackend = BACKENDS.some((b) => backends[b]);
describe.skipIf(!anyBackend)('continuous batching equals running each sequence alone', () => {
  beforeAll(async () => {
    for (const f of fixtures) await f.write(join(dir, f.file));
  });

  for (const backend of BACKENDS) {
    for (const f of fixtures) {
      it.skipIf(!backends[backend])(`${f.label} [${backend}]`, async () => {
        const model: Model = await loadModel(join(dir, f.file), {
          backend,
          threads: 2,
          contextSize: f.contextSize,
          batchSize: 16,
          promptChunk: 8,
          kvType: 'f32',
        });
        try {
          const prompts = plan.map((p, i) => syntheticPrompt(100 + i, p.prompt, 0));
          // alone, one after another
          const alone: Trace[] = [];
          for (const [i, p] of plan.entries()) {
            const s = model.createSession();
            alone.push(await greedy(s, prompts[i] as number[], p.gen));
            s.dispose();
          }
          const before = model.batchStats;
          // together: sequence 0 drives the start of the others
          const sessions = plan.map(() => model.createSession());
          const starts = plan.map(() => {
            let go!: () => void;
            const p = new Promise<void>((r) => {
              go = r;
            });
            return { p, go };
          });
          const runs = plan.map(async (p, i) => {
            if (p.startAfter > 0) await starts[i]?.p;
            return greedy(sessions[i] as Session, prompts[i] as number[], p.gen, async (step) => {
              if (i === 0)
                for (const [j, q] of plan.entries()) if (q.startAfter === step + 1) starts[j]?.go();
            });
          });
          const together = await Promise.all(runs);
          const after = model.batchStats;
          for (const [i, t] of together.entries()) {
            const a = alone[i] as Trace;
            expect(t.tokens, `sequence ${i} tokens`).toEqual(a.tokens);
            for (const [j, l] of t.logits.entries()) {
              const ref = a.logits[j] as Float32Array;
              if (f.exact) {
                const same = l.every((x, k) => Object.is(x, ref[k]));
                expect(same, `sequence ${i} logits after ${j} generated tokens are bit-identical`).toBe(true);
              } else {
                const c = compareLogits([ref], l, ref.length);
                expect(c.maxAbsDiff, `sequence ${i} step ${j}: max|Δlogit|`).toBeLessThanOrEqual(
                  1e-3 * c.maxAbsRef,
                );
              }
            }
          }
          // they really shared forward passes
          const totalRows = plan.reduce((a, p) => a + p.prompt + p.gen - 1, 0);
          expect(after.rows - before.rows).toBe(totalRows);
          expect(after.maxSequencesInPass).toBeGreaterThanOrEqual(3);
          const aloneSteps = plan.reduce((a, p) => a + Math.ceil(p.prompt / 16) + p.gen - 1, 0);
          expect(after.forwardPasses - before.forwardPasses).toBeLessThan(aloneSteps);
          for (const s of sessions) s.dispose();
        } finally {
          model.dispose();
        }
      });
    }
  }
});
