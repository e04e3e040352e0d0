/**
 * The plugin registry seen from the runtime: built-ins known by default, a third-party plugin
 * defined here (a variant architecture name mapped onto the Llama graph), and load-time errors.
 */
import { llamaPlugin } from '@quant/arch-llama';
import type { Kernels } from '@quant/kernels';
import { behaviourKernels, compareLogits, oracleLogits } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ArchitecturePlugin,
  listArchitectures,
  loadModel,
  registerArchitecture,
  TensorSpecError,
  UnknownArchitectureError,
  unregisterArchitecture,
} from '../src/index.js';
import { Fixtures, TINY } from './helpers/fixtures.js';

let kernels: Kernels;
let fx: Fixtures;
const prompt = [1, 300, 301, 302, 17, 99, 250];

beforeAll(async () => {
  kernels = await behaviourKernels('plugins');
  fx = new Fixtures(kernels);
});
afterAll(() => {
  unregisterArchitecture('tinyllama-variant');
  kernels?.dispose();
  fx?.cleanup();
});

describe('plugins', () => {
  it('knows the built-in plugins (llama with its aliases, phi3) without any import', () => {
    const all = listArchitectures();
    expect(all.find((a) => a.name === 'llama')?.aliases).toContain('mistral');
    expect(all.map((a) => a.name)).toContain('phi3');
  });

  it('runs a plugin registered by the test for a new architecture name', async () => {
    let sessionsCreated = 0;
    const variant: ArchitecturePlugin = {
      ...llamaPlugin,
      name: 'tinyllama-variant',
      aliases: [],
      description: 'test: the Llama graph under another name',
      createSessionState(init) {
        sessionsCreated++;
        return llamaPlugin.createSessionState?.(init as never);
      },
    };
    registerArchitecture(variant);
    const variantPath = await fx.model('variant', { ...TINY, arch: 'tinyllama-variant' });
    const llamaPath = await fx.model('same-as-llama', TINY);
    const model = await loadModel(variantPath, { kernels, contextSize: 64 });
    try {
      expect(model.architecture).toBe('tinyllama-variant');
      expect(model.plugin).toBe(variant);
      const s = model.createSession();
      const ours = await s.evaluate(prompt, { allLogits: true });
      expect(sessionsCreated).toBe(1);
      // llama.cpp runs the same weights written as "llama".
      const ref = await oracleLogits(llamaPath, prompt);
      const c = compareLogits(ref, ours, model.hparams.nVocab);
      expect(c.maxAbsDiff).toBeLessThanOrEqual(1e-3 * c.maxAbsRef);
    } finally {
      model.dispose();
    }
  });

  it('an unknown architecture fails with the registered list and how to add a plugin', async () => {
    const p = await fx.model('unknown', { ...TINY, arch: 'no-such-arch' });
    const err = await loadModel(p, { kernels }).catch((e) => e);
    expect(err).toBeInstanceOf(UnknownArchitectureError);
    expect(err.code).toBe('UNKNOWN_ARCHITECTURE');
    expect(err.registered).toContain('llama');
    expect(err.message).toMatch(/no-such-arch/);
    expect(err.message).toMatch(/registerArchitecture/);
  });

  it('a mis-shaped tensor fails the load naming tensor, expected and found shape', async () => {
    const p = await fx.model('bad-shape', {
      ...TINY,
      badShape: { name: 'blk.1.attn_k.weight', shape: [64, 48] },
    });
    const err = await loadModel(p, { kernels }).catch((e) => e);
    expect(err).toBeInstanceOf(TensorSpecError);
    expect(err.code).toBe('TENSOR_SHAPE_MISMATCH');
    expect(err.tensor).toBe('blk.1.attn_k.weight');
    expect(err.expected).toEqual([64, 32]);
    expect(err.found).toEqual([64, 48]);
  });

  it('a missing required tensor fails the load naming it', async () => {
    const variant: ArchitecturePlugin = {
      ...llamaPlugin,
      name: 'tinyllama-variant',
      aliases: [],
      tensors: (h, d) => [
        ...llamaPlugin.tensors(h as never, d),
        { name: 'blk.0.extra.weight', shape: [64], role: 'vector' },
      ],
    };
    registerArchitecture(variant);
    const p = await fx.model('variant2', { ...TINY, arch: 'tinyllama-variant' });
    await expect(loadModel(p, { kernels })).rejects.toMatchObject({
      code: 'MISSING_TENSOR',
      tensor: 'blk.0.extra.weight',
    });
  });

  it('missing hyperparameters fail with the metadata key', async () => {
    const variant: ArchitecturePlugin = {
      ...llamaPlugin,
      name: 'tinyllama-variant',
      aliases: [],
      readHyperparameters: (d) => ({
        ...llamaPlugin.readHyperparameters(d),
        extra: d.meta.archU32('extra_key'),
      }),
    };
    registerArchitecture(variant);
    const p = await fx.model('variant3', { ...TINY, arch: 'tinyllama-variant' });
    await expect(loadModel(p, { kernels })).rejects.toMatchObject({
      code: 'MISSING_METADATA',
      key: 'tinyllama-variant.extra_key',
    });
  });
});
