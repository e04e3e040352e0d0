/**
 * Throughput of the runtime on a synthetic Q4_K Llama (written once into a temp dir): prompt
 * evaluation (batched) and token-by-token generation, per available backend, beside llama.cpp
 * (node-llama-cpp, CPU) on the same file and thread count. Run:
 *   cd packages/runtime && pnpm bench
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernels } from '@quant/kernels';
import { availableBackends, BACKENDS, oracle, writeSyntheticLlama } from '@quant/test-utils';
import { bench, describe } from 'vitest';
import { loadModel, type Model } from '../src/index.js';

const path = join(mkdtempSync(join(tmpdir(), 'quant-bench-')), 'bench-q4k.gguf');
{
  const k = await loadKernels({ threads: 1 });
  await writeSyntheticLlama(
    path,
    { nEmbd: 1024, nLayers: 4, nHeads: 16, nKvHeads: 4, nFF: 2816 - 256, weightType: 'Q4_K', seed: 1 },
    (t, src, rows, cols) => k.quantize(t, src, rows, cols),
  );
  k.dispose();
}
const backends = await availableBackends('bench');
const prompt = [1, ...Array.from({ length: 127 }, (_, i) => 3 + ((i * 31) % 300))];

for (const backend of BACKENDS) {
  if (!backends[backend]) continue;
  const model: Model = await loadModel(path, { backend, contextSize: 512 });
  describe(`${backend} (synthetic 1024×4 Q4_K)`, () => {
    bench('prompt: 128 tokens in one batch', async () => {
      const s = model.createSession();
      await s.evaluate(prompt);
      s.dispose();
    });
    bench('generate: 32 tokens after an 8-token prompt', async () => {
      await model.generate(prompt.slice(0, 8), { temperature: 0, maxTokens: 32, replaceEog: true }).text();
    });
  });
}

{
  const probe = await loadKernels();
  const threads = probe.threads;
  probe.dispose();
  const llama = await oracle();
  const lm = await llama.loadModel({ modelPath: path });
  const ctx = await lm.createContext({ contextSize: 512, threads, flashAttention: false });
  const seq = ctx.getSequence();
  describe(`llama.cpp via node-llama-cpp, ${threads} threads (synthetic 1024×4 Q4_K)`, () => {
    bench('prompt: 128 tokens in one batch', async () => {
      await seq.clearHistory();
      await seq.controlledEvaluate(
        prompt.map((t, i) => (i === prompt.length - 1 ? [t, { generateNext: { token: true } }] : t)) as never,
      );
    });
    bench('generate: 32 tokens after an 8-token prompt', async () => {
      await seq.clearHistory();
      let n = 0;
      for await (const _ of seq.evaluate(prompt.slice(0, 8), { temperature: 0 } as never))
        if (++n >= 32) break;
    });
  });
}
