/**
 * Which tensors may be quantized at all, and the broad role of a tensor by its name — the two
 * questions llama-quantize asks before it picks a type.
 */

export type TensorCategory =
  | 'token_embd'
  | 'attn_q'
  | 'attn_k'
  | 'attn_v'
  | 'attn_qkv'
  | 'attn_kv_b'
  | 'attn_output'
  | 'ffn_up'
  | 'ffn_gate'
  | 'ffn_down'
  | 'output'
  | 'other';

/** The role of a tensor by its name (first match wins, in llama.cpp's order). */
export function tensorCategory(name: string): TensorCategory {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight' || name === 'per_layer_token_embd.weight') return 'token_embd';
  if (name.includes('attn_qkv.weight')) return 'attn_qkv';
  if (name.includes('attn_kv_b.weight')) return 'attn_kv_b';
  if (name.includes('attn_v.weight')) return 'attn_v';
  if (name.includes('attn_k.weight')) return 'attn_k';
  if (name.includes('attn_q.weight')) return 'attn_q';
  if (name.includes('attn_output.weight')) return 'attn_output';
  if (name.includes('ffn_up')) return 'ffn_up';
  if (name.includes('ffn_gate')) return 'ffn_gate';
  if (name.includes('ffn_down')) return 'ffn_down';
  return 'other';
}

/** ggml_n_dims: dimensions up to the last one larger than 1 (at least 1). */
export function nDims(shape: readonly number[]): number {
  for (let i = shape.length - 1; i >= 1; i--) if (shape[i]! > 1) return i + 1;
  return 1;
}

/** Name fragments of small or special tensors llama-quantize never quantizes. */
const NEVER_QUANTIZED_FRAGMENTS = [
  '_norm.weight',
  'ffn_gate_inp.weight',
  'ffn_gate_tid2eid.weight',
  'altup',
  'laurel',
  'per_layer_model_proj',
  'ssm_conv1d',
  'shortconv.conv.weight',
  'indexer.k_proj.weight',
  'indexer.q_proj.weight',
  'time_mix_first.weight',
  'time_mix_w0.weight',
  'time_mix_w1.weight',
  'time_mix_w2.weight',
  'time_mix_v0.weight',
  'time_mix_v1.weight',
  'time_mix_v2.weight',
  'time_mix_a0.weight',
  'time_mix_a1.weight',
  'time_mix_a2.weight',
  'time_mix_g1.weight',
  'time_mix_g2.weight',
  'time_mix_decay_w1.weight',
  'time_mix_decay_w2.weight',
  'time_mix_lerp_fused.weight',
  'attn_rel_b.weight',
  '.position_embd',
  'sam.pos_embd',
  'sam.neck.',
  'sam.net_',
  '.rel_pos',
  '.patch_embd',
  '.patch_merger',
  'a.rvq.codebook',
  'mm.a.code_embd',
];

/** Exact names never quantized (positional embeddings and BERT token types). */
const NEVER_QUANTIZED_NAMES = new Set(['position_embd.weight', 'token_types.weight']);

/**
 * Why a tensor is kept in its source type, or undefined when it may be quantized
 * (llama.cpp: only 2-D/3-D tensors whose names end in "weight", minus norms and small special tensors).
 */
export function keepReason(
  name: string,
  shape: readonly number[],
  opts: { quantizeOutput?: boolean } = {},
): string | undefined {
  if (nDims(shape) < 2) return '1-D tensor (norms, biases, rope factors): never quantized';
  if (!name.endsWith('weight')) return 'name does not end in "weight": never quantized';
  if (name.includes('_norm.weight')) return 'norm weight: never quantized';
  if (opts.quantizeOutput === false && name === 'output.weight')
    return 'output tensor left as is (quantizeOutput: false)';
  if (NEVER_QUANTIZED_NAMES.has(name)) return 'positional/token-type embedding: never quantized';
  const frag = NEVER_QUANTIZED_FRAGMENTS.find((f) => name.includes(f));
  if (frag) return `small special tensor (${frag}): never quantized`;
  return undefined;
}
