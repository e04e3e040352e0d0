/**
 * Every KV cache type on a synthetic Llama whose keys have outlier channels (2 RoPE pairs of each
 * K head 15× larger, as trained models have): bits per value, mean KL of the logits to the f32
 * cache's (a 64-token prompt in batches of 16), prompt tokens/s (512 tokens, one batch) and decode
 * tokens/s after it, on the native backend (else wasm), 2 threads. llama.cpp's q4_0 and f32 caches (node-llama-cpp, flash
 * attention, same prompt and batches) give the reference row. Run (a few minutes):
 *   cd packages/runtime && npx vitest bench --run bench/kv-types.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KV_CACHE_TYPES, type KVCacheType, kvBitsPerValue } from '@quant/kernels';
import {
  availableBackends,
  compareLogits,
  oracleLogits,
  syntheticPrompt,
  writeSyntheticLlama,
} from '@quant/test-utils';
import { bench, describe } from 'vitest';
import { loadModel } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'quant-kvbench-'));
const path = join(dir, 'outliers.gguf');
await writeSyntheticLlama(path, {
  nEmbd: 512,
  nLayers: 4,
  nHeads: 8,
  nKvHeads: 4,
  nFF: 1024,
  seed: 7,
  keyOutliers: { pairs: 2, gain: 15 },
});
const backends = await availableBackends('kv-types bench');
const backend = backends.native ? 'native' : 'wasm';
const threads = 2;
const prompt = syntheticPrompt(7, 64);
const long = syntheticPrompt(8, 512);
const DECODE = 32;

const model = await loadModel(path, { backend, threads, contextSize: 1024, batchSize: 16 });
const nVocab = model.hparams.nVocab;
const logits = async (kvType: KVCacheType) => {
  const s = model.createSession({ kvType });
  try {
    return await s.evaluate(prompt, { allLogits: true });
  } finally {
    s.dispose();
  }
};
const decodeRate = async (kvType: KVCacheType) => {
  const s = model.createSession({ kvType, batchSize: 512 });
  try {
    const p0 = performance.now();
    await s.evaluate(long);
    const pp = (long.length * 1000) / (performance.now() - p0);
    let tok = 5;
    const t0 = performance.now();
    for (let i = 0; i < DECODE; i++) {
      const l = await s.evaluate([tok]);
      tok = 3 + (l.indexOf(Math.max(...l)) % 200);
    }
    return { pp, tg: (DECODE * 1000) / (performance.now() - t0) };
  } finally {
    s.dispose();
  }
};

const f32 = await logits('f32');
const f32Rows = Array.from({ length: prompt.length }, (_, i) => f32.subarray(i * nVocab, (i + 1) * nVocab));
const rows: { type: string; bits: number; kl: number; argmax: number; pp?: number; tg?: number }[] = [];
for (const t of KV_CACHE_TYPES) {
  const c = compareLogits(f32Rows, await logits(t), nVocab);
  rows.push({
    type: t,
    bits: kvBitsPerValue(t),
    kl: c.meanKL,
    argmax: c.argmaxMismatches.length,
    ...(await decodeRate(t)),
  });
}
const o = { flashAttention: true, batchSize: 16 } as const;
const l32 = await oracleLogits(path, prompt, { ...o, kvType: 'f32' });
const l4 = await oracleLogits(path, prompt, { ...o, kvType: 'q4_0' });
const flat = new Float32Array(l4.length * nVocab);
for (let i = 0; i < l4.length; i++) flat.set(l4[i] as Float32Array, i * nVocab);
const ref = compareLogits(l32, flat, nVocab);
rows.push({
  type: 'llama.cpp q4_0',
  bits: 4.5,
  kl: ref.meanKL,
  argmax: ref.argmaxMismatches.length,
});
model.dispose();
rmSync(dir, { recursive: true, force: true });

const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(', ');
console.log(
  `\nKV cache types on a 512×4 F32 llama, head 64, keys with 2 outlier pairs ×15 (${backend}, ${threads} threads, load average ${load}):\n`,
);
console.log(
  '| type | bits/value | mean KL to f32 cache | argmax changes (of 64) | prompt tok/s (512) | decode tok/s at 512 |',
);
console.log('|---|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.type} | ${r.bits} | ${r.kl.toExponential(2)} | ${r.argmax} | ${r.pp?.toFixed(0) ?? '—'} | ${r.tg?.toFixed(1) ?? '—'} |`,
  );
const iq = rows.find((r) => r.type === 'iq4_nlr');
if (iq) console.log(`\niq4_nlr / llama.cpp q4_0 mean KL: ${(iq.kl / ref.meanKL).toFixed(3)}\n`);

describe('kv cache types (table above)', () => {
  bench('table printed above', () => {}, { iterations: 1, time: 0 });
});
