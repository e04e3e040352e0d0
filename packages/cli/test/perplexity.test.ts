/**
 * `quant perplexity` against an independent computation: llama.cpp (node-llama-cpp) logits, chunked
 * as llama-perplexity chunks (written out again here from perplexity.cpp, not imported).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { getLlama, type Llama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveShared, SMALL, stories, TempDir } from './helpers/fixtures';
import { quant } from './helpers/quant';

const TEXT = [
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog.',
  'One day, she saw a big red ball under a tree. She ran to the ball and kicked it very high.',
  'The ball went over the fence and into the garden of an old man. Lily was sad, but the old man smiled and gave it back.',
  'They became friends and played together every day. The sun was warm and the birds sang in the trees.',
  'Lily and her mom went to the store to buy some food. They bought apples, bread and milk for the little cat.',
].join(' ');

let llama: Llama;
let tmp: TempDir;
let small: string;
beforeAll(async () => {
  tmp = new TempDir();
  small = await tmp.model('small.gguf', SMALL);
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' } as never);
});
afterAll(() => tmp?.remove());

/** llama-perplexity's algorithm on llama.cpp logits: returns the running PPL after each chunk and the ±. */
async function llamaCppPerplexity(
  modelPath: string,
  text: string,
  nCtx: number,
): Promise<{ running: number[]; ppl: number; err: number; nTokens: number }> {
  const model = await llama.loadModel({ modelPath });
  const ctx = await model.createContext({ contextSize: nCtx, threads: 1 });
  try {
    const bos = model.tokens.bos as unknown as number;
    const tokens = [
      bos,
      ...(model.tokenize(text.endsWith('\n') ? text.slice(0, -1) : text, false) as unknown as number[]),
    ];
    const nChunk = Math.floor(tokens.length / nCtx);
    const first = Math.floor(nCtx / 2);
    let nll = 0;
    let nll2 = 0;
    let count = 0;
    const running: number[] = [];
    const seq = ctx.getSequence();
    for (let i = 0; i < nChunk; i++) {
      await seq.clearHistory();
      const chunk = tokens.slice(i * nCtx, (i + 1) * nCtx);
      chunk[0] = bos;
      const res = await seq.controlledEvaluate(
        chunk.map((t, j) => (j >= first ? [t, { generateNext: { logits: true } }] : t)) as never,
      );
      for (let j = first; j < nCtx - 1; j++) {
        const logits = (res[j] as { next: { logits: Map<number, number> } }).next.logits;
        let max = Number.NEGATIVE_INFINITY;
        for (const v of logits.values()) max = Math.max(max, v);
        let sum = 0;
        for (const v of logits.values()) sum += Math.exp(v - max);
        const target = tokens[i * nCtx + j + 1] as number;
        const v = max + Math.log(sum) - (logits.get(target) as number);
        nll += v;
        nll2 += v * v;
        count++;
      }
      running.push(Math.exp(nll / count));
    }
    const mean = nll / count;
    const ppl = Math.exp(mean);
    const err = Math.sqrt((nll2 / count - mean * mean) / (count - 1)) * ppl;
    return { running, ppl, err, nTokens: tokens.length };
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

interface QuantPpl {
  tokens: number;
  chunks: number;
  nCtx: number;
  scoredTokens: number;
  perplexity: number;
  uncertainty: number;
  running: number[];
}

async function quantPerplexity(model: string, file: string, nCtx: number): Promise<QuantPpl> {
  const r = await quant(['perplexity', model, '-f', file, '--ctx', String(nCtx), '--json', '--threads', '1']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as QuantPpl;
}

describe.skipIf(!haveShared)('quant perplexity on stories260K', () => {
  it('matches llama-perplexity chunking on llama.cpp logits, chunk by chunk', async () => {
    const file = tmp.file('stories.txt');
    writeFileSync(file, `${TEXT}\n`);
    const nCtx = 64;
    const expected = await llamaCppPerplexity(stories, readFileSync(file, 'utf8'), nCtx);
    const got = await quantPerplexity(stories, file, nCtx);
    expect(got.tokens).toBe(expected.nTokens);
    expect(got.chunks).toBe(expected.running.length);
    expect(got.chunks).toBeGreaterThanOrEqual(2);
    expect(got.scoredTokens).toBe(got.chunks * (nCtx - nCtx / 2 - 1));
    // Our logits differ from llama.cpp's by float rounding (~1e-4 relative on a chunk's PPL); a chunking
    // mistake (one token more or less scored, no BOS) moves it by percents.
    for (let i = 0; i < got.chunks; i++)
      expect(Math.abs((got.running[i] as number) / (expected.running[i] as number) - 1)).toBeLessThan(1e-3);
    expect(Math.abs(got.perplexity / expected.ppl - 1)).toBeLessThan(1e-3);
    expect(Math.abs(got.uncertainty / expected.err - 1)).toBeLessThan(1e-2);
  });

  it("prints the running estimate and llama.cpp's final line", async () => {
    const file = tmp.file('stories2.txt');
    writeFileSync(file, TEXT);
    const r = await quant(['perplexity', stories, '-f', file, '--ctx', '64']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^\[1\][\d.]+,\[2\][\d.]+,/m);
    expect(r.stdout).toMatch(/^Final estimate: PPL = \d+\.\d{4} \+\/- \d+\.\d{5}$/m);
  });
});

describe('quant perplexity on a synthetic model', () => {
  it('matches the llama-perplexity computation on llama.cpp logits (odd context, --chunks)', async () => {
    const file = tmp.file('synthetic.txt');
    writeFileSync(file, TEXT.toLowerCase());
    const nCtx = 101; // odd: first = 50, 50 scored tokens per chunk
    const expected = await llamaCppPerplexity(small, readFileSync(file, 'utf8'), nCtx);
    const got = await quantPerplexity(small, file, nCtx);
    expect(got.chunks).toBe(expected.running.length);
    expect(got.scoredTokens).toBe(got.chunks * 50);
    expect(Math.abs(got.perplexity / expected.ppl - 1)).toBeLessThan(1e-3);
    const two = await quant([
      'perplexity',
      small,
      '-f',
      file,
      '--ctx',
      String(nCtx),
      '--chunks',
      '2',
      '--json',
    ]);
    const parsed = JSON.parse(two.stdout) as QuantPpl;
    expect(parsed.chunks).toBe(2);
    expect(Math.abs(parsed.perplexity / (expected.running[1] as number) - 1)).toBeLessThan(1e-3);
  });
});
