/**
 * kernels.run(): a sequence of ops recorded and executed as one unit (native: by the C library on a
 * libuv worker thread; wasm: inline, then one macrotask). The reference for every result is the
 * same ops called synchronously on the same backend (bit-identical: run() must not change what the
 * kernels compute); the error, busy and lifetime rules are the contract in src/types.ts.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type F32Buffer, KernelError, type Kernels, type KVCache, type Weight } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectExact, load, randBytes, randn } from './helpers';

/** A full garbage collection, if this V8 lets us expose it (global.gc, or --expose-gc set late). */
const gc: (() => void) | undefined = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();
if (!gc)
  console.warn('[kernels tests] run.test: no way to trigger GC; the keep-alive tests only check results');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof KernelError)) throw new Error(`expected a KernelError, got ${String(e)}`);
    return e.code;
  }
  throw new Error('expected a KernelError, nothing was thrown');
}

// A two-layer llama-style block with the op mix of a real forward pass.
const D = 256; // model width (a multiple of 256 for the K-quants)
const H = 4; // query heads
const KVH = 2; // KV heads
const HD = 64; // head size
const KVD = KVH * HD;
const FF = 512;
const VOCAB = 40;
const Q4_K = 12,
  Q6_K = 14,
  Q8_0 = 8,
  F16 = 1,
  BF16 = 30,
  Q5_K = 13,
  Q4_0 = 2,
  F32 = 0;

interface Model {
  emb: Weight;
  wq: Weight;
  wkv: Weight;
  wo: Weight;
  wg: Weight;
  wu: Weight;
  wd: Weight;
  wgu: Weight;
  norm: F32Buffer;
  bias: F32Buffer;
  factors: Float32Array;
}

function makeModel(k: Kernels): Model {
  const w = (type: number, rows: number, cols: number, seed: number) =>
    k.weight(type, rows, cols, k.quantize(type, randn(rows * cols, seed, 0.05), rows, cols));
  const norm = k.f32(D);
  norm.write(randn(D, 7, 1).map((v) => 1 + 0.1 * v));
  const bias = k.f32(D);
  bias.write(randn(D, 8, 0.1));
  return {
    emb: w(Q8_0, VOCAB, D, 1),
    wq: w(Q4_K, D, D, 2),
    wkv: w(Q6_K, 2 * KVD, D, 3),
    wo: w(Q8_0, D, D, 4),
    wg: w(F16, FF, D, 5),
    wu: w(BF16, FF, D, 6),
    wd: w(Q4_0, D, FF, 9),
    wgu: w(Q5_K, 2 * FF, D, 10),
    norm,
    bias,
    factors: Float32Array.from({ length: HD / 2 }, (_, i) => 1 + i / 16),
  };
}

interface State {
  h: F32Buffer;
  caches: KVCache[];
  /** Every intermediate, to compare all of them. */
  bufs: F32Buffer[];
}

function makeState(k: Kernels): State {
  return {
    h: k.f32(8 * D),
    caches: [
      k.kvCache({ layers: 1, contextSize: 16, kvHeads: KVH, headDim: HD, type: 'f16' }),
      k.kvCache({ layers: 2, contextSize: 16, kvHeads: KVH, headDim: HD, type: 'f32' }),
    ],
    bufs: [],
  };
}

/** One forward step of `ids` at position `pos`: issues ~40 ops (buffers made on the fly). */
function step(k: Kernels, m: Model, s: State, ids: number[], pos: number): void {
  const T = ids.length;
  const f = (n: number) => {
    const b = k.f32(n);
    s.bufs.push(b);
    return b;
  };
  k.getRows(s.h, m.emb, ids);
  for (let layer = 0; layer < 2; layer++) {
    const xn = f(T * D);
    k.rmsNorm(xn, s.h, m.norm, T, D, 1e-5);
    const q = f(T * D);
    k.matmul(q, m.wq, xn, T);
    const kv = f(T * 2 * KVD);
    k.matmul(kv, m.wkv, xn, T);
    const kb = f(T * KVD);
    const vb = f(T * KVD);
    k.copyRows(kb, 0, KVD, kv, 0, 2 * KVD, T, KVD);
    k.copyRows(vb, 0, KVD, kv, KVD, 2 * KVD, T, KVD);
    k.rope(q, {
      nTokens: T,
      pos,
      nHeads: H,
      headDim: HD,
      mode: 'neox',
      freqBase: 10000,
      freqFactors: m.factors,
    });
    k.rope(kb, {
      nTokens: T,
      pos,
      nHeads: KVH,
      headDim: HD,
      mode: 'neox',
      freqBase: 10000,
      freqFactors: m.factors,
    });
    const att = f(T * D);
    if (layer === 0) {
      s.caches[0]?.store(0, pos, T, kb, vb);
      k.attention(att, q, s.caches[0] as KVCache, 0, {
        nTokens: T,
        pos,
        nHeads: H,
        nKvHeads: KVH,
        headDim: HD,
      });
      const att2 = f(T * D);
      k.attention(att2, q, s.caches[0] as KVCache, 0, {
        nTokens: T,
        pos,
        nHeads: H,
        nKvHeads: KVH,
        headDim: HD,
        flash: false,
      });
      k.add(att, att, att2, T * D);
    } else {
      s.caches[1]?.store(1, pos, T, kb, vb);
      k.attention(att, q, s.caches[1] as KVCache, 1, {
        nTokens: T,
        pos,
        nHeads: H,
        nKvHeads: KVH,
        headDim: HD,
        window: 3,
      });
    }
    const o = f(T * D);
    k.matmul(o, m.wo, att, T);
    k.add(s.h, s.h, o, T * D);
    k.rmsNorm(xn, s.h, m.norm, T, D, 1e-5);
    const gate = f(T * FF);
    const up = f(T * FF);
    k.matmul(gate, m.wg, xn, T);
    k.matmul(up, m.wu, xn, T);
    k.swiglu(gate, gate, up, T * FF);
    const gu = f(T * 2 * FF);
    k.matmul(gu, m.wgu, xn, T);
    const act2 = f(T * FF);
    k.swigluFused(act2, gu, T, FF);
    k.mul(act2, act2, gate, T * FF);
    k.silu(act2, T * FF);
    k.add(gate, gate, act2, T * FF);
    const down = f(T * D);
    k.matmul(down, m.wd, gate, T);
    k.scale(down, 0.5, T * D);
    k.addBias(down, m.bias, T, D);
    k.add(s.h, s.h, down, T * D);
  }
  const probs = f(T * D);
  k.copyRows(probs, 0, D, s.h, 0, D, T, D);
  k.softmax(probs, T, D);
}

function snapshot(s: State): Float32Array[] {
  return [s.h.read(), ...s.bufs.map((b) => b.read())];
}

for (const b of BACKENDS.filter((x) => x.name === 'native' || x.name === 'wasm')) {
  const native = b.name === 'native';
  describe.skipIf(!b.available)(`run() [${b.name}]`, () => {
    let k: Kernels;
    let m: Model;
    beforeAll(async () => {
      k = await load(b);
      m = makeModel(k);
    });
    afterAll(() => k?.dispose());

    it('a forward sequence run via run() is bit-identical to the same ops called synchronously', async () => {
      const prompt = [3, 17, 5, 39, 0];
      const sync = makeState(k);
      step(k, m, sync, prompt, 0);
      const syncPrefill = snapshot(sync);
      sync.bufs = [];
      step(k, m, sync, [11], prompt.length);
      const syncDecode = snapshot(sync);

      const viaRun = makeState(k);
      const p = k.run(() => step(k, m, viaRun, prompt, 0));
      expect(k.busy).toBe(true);
      await p;
      expect(k.busy).toBe(false);
      const runPrefill = snapshot(viaRun);
      viaRun.bufs = [];
      await k.run(() => step(k, m, viaRun, [11], prompt.length));
      const runDecode = snapshot(viaRun);

      expect(runPrefill.length).toBe(syncPrefill.length);
      for (let i = 0; i < syncPrefill.length; i++)
        expectExact(runPrefill[i] as Float32Array, syncPrefill[i] as Float32Array, `prefill buffer ${i}`);
      for (let i = 0; i < syncDecode.length; i++)
        expectExact(runDecode[i] as Float32Array, syncDecode[i] as Float32Array, `decode buffer ${i}`);
      // the sequence did compute something (not all zeros, no NaN)
      expect(syncDecode[0]?.some((v) => v !== 0)).toBe(true);
      expect(syncDecode[0]?.every(Number.isFinite)).toBe(true);
    });

    it('calls to run() are serialized: queued runs start after the previous settles, in order', async () => {
      const prompt = [1, 2, 3];
      const ref = makeState(k);
      step(k, m, ref, prompt, 0);
      const want = snapshot(ref);
      const order: string[] = [];
      const a = makeState(k);
      const c = makeState(k);
      const pa = k.run(() => {
        order.push('record a');
        step(k, m, a, prompt, 0);
      });
      const pc = k.run(() => {
        order.push('record c');
        step(k, m, c, prompt, 0);
      });
      expect(order).toEqual(['record a']);
      await pa;
      order.push('a settled');
      await pc;
      expect(order).toEqual(['record a', 'record c', 'a settled']);
      const got = [snapshot(a), snapshot(c)];
      for (const g of got)
        for (let i = 0; i < want.length; i++) expectExact(g[i] as Float32Array, want[i] as Float32Array);
    });

    it('awaiting run() yields to the event loop', async () => {
      let fired = false;
      setImmediate(() => {
        fired = true;
      });
      const x = k.f32(64);
      await k.run(() => k.scale(x, 2, 64));
      // wasm resolves after one macrotask; native after a libuv worker finished (several turns)
      if (!native) expect(fired).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(fired).toBe(true);
    });

    it('while recording, reads, value ops, weight creation, setThreads and nested run() throw RECORDING', async () => {
      const x = k.f32(2 * D);
      x.write(randn(2 * D, 21));
      const before = x.read();
      const out = k.f32(2 * D);
      const codes: Record<string, string> = {};
      await k.run(() => {
        k.scale(x, 3, 2 * D);
        codes.view = codeOf(() => x.view());
        codes.read = codeOf(() => x.read());
        codes.write = codeOf(() => out.write([1]));
        codes.argmax = codeOf(() => k.argmax(x, 4));
        codes.dequantize = codeOf(() => k.dequantize(F32, new Uint8Array(16), 4));
        codes.quantize = codeOf(() => k.quantize(Q8_0, new Float32Array(32), 1, 32));
        codes.weight = codeOf(() => k.weight(F32, 1, 4, new Uint8Array(16)));
        codes.setThreads = codeOf(() => k.setThreads(1));
        codes.measureReadBandwidth = codeOf(() =>
          (k as unknown as { measureReadBandwidth(b: number): number }).measureReadBandwidth(4096),
        );
        codes.run = codeOf(() => k.run(() => {}));
        // allowed while recording: new buffers and caches
        const t = k.f32(8);
        k.kvCache({ layers: 1, contextSize: 4, kvHeads: 1, headDim: 4, type: 'f32' }).dispose();
        k.add(t, t, t, 8);
        k.copyRows(out, 0, D, x, 0, D, 2, D);
      });
      for (const [what, c] of Object.entries(codes)) expect(c, what).toBe('RECORDING');
      try {
        await k.run(() => x.read());
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(KernelError);
        expect((e as KernelError).code).toBe('RECORDING');
        expect((e as KernelError).message).toMatch(/not available until run\(\) settles/);
      }
      expectExact(
        out.read(),
        before.map((v) => Math.fround(v * 3)),
        'the ops recorded around the refused calls ran',
      );
    });

    it('while a run executes, ops and views of its buffers throw BUSY; other buffers stay usable', async () => {
      const x = k.f32(4 * D);
      x.write(randn(4 * D, 31));
      const out = k.f32(4 * D);
      const other = k.f32(16);
      other.write([1, 2, 3]);
      const p = k.run(() => k.matmul(out, m.wq, x, 4));
      expect(k.busy).toBe(true);
      expect(codeOf(() => out.read())).toBe('BUSY');
      expect(codeOf(() => out.view())).toBe('BUSY');
      expect(codeOf(() => x.write([1]))).toBe('BUSY');
      expect(codeOf(() => k.add(other, other, other, 4))).toBe('BUSY');
      expect(codeOf(() => m.wq && k.matmul(out, m.wq, x, 4))).toBe('BUSY');
      expect(codeOf(() => k.argmax(other, 4))).toBe('BUSY');
      expect(codeOf(() => k.dequantize(F32, new Uint8Array(16), 4))).toBe('BUSY');
      expect(codeOf(() => k.setThreads(1))).toBe('BUSY');
      expect(
        codeOf(() =>
          (k.kvCache({ layers: 1, contextSize: 4, kvHeads: 1, headDim: 4, type: 'f32' }) as KVCache).shift(
            0,
            1,
            1,
          ),
        ),
      ).toBe('BUSY');
      expect(Array.from(other.read(0, 3))).toEqual([1, 2, 3]);
      const fresh = k.f32(4);
      fresh.write([5]);
      await p;
      expect(k.busy).toBe(false);
      const ref = k.f32(4 * D);
      k.matmul(ref, m.wq, x, 4);
      expectExact(out.read(), ref.read());
    });

    it(
      'a validation error inside record rejects the run' + (native ? ' and nothing executes' : ''),
      async () => {
        const a = k.f32(8);
        a.write([1, 2, 3, 4, 5, 6, 7, 8]);
        const small = k.f32(4);
        const err = await k
          .run(() => {
            k.scale(a, 2, 8);
            k.add(small, a, a, 8); // small holds 4 floats: OUT_OF_BOUNDS
          })
          .catch((e) => e);
        expect(err).toBeInstanceOf(KernelError);
        expect(err.code).toBe('OUT_OF_BOUNDS');
        expect(k.busy).toBe(false);
        // native recorded scale() but never ran it; wasm ran it inline before add() failed
        expect(Array.from(a.read())).toEqual(
          native ? [1, 2, 3, 4, 5, 6, 7, 8] : [2, 4, 6, 8, 10, 12, 14, 16],
        );
        // the instance is usable afterwards
        await k.run(() => k.scale(a, 2, 8));
        expect(a.read()[0]).toBe(native ? 2 : 4);
      },
    );

    it('a record callback that returns a promise is refused', async () => {
      const a = k.f32(4);
      await expect(k.run((async () => {}) as unknown as () => void)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      await k.run(() => k.scale(a, 1, 4));
    });

    it('disposal during a run is deferred: the run completes with the memory, the objects count as disposed', async () => {
      const T = 3;
      const xData = randn(T * D, 41);
      const wBytes = k.quantize(Q8_0, randn(D * D, 42, 0.05), D, D);
      // reference, synchronously
      const wRef = k.weight(Q8_0, D, D, wBytes.slice());
      const xRef = k.f32(T * D);
      xRef.write(xData);
      const ref = k.f32(T * D);
      k.matmul(ref, wRef, xRef, T);
      const cacheRef = k.kvCache({ layers: 1, contextSize: 8, kvHeads: KVH, headDim: HD, type: 'f16' });
      const kv = k.f32(T * KVD);
      kv.write(randn(T * KVD, 43));
      cacheRef.store(0, 0, T, kv, kv);
      const attRef = k.f32(T * D);
      k.attention(attRef, ref, cacheRef, 0, { nTokens: T, pos: 0, nHeads: H, nKvHeads: KVH, headDim: HD });

      let w: Weight | undefined = k.weight(Q8_0, D, D, wBytes.slice());
      let x: F32Buffer | undefined = k.f32(T * D);
      x.write(xData);
      const cache = k.kvCache({ layers: 1, contextSize: 8, kvHeads: KVH, headDim: HD, type: 'f16' });
      const out = k.f32(T * D);
      const att = k.f32(T * D);
      const p = k.run(() => {
        k.matmul(out, w as Weight, x as F32Buffer, T);
        cache.store(0, 0, T, kv, kv);
        k.attention(att, out, cache, 0, { nTokens: T, pos: 0, nHeads: H, nKvHeads: KVH, headDim: HD });
      });
      w.dispose();
      x.dispose();
      cache.dispose();
      expect(w.disposed && x.disposed && cache.disposed).toBe(true);
      expect(codeOf(() => (x as F32Buffer).read())).toBe('DISPOSED');
      w = undefined;
      x = undefined;
      gc?.();
      await p;
      expectExact(out.read(), ref.read(), 'matmul with a weight and input disposed during the run');
      expectExact(att.read(), attRef.read(), 'attention over a cache disposed during the run');
    });

    it('kernels.dispose() during a run waits for it; queued runs reject with DISPOSED', async () => {
      const k2 = await load(b);
      const x = k2.f32(64);
      x.write(randn(64, 51));
      const w = k2.weight(F32, 64, 64, new Uint8Array(randn(64 * 64, 52).buffer));
      const out = k2.f32(64);
      const first = k2.run(() => {
        for (let i = 0; i < 20; i++) k2.matmul(out, w, x, 1);
      });
      const queued = k2.run(() => k2.scale(x, 2, 64));
      k2.dispose();
      expect(codeOf(() => k2.f32(4))).toBe('DISPOSED');
      await expect(first).resolves.toBeUndefined();
      await expect(queued).rejects.toMatchObject({ code: 'DISPOSED' });
      await expect(k2.run(() => {})).rejects.toMatchObject({ code: 'DISPOSED' });
      expect(k2.busy).toBe(false);
    });

    it('buffers and pinned ids whose only reference is the command list stay alive until the run completes', async () => {
      const T = 4;
      const N = T * D;
      const x = k.f32(N);
      x.write(randn(N, 61));
      const ids = Array.from({ length: 300 }, (_, i) => 1 + ((i * 7) % (VOCAB - 1)));
      // reference
      const tmpRef = k.f32(N);
      k.matmul(tmpRef, m.wo, x, T);
      const ref = k.f32(N);
      k.add(ref, tmpRef, tmpRef, N);
      const rowsRef = k.f32(ids.length * D);
      k.getRows(rowsRef, m.emb, ids);

      const out = k.f32(N);
      const rows = k.f32(ids.length * D);
      let probes: Float32Array[] = [];
      let idProbes: Int32Array[] = [];
      await k.run(() => {
        // tmp: created here, disposed here: only the command list references its memory
        const tmp = k.f32(N);
        k.matmul(tmp, m.wo, x, T);
        k.add(out, tmp, tmp, N);
        tmp.dispose();
        k.getRows(rows, m.emb, ids); // pins an Int32Array copy of ids
        gc?.();
        gc?.();
        // same-sized allocations that would reuse freed memory
        probes = Array.from({ length: 32 }, () => new Float32Array(N).fill(7));
        idProbes = Array.from({ length: 32 }, () => new Int32Array(ids.length));
      });
      expectExact(out.read(), ref.read(), 'out');
      expectExact(rows.read(), rowsRef.read(), 'getRows');
      for (const p of probes) expect(p.every((v) => v === 7)).toBe(true);
      for (const p of idProbes) expect(p.every((v) => v === 0)).toBe(true);
    });

    if (native) {
      it('a C error rejects run() with the KernelError of the op, naming it and its position; later ops do not run', async () => {
        const a = k.f32(4);
        const c = k.f32(4);
        a.write([1, 2, 3, 4]);
        c.write([1, 2, 3, 4]);
        const raw = (k as unknown as { host: { raw: { getRows(...a: number[]): number } } }).host.raw;
        const err = await k
          .run(() => {
            k.scale(a, 2, 4);
            raw.getRows(0, 99, 1, 32, 0, 1, 0); // type 99: qk_get_rows returns -1 without reading
            k.scale(c, 2, 4);
          })
          .catch((e) => e);
        expect(err).toBeInstanceOf(KernelError);
        expect(err.code).toBe('INTERNAL');
        expect(err.message).toMatch(/getRows: C returned -1 \(command 2 of 3 in kernels\.run\(\)\)/);
        expect(Array.from(a.read())).toEqual([2, 4, 6, 8]);
        expect(Array.from(c.read())).toEqual([1, 2, 3, 4]);
        // the same raw call made synchronously: the facade would see -1 too
        expect(raw.getRows(0, 99, 1, 32, 0, 1, 0)).toBe(-1);
        await k.run(() => k.scale(c, 2, 4));
        expect(Array.from(c.read())).toEqual([2, 4, 6, 8]);
      });

      it('in C, a context running a command list refuses its pool users, setThreads, destroyContext and a second list', async () => {
        const { loadNativeBinding } = await import('../src/native-host');
        const raw = loadNativeBinding();
        const ctx = raw.createContext(2, 0);
        const table = raw.opTable();
        const op = (name: string) => table.findIndex(([n]) => n === name);
        const n = 256;
        const T = 64;
        const w = new Float32Array(n * n).fill(0.25);
        const x = new Float32Array(T * n).fill(1);
        const out = new Float32Array(T * n);
        const mm = [ctx, raw.addressOf(out), raw.addressOf(w), F32, n, n, raw.addressOf(x), T] as const;
        const cmds: number[] = [];
        for (let i = 0; i < 50; i++) cmds.push(op('matmul'), ...mm);
        const p = raw.exec?.(ctx, Float64Array.from(cmds), 50);
        expect(() => raw.matmul(...mm)).toThrow(
          /matmul: a command list \(kernels\.run\(\)\) is running on this context/,
        );
        expect(() => raw.setThreads(ctx, 1)).toThrow(/running on this context/);
        expect(() => raw.destroyContext(ctx)).toThrow(/running on this context/);
        expect(() => raw.exec?.(ctx, new Float64Array(0), 0)).toThrow(/running on this context/);
        expect(await p).toBeUndefined();
        expect(out[0]).toBe(64); // 256 × 0.25, exact in f32
        expect(out[T * n - 1]).toBe(64);
        // malformed lists are refused before anything runs
        expect(() => raw.exec?.(ctx, Float64Array.from([999]), 1)).toThrow(/command 0 is malformed/);
        expect(() => raw.exec?.(ctx, Float64Array.from([op('matmul'), ctx + 64, ...mm.slice(1)]), 1)).toThrow(
          /malformed/,
        );
        expect(() => raw.exec?.(ctx, Float64Array.from([op('argmax'), raw.addressOf(out), 4]), 1)).toThrow(
          /malformed/,
        );
        expect(() => raw.exec?.(ctx, Float64Array.from([op('matmul'), ctx]), 1)).toThrow(/malformed/);
        // idle again: synchronous ops and destroy work
        expect(raw.matmul(...mm)).toBe(0);
        raw.destroyContext(ctx);
      });

      it('the event loop keeps turning while a long run executes on the C thread pool', async () => {
        const rows = 2048,
          cols = 2048,
          T = 32;
        // random Q8_0 blocks with small finite f16 scales (0x2000..0x23ff)
        const bytes = randBytes((rows * cols * 34) / 32, 71);
        for (let i = 0; i < bytes.length; i += 34) bytes[i + 1] = 0x20 | ((bytes[i + 1] as number) & 3);
        const w = k.weight(Q8_0, rows, cols, bytes);
        const x = k.f32(T * cols);
        x.write(randn(T * cols, 72));
        const out = k.f32(T * rows);
        let ticksWhileBusy = 0;
        let ticks = 0;
        const timer = setInterval(() => {
          ticks++;
          if (k.busy) ticksWhileBusy++;
        }, 2);
        const t0 = performance.now();
        await k.run(() => {
          for (let i = 0; i < 40; i++) k.matmul(out, w, x, T);
        });
        const ms = performance.now() - t0;
        clearInterval(timer);
        // a blocking implementation lets the timer fire at most once before the promise settles
        expect(ticksWhileBusy, `${ticks} ticks in ${ms.toFixed(0)} ms`).toBeGreaterThanOrEqual(3);
        const ref = k.f32(T * rows);
        k.matmul(ref, w, x, T);
        expectExact(out.read(), ref.read());
        w.dispose();
      });
    }
  });
}
