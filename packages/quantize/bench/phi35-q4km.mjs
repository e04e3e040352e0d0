#!/usr/bin/env node
// Benchmark: write a Phi-3.5-mini-shaped F16 GGUF (3.8B parameters, random weights, ~7.6 GB,
// streamed to a temp dir), quantize it to Q4_K_M, report seconds and peak RSS, delete both files.
//
//   pnpm --filter @quant/quantize build && node bench/phi35-q4km.mjs [--layers 32] [--type Q4_K_M]
//        [--threads N] [--dir /tmp] [--keep]
//
// --layers shrinks the model for a quick run (32 = the real shape).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { typed, writeGGUF } from '@quant/gguf';
import { quantizeModel } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    layers: { type: 'string', default: '32' },
    type: { type: 'string', default: 'Q4_K_M' },
    threads: { type: 'string', default: String(availableParallelism()) },
    dir: { type: 'string', default: tmpdir() },
    keep: { type: 'boolean', default: false },
    // Use the kernels' Q4_K/Q5_K even where they are not byte-identical to ggml's.
  },
});

const N_EMBD = 3072;
const N_FF = 8192;
const N_VOCAB = 32064;
const N_HEAD = 32;
const N_LAYER = Number(args.layers);
const HEAD_DIM = N_EMBD / N_HEAD;

// 65536 F16 bit patterns of N(0, 0.02) samples; random 16-bit indices pick from them (fast).
const table = new Uint16Array(65536);
{
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  let s = 0x9e3779b9;
  const rnd = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
  for (let i = 0; i < 65536; i++) {
    f[0] = Math.sqrt(-2 * Math.log(Math.max(rnd(), 1e-9))) * Math.cos(2 * Math.PI * rnd()) * 0.02;
    const x = u[0];
    const e = ((x >>> 23) & 0xff) - 112;
    table[i] = ((x >>> 16) & 0x8000) | (e <= 0 ? 0 : (e << 10) | ((x >>> 13) & 0x3ff));
  }
}
let seed = 1;
function randomF16(n) {
  const out = new Uint16Array(n);
  let x = seed++ * 0x9e3779b1;
  for (let i = 0; i < n; i += 2) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = table[x & 0xffff];
    out[i + 1] = table[(x >>> 16) & 0xffff];
  }
  return new Uint8Array(out.buffer, 0, n * 2);
}
const ones = (n) => new Uint8Array(new Float32Array(n).fill(1).buffer);

const tensors = [
  { name: 'token_embd.weight', type: 1, shape: [N_EMBD, N_VOCAB] },
  { name: 'output_norm.weight', type: 0, shape: [N_EMBD] },
  { name: 'output.weight', type: 1, shape: [N_EMBD, N_VOCAB] },
  { name: 'rope_factors_long.weight', type: 0, shape: [HEAD_DIM / 2] },
  { name: 'rope_factors_short.weight', type: 0, shape: [HEAD_DIM / 2] },
];
for (let i = 0; i < N_LAYER; i++) {
  tensors.push(
    { name: `blk.${i}.attn_norm.weight`, type: 0, shape: [N_EMBD] },
    { name: `blk.${i}.attn_qkv.weight`, type: 1, shape: [N_EMBD, 3 * N_EMBD] },
    { name: `blk.${i}.attn_output.weight`, type: 1, shape: [N_EMBD, N_EMBD] },
    { name: `blk.${i}.ffn_norm.weight`, type: 0, shape: [N_EMBD] },
    { name: `blk.${i}.ffn_up.weight`, type: 1, shape: [N_EMBD, 2 * N_FF] },
    { name: `blk.${i}.ffn_down.weight`, type: 1, shape: [N_FF, N_EMBD] },
  );
}
const nParams = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);

const dir = mkdtempSync(join(args.dir, 'quant-bench-'));
const f16Path = join(dir, 'phi35-mini-f16.gguf');
const outPath = join(dir, `phi35-mini-${args.type}.gguf`);
const mb = (b) => (b / 1e6).toFixed(0);
// Interrupted: still delete the multi-GB files.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
}
try {
  let t0 = performance.now();
  await writeGGUF(f16Path, {
    entries: [
      { key: 'general.architecture', value: typed.string('phi3') },
      { key: 'general.name', value: typed.string('bench phi-3.5-mini shape') },
      { key: 'general.file_type', value: typed.u32(1) },
      { key: 'phi3.context_length', value: typed.u32(131072) },
      { key: 'phi3.rope.scaling.original_context_length', value: typed.u32(4096) },
      { key: 'phi3.embedding_length', value: typed.u32(N_EMBD) },
      { key: 'phi3.feed_forward_length', value: typed.u32(N_FF) },
      { key: 'phi3.block_count', value: typed.u32(N_LAYER) },
      { key: 'phi3.attention.head_count', value: typed.u32(N_HEAD) },
      { key: 'phi3.attention.head_count_kv', value: typed.u32(N_HEAD) },
      { key: 'phi3.attention.layer_norm_rms_epsilon', value: typed.f32(1e-5) },
      { key: 'phi3.rope.dimension_count', value: typed.u32(HEAD_DIM) },
    ],
    tensors: tensors.map((t) => ({
      ...t,
      data: () =>
        t.type === 0
          ? ones(t.shape.reduce((a, b) => a * b, 1))
          : randomF16(t.shape.reduce((a, b) => a * b, 1)),
    })),
  });
  const writeSeconds = (performance.now() - t0) / 1000;
  const inBytes = statSync(f16Path).size;
  console.log(
    `wrote ${f16Path}: ${(nParams / 1e9).toFixed(2)}B params, ${mb(inBytes)} MB in ${writeSeconds.toFixed(1)} s`,
  );

  t0 = performance.now();
  let last = 0;
  const r = await quantizeModel(f16Path, outPath, {
    type: args.type,
    threads: Number(args.threads),
    onProgress(done, total, name) {
      const now = performance.now();
      if (now - last > 5000 || done === total) {
        last = now;
        console.log(`  [${done}/${total}] ${name}  ${((now - t0) / 1000).toFixed(0)} s`);
      }
    },
  });
  const usage = process.resourceUsage();
  const rssMB = usage.maxRSS / 1024;
  console.log(
    JSON.stringify(
      {
        type: args.type,
        params: nParams,
        inputMB: Number(mb(inBytes)),
        outputMB: Number(mb(r.outputBytes)),
        seconds: Number(r.seconds.toFixed(1)),
        peakRssMB: Math.round(rssMB),
        // CPU seconds of the whole process (writing the input included): compare with seconds × threads.
        cpuSeconds: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1e6),
        threads: r.threads,
        parallelism: r.parallelism,
        peakTensorMB: Number(mb(r.peakTensorBytes)),
        note: r.note,
      },
      null,
      2,
    ),
  );
} finally {
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}
