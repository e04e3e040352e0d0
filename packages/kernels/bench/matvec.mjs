#!/usr/bin/env node
// Matrix × vector throughput (GB/s of weights streamed) for Q4_K, Q6_K, Q8_0 and F16 at 4096×4096
// and 3072×9216, native (SIMD and scalar, 1 and 2 threads) vs wasm (SIMD128 and scalar), printed
// beside the machine's measured memory read bandwidth.
// Weights are cycled through enough copies to exceed the last-level cache, so the numbers are
// memory-bound like real decoding. Needs a build: `pnpm --filter @quant/kernels build`.
//   node bench/matvec.mjs [--quick] [--mib=1024]
import { loadKernels } from '../dist/index.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const mibArg = args.find((a) => a.startsWith('--mib='));
const TOTAL = (mibArg ? Number(mibArg.slice(6)) : quick ? 256 : 1024) * 1024 * 1024;
const SECONDS = quick ? 0.3 : 0.8;

const TYPES = [
  { name: 'Q4_K', id: 12, block: 256, bytes: 144, half: [0, 2] },
  { name: 'Q6_K', id: 14, block: 256, bytes: 210, half: [208] },
  { name: 'Q8_0', id: 8, block: 32, bytes: 34, half: [0] },
  { name: 'F16', id: 1, block: 1, bytes: 2, half: [] },
];
const SHAPES = [
  [4096, 4096],
  [3072, 9216],
];

function f2h(v) {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 127 + 15;
  if (e <= 0) return sign;
  return sign | (e << 10) | ((u >>> 13) & 0x3ff);
}

/** Random valid blocks: random payload bytes, small finite f16 scales. */
function randomMatrix(t, rows, cols) {
  const n = (rows * cols) / t.block;
  const b = new Uint8Array(n * t.bytes);
  let s = 12345;
  for (let i = 0; i < b.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    b[i] = s >>> 24;
  }
  if (t.id === 1) {
    for (let i = 0; i < b.length; i += 2) {
      const h = f2h(((b[i] / 255) * 2 - 1) * 0.1);
      b[i] = h & 255;
      b[i + 1] = h >> 8;
    }
  } else {
    for (let i = 0; i < n; i++)
      for (const o of t.half) {
        const h = f2h(0.001 + (b[i * t.bytes + o] / 255) * 0.01);
        b[i * t.bytes + o] = h & 255;
        b[i * t.bytes + o + 1] = h >> 8;
      }
  }
  return b;
}

function measure(k, t, rows, cols, data) {
  const bytes = data.length;
  const copies = Math.max(1, Math.ceil(TOTAL / bytes));
  const weights = [];
  for (let c = 0; c < copies; c++)
    weights.push(k.weight(t.id, rows, cols, k.backend === 'native' ? data.slice() : data));
  const x = k.f32(cols);
  x.write(Float32Array.from({ length: cols }, (_, i) => Math.sin(i)));
  const out = k.f32(rows);
  for (const w of weights) k.matmul(out, w, x, 1); // warm up / fault pages in
  let n = 0;
  const t0 = performance.now();
  let el = 0;
  while (el < SECONDS * 1000) {
    k.matmul(out, weights[n % copies], x, 1);
    n++;
    el = performance.now() - t0;
  }
  for (const w of weights) w.dispose();
  x.dispose();
  out.dispose();
  return (n * bytes) / (el / 1000) / 1e9;
}

const configs = [
  { label: 'native avx2/neon, 1 thread', opts: { backend: 'native', threads: 1 } },
  { label: 'native avx2/neon, 2 threads', opts: { backend: 'native', threads: 2 } },
  { label: 'native scalar, 1 thread', opts: { backend: 'native', threads: 1, forceScalar: true } },
  { label: 'native scalar, 2 threads', opts: { backend: 'native', threads: 2, forceScalar: true } },
  { label: 'wasm simd128 (1 thread)', opts: { backend: 'wasm' } },
  { label: 'wasm scalar (1 thread)', opts: { backend: 'wasm', forceScalar: true } },
];

const bw = {};
{
  const k1 = await loadKernels({ backend: 'native', threads: 1 });
  const k2 = await loadKernels({ backend: 'native', threads: 2 });
  const probe = Math.max(TOTAL, 512 * 1024 * 1024);
  bw[1] = k1.measureReadBandwidth(probe);
  bw[2] = k2.measureReadBandwidth(probe);
  k1.dispose();
  k2.dispose();
}
console.log(
  `memory read bandwidth (native probe, ${(Math.max(TOTAL, 512 << 20) / 2 ** 20) | 0} MiB): 1 thread ${bw[1].toFixed(1)} GB/s, 2 threads ${bw[2].toFixed(1)} GB/s`,
);
console.log(`weights cycled through ≥ ${(TOTAL / 2 ** 20) | 0} MiB of copies per measurement\n`);

const results = {};
const header = ['config', 'simd', ...TYPES.flatMap((t) => SHAPES.map(([r, c]) => `${t.name} ${r}×${c}`))];
const rows = [];
for (const cfg of configs) {
  let k;
  try {
    k = await loadKernels(cfg.opts);
  } catch (e) {
    console.log(`${cfg.label}: unavailable (${e.message})`);
    continue;
  }
  const row = [cfg.label, k.simd];
  for (const t of TYPES)
    for (const [r, c] of SHAPES) {
      const gbs = measure(k, t, r, c, randomMatrix(t, r, c));
      results[`${cfg.label}|${t.name}|${r}x${c}`] = gbs;
      row.push(gbs.toFixed(1));
    }
  rows.push(row);
  k.dispose();
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const fmt = (r) => r.map((v, i) => String(v).padEnd(widths[i])).join('  ');
console.log('GB/s of weights streamed per matvec');
console.log(fmt(header));
for (const r of rows) console.log(fmt(r));

const q4 = (label) => results[`${label}|Q4_K|4096x4096`];
const n2 = q4('native avx2/neon, 2 threads');
const wa = q4('wasm simd128 (1 thread)');
const n1 = q4('native avx2/neon, 1 thread');
if (n2)
  console.log(
    `\nnative Q4_K 4096×4096, 2 threads: ${n2.toFixed(1)} GB/s = ${((100 * n2) / bw[2]).toFixed(0)}% of measured bandwidth (target ≥ 70%)`,
  );
if (wa && n1)
  console.log(
    `wasm Q4_K 4096×4096: ${wa.toFixed(1)} GB/s = ${((100 * wa) / n1).toFixed(0)}% of native 1 thread, ${n2 ? ((100 * wa) / n2).toFixed(0) : '?'}% of native 2 threads (target ≥ 40%)`,
  );
