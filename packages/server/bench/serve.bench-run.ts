/**
 * Serving benchmark (not a unit test): requests/s and tokens/s with 1, 4 and 16 concurrent clients,
 * each a streaming chat completion through the official `openai` client over 127.0.0.1, with the
 * server running in this process on `parallel` = 16 slots.
 *
 *   pnpm --filter @quant/server bench                          # Phi-3.5-mini-shaped Q4_K_M (2.4 GB, written once)
 *   QUANT_SERVE_BENCH_MODEL=stories pnpm --filter @quant/server bench   # ../shared/models/stories260K.gguf
 *   QUANT_SERVE_BENCH_MODEL=/path/model.gguf …                 # any GGUF
 *
 * QUANT_BENCH_THREADS (default 2), QUANT_SERVE_BENCH_TOKENS (max_tokens per request, default 16 on
 * the Phi-3.5 model and 64 on others), QUANT_SERVE_BENCH_REQUESTS (requests per client, default 1,
 * at least 2 in total per level). The Phi-3.5 model is the arch-phi3 bench fixture
 * (../../arch-phi3/bench/phi35-mini-file.ts): random weights, real shapes and vocabulary.
 */
import { existsSync } from 'node:fs';
import { loadModel } from '@quant/runtime';
import { sharedPath } from '@quant/test-utils';
import OpenAI from 'openai';
import { it } from 'vitest';
import { ensureFixture, PATH as PHI35_PATH } from '../../arch-phi3/bench/phi35-mini-file';
import { startServer } from '../src/index';

const THREADS = Number(process.env.QUANT_BENCH_THREADS ?? 2);
const choice = process.env.QUANT_SERVE_BENCH_MODEL ?? 'phi35';
const LEVELS = [1, 4, 16];

const QUESTIONS = [
  'Write a short story about a dragon.',
  'Explain why the sky is blue.',
  'List three uses of a paperclip.',
  'What is the capital of France?',
  'Describe a sunset over the sea.',
  'Give me a recipe for pancakes.',
  'Why do cats purr?',
  'Summarise the plot of a mystery novel.',
];

interface Sample {
  ms: number;
  ttftMs: number;
  tokens: number;
}

it(`serving throughput at ${LEVELS.join(', ')} concurrent clients`, async () => {
  let path: string;
  let label: string;
  if (choice === 'phi35') {
    await ensureFixture();
    path = PHI35_PATH;
    label = 'Phi-3.5-mini-shaped synthetic Q4_K_M (3.8 B parameters, 2.4 GB)';
  } else if (choice === 'stories') {
    path = sharedPath('models', 'stories260K.gguf');
    label = 'stories260K (F32, 260 K parameters)';
  } else {
    path = choice;
    label = choice;
  }
  if (!existsSync(path)) throw new Error(`benchmark model not found: ${path}`);
  const maxTokens = Number(process.env.QUANT_SERVE_BENCH_TOKENS ?? (choice === 'phi35' ? 16 : 64));
  const perClient = Number(process.env.QUANT_SERVE_BENCH_REQUESTS ?? 1);

  const model = await loadModel(path, { threads: THREADS, contextSize: 512 });
  const server = await startServer({
    model,
    modelId: 'bench',
    port: 0,
    parallel: 16,
    queue: 64,
    log: () => {},
  });
  await server.ready;
  const client = new OpenAI({
    baseURL: `${server.url}/v1`,
    apiKey: 'unused',
    maxRetries: 0,
    timeout: 3_600_000,
  });

  const one = async (q: string): Promise<Sample> => {
    const t0 = performance.now();
    let ttft = -1;
    let tokens = 0;
    const s = await client.chat.completions.create({
      model: 'bench',
      messages: [{ role: 'user', content: q }],
      max_tokens: maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const c of s) {
      if (ttft < 0 && c.choices[0]?.delta.content) ttft = performance.now() - t0;
      if (c.usage) tokens = c.usage.completion_tokens;
    }
    return { ms: performance.now() - t0, ttftMs: ttft, tokens };
  };

  try {
    await one('Hello'); // warm-up: first session, page-in of the weights
    const rows: string[] = [];
    for (const clients of LEVELS) {
      const each = Math.max(perClient, Math.ceil(2 / clients));
      const t0 = performance.now();
      const samples = (
        await Promise.all(
          Array.from({ length: clients }, async (_, c) => {
            const out: Sample[] = [];
            for (let r = 0; r < each; r++)
              out.push(await one(QUESTIONS[(c + r) % QUESTIONS.length] as string));
            return out;
          }),
        )
      ).flat();
      const wall = (performance.now() - t0) / 1000;
      const tokens = samples.reduce((s, x) => s + x.tokens, 0);
      const mean = (f: (x: Sample) => number) => samples.reduce((s, x) => s + f(x), 0) / samples.length;
      rows.push(
        `| ${clients} | ${samples.length} | ${(samples.length / wall).toFixed(3)} | ${(tokens / wall).toFixed(2)} | ` +
          `${(mean((x) => x.ttftMs) / 1000).toFixed(2)} | ${(mean((x) => x.ms) / 1000).toFixed(2)} |`,
      );
      console.log(
        `[serve bench] ${clients} client(s): ${samples.length} requests, ${tokens} tokens in ${wall.toFixed(1)} s`,
      );
    }
    console.log(
      [
        '',
        `Model: ${label}; ${THREADS} threads, ${maxTokens} tokens per answer (greedy), 16 slots, context 512.`,
        '',
        '| clients | requests | requests/s | tokens/s | mean time to first token (s) | mean latency (s) |',
        '|---|---|---|---|---|---|',
        ...rows,
        '',
      ].join('\n'),
    );
  } finally {
    await server.close({ timeoutMs: 10_000 });
    model.dispose();
  }
});
