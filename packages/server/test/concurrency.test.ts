/**
 * 50 concurrent streaming requests (different prompts, lengths, sampling settings, chat and text)
 * against stories260K: all complete, and each stream's text, token count and finish reason equal the
 * same request run alone on the same server; every chunk of a stream carries that stream's id only.
 * Prints total throughput against one request at a time.
 */
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveStories, serveModel, storiesPath, type TestServer } from './helpers';

const STARTS = [
  'Once upon a time',
  'One day, a little girl named Lily',
  'The sun was shining and',
  'Tom had a big red ball',
  'There was a cat who liked to',
  'The little bird flew',
  'Sam and his mom went to the park',
  'In a small house lived',
  'The dog saw a',
  'Sue wanted to play with',
];

interface Job {
  i: number;
  kind: 'chat' | 'text';
  prompt: string;
  maxTokens: number;
  temperature: number;
  seed: number;
}

const JOBS: Job[] = Array.from({ length: 50 }, (_, i) => ({
  i,
  kind: i % 3 === 0 ? 'chat' : 'text',
  prompt: `${STARTS[i % STARTS.length]}${i >= 10 ? ` ${'and then '.repeat(i % 4)}` : ''}`.trim(),
  maxTokens: 16 + ((i * 7) % 48),
  // Half greedy, half sampled with a per-request seed.
  temperature: i % 2 === 0 ? 0 : 0.8,
  seed: 1000 + i,
}));

interface Outcome {
  text: string;
  ids: Set<string>;
  completionTokens: number;
  finish: string | null;
  chunks: number;
}

async function runJob(client: OpenAI, j: Job): Promise<Outcome> {
  const ids = new Set<string>();
  let text = '';
  let finish: string | null = null;
  let completionTokens = -1;
  let chunks = 0;
  const common = {
    model: 'test-model',
    max_tokens: j.maxTokens,
    temperature: j.temperature,
    seed: j.seed,
    stream: true as const,
    stream_options: { include_usage: true },
  };
  if (j.kind === 'chat') {
    const s = await client.chat.completions.create({
      ...common,
      messages: [{ role: 'user', content: j.prompt }],
    });
    for await (const c of s) {
      chunks++;
      ids.add(c.id);
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) completionTokens = c.usage.completion_tokens;
    }
  } else {
    const s = await client.completions.create({ ...common, prompt: j.prompt });
    for await (const c of s) {
      chunks++;
      ids.add(c.id);
      text += c.choices[0]?.text ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) completionTokens = c.usage.completion_tokens;
    }
  }
  return { text, ids, completionTokens, finish, chunks };
}

describe.skipIf(!haveStories)('50 concurrent streams on stories260K', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await serveModel(storiesPath, { parallel: 8, queue: 64, contextSize: 512 });
  });
  afterAll(async () => t?.close());

  it(
    'all complete; each equals the same request alone; no chunk lost or mixed',
    { timeout: 600_000 },
    async () => {
      const alone: Outcome[] = [];
      const t0 = performance.now();
      for (const j of JOBS) alone.push(await runJob(t.client, j));
      const seqMs = performance.now() - t0;

      const t1 = performance.now();
      const together = await Promise.all(JOBS.map((j) => runJob(t.client, j)));
      const concMs = performance.now() - t1;

      const allIds = new Set<string>();
      for (const j of JOBS) {
        const a = alone[j.i] as Outcome;
        const b = together[j.i] as Outcome;
        expect(b.ids.size, `request ${j.i}: one id per stream`).toBe(1);
        for (const id of b.ids) {
          expect(allIds.has(id), `request ${j.i}: id shared with another stream`).toBe(false);
          allIds.add(id);
        }
        expect(b.text, `request ${j.i} (${j.kind}, temp ${j.temperature})`).toBe(a.text);
        expect(b.completionTokens).toBe(a.completionTokens);
        expect(b.finish).toBe(a.finish);
        expect(b.completionTokens).toBeGreaterThan(0);
      }
      const tokens = alone.reduce((s, o) => s + o.completionTokens, 0);
      const seqTps = (tokens * 1000) / seqMs;
      const concTps = (tokens * 1000) / concMs;
      console.log(
        `[server] 50 streams, ${tokens} tokens: one at a time ${(seqMs / 1000).toFixed(2)} s (${seqTps.toFixed(0)} tok/s, ` +
          `${((50 * 1000) / seqMs).toFixed(1)} req/s); 50 concurrent on 8 slots ${(concMs / 1000).toFixed(2)} s ` +
          `(${concTps.toFixed(0)} tok/s, ${((50 * 1000) / concMs).toFixed(1)} req/s), ×${(concTps / seqTps).toFixed(2)}`,
      );
    },
  );
});
