// llama-quantize's mix rules on model shapes with no data. Expected types are written out by hand
// from the rules in llama.cpp's src/llama-quant.cpp (llama_tensor_get_type), not computed.
import {
  formatPlan,
  type ModelFacts,
  type PlanTensorInput,
  planTensors,
  QuantizeError,
} from '@quant/quantize';
import { describe, expect, it } from 'vitest';

const F32 = 0;
const F16 = 1;

function phi35mini(): { facts: ModelFacts; tensors: PlanTensorInput[] } {
  const d = 3072;
  const ff = 8192;
  const vocab = 32064;
  const tensors: PlanTensorInput[] = [
    { name: 'token_embd.weight', type: F16, shape: [d, vocab] },
    { name: 'output_norm.weight', type: F32, shape: [d] },
    { name: 'output.weight', type: F16, shape: [d, vocab] },
    { name: 'rope_factors_long.weight', type: F32, shape: [48] },
    { name: 'rope_factors_short.weight', type: F32, shape: [48] },
  ];
  for (let i = 0; i < 32; i++) {
    tensors.push(
      { name: `blk.${i}.attn_norm.weight`, type: F32, shape: [d] },
      { name: `blk.${i}.attn_qkv.weight`, type: F16, shape: [d, 3 * d] },
      { name: `blk.${i}.attn_output.weight`, type: F16, shape: [d, d] },
      { name: `blk.${i}.ffn_norm.weight`, type: F32, shape: [d] },
      { name: `blk.${i}.ffn_up.weight`, type: F16, shape: [d, 2 * ff] },
      { name: `blk.${i}.ffn_down.weight`, type: F16, shape: [ff, d] },
    );
  }
  return { facts: { arch: 'phi3', nLayer: 32, nHead: 32, nHeadKv: 32, nExpert: 0, is70B: false }, tensors };
}

/** Layers 0–3 and 28–31 (first/last eighth) and every third from 6 (use_more_bits for 32 layers). */
const MORE_BITS_32 = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31];

function typesOf(plan: ReturnType<typeof planTensors>): Record<string, string> {
  return Object.fromEntries(plan.tensors.map((t) => [t.name, t.targetTypeName]));
}

describe('Phi-3.5-mini-shaped F16 model', () => {
  const { facts, tensors } = phi35mini();

  it('Q4_K_M: output Q6_K, fused qkv Q5_K, ffn_down Q6_K on the use_more_bits layers', () => {
    const t = typesOf(planTensors(facts, tensors, { type: 'Q4_K_M' }));
    expect(t['token_embd.weight']).toBe('Q4_K');
    expect(t['output.weight']).toBe('Q6_K');
    expect(t['output_norm.weight']).toBe('F32');
    expect(t['rope_factors_long.weight']).toBe('F32');
    for (let i = 0; i < 32; i++) {
      expect(t[`blk.${i}.attn_qkv.weight`]).toBe('Q5_K');
      expect(t[`blk.${i}.attn_output.weight`]).toBe('Q4_K');
      expect(t[`blk.${i}.ffn_up.weight`]).toBe('Q4_K');
      expect(t[`blk.${i}.ffn_down.weight`], `layer ${i}`).toBe(MORE_BITS_32.includes(i) ? 'Q6_K' : 'Q4_K');
      expect(t[`blk.${i}.attn_norm.weight`]).toBe('F32');
    }
  });

  it('Q5_K_M: fused qkv Q6_K, ffn_down Q6_K on the use_more_bits layers, rest Q5_K', () => {
    const t = typesOf(planTensors(facts, tensors, { type: 'Q5_K_M' }));
    expect(t['output.weight']).toBe('Q6_K');
    expect(t['token_embd.weight']).toBe('Q5_K');
    for (let i = 0; i < 32; i++) {
      expect(t[`blk.${i}.attn_qkv.weight`]).toBe('Q6_K');
      expect(t[`blk.${i}.ffn_down.weight`]).toBe(MORE_BITS_32.includes(i) ? 'Q6_K' : 'Q5_K');
      expect(t[`blk.${i}.ffn_up.weight`]).toBe('Q5_K');
    }
  });

  it('Q4_K_S: ffn_down Q5_K in the first eighth of layers only', () => {
    const t = typesOf(planTensors(facts, tensors, { type: 'Q4_K_S' }));
    for (let i = 0; i < 32; i++) {
      expect(t[`blk.${i}.ffn_down.weight`]).toBe(i < 4 ? 'Q5_K' : 'Q4_K');
      expect(t[`blk.${i}.attn_qkv.weight`]).toBe('Q4_K');
    }
    expect(t['output.weight']).toBe('Q6_K');
  });

  it('Q5_K_S, Q6_K, Q8_0, Q4_0: one type except the output', () => {
    const cases = [
      ['Q5_K_S', 'Q5_K', 'Q6_K'],
      ['Q6_K', 'Q6_K', 'Q6_K'],
      ['Q8_0', 'Q8_0', 'Q8_0'],
      ['Q4_0', 'Q4_0', 'Q6_K'],
    ] as const;
    for (const [mix, body, out] of cases) {
      const t = typesOf(planTensors(facts, tensors, { type: mix }));
      expect(t['output.weight'], mix).toBe(out);
      expect(t['token_embd.weight'], mix).toBe(body);
      expect(t['blk.7.ffn_down.weight'], mix).toBe(body);
      expect(t['blk.0.attn_qkv.weight'], mix).toBe(body);
      expect(t['blk.0.ffn_norm.weight'], mix).toBe('F32');
    }
  });

  it('--pure: the default type everywhere, output included; 1-D tensors stay', () => {
    const plan = planTensors(facts, tensors, { type: 'Q4_K_M', pure: true });
    for (const p of plan.tensors)
      expect(p.targetTypeName, p.name).toBe(p.shape.length === 1 ? 'F32' : 'Q4_K');
  });

  it('accepts the mix name in any case, as llama-quantize does', () => {
    expect(planTensors(facts, tensors, { type: 'q4_k_m' as never }).fileType).toBe('Q4_K_M');
  });

  it('reports sizes and prints a dry-run table', () => {
    const plan = planTensors(facts, tensors, { type: 'Q4_K_M' });
    expect(plan.ftype).toBe(15);
    expect(plan.sourceBytes).toBeGreaterThan(7.5e9);
    expect(plan.targetBytes / plan.sourceBytes).toBeGreaterThan(0.28);
    expect(plan.targetBytes / plan.sourceBytes).toBeLessThan(0.33);
    const text = formatPlan(plan);
    expect(text).toContain('blk.6.ffn_down.weight');
    expect(text.split('\n')).toHaveLength(plan.tensors.length + 1);
  });
});

describe('separate attn_v (llama layout, 8 layers)', () => {
  const facts: ModelFacts = { arch: 'llama', nLayer: 8, nHead: 8, nHeadKv: 8, nExpert: 0, is70B: false };
  const tensors: PlanTensorInput[] = [];
  for (let i = 0; i < 8; i++) {
    for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up'])
      tensors.push({ name: `blk.${i}.${n}.weight`, type: F16, shape: [256, 256] });
    tensors.push({ name: `blk.${i}.ffn_down.weight`, type: F16, shape: [512, 256] });
  }
  tensors.push({ name: 'token_embd.weight', type: F16, shape: [256, 1000] });

  it('Q4_K_M: attn_v and ffn_down Q6_K on layers 0, 3, 6, 7', () => {
    const t = typesOf(planTensors(facts, tensors, { type: 'Q4_K_M' }));
    for (let i = 0; i < 8; i++) {
      const more = [0, 3, 6, 7].includes(i);
      expect(t[`blk.${i}.attn_v.weight`], `layer ${i}`).toBe(more ? 'Q6_K' : 'Q4_K');
      expect(t[`blk.${i}.ffn_down.weight`], `layer ${i}`).toBe(more ? 'Q6_K' : 'Q4_K');
      expect(t[`blk.${i}.attn_k.weight`]).toBe('Q4_K');
    }
  });

  it('Q4_K_S: attn_v Q5_K in the first four layers, ffn_down Q5_K in the first', () => {
    const t = typesOf(planTensors(facts, tensors, { type: 'Q4_K_S' }));
    for (let i = 0; i < 8; i++) {
      expect(t[`blk.${i}.attn_v.weight`]).toBe(i < 4 ? 'Q5_K' : 'Q4_K');
      expect(t[`blk.${i}.ffn_down.weight`]).toBe(i < 1 ? 'Q5_K' : 'Q4_K');
    }
  });

  it('tied embeddings: without output.weight, token_embd takes the output rule (Q6_K)', () => {
    const t = typesOf(planTensors(facts, tensors, { type: 'Q4_K_M' }));
    expect(t['token_embd.weight']).toBe('Q6_K');
  });

  it('70B-style models raise Q4_K attn_v to Q5_K; 8-expert models put attn_v/attn_k on Q8_0', () => {
    const t70 = typesOf(planTensors({ ...facts, is70B: true }, tensors, { type: 'Q4_K_S' }));
    expect(t70['blk.5.attn_v.weight']).toBe('Q5_K');
    const moe = typesOf(planTensors({ ...facts, nExpert: 8 }, tensors, { type: 'Q4_K_M' }));
    expect(moe['blk.5.attn_v.weight']).toBe('Q8_0');
    expect(moe['blk.5.attn_k.weight']).toBe('Q8_0');
    expect(moe['blk.5.attn_output.weight']).toBe('Q5_K');
  });
});

describe('rows that do not fit the block size', () => {
  const facts: ModelFacts = { arch: 'llama', nLayer: 1, nHead: 2, nHeadKv: 2, nExpert: 0, is70B: false };
  const narrow = (cols: number): PlanTensorInput[] => [
    { name: 'blk.0.attn_q.weight', type: F32, shape: [cols, 64] },
    { name: 'output.weight', type: F32, shape: [cols, 100] },
  ];

  it('K-quants fall back to 32-blocks: Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0; the output to Q8_0', () => {
    for (const [mix, want] of [
      ['Q4_K_M', 'Q5_0'],
      ['Q4_K_S', 'Q5_0'],
      ['Q5_K_M', 'Q5_1'],
      ['Q5_K_S', 'Q5_1'],
      ['Q6_K', 'Q8_0'],
      ['Q3_K_S', 'Q4_0'],
      ['Q2_K', 'Q4_0'],
    ] as const) {
      const plan = planTensors(facts, narrow(64), { type: mix });
      const q = plan.tensors.find((t) => t.name === 'blk.0.attn_q.weight');
      expect(q?.targetTypeName, mix).toBe(want);
      expect(q?.reason).toMatch(/not a multiple of 256/);
      expect(plan.tensors.find((t) => t.name === 'output.weight')?.targetTypeName).toBe('Q8_0');
      expect(plan.nFallback).toBeGreaterThan(0);
    }
  });

  it('rows that are not a multiple of 32 fall back to F16', () => {
    const t = typesOf(planTensors(facts, narrow(48), { type: 'Q4_K_M' }));
    expect(t['blk.0.attn_q.weight']).toBe('F16');
    expect(typesOf(planTensors(facts, narrow(48), { type: 'Q8_0' }))['blk.0.attn_q.weight']).toBe('F16');
  });
});

describe('tensors that are never quantized', () => {
  const facts: ModelFacts = { arch: 'llama', nLayer: 1, nHead: 1, nHeadKv: 1, nExpert: 0, is70B: false };
  it('norms, 1-D tensors, 2-D tensors with ne1 = 1, biases and MoE routers keep their type', () => {
    const t = typesOf(
      planTensors(
        facts,
        [
          { name: 'blk.0.attn_norm.weight', type: F32, shape: [256] },
          { name: 'blk.0.attn_q_norm.weight', type: F32, shape: [256, 4] },
          { name: 'blk.0.attn_q.bias', type: F32, shape: [256, 256] },
          { name: 'blk.0.ffn_gate_inp.weight', type: F32, shape: [256, 8] },
          { name: 'rope_freqs.weight', type: F32, shape: [64, 1] },
          { name: 'blk.0.attn_q.weight', type: F32, shape: [256, 256] },
        ],
        { type: 'Q4_K_M' },
      ),
    );
    expect(t).toEqual({
      'rope_freqs.weight': 'F32',
      'blk.0.attn_norm.weight': 'F32',
      'blk.0.attn_q.bias': 'F32',
      'blk.0.attn_q.weight': 'Q4_K',
      'blk.0.attn_q_norm.weight': 'F32',
      'blk.0.ffn_gate_inp.weight': 'F32',
    });
  });

  it('an unknown mix name is a typed error', () => {
    expect(() => planTensors(facts, [], { type: 'Q9_X' as never })).toThrowError(QuantizeError);
    try {
      planTensors(facts, [], { type: 'Q9_X' as never });
    } catch (e) {
      expect((e as QuantizeError).code).toBe('UNKNOWN_FILE_TYPE');
    }
  });
});
