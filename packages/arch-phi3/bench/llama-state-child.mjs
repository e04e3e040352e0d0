/**
 * The llama.cpp side of ./phi35-mini.long-context.fixture.ts, in its own process so its peak RSS
 * (VmHWM) is its own: node-llama-cpp (prebuilt CPU llama.cpp) driven over the IPC channel.
 *
 * Messages (each answered with `{ ok: true, ...result }` or `{ ok: false, error }`):
 *   { cmd: 'init', model }               load the model
 *   { cmd: 'context', contextSize, threads, batchSize, kv }  reset the peak RSS, replace the context
 *   { cmd: 'eval', tokens }              evaluate tokens into the sequence (prompt batches)  → { ms }
 *   { cmd: 'save', path }                sequence.saveStateToFile(path)                     → { bytes }
 *   { cmd: 'load', path }                sequence.loadStateFromFile                          → { ms, n }
 *   { cmd: 'decode', token }             evaluate one token                                  → { ms }
 *   { cmd: 'rss' }                       → { peakGiB, rssGiB } (VmHWM and VmRSS of this process)
 *   { cmd: 'exit' }
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { getLlama } from 'node-llama-cpp';

let llama;
let model;
let ctx;
let seq;

const status = (key) => {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 / 1024 : Number.NaN;
};
/** Resets this process's peak RSS (Linux: "5" to clear_refs), so VmHWM covers what follows. */
const resetPeak = () => {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not Linux or not permitted: VmHWM then covers the whole process
  }
};

const handlers = {
  async init({ model: path }) {
    llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
    model = await llama.loadModel({ modelPath: path });
    return {};
  },
  async context({ contextSize, threads, batchSize, kv }) {
    await ctx?.dispose();
    resetPeak();
    ctx = await model.createContext({
      contextSize,
      threads,
      batchSize,
      flashAttention: true,
      experimentalKvCacheKeyType: kv.toUpperCase(),
      experimentalKvCacheValueType: kv.toUpperCase(),
    });
    seq = ctx.getSequence();
    return { contextSize: ctx.contextSize };
  },
  async eval({ tokens }) {
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(tokens);
    return { ms: performance.now() - t0 };
  },
  async save({ path }) {
    return { bytes: (await seq.saveStateToFile(path)).fileSize };
  },
  async load({ path }) {
    const t0 = performance.now();
    await seq.loadStateFromFile(path, { acceptRisk: true });
    return { ms: performance.now() - t0, n: seq.nextTokenIndex };
  },
  async decode({ token }) {
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens([token]);
    return { ms: performance.now() - t0 };
  },
  async rss() {
    return { peakGiB: status('VmHWM'), rssGiB: status('VmRSS') };
  },
  async exit() {
    await ctx?.dispose();
    await model?.dispose();
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', async (msg) => {
  try {
    const h = handlers[msg.cmd];
    if (!h) throw new Error(`unknown command ${msg.cmd}`);
    process.send({ ok: true, ...(await h(msg)) });
  } catch (e) {
    process.send({ ok: false, error: String(e?.stack ?? e) });
  }
});
