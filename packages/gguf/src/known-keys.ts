import { GGUFValueType, type GGUFValueTypeId } from './value-types.js';

const U32 = GGUFValueType.UINT32;
const F32 = GGUFValueType.FLOAT32;
const BOOL = GGUFValueType.BOOL;
const STR = GGUFValueType.STRING;
const I32 = GGUFValueType.INT32;

/** Types llama.cpp's loader requires for well-known keys (exact keys). */
const EXACT: Record<string, GGUFValueTypeId> = {
  'general.alignment': U32,
  'general.file_type': U32,
  'general.quantization_version': U32,
  'general.architecture': STR,
  'general.name': STR,
  'tokenizer.ggml.model': STR,
  'tokenizer.ggml.pre': STR,
  'tokenizer.ggml.tokens': STR,
  'tokenizer.ggml.merges': STR,
  'tokenizer.ggml.scores': F32,
  'tokenizer.ggml.token_type': I32,
  'tokenizer.ggml.token_type_count': U32,
  'tokenizer.ggml.bos_token_id': U32,
  'tokenizer.ggml.eos_token_id': U32,
  'tokenizer.ggml.eot_token_id': U32,
  'tokenizer.ggml.eom_token_id': U32,
  'tokenizer.ggml.unknown_token_id': U32,
  'tokenizer.ggml.seperator_token_id': U32,
  'tokenizer.ggml.separator_token_id': U32,
  'tokenizer.ggml.padding_token_id': U32,
  'tokenizer.ggml.cls_token_id': U32,
  'tokenizer.ggml.mask_token_id': U32,
  'tokenizer.ggml.prefix_token_id': U32,
  'tokenizer.ggml.suffix_token_id': U32,
  'tokenizer.ggml.middle_token_id': U32,
  'tokenizer.ggml.add_bos_token': BOOL,
  'tokenizer.ggml.add_eos_token': BOOL,
  'tokenizer.ggml.add_sep_token': BOOL,
  'tokenizer.ggml.add_space_prefix': BOOL,
  'tokenizer.ggml.remove_extra_whitespaces': BOOL,
  'tokenizer.chat_template': STR,
};

/** Types for `<arch>.<suffix>` keys. */
const ARCH_SUFFIX: Record<string, GGUFValueTypeId> = {
  vocab_size: U32,
  context_length: U32,
  embedding_length: U32,
  block_count: U32,
  feed_forward_length: U32,
  expert_count: U32,
  expert_used_count: U32,
  expert_feed_forward_length: U32,
  leading_dense_block_count: U32,
  use_parallel_residual: BOOL,
  tensor_data_layout: STR,
  logit_scale: F32,
  'attention.head_count': U32,
  'attention.head_count_kv': U32,
  'attention.key_length': U32,
  'attention.value_length': U32,
  'attention.sliding_window': U32,
  'attention.max_alibi_bias': F32,
  'attention.clamp_kqv': F32,
  'attention.layer_norm_epsilon': F32,
  'attention.layer_norm_rms_epsilon': F32,
  'attention.causal': BOOL,
  'rope.dimension_count': U32,
  'rope.freq_base': F32,
  'rope.scale_linear': F32,
  'rope.scaling.type': STR,
  'rope.scaling.factor': F32,
  'rope.scaling.attn_factor': F32,
  'rope.scaling.original_context_length': U32,
  'rope.scaling.finetuned': BOOL,
};

/** The type llama.cpp expects for a key (scalar, or element type for array values), if known. */
export function knownKeyType(key: string): GGUFValueTypeId | undefined {
  const exact = EXACT[key];
  if (exact !== undefined) return exact;
  const dot = key.indexOf('.');
  if (dot <= 0 || key.startsWith('general.') || key.startsWith('tokenizer.')) return undefined;
  return ARCH_SUFFIX[key.slice(dot + 1)];
}
