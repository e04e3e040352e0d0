/**
 * model.sessionKvBytes(): one session's KV cache size, from ggml's block sizes (f16: 2 bytes per
 * value; q8_0: 34 bytes per block of 32; q4_0: 18 per 32), for K and V of every layer and position.
 */
import type { Kernels } from '@quant/kernels';
import { behaviourKernels } from '@quant/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { Fixtures, TINY } from './helpers/fixtures.js';

let kernels: Kernels;
let fx: Fixtures;
beforeAll(async () => {
  kernels = await behaviourKernels('session-kv-bytes');
  fx = new Fixtures(kernels);
});
afterAll(() => {
  kernels?.dispose();
  fx?.cleanup();
});

it('counts K and V of every layer and position in the stored types', async () => {
  const model = await loadModel(await fx.model('kv-bytes', TINY), { kernels, contextSize: 64 });
  try {
    const { nLayers, nKvHeads, headDim } = model.hparams;
    const values = nLayers * nKvHeads * headDim; // per position, for K (and again for V)
    expect(model.sessionKvBytes()).toBe(2 * 64 * values * 2); // default f16
    expect(model.sessionKvBytes(128, 'f32')).toBe(2 * 128 * values * 4);
    expect(model.sessionKvBytes(64, { k: 'q8_0', v: 'q4_0' })).toBe(64 * (values / 32) * (34 + 18));
  } finally {
    model.dispose();
  }
});
