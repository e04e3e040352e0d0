#!/usr/bin/env node
// Prompt-style (compute-bound) matmul throughput: one weight matrix × a batch of tokens, as prompt
// evaluation runs it. Prints GMAC/s (multiply-accumulates per second) per weight type, thread count
// and batch size. Needs a build: `pnpm --filter @quant/kernels build`.
//   node bench/matmul-batch.mjs [--rows=8192] [--cols=3072] [--tokens=128] [--types=Q4_K,Q6_K] [--threads=1,2]
//     [--mode=fast|parity]   (fast: repacked weights where the plan has a kernel; parity: llama.cpp's orders)
//     [--backend=native|wasm] [--wasm-threads=true|false]   (wasm: QUANT_KERNELS_WASM / _MT pick other .wasm files)
import { loadKernels } from '../dist/index.js';

const arg = (name, def) => {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
const ROWS = Number(arg('rows', 8192));
const COLS = Number(arg('cols', 3072));
const TOKENS = arg('tokens', '128').split(',').map(Number);
const TYPES = { Q4_0: 2, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, F16: 1 };
const types = arg('types', 'Q4_K,Q5_K,Q6_K,Q8_0').split(',');
const SECONDS = Number(arg('seconds', 1.5));
const MODE = arg('mode', 'fast');
const THREADS = arg('threads', '1,2').split(',').map(Number);
const BACKEND = arg('backend', 'native');
const WASM_THREADS = arg('wasm-threads', undefined);

function randomFloats(n, seed) {
  const v = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s / 2 ** 32) * 2 - 1;
  }
  return v;
}

const wf = randomFloats(ROWS * COLS, 1);
for (const threads of THREADS) {
  const k = await loadKernels({
    backend: BACKEND,
    threads,
    mode: MODE,
    ...(WASM_THREADS !== undefined ? { wasmThreads: WASM_THREADS === 'true' } : {}),
  });
  for (const name of types) {
    const data = k.quantize(TYPES[name], wf, ROWS, COLS);
    const w = k.weight(TYPES[name], ROWS, COLS, data);
    for (const nt of TOKENS) {
      const x = k.f32(COLS * nt);
      x.write(randomFloats(COLS * nt, 2));
      const out = k.f32(ROWS * nt);
      k.matmul(out, w, x, nt);
      let n = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let el = 0;
      while (el < SECONDS * 1000) {
        k.matmul(out, w, x, nt);
        n++;
        el = performance.now() - t0;
      }
      const gmac = (n * ROWS * COLS * nt) / (el / 1000) / 1e9;
      // per CPU-second of this process (all its threads): stable on a shared machine, where the
      // wall-clock figure also counts time the scheduler gave to other processes
      const cu = process.cpuUsage(c0);
      const cpuS = (cu.user + cu.system) / 1e6;
      const gmacCpu = (n * ROWS * COLS * nt) / cpuS / 1e9;
      console.log(
        `${name} ${ROWS}×${COLS} × ${nt} tokens, ${threads} thread(s) [${k.backend} ${k.mode}, ${k.isa}, ${k.threads} thread(s) used]: ${gmac.toFixed(1)} GMAC/s (${gmacCpu.toFixed(1)} per CPU-second)`,
      );
      x.dispose();
      out.dispose();
    }
    w.dispose();
  }
  k.dispose();
}
