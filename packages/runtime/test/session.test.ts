import type { Kernels } from '@quant/kernels';
import { behaviourKernels } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContextFullError, loadModel, type Model } from '../src/index.js';
import { Fixtures, TINY } from './helpers/fixtures.js';

let kernels: Kernels;
let fx: Fixtures;
let model: Model;
const prompt = [1, 300, 301, 302, 17, 99, 250, 310, 311, 5, 6, 7, 8];

beforeAll(async () => {
  kernels = await behaviourKernels('session');
  fx = new Fixtures(kernels);
  model = await loadModel(await fx.model('tiny', TINY), { kernels, contextSize: 64, batchSize: 4 });
});
afterAll(() => {
  model?.dispose();
  kernels?.dispose();
  fx?.cleanup();
});

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
    m = Math.max(m, Math.abs(a[i] as number));
  }
  return d / m;
}

describe('Session', () => {
  it('batched prompt evaluation equals token-by-token evaluation at every position', async () => {
    const nVocab = model.hparams.nVocab;
    const s1 = model.createSession();
    const all = await s1.evaluate(prompt, { allLogits: true });
    expect(all.length).toBe(prompt.length * nVocab);
    const s2 = model.createSession();
    for (let p = 0; p < prompt.length; p++) {
      const one = await s2.evaluate([prompt[p] as number]);
      expect(maxRelDiff(one, all.subarray(p * nVocab, (p + 1) * nVocab))).toBeLessThan(1e-4);
    }
    const s3 = model.createSession();
    const last = await s3.evaluate(prompt);
    expect(maxRelDiff(last, all.subarray((prompt.length - 1) * nVocab))).toBeLessThan(1e-5);
    expect(s3.position).toBe(prompt.length);
    expect(s3.tokens).toEqual(prompt);
    for (const s of [s1, s2, s3]) s.dispose();
  });

  it('evaluates prompts through matmul in batches of batchSize tokens, not one by one', async () => {
    const sizes: number[] = [];
    const spy = new Proxy(kernels, {
      get(t, prop) {
        const v = Reflect.get(t, prop, t);
        if (prop === 'matmul')
          return (...a: Parameters<Kernels['matmul']>) => {
            sizes.push(a[3]);
            return v.apply(t, a);
          };
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const m = await loadModel(await fx.model('spy', TINY), { kernels: spy, batchSize: 4, contextSize: 64 });
    await m.createSession().evaluate(prompt); // 13 tokens
    m.dispose();
    const perLayer = 7; // q, k, v, o, gate, up, down
    expect(sizes.filter((n) => n === 4)).toHaveLength(3 * perLayer * TINY.nLayers);
    expect(sizes.filter((n) => n === 1)).toHaveLength(perLayer * TINY.nLayers + 1); // last batch + LM head
  });

  it('sessions are independent, even when their calls interleave', async () => {
    const a = model.createSession();
    const b = model.createSession();
    const [la, lb] = await Promise.all([a.evaluate(prompt), b.evaluate(prompt.slice(0, 5))]);
    const ref = model.createSession();
    expect(maxRelDiff(lb, await ref.evaluate(prompt.slice(0, 5)))).toBeLessThan(1e-6);
    ref.reset();
    expect(maxRelDiff(la, await ref.evaluate(prompt))).toBeLessThan(1e-6);
    for (const s of [a, b, ref]) s.dispose();
  });

  it('truncate() rewinds the context', async () => {
    const s = model.createSession();
    await s.evaluate(prompt);
    s.truncate(5);
    const again = await s.evaluate(prompt.slice(5));
    const fresh = model.createSession();
    expect(maxRelDiff(again, await fresh.evaluate(prompt))).toBeLessThan(1e-6);
    s.dispose();
    fresh.dispose();
  });

  it('a full context is a ContextFullError and evaluates nothing', async () => {
    const s = model.createSession({ contextSize: 8 });
    await s.evaluate(prompt.slice(0, 6));
    const err = await s.evaluate(prompt.slice(0, 3)).catch((e) => e);
    expect(err).toBeInstanceOf(ContextFullError);
    expect(err.code).toBe('CONTEXT_FULL');
    expect(err.message).toMatch(/8-token context/);
    expect(s.position).toBe(6);
    s.dispose();
  });

  it('an AbortSignal stops a long prompt between batches, keeping the finished batches', async () => {
    const s = model.createSession(); // batchSize 4
    // A signal that turns aborted once the first batch is in: the scheduler checks it between forward passes.
    const signal = {
      get aborted() {
        return s.position >= 4;
      },
      reason: 'test',
    } as AbortSignal;
    const pending = s.evaluate(prompt, { signal });
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
    expect(s.position).toBe(4);
    expect(s.tokens).toEqual(prompt.slice(0, 4));
    s.dispose();
  });

  it('rejects out-of-vocabulary ids and empty input with INVALID_TOKEN', async () => {
    const s = model.createSession();
    await expect(s.evaluate([1, model.hparams.nVocab])).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    await expect(s.evaluate([-1])).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    await expect(s.evaluate([])).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    expect(s.position).toBe(0);
    s.dispose();
  });

  it('bad session options are INVALID_OPTION', () => {
    expect(() => model.createSession({ contextSize: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    expect(() => model.createSession({ kvType: 'q8' as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    expect(() => model.createSession({ flashAttention: 'no' as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });

  it('flashAttention (default true) picks the attention path the plugin runs', async () => {
    expect(model.flashAttention).toBe(true);
    const logits = async (o: { kvType: 'f16' | 'f32'; flashAttention?: boolean }) => {
      const s = model.createSession(o);
      expect(s.flashAttention).toBe(o.flashAttention ?? true);
      try {
        return await s.evaluate(prompt, { allLogits: true });
      } finally {
        s.dispose();
      }
    };
    // f16 cache: the two llama.cpp paths round at different points — close, but not the same bits
    const on = await logits({ kvType: 'f16' });
    const off = await logits({ kvType: 'f16', flashAttention: false });
    expect(maxRelDiff(on, off)).toBeLessThan(1e-2);
    expect(Array.from(off)).not.toEqual(Array.from(on));
    // f32 cache: nothing is rounded, so both settings give identical logits
    expect(Array.from(await logits({ kvType: 'f32', flashAttention: false }))).toEqual(
      Array.from(await logits({ kvType: 'f32', flashAttention: true })),
    );
  });

  it('f32 KV cache gives (nearly) the same logits as f16', async () => {
    const a = model.createSession({ kvType: 'f32' });
    const b = model.createSession({ kvType: 'f16' });
    expect(maxRelDiff(await a.evaluate(prompt), await b.evaluate(prompt))).toBeLessThan(1e-2);
    a.dispose();
    b.dispose();
  });

  it('a disposed session or model refuses work with DISPOSED', async () => {
    const s = model.createSession();
    s.dispose();
    await expect(s.evaluate([1])).rejects.toMatchObject({ code: 'DISPOSED' });
    const m2 = await loadModel(await fx.model('tiny2', TINY), { kernels, contextSize: 16 });
    const s2 = m2.createSession();
    m2.dispose();
    expect(s2.isDisposed).toBe(true);
    expect(() => m2.createSession()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
  });
});
