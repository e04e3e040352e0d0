/**
 * Long context on the Phi-3.5-mini-shaped synthetic Q4_K_M model (./phi35-mini-file.ts) with a
 * 4-bit KV cache (QUANT_LONG_KV, default q4_0 for K and V; llama.cpp the same through
 * node-llama-cpp's experimentalKvCacheKeyType/ValueType, flash attention on):
 *
 * 1. A 131,072-token session (the model's full LongRoPE context) is created and evaluates a few
 *    tokens: its KV cache is 32 layers × 131,072 × 2 × 3072 values at 4.5 bits = 13.5 GiB instead
 *    of f16's 48 GiB, which does not fit a 24 GB machine (the memory check refuses it, naming the
 *    quantized types that fit).
 * 2. "fills": each side evaluates a real QUANT_LONG_SEED-token prompt (default 512) once and saves
 *    its state in its own format; for each fill N in QUANT_LONG_FILLS (default "4096,16384,32768")
 *    that state is tiled to N cells (./state-tiling.ts: cell i holds the rows of cell i mod P, at
 *    position i) and loaded through each side's public API (quant: model.restoreSession; llama.cpp:
 *    sequence.loadStateFromFile), then both decode QUANT_LONG_DECODE (8) tokens one at a time, alternating sides
 *    token by token. Why not a real fill: with a quantized cache llama.cpp evaluates a prompt one
 *    attention row per query (its one_chunk path; its tiled and split-KV CPU paths are F32/F16-only),
 *    as quant did before its tiled prompt path, so a 32K q4_0 fill takes hours on 2 cores (quant's
 *    4K fill now takes ~5 minutes); decode cost depends on how many rows are cached and their
 *    type, not on their values.
 *    llama.cpp runs in a child process (./llama-state-child.mjs), quant in this one, so each peak
 *    RSS (VmHWM, reset before each load) is one side's alone. Then, at the seed and the largest
 *    fill, quant's decode with 1 thread against QUANT_BENCH_THREADS shows that attention for one
 *    token is split across threads.
 * 3. "real prompt fill" (QUANT_LONG_REAL_FILL=4096, off by default): a real fill of that many
 *    tokens on both sides (fill tok/s), then DECODE tokens.
 *
 * Run: cd packages/arch-phi3 && QUANT_LONG_FILLS=4096,16384,32768 npx vitest run --config
 *   vitest.bench.config.ts bench/phi35-mini.long-context.fixture.ts -t fills   (QUANT_BENCH_THREADS=n)
 * The tiled files (up to 3.6 GB per side at 32K) go to QUANT_LONG_DIR (default the temp directory)
 * and are deleted after use.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KVCacheType } from '@quant/kernels';
import { ContextTooLargeError, loadModel } from '@quant/runtime';
import { describe, expect, it } from 'vitest';
import { ensureFixture, PATH, THREADS, VOCAB } from './phi35-mini-file';
import { tileLlamaState, tileQuantSession } from './state-tiling';

const KV = (process.env.QUANT_LONG_KV ?? 'q4_0') as KVCacheType;
const FILLS = (process.env.QUANT_LONG_FILLS ?? '4096,16384,32768').split(',').map(Number);
const DECODE = Number(process.env.QUANT_LONG_DECODE ?? 8);
const FULL = 131_072;
const BATCH = 512;
const SEED = Number(process.env.QUANT_LONG_SEED ?? 512);
const REAL_FILL = Number(process.env.QUANT_LONG_REAL_FILL ?? 0);
const DIR = process.env.QUANT_LONG_DIR ?? tmpdir();
const CHILD = fileURLToPath(new URL('./llama-state-child.mjs', import.meta.url));

const tokens = (n: number) => [1, ...Array.from({ length: n - 1 }, (_, i) => 100 + ((i * 7919) % 30000))];
const gen = Array.from({ length: DECODE }, (_, i) => 200 + ((i * 104729) % 30000));

/** VmHWM (peak resident set) or VmRSS of this process, in GiB. */
function statusGiB(key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 / 1024 : Number.NaN;
}
const peakRssGiB = () => statusGiB('VmHWM');
/** Resets this process's peak RSS (Linux: "5" to clear_refs), so VmHWM covers what follows. */
function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // not permitted: VmHWM then covers the whole process
  }
}
function machine(): string {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const f = /^flags\s*:\s*(.*)$/m.exec(info)?.[1]?.split(' ') ?? [];
  const isa = ['avx2', 'avx512f', 'avx512_vnni', 'amx_tile'].filter((x) => f.includes(x)).join(' ');
  return `${cpus()[0]?.model ?? 'CPU'} (${isa}), ${cpus().length} CPUs, load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}, ${new Date().toISOString().slice(0, 16)}Z`;
}

/** ./llama-state-child.mjs: llama.cpp in its own process, one request at a time. */
class LlamaChild {
  private readonly child: ChildProcess;
  private pending: ((m: Record<string, unknown>) => void) | undefined;
  constructor() {
    this.child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m) => {
      const r = this.pending;
      this.pending = undefined;
      r?.(m as Record<string, unknown>);
    });
    this.child.on('exit', (code) => this.pending?.({ ok: false, error: `llama.cpp child exited (${code})` }));
  }
  async call<T = Record<string, number>>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const m = await new Promise<Record<string, unknown>>((resolve) => {
      this.pending = resolve;
      this.child.send({ cmd, ...args });
    });
    if (!m.ok) throw new Error(`llama.cpp child, ${cmd}: ${m.error}`);
    return m as T;
  }
  async close(): Promise<void> {
    if (this.child.exitCode === null) await this.call('exit').catch(() => {});
  }
}
const ctxFor = (n: number) => Math.ceil((n + DECODE + 16) / 256) * 256;
const tokPerS = (n: number, ms: number) => (n * 1000) / ms;
function rssGiB(): number {
  return process.memoryUsage().rss / 1024 ** 3;
}

describe.skipIf(!existsSync(VOCAB))(`Phi-3.5-mini-shaped Q4_K_M, ${KV} KV cache: long context`, () => {
  it(`a ${FULL}-token session with a ${KV} cache is created and runs; f16 is refused with the sizes`, async () => {
    await ensureFixture();
    const model = await loadModel(PATH, { threads: THREADS, contextSize: FULL, batchSize: BATCH });
    try {
      let refused: unknown;
      try {
        model.createSession({ kvType: 'f16' }).dispose();
      } catch (e) {
        refused = e;
      }
      expect(refused).toBeInstanceOf(ContextTooLargeError);
      console.log(`[long-context] f16 at ${FULL}: ${(refused as Error).message}`);
      const t0 = performance.now();
      const s = model.createSession({ kvType: KV });
      const created = performance.now() - t0;
      console.log(
        `[long-context] ${FULL}-token ${KV} session: KV cache ${(s.cache.byteLength / 1024 ** 3).toFixed(2)} GiB, created in ${created.toFixed(0)} ms, RSS ${rssGiB().toFixed(2)} GiB`,
      );
      const logits = await s.evaluate(tokens(64));
      expect(logits.every(Number.isFinite)).toBe(true);
      console.log(
        `[long-context] evaluated 64 tokens; RSS ${rssGiB().toFixed(2)} GiB, peak ${peakRssGiB().toFixed(2)} GiB`,
      );
      s.dispose();
    } finally {
      model.dispose();
    }
  });

  it(`fills ${FILLS.join('/')} tokens from a real ${SEED}-token state, decoding ${DECODE} at each: quant beside llama.cpp (${KV} cache, ${THREADS} threads)`, async () => {
    await ensureFixture();
    const fills = [...FILLS].sort((a, b) => a - b);
    const last = fills[fills.length - 1] ?? 4096;
    const prompt = tokens(SEED);
    const seedQ = join(DIR, `quant-long-seed-${process.pid}.qsession`);
    const seedL = join(DIR, `quant-long-seed-${process.pid}.llama-state`);
    const fileQ = join(DIR, `quant-long-fill-${process.pid}.qsession`);
    const fileL = join(DIR, `quant-long-fill-${process.pid}.llama-state`);
    const files = [seedQ, seedL, fileQ, fileL];
    const llama = new LlamaChild();
    // Each fill N gets a session / context of N + DECODE + 16 tokens (rounded up to 256) on both sides.
    const model = await loadModel(PATH, { threads: THREADS, contextSize: ctxFor(SEED), batchSize: BATCH });
    const ctxOpts = (n: number) => ({ contextSize: ctxFor(n), threads: THREADS, batchSize: BATCH, kv: KV });
    try {
      // The real prompt, once per side.
      const s = model.createSession({ kvType: KV });
      let t0 = performance.now();
      for (let i = 0; i < SEED; i += BATCH) await s.evaluate(prompt.slice(i, i + BATCH));
      const seedMsQ = performance.now() - t0;
      await s.save(seedQ);
      s.dispose();
      await llama.call('init', { model: PATH });
      await llama.call('context', ctxOpts(SEED));
      const seedMsL = (await llama.call('eval', { tokens: prompt })).ms as number;
      await llama.call('save', { path: seedL });
      console.log(
        `[long-context ${KV}] real ${SEED}-token prompt: quant ${tokPerS(SEED, seedMsQ).toFixed(1)} tok/s, llama.cpp ${tokPerS(SEED, seedMsL).toFixed(1)} tok/s (load ${(loadavg()[0] ?? 0).toFixed(1)})`,
      );
      // The tilers reproduce each saved file byte for byte when nothing is repeated.
      tileQuantSession(seedQ, fileQ, SEED, ctxFor(SEED));
      expect(readFileSync(fileQ).equals(readFileSync(seedQ))).toBe(true);
      tileLlamaState(seedL, fileL, SEED);
      expect(readFileSync(fileL).equals(readFileSync(seedL))).toBe(true);

      type Point = {
        fill: number;
        ours: number;
        ref: number;
        peakQ: number;
        rssQ: number;
        peakL: number;
        rssL: number;
        loadQ: number;
        loadL: number;
      };
      const points: Point[] = [];
      /** Decodes DECODE tokens on a restored quant session: ms per token. */
      const decodeOurs = async (sess: Awaited<ReturnType<typeof model.restoreSession>>) => {
        const t = performance.now();
        for (const g of gen) await sess.evaluate([g]);
        return (performance.now() - t) / DECODE;
      };
      let ourMsAtLast = 0;
      for (const fill of fills) {
        tileQuantSession(seedQ, fileQ, fill, ctxFor(fill));
        tileLlamaState(seedL, fileL, fill);
        const ctxL = await llama.call('context', ctxOpts(fill));
        expect(ctxL.contextSize).toBeGreaterThanOrEqual(fill + DECODE);
        resetPeak();
        t0 = performance.now();
        const r = await model.restoreSession(fileQ);
        const loadQ = performance.now() - t0;
        expect(r.position).toBe(fill);
        const loaded = await llama.call('load', { path: fileL });
        expect(loaded.n).toBe(fill);
        let ours = 0,
          ref = 0;
        for (const g of gen) {
          const t = performance.now();
          await r.evaluate([g]);
          ours += performance.now() - t;
          ref += (await llama.call('decode', { token: g })).ms as number;
        }
        const rl = await llama.call('rss');
        points.push({
          fill,
          ours: tokPerS(DECODE, ours),
          ref: tokPerS(DECODE, ref),
          peakQ: peakRssGiB(),
          rssQ: statusGiB('VmRSS'),
          peakL: rl.peakGiB as number,
          rssL: rl.rssGiB as number,
          loadQ,
          loadL: loaded.ms as number,
        });
        if (fill === last) ourMsAtLast = ours / DECODE;
        console.log(
          `[long-context ${KV}] fill ${fill}: quant ${tokPerS(DECODE, ours).toFixed(2)} tok/s, llama.cpp ${tokPerS(DECODE, ref).toFixed(2)} tok/s decode (load ${(loadavg()[0] ?? 0).toFixed(1)})`,
        );
        r.dispose();
        if (fill !== last) rmSync(fileQ, { force: true });
        rmSync(fileL, { force: true });
      }
      await llama.close();

      // Threads: decode at the seed and at the largest fill with 1 thread and with THREADS; the
      // difference between the two fills is the attention over the extra rows.
      const seedRestored = await model.restoreSession(seedQ);
      const msSeed = await decodeOurs(seedRestored);
      seedRestored.dispose();
      const one = await loadModel(PATH, { threads: 1, contextSize: ctxFor(SEED), batchSize: BATCH });
      let ms1Seed: number, ms1Last: number;
      try {
        const a = await one.restoreSession(seedQ);
        ms1Seed = await decodeOurs(a);
        a.dispose();
        const b = await one.restoreSession(fileQ);
        ms1Last = await decodeOurs(b);
        b.dispose();
      } finally {
        one.dispose();
      }
      const att1 = ms1Last - ms1Seed,
        attN = ourMsAtLast - msSeed;

      const lines = [
        `[long-context ${KV} cache, ${THREADS} threads, a context of fill + ${DECODE + 16} tokens (rounded up to 256) per side, caches tiled from a real ${SEED}-token state; ${machine()}]`,
        '| fill | quant decode tok/s | llama.cpp decode tok/s | ratio | quant peak / end RSS GiB | llama.cpp peak / end RSS GiB | quant restore s | llama.cpp load s |',
        '|---|---|---|---|---|---|---|---|',
        ...points.map(
          (p) =>
            `| ${p.fill} | ${p.ours.toFixed(2)} | ${p.ref.toFixed(2)} | ${(p.ours / p.ref).toFixed(2)}× | ${p.peakQ.toFixed(2)} / ${p.rssQ.toFixed(2)} | ${p.peakL.toFixed(2)} / ${p.rssL.toFixed(2)} | ${(p.loadQ / 1000).toFixed(1)} | ${(p.loadL / 1000).toFixed(1)} |`,
        ),
        `real ${SEED}-token prompt: quant ${tokPerS(SEED, seedMsQ).toFixed(1)} tok/s, llama.cpp ${tokPerS(SEED, seedMsL).toFixed(1)} tok/s`,
        `quant decode ms/token, 1 thread vs ${THREADS}: at ${SEED} ${ms1Seed.toFixed(0)} vs ${msSeed.toFixed(0)}, at ${last} ${ms1Last.toFixed(0)} vs ${ourMsAtLast.toFixed(0)}; attention over the extra ${last - SEED} rows ${att1.toFixed(0)} vs ${attN.toFixed(0)} ms/token (${(att1 / attN).toFixed(2)}× with ${THREADS} threads)`,
      ];
      console.log(lines.join('\n'));
    } finally {
      model.dispose();
      await llama.close();
      for (const f of files) rmSync(f, { force: true });
    }
  });

  it.skipIf(!REAL_FILL)(
    `real prompt fill of ${REAL_FILL} tokens on both sides, then ${DECODE} decoded (${KV} cache, ${THREADS} threads)`,
    async () => {
      await ensureFixture();
      const ctxSize = ctxFor(REAL_FILL);
      const prompt = tokens(REAL_FILL);
      const model = await loadModel(PATH, { threads: THREADS, contextSize: ctxSize, batchSize: BATCH });
      let fillQ = 0,
        decQ = 0;
      try {
        const s = model.createSession({ kvType: KV });
        let t = performance.now();
        for (let i = 0; i < REAL_FILL; i += BATCH) await s.evaluate(prompt.slice(i, i + BATCH));
        fillQ = performance.now() - t;
        t = performance.now();
        for (const g of gen) await s.evaluate([g]);
        decQ = performance.now() - t;
        s.dispose();
        console.log(
          `[long-context ${KV}] real ${REAL_FILL}-token fill: quant ${tokPerS(REAL_FILL, fillQ).toFixed(1)} tok/s, decode ${tokPerS(DECODE, decQ).toFixed(2)} tok/s (load ${(loadavg()[0] ?? 0).toFixed(1)}); llama.cpp next`,
        );
      } finally {
        model.dispose();
      }
      const llama = new LlamaChild();
      try {
        await llama.call('init', { model: PATH });
        await llama.call('context', { contextSize: ctxSize, threads: THREADS, batchSize: BATCH, kv: KV });
        const fillL = (await llama.call('eval', { tokens: prompt })).ms as number;
        let decL = 0;
        for (const g of gen) decL += (await llama.call('decode', { token: g })).ms as number;
        console.log(
          [
            `[long-context ${KV} cache, real fill, ${THREADS} threads; ${machine()}]`,
            '| fill | quant fill tok/s | llama.cpp fill tok/s | quant decode tok/s | llama.cpp decode tok/s |',
            '|---|---|---|---|---|',
            `| ${REAL_FILL} | ${tokPerS(REAL_FILL, fillQ).toFixed(1)} | ${tokPerS(REAL_FILL, fillL).toFixed(1)} | ${tokPerS(DECODE, decQ).toFixed(2)} | ${tokPerS(DECODE, decL).toFixed(2)} |`,
          ].join('\n'),
        );
      } finally {
        await llama.close();
      }
    },
  );
});
