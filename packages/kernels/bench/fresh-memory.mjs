#!/usr/bin/env node
// The floor under a wasm model load on this machine: the time to write one byte into every 4 KiB page
// of a fresh shared WebAssembly.Memory as big as the model, with `--threads` worker_threads (the wasm
// host's parallel read uses the same threads), then a second pass over the same, now-backed pages.
// A wasm load must put every weight byte into linear memory, so it cannot beat the first pass; on a
// VM whose host backs guest pages on first touch, that pass — not the copy — is most of the load.
//
//   node packages/kernels/bench/fresh-memory.mjs [--bytes=2390000000 | --model=<gguf>] [--threads=2]
import { statSync } from 'node:fs';
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';

const arg = (name, def) => {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
const model = arg('model', '');
const bytes = model ? statSync(model).size : Number(arg('bytes', 2_390_000_000));
const threads = Number(arg('threads', 2));
const PAGE = 65536;
const pages = Math.ceil(bytes / PAGE);
if (pages > 65536) throw new Error(`${bytes} bytes is more than wasm32's 4 GiB`);

const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
const src = `
const { workerData, parentPort } = require('node:worker_threads');
const u8 = new Uint8Array(workerData.buffer);
parentPort.on('message', ({ from, to }) => {
  for (let o = from; o < to; o += 4096) u8[o] = 1;
  parentPort.postMessage(0);
});`;
const workers = Array.from(
  { length: threads },
  () => new Worker(src, { eval: true, workerData: { buffer: memory.buffer } }),
);
async function pass() {
  const len = pages * PAGE;
  const share = Math.ceil(len / threads / 4096) * 4096;
  const t0 = performance.now();
  await Promise.all(
    workers.map(
      (w, i) =>
        new Promise((resolve) => {
          w.once('message', resolve);
          w.postMessage({ from: i * share, to: Math.min(len, (i + 1) * share) });
        }),
    ),
  );
  return (performance.now() - t0) / 1000;
}
const fresh = await pass();
const again = await pass();
for (const w of workers) await w.terminate();
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs; node ${process.version}`,
);
console.log(
  `${(bytes / 1e9).toFixed(2)} GB of fresh wasm memory, ${threads} thread(s): first touch of every 4 KiB page ${fresh.toFixed(2)} s (${((fresh * 1e6 * threads) / (bytes / 4096)).toFixed(1)} µs per page per thread), second pass ${again.toFixed(2)} s`,
);
