import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeGGUF } from '@quant/gguf';
import type { Kernels } from '@quant/kernels';
import { behaviourKernels } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoadProgress, loadModel } from '../src/index.js';
import { Fixtures, TINY } from './helpers/fixtures.js';

let kernels: Kernels;
let fx: Fixtures;
let path: string;

beforeAll(async () => {
  kernels = await behaviourKernels('load');
  fx = new Fixtures(kernels);
  path = await fx.model('tiny', TINY);
});
afterAll(() => {
  kernels?.dispose();
  fx?.cleanup();
});

describe('loadModel', () => {
  it('loads from a path and from bytes with the same result, reporting progress per tensor', async () => {
    const progress: LoadProgress[] = [];
    const a = await loadModel(path, { kernels, onProgress: (p) => progress.push(p) });
    const b = await loadModel(new Uint8Array(readFileSync(path)), { kernels });
    try {
      expect(a.architecture).toBe('llama');
      expect(a.hparams).toEqual(b.hparams);
      const prompt = [1, 300, 301, 302];
      const la = await a.createSession().evaluate(prompt);
      const lb = await b.createSession().evaluate(prompt);
      expect(Array.from(la)).toEqual(Array.from(lb));
      // 3 + 9 per layer tensors present (no biases, no rope_freqs).
      expect(progress.length).toBe(3 + 9 * TINY.nLayers);
      expect(progress.map((p) => p.loaded)).toEqual(progress.map((_, i) => i + 1));
      const last = progress.at(-1) as LoadProgress;
      expect(last.loaded).toBe(last.total);
      expect(last.loadedBytes).toBe(last.totalBytes);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('the default context is the trained length capped at 4096; options override it', async () => {
    const m = await loadModel(path, { kernels });
    expect(m.contextSize).toBe(1024);
    expect(m.createSession().contextSize).toBe(1024);
    m.dispose();
    const m2 = await loadModel(path, { kernels, contextSize: 100 });
    expect(m2.createSession().contextSize).toBe(100);
    m2.dispose();
  });

  it('a weight type the kernels cannot run fails naming the tensor and its type', async () => {
    // IQ4_NL (type 20): 32-element blocks of 18 bytes; blk.0.ffn_down.weight is 64 rows of 128.
    const bytes = new Uint8Array(64 * 4 * 18).map((_, i) => (i * 37) & 0xff);
    const p = await fx.model('iq4nl', {
      ...TINY,
      rawTensor: { name: 'blk.0.ffn_down.weight', type: 20, bytes },
    });
    const err = await loadModel(p, { kernels }).catch((e) => e);
    expect(err.code).toBe('UNSUPPORTED_TENSOR_TYPE');
    expect(err.message).toMatch(/blk\.0\.ffn_down\.weight \(IQ4_NL\).*Supported: F32, F16/);
  });

  it('rejects bad options and files without an architecture with typed errors', async () => {
    await expect(loadModel(path, { kernels, contextSize: -1 })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
    await expect(loadModel(path, { kernels, kvType: 'q4' as never })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
    await expect(loadModel(path, { kernels, flashAttention: 1 as never })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
    });
    const noArch = join(fx.dir, 'no-arch.gguf');
    await writeGGUF(noArch, { metadata: { 'general.name': 'x' }, tensors: [] });
    await expect(loadModel(noArch, { kernels })).rejects.toMatchObject({ code: 'INVALID_METADATA' });
    await expect(loadModel(join(fx.dir, 'missing.gguf'), { kernels })).rejects.toHaveProperty('code');
  });
});
