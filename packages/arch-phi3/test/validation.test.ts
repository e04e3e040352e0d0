/**
 * Load-time validation: hyperparameters and tensors are checked before any weight is loaded, and
 * errors are typed, with a code, and name the key or tensor, the expected and the found values.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kernels } from '@quant/kernels';
import { MetadataError, PluginError, TensorSpecError } from '@quant/plugin-api';
import { loadModel } from '@quant/runtime';
import { behaviourKernels, type SyntheticPhi3Config, writeSyntheticPhi3 } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phi3OptionError } from '../src/index.js';

// 4 heads × 16 = 64 query dims, 2 KV heads × 16 = 32 → fused QKV has 64 + 2·32 = 128 rows.
const GOOD: SyntheticPhi3Config = {
  nEmbd: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  nFF: 96,
  weightType: 'F32',
  seed: 31,
};

let kernels: Kernels;
const dir = mkdtempSync(join(tmpdir(), 'quant-phi3-val-'));
let n = 0;
async function file(cfg: Partial<SyntheticPhi3Config>): Promise<string> {
  const p = join(dir, `m${n++}.gguf`);
  await writeSyntheticPhi3(p, { ...GOOD, ...cfg }, (t, s, r, c) => kernels.quantize(t, s, r, c));
  return p;
}
async function loadError(cfg: Partial<SyntheticPhi3Config>): Promise<Error> {
  const p = await file(cfg);
  try {
    const m = await loadModel(p, { kernels, contextSize: 64 });
    m.dispose();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected loadModel to fail');
}

beforeAll(async () => {
  kernels = await behaviourKernels('arch-phi3 validation');
});
afterAll(() => {
  kernels.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('tensor validation', () => {
  it('a good file loads, with the fused layout detected', async () => {
    const m = await loadModel(await file({}), { kernels, contextSize: 64 });
    try {
      expect(m.architecture).toBe('phi3');
      expect((m.hparams as unknown as { qkvLayout: string[] }).qkvLayout).toEqual(['fused', 'fused']);
    } finally {
      m.dispose();
    }
  });

  it('fused QKV whose width is not q_dim + 2·kv_dim names the tensor, expected and found', async () => {
    const e = await loadError({ badShape: { name: 'blk.1.attn_qkv.weight', shape: [64, 192] } });
    expect(e).toBeInstanceOf(TensorSpecError);
    expect(e).toMatchObject({
      code: 'TENSOR_SHAPE_MISMATCH',
      tensor: 'blk.1.attn_qkv.weight',
      expected: [64, 128],
      found: [64, 192],
    });
    expect(e.message).toMatch(/192 output rows.*q_dim \+ 2·kv_dim = 4·16 \+ 2·2·16 = 128/);
  });

  it('metadata that claims MHA on a GQA file is caught at the fused tensor', async () => {
    const e = await loadError({ metadata: { 'phi3.attention.head_count_kv': { type: 'u32', value: 4 } } });
    expect(e).toMatchObject({
      code: 'TENSOR_SHAPE_MISMATCH',
      tensor: 'blk.0.attn_qkv.weight',
      expected: [64, 192],
      found: [64, 128],
    });
  });

  it('fused [gate | up] whose width is not 2·feed_forward_length', async () => {
    const e = await loadError({ metadata: { 'phi3.feed_forward_length': { type: 'u32', value: 192 } } });
    expect(e).toMatchObject({
      code: 'TENSOR_SHAPE_MISMATCH',
      tensor: 'blk.0.ffn_up.weight',
      expected: [64, 384],
      found: [64, 192],
    });
    expect(e.message).toMatch(/2·feed_forward_length = 2·192 \(\[gate \| up\]\)/);
  });

  it('a missing tensor', async () => {
    const e = await loadError({ omit: ['blk.1.ffn_down.weight'] });
    expect(e).toBeInstanceOf(TensorSpecError);
    expect(e).toMatchObject({ code: 'MISSING_TENSOR', tensor: 'blk.1.ffn_down.weight', expected: [96, 64] });
  });

  it('separate Q/K/V: a K projection of the wrong width', async () => {
    const e = await loadError({
      separateQkv: true,
      badShape: { name: 'blk.0.attn_k.weight', shape: [64, 48] },
    });
    expect(e).toMatchObject({
      code: 'TENSOR_SHAPE_MISMATCH',
      tensor: 'blk.0.attn_k.weight',
      expected: [64, 32],
      found: [64, 48],
    });
  });

  it('a block without attn_qkv nor attn_q is reported as missing attn_q', async () => {
    const e = await loadError({ omit: ['blk.1.attn_qkv.weight'] });
    expect(e).toMatchObject({ code: 'MISSING_TENSOR', tensor: 'blk.1.attn_q.weight' });
  });

  it('a rope factor table of the wrong length', async () => {
    const e = await loadError({
      longRope: { originalContextLength: 32 },
      badShape: { name: 'rope_factors_long.weight', shape: [16] },
    });
    expect(e).toMatchObject({
      code: 'TENSOR_SHAPE_MISMATCH',
      tensor: 'rope_factors_long.weight',
      expected: [8],
      found: [16],
    });
  });
});

describe('hyperparameter validation', () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'head_count_kv not dividing head_count',
      { 'phi3.attention.head_count_kv': { type: 'u32', value: 3 } },
      'phi3.attention.head_count_kv',
      /divide the head count 4/,
    ],
    [
      'odd rope.dimension_count',
      { 'phi3.rope.dimension_count': { type: 'u32', value: 15 } },
      'phi3.rope.dimension_count',
      /must be even/,
    ],
    [
      'rope.dimension_count above the head size',
      { 'phi3.rope.dimension_count': { type: 'u32', value: 32 } },
      'phi3.rope.dimension_count',
      /at most the head size 16/,
    ],
    [
      'query dims ≠ embedding_length',
      {
        'phi3.attention.key_length': { type: 'u32', value: 32 },
        'phi3.attention.value_length': { type: 'u32', value: 32 },
      },
      'phi3.attention.key_length',
      /4 heads × 32 = 128 query dimensions.*embedding_length = 64/,
    ],
    [
      'negative attn_factor',
      { 'phi3.rope.scaling.attn_factor': { type: 'f32', value: -1 } },
      'phi3.rope.scaling.attn_factor',
      /must be positive/,
    ],
  ];
  for (const [label, metadata, key, re] of cases) {
    it(label, async () => {
      const e = await loadError({ metadata });
      expect(e).toBeInstanceOf(MetadataError);
      expect(e).toMatchObject({ code: 'INVALID_METADATA', key });
      expect(e.message).toMatch(re);
    });
  }

  it('a missing required key', async () => {
    const e = await loadError({ metadata: { 'phi3.attention.layer_norm_rms_epsilon': undefined } });
    expect(e).toMatchObject({ code: 'MISSING_METADATA', key: 'phi3.attention.layer_norm_rms_epsilon' });
  });

  it('YaRN scaling (needs ext_factor, which phi3 files do not use) is refused', async () => {
    const e = await loadError({ metadata: { 'phi3.rope.scaling.type': 'yarn' } });
    expect(e).toBeInstanceOf(PluginError);
    expect(e).toMatchObject({ code: 'UNSUPPORTED_MODEL' });
    expect(e.message).toMatch(/"yarn".*supported: none, linear, longrope/);
  });

  it('mixture-of-experts metadata is refused', async () => {
    const e = await loadError({ metadata: { 'phi3.expert_count': { type: 'u32', value: 16 } } });
    expect(e).toMatchObject({ code: 'UNSUPPORTED_MODEL' });
  });
});

describe('architecture options', () => {
  let path: string;
  beforeAll(async () => {
    path = await file({ slidingWindow: 8 });
  });
  const sessionError = async (opts: Record<string, unknown>) => {
    const m = await loadModel(path, { kernels, contextSize: 64 });
    try {
      m.createSession({ architectureOptions: opts }).dispose();
    } catch (e) {
      return e as Error;
    } finally {
      m.dispose();
    }
    throw new Error('expected createSession to fail');
  };

  it('an unknown option names itself and the accepted ones', async () => {
    const e = await sessionError({ slidingWindows: false });
    expect(e).toBeInstanceOf(Phi3OptionError);
    expect(e).toMatchObject({ code: 'INVALID_OPTION', option: 'slidingWindows' });
    expect(e.message).toMatch(/accepts: slidingWindow/);
  });

  for (const bad of [0, -4, 2.5, 'yes', null]) {
    it(`slidingWindow: ${JSON.stringify(bad)} is refused`, async () => {
      const e = await sessionError({ slidingWindow: bad });
      expect(e).toMatchObject({ code: 'INVALID_OPTION', option: 'slidingWindow' });
      expect(e.message).toMatch(/true \(the file's window, 8\), false \(no window\) or a positive integer/);
    });
  }
});
