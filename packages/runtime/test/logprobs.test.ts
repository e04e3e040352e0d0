/**
 * The `logprobs` generate option: each generated token's log-probability and the top alternatives,
 * checked against log-softmax (float64, computed here) of llama.cpp's logits for the same tokens
 * (node-llama-cpp as the oracle) on stories260K, and against the expected option rules.
 */
import { join } from 'node:path';
import { hasShared, oracleLogits, sharedDir } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';

const path = join(sharedDir, 'models', 'stories260K.gguf');
const have = hasShared('models/stories260K.gguf');
if (!have) console.warn(`[logprobs] ${path} is absent: skipping the llama.cpp comparison.`);

/** log-softmax of one logits row, in float64. */
function logSoftmax(row: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(row, (v) => v - lse);
}

describe.skipIf(!have)('logprobs on stories260K against llama.cpp', () => {
  let model: Model;
  beforeAll(async () => {
    // f32 KV cache: flash and standard attention then agree, as the oracle runs standard attention.
    model = await loadModel(path, { threads: 1, contextSize: 256, kvType: 'f32' });
  });
  afterAll(() => model?.dispose());

  it('greedy: every token’s logprob and its top 5 match log-softmax of llama.cpp’s logits', async () => {
    const prompt = model.tokenize('Once upon a time');
    const g = model.generate(prompt, { temperature: 0, maxTokens: 20, logprobs: 5 });
    await g.text();
    expect(g.logprobs).toHaveLength(g.tokens.length);
    // llama.cpp's logits after each token of prompt + generated: row p-1+i predicts generated token i.
    const rows = await oracleLogits(path, [...prompt, ...g.tokens], { kvType: 'f32' });
    for (let i = 0; i < g.tokens.length; i++) {
      const ref = logSoftmax(rows[prompt.length - 1 + i] as Float32Array);
      const rec = g.logprobs[i];
      expect(rec?.token).toBe(g.tokens[i]);
      expect(Math.abs((rec?.logprob ?? 0) - (ref[g.tokens[i] as number] as number))).toBeLessThan(1e-3);
      const order = Array.from(ref.keys()).sort((a, b) => (ref[b] as number) - (ref[a] as number));
      expect(rec?.top.map((x) => x.token)).toEqual(order.slice(0, 5));
      rec?.top.forEach((x, k) => {
        expect(Math.abs(x.logprob - (ref[order[k] as number] as number))).toBeLessThan(1e-3);
      });
    }
  });

  it('sampling: the logprob is the model’s (before temperature and filters)', async () => {
    const prompt = model.tokenize('Lily and Ben went to the');
    const g = model.generate(prompt, { temperature: 1.3, topK: 5, seed: 9, maxTokens: 8, logprobs: 0 });
    await g.text();
    const rows = await oracleLogits(path, [...prompt, ...g.tokens], { kvType: 'f32' });
    for (let i = 0; i < g.tokens.length; i++) {
      const ref = logSoftmax(rows[prompt.length - 1 + i] as Float32Array);
      expect(g.logprobs[i]?.top).toEqual([]);
      expect(Math.abs((g.logprobs[i]?.logprob ?? 0) - (ref[g.tokens[i] as number] as number))).toBeLessThan(
        1e-3,
      );
    }
  });

  it('off by default; a bad value is INVALID_OPTION before anything runs', async () => {
    const g = model.generate('Once', { temperature: 0, maxTokens: 3 });
    await g.text();
    expect(g.logprobs).toEqual([]);
    for (const bad of [-1, 1.5, Number.NaN, '3']) {
      expect(() => model.generate('Once', { logprobs: bad as number })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION' }),
      );
    }
  });
});
