/**
 * Unit tests of the perplexity chunking against a direct transcription of llama-perplexity's loop
 * (perplexity.cpp, perplexity()) written here over whole-chunk logits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chunkInput,
  negLogProb,
  PerplexityAccumulator,
  planPerplexity,
  scoreChunk,
} from '../src/perplexity/chunks';

/** The reference: whole-chunk logits from `logitsFor(chunk)`, scored over the second half. */
function reference(
  tokens: number[],
  nCtx: number,
  nVocab: number,
  bos: number | null,
  logitsFor: (chunk: number[]) => Float64Array[],
) {
  const nChunk = Math.floor(tokens.length / nCtx);
  const first = Math.floor(nCtx / 2);
  let nll = 0;
  let nll2 = 0;
  let count = 0;
  const running: number[] = [];
  for (let i = 0; i < nChunk; i++) {
    const start = i * nCtx;
    const chunk = tokens.slice(start, start + nCtx);
    if (bos !== null) chunk[0] = bos;
    const logits = logitsFor(chunk);
    for (let j = first; j < nCtx - 1; j++) {
      const row = logits[j] as Float64Array;
      let max = -Infinity;
      for (let v = 0; v < nVocab; v++) max = Math.max(max, row[v] as number);
      let sum = 0;
      for (let v = 0; v < nVocab; v++) sum += Math.exp((row[v] as number) - max);
      const p = Math.exp((row[tokens[start + j + 1] as number] as number) - max) / sum;
      nll -= Math.log(p);
      nll2 += Math.log(p) ** 2;
      count++;
    }
    running.push(Math.exp(nll / count));
  }
  const mean = nll / count;
  const ppl = Math.exp(mean);
  return { running, ppl, err: Math.sqrt((nll2 / count - mean * mean) / (count - 1)) * ppl, count };
}

/** A fake causal "model": logits at position j depend on the chunk's tokens 0..j. */
function fakeLogits(nVocab: number) {
  return (chunk: number[]): Float64Array[] => {
    const rows: Float64Array[] = [];
    let h = 17;
    for (let j = 0; j < chunk.length; j++) {
      h = (h * 31 + (chunk[j] as number) * 7 + 3) % 1009;
      const row = new Float64Array(nVocab);
      for (let v = 0; v < nVocab; v++) row[v] = Math.sin(h * 0.37 + v * 1.3) * 3 + ((v * h) % 5) * 0.1;
      rows.push(row);
    }
    return rows;
  };
}

function ours(
  tokens: number[],
  nCtx: number,
  nVocab: number,
  bos: number | null,
  logitsFor: (chunk: number[]) => Float64Array[],
) {
  const plan = planPerplexity(tokens.length, nCtx);
  const acc = new PerplexityAccumulator();
  const running: number[] = [];
  for (let i = 0; i < plan.nChunks; i++) {
    const chunk = Array.from(chunkInput(tokens, plan, i, bos));
    const all = logitsFor(chunk);
    // what the command evaluates with allLogits: positions first … n_ctx-1
    const tail = new Float32Array((nCtx - plan.first) * nVocab);
    for (let j = plan.first; j < nCtx; j++) tail.set(all[j] as Float64Array, (j - plan.first) * nVocab);
    acc.add(scoreChunk(tail, nVocab, tokens, plan, i));
    running.push(acc.perplexity);
  }
  return { running, ppl: acc.perplexity, err: acc.uncertainty, count: acc.count };
}

describe('perplexity chunking (llama-perplexity)', () => {
  it('plans ⌊n/n_ctx⌋ chunks, scores n_ctx − ⌊n_ctx/2⌋ − 1 tokens each, needs 2·n_ctx tokens', () => {
    expect(planPerplexity(1500, 512)).toEqual({
      nTokens: 1500,
      nCtx: 512,
      nChunks: 2,
      first: 256,
      scoredPerChunk: 255,
    });
    expect(() => planPerplexity(1023, 512)).toThrow(/needs at least 1024/);
    expect(planPerplexity(1024, 512).nChunks).toBe(2);
    expect(planPerplexity(5000, 101)).toMatchObject({ nChunks: 49, first: 50, scoredPerChunk: 50 });
    expect(planPerplexity(5000, 100, 3).nChunks).toBe(3);
    expect(() => planPerplexity(100, 3)).toThrow(/≥ 4/);
  });

  it('replaces each chunk’s first token with BOS only when the model adds BOS', () => {
    const tokens = Array.from({ length: 40 }, (_, i) => 100 + i);
    const plan = planPerplexity(tokens.length, 16);
    expect(Array.from(chunkInput(tokens, plan, 1, 1))).toEqual([1, ...tokens.slice(17, 32)]);
    expect(Array.from(chunkInput(tokens, plan, 1, null))).toEqual(tokens.slice(16, 32));
  });

  it('negLogProb is −log softmax', () => {
    const l = new Float32Array([1, 2, 3, 0.5]);
    const z = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3) + Math.exp(0.5));
    expect(negLogProb(l, 0, 4, 2)).toBeCloseTo(z - 3, 6);
  });

  it('equals the reference over random token streams, contexts and BOS settings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 24 }),
        fc.integer({ min: 0, max: 30 }),
        fc.boolean(),
        fc.integer({ min: 5, max: 40 }),
        (nCtx, extra, withBos, nVocab) => {
          const n = 2 * nCtx + extra;
          const tokens = Array.from({ length: n }, (_, i) => (i * 7919 + extra) % nVocab);
          const bos = withBos ? 0 : null;
          const f = fakeLogits(nVocab);
          const want = reference(tokens, nCtx, nVocab, bos, f);
          const got = ours(tokens, nCtx, nVocab, bos, f);
          expect(got.count).toBe(want.count);
          expect(got.running.length).toBe(want.running.length);
          for (const [i, p] of got.running.entries()) {
            expect(Math.abs(p / (want.running[i] as number) - 1)).toBeLessThan(1e-5);
          }
          if (Number.isFinite(want.err) && want.err > 1e-9)
            expect(Math.abs(got.err / want.err - 1)).toBeLessThan(1e-3);
        },
      ),
      { numRuns: 200 },
    );
  });
});
