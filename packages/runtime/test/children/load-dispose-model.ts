/**
 * Child process of memory.test.ts, run with `node --expose-gc`: `loadModel(argv[3], { backend:
 * argv[2] })`, a short greedy generation, `dispose()`, argv[4] times, collecting garbage after
 * every cycle so RSS shows what stayed reachable rather than GC timing. Prints {cycle, rss}
 * samples and stops early (with {overLimit}) once RSS grew more than argv[5] MiB over the warm-up
 * sample, so a leak fails fast.
 */
import { readdirSync } from 'node:fs';
import { loadModel } from '@quant/runtime';

const [, , backend, path, cyclesArg, limitArg] = process.argv as string[];
const cycles = Number(cyclesArg);
const limit = Number(limitArg) * 1024 * 1024;
const WARMUP = 20;
const maybeGc = (globalThis as { gc?: () => void }).gc;
if (!maybeGc) throw new Error('run with node --expose-gc');
const gc: () => void = maybeGc;
const say = (m: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(m)}\n`);
/** Open file descriptors (Linux), to see that no file handle is left behind. */
const fds = () => {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
};

/**
 * Open file descriptors once they stop changing: a disposed model's wasm worker threads exit
 * asynchronously (Worker.terminate() finishes later) and close their event-loop descriptors then.
 * Waits up to 3 s for the count to hold still for 50 ms and, with `atMost`, to fall to it.
 */
async function settledFds(atMost?: number): Promise<number> {
  let n = fds();
  for (let t = 0; t < 60; t++) {
    await new Promise((r) => setTimeout(r, 50));
    const m = fds();
    if (m === n && (atMost === undefined || m <= atMost)) return m;
    n = m;
  }
  return fds();
}

async function main(): Promise<void> {
  let warm = 0;
  let warmFds = -1;
  let text: string | undefined;
  for (let i = 1; i <= cycles; i++) {
    const model = await loadModel(path as string, {
      backend: backend as 'native' | 'wasm',
      threads: 2,
      contextSize: 64,
    });
    let out = '';
    for await (const piece of model.generate('a b c', { maxTokens: 4, temperature: 0 })) out += piece;
    model.dispose();
    // Every cycle must compute the same thing (a disposed model must not leak state into the next).
    if (text === undefined) text = out;
    else if (out !== text)
      throw new Error(`cycle ${i} generated ${JSON.stringify(out)}, cycle 1 ${JSON.stringify(text)}`);
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    const rss = process.memoryUsage().rss;
    if (i === WARMUP) {
      warm = rss;
      warmFds = await settledFds();
    }
    if (i % 10 === 0)
      say({ cycle: i, rss, external: process.memoryUsage().external, heap: process.memoryUsage().heapUsed });
    if (warm && rss - warm > limit) {
      say({ overLimit: true, cycle: i, rss, warm });
      return;
    }
  }
  const endFds = await settledFds(warmFds);
  say({ done: true, warm, rss: process.memoryUsage().rss, text, warmFds, fds: endFds });
}

main().catch((e) => {
  say({ crashed: String((e as Error)?.stack ?? e) });
  process.exit(2);
});
