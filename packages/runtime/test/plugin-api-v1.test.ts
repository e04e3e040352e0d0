/**
 * Plugin API 1 still works: a plugin written against the old README (one sequence per batch,
 * `ctx.pos` and `ctx.cache`, no `apiVersion`) runs, gives llama.cpp's logits, and with several
 * sessions at once the scheduler never puts two sequences in one of its forward passes. A plugin
 * that asks for an API this runtime does not know fails at registration with a clear message.
 * Also checks the API 2 hooks: onContextChange, memory() (layers without KV) and batchKey.
 */
import { llamaPlugin } from '@quant/arch-llama';
import type { Kernels } from '@quant/kernels';
import { behaviourKernels, compareLogits, oracleLogits } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ArchitecturePlugin,
  type ContextChange,
  type ForwardContext,
  loadModel,
  registerArchitecture,
  unregisterArchitecture,
} from '../src/index.js';
import { Fixtures, TINY } from './helpers/fixtures.js';

let kernels: Kernels;
let fx: Fixtures;
const prompt = [1, 300, 301, 302, 17, 99, 250];

beforeAll(async () => {
  kernels = await behaviourKernels('plugin-api-v1');
  fx = new Fixtures(kernels);
});
afterAll(() => {
  for (const n of ['llama-v1', 'llama-hooks', 'llama-future']) unregisterArchitecture(n);
  kernels?.dispose();
  fx?.cleanup();
});

interface H {
  nLayers: number;
  nEmbd: number;
  nVocab: number;
  contextLength: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  nFF: number;
  rmsEps: number;
  ropeFreqBase: number;
}

/** The Llama block as the plugin-api 1 README had plugins write it (ctx.pos, ctx.cache). */
function v1Layer(ctx: ForwardContext<H>, il: number): void {
  const { kernels: k, weights: w, hparams: h, nTokens: n, hidden: x } = ctx;
  const b = (s: string) => `blk.${il}.${s}`;
  const qDim = h.nHeads * h.headDim;
  const kvDim = h.nKvHeads * h.headDim;
  const cur = ctx.scratch('norm', n * h.nEmbd);
  k.rmsNorm(cur, x, w.vector(b('attn_norm.weight')), n, h.nEmbd, h.rmsEps);
  const q = ctx.scratch('q', n * qDim);
  const kk = ctx.scratch('k', n * kvDim);
  const v = ctx.scratch('v', n * kvDim);
  k.matmul(q, w.matrix(b('attn_q.weight')), cur, n);
  k.matmul(kk, w.matrix(b('attn_k.weight')), cur, n);
  k.matmul(v, w.matrix(b('attn_v.weight')), cur, n);
  const rope = {
    nTokens: n,
    pos: ctx.pos,
    headDim: h.headDim,
    mode: 'normal' as const,
    freqBase: h.ropeFreqBase,
  };
  k.rope(q, { ...rope, nHeads: h.nHeads });
  k.rope(kk, { ...rope, nHeads: h.nKvHeads });
  ctx.cache.store(il, ctx.pos, n, kk, v);
  const attn = ctx.scratch('attn', n * qDim);
  k.attention(attn, q, ctx.cache, il, {
    nTokens: n,
    pos: ctx.pos,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.headDim,
    flash: ctx.flashAttention,
  });
  const o = ctx.scratch('proj', n * h.nEmbd);
  k.matmul(o, w.matrix(b('attn_output.weight')), attn, n);
  k.add(x, x, o, n * h.nEmbd);
  k.rmsNorm(cur, x, w.vector(b('ffn_norm.weight')), n, h.nEmbd, h.rmsEps);
  const gate = ctx.scratch('gate', n * h.nFF);
  const up = ctx.scratch('up', n * h.nFF);
  k.matmul(gate, w.matrix(b('ffn_gate.weight')), cur, n);
  k.matmul(up, w.matrix(b('ffn_up.weight')), cur, n);
  k.swiglu(gate, gate, up, n * h.nFF);
  k.matmul(o, w.matrix(b('ffn_down.weight')), gate, n);
  k.add(x, x, o, n * h.nEmbd);
}

describe('plugin API versions', () => {
  it('a plugin-api 1 plugin (ctx.pos, ctx.cache) runs, matches llama.cpp, and gets one sequence per pass', async () => {
    const { apiVersion: _drop, batchKey: _k, ...rest } = llamaPlugin;
    const v1 = { ...rest, name: 'llama-v1', aliases: [], layer: v1Layer } as unknown as ArchitecturePlugin;
    registerArchitecture(v1);
    const path = await fx.model('v1', { ...TINY, arch: 'llama-v1' });
    const llamaPath = await fx.model('v1-as-llama', TINY);
    const model = await loadModel(path, { kernels, contextSize: 64, batchSize: 4 });
    try {
      const sessions = [model.createSession(), model.createSession(), model.createSession()];
      const all = await Promise.all(sessions.map((s) => s.evaluate(prompt, { allLogits: true })));
      expect(model.batchStats.maxSequencesInPass).toBe(1);
      const ref = await oracleLogits(llamaPath, prompt);
      for (const ours of all) {
        const c = compareLogits(ref, ours, model.hparams.nVocab);
        expect(c.maxAbsDiff).toBeLessThanOrEqual(1e-3 * c.maxAbsRef);
      }
    } finally {
      model.dispose();
    }
  });

  it('a plugin asking for an unknown API version fails at registration, saying what to do', () => {
    const future = {
      ...llamaPlugin,
      name: 'llama-future',
      aliases: [],
      apiVersion: 3,
    } as unknown as ArchitecturePlugin;
    expect(() => registerArchitecture(future)).toThrow(/plugin API 3.*versions 1 and 2/);
  });

  it('API 2 hooks: onContextChange hears truncate/reset; memory() with KV-less layers; batchKey splits passes', async () => {
    const changes: ContextChange[] = [];
    let key = 0;
    const hooks: ArchitecturePlugin = {
      ...llamaPlugin,
      name: 'llama-hooks',
      aliases: [],
      onContextChange: (_s, c) => changes.push(c),
      // every session its own key: no two share a pass
      createSessionState: (init) => ({ ...llamaPlugin.createSessionState?.(init as never), key: key++ }),
      batchKey: (s: { key: number }) => String(s.key),
      // the same KV for every layer, described explicitly
      memory: (h) => ({
        layers: Array.from({ length: h.nLayers }, () => ({ kvHeads: h.nKvHeads, headDim: h.headDim })),
      }),
    } as ArchitecturePlugin;
    registerArchitecture(hooks);
    const path = await fx.model('hooks', { ...TINY, arch: 'llama-hooks' });
    const model = await loadModel(path, { kernels, contextSize: 64 });
    try {
      const s = model.createSession();
      await s.evaluate(prompt);
      s.truncate(3);
      s.reset();
      expect(changes).toEqual([{ kind: 'truncate', length: 3 }, { kind: 'reset' }]);
      const a = model.createSession();
      const b = model.createSession();
      const before = model.batchStats.maxSequencesInPass;
      await Promise.all([a.evaluate(prompt), b.evaluate(prompt)]);
      expect(model.batchStats.maxSequencesInPass).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('memory() that mixes KV shapes is refused at load with the layers named', async () => {
    const mixed: ArchitecturePlugin = {
      ...llamaPlugin,
      name: 'llama-hooks',
      aliases: [],
      memory: (h) => ({
        layers: Array.from({ length: h.nLayers }, (_, il) => ({
          kvHeads: il === 0 ? h.nKvHeads : 1,
          headDim: h.headDim,
        })),
      }),
    } as ArchitecturePlugin;
    registerArchitecture(mixed);
    const path = await fx.model('hooks-mixed', { ...TINY, arch: 'llama-hooks' });
    await expect(loadModel(path, { kernels })).rejects.toThrow(
      /layer 1 keeps 1×16 KV but an earlier layer 2×16/,
    );
  });
});
