/**
 * Child process of memory.test.ts, run with `node --expose-gc`: loads a kernels instance on the
 * backend argv[2], uses it (buffers, a weight, a KV cache, a matmul and attention), disposes it,
 * argv[3] times, collecting garbage after every cycle so RSS reflects what is still reachable,
 * not GC timing. The disposed instances and their disposed buffers stay referenced (as an app may
 * keep a disposed object around): dispose() itself must let go of the memory. Prints {cycle, rss}
 * samples; stops early (with {overLimit}) once RSS grew more than argv[4] MiB over the warm-up
 * sample, so a leak fails fast instead of eating the machine.
 */
import { loadKernels } from '@quant/kernels';

const [, , backend, cyclesArg, limitArg] = process.argv as string[];
const cycles = Number(cyclesArg);
const limit = Number(limitArg) * 1024 * 1024;
const WARMUP = 20;
const maybeGc = (globalThis as { gc?: () => void }).gc;
if (!maybeGc) throw new Error('run with node --expose-gc');
const gc: () => void = maybeGc;
const say = (m: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(m)}\n`);
const settle = async () => {
  // Two rounds: finalizers and weak callbacks scheduled by the first run before the second.
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
};

async function main(): Promise<void> {
  const rows = 256;
  const cols = 1024;
  const weightBytes = new Uint8Array(rows * cols * 4);
  new Float32Array(weightBytes.buffer).fill(0.5);
  let warm = 0;
  const disposed: unknown[] = [];
  for (let i = 1; i <= cycles; i++) {
    // 'wasm' = the threaded module (2 threads: a worker per instance), 'wasm-st' = the single-threaded one
    const k = await loadKernels(
      backend === 'wasm-st'
        ? { backend: 'wasm', threads: 2, wasmThreads: false }
        : { backend: backend as 'native' | 'wasm', threads: 2 },
    );
    // ~4 MiB of floats written, a 1 MiB weight, a 0.5 MiB f16 KV cache.
    const big = k.f32(1 << 20);
    big.write(new Float32Array(1 << 20).fill(1));
    const w = k.weight(0, rows, cols, weightBytes);
    const x = k.f32(cols);
    x.write(new Float32Array(cols).fill(1));
    const out = k.f32(rows);
    k.matmul(out, w, x, 1);
    const cache = k.kvCache({ layers: 2, contextSize: 256, kvHeads: 4, headDim: 64, type: 'f16' });
    const q = k.f32(8 * 64);
    const att = k.f32(8 * 64);
    const kv = k.f32(4 * 64);
    cache.store(0, 0, 1, kv, kv);
    k.attention(att, q, cache, 0, { nTokens: 1, pos: 0, nHeads: 8, nKvHeads: 4, headDim: 64 });
    if (out.read(0, 1)[0] !== 0.5 * cols) throw new Error(`matmul gave ${out.read(0, 1)[0]}`);
    k.dispose();
    disposed.push(k, big, w, cache);
    await settle();
    const rss = process.memoryUsage().rss;
    if (i === WARMUP) warm = rss;
    if (i % 10 === 0)
      say({ cycle: i, rss, external: process.memoryUsage().external, heap: process.memoryUsage().heapUsed });
    if (warm && rss - warm > limit) {
      say({ overLimit: true, cycle: i, rss, warm });
      return;
    }
  }
  say({ done: true, warm, rss: process.memoryUsage().rss });
}

main().catch((e) => {
  say({ crashed: String((e as Error)?.stack ?? e) });
  process.exit(2);
});
