import { type ModelDescription, type TensorSpec, TensorSpecError } from '@quant/plugin-api';
import type { Phi3Hyperparameters } from './hparams.js';

/** GGUF tensor name of block `il`. */
export function blk(il: number, name: string): string {
  return `blk.${il}.${name}`;
}

/** Rows of the fused `[Q | K | V]` projection. */
export function qkvRows(h: Phi3Hyperparameters): { qDim: number; kvDim: number; total: number } {
  const qDim = h.nHeads * h.headDim;
  const kvDim = h.nKvHeads * h.headDim;
  return { qDim, kvDim, total: qDim + 2 * kvDim };
}

/**
 * A fused tensor's output width (shape[1]) must be what the hyperparameters give. Checked here,
 * before the runtime's generic shape check, so the error says how the width is made up.
 */
function checkFusedWidth(model: ModelDescription, name: string, expected: number, how: string): void {
  const shape = model.tensors.shape(name);
  if (!shape) return;
  const found = shape[1] ?? 1;
  if (found === expected) return;
  const expectedShape = [shape[0] ?? 0, expected];
  throw new TensorSpecError(
    'TENSOR_SHAPE_MISMATCH',
    name,
    `Tensor "${name}" in ${model.meta.source} has ${found} output rows (shape [${shape.join(', ')}]), expected ${how} = ${expected}. ` +
      'The head counts, head size or feed_forward_length in the metadata do not match the weights; the file is likely converted wrongly.',
    expectedShape,
    shape,
  );
}

/**
 * The tensors a phi3 model needs, with llama.cpp's shapes (ne0 first): fused `attn_qkv`
 * ([Q | K | V] along the output axis) or separate `attn_q/k/v`, fused `ffn_up` ([gate | up]),
 * optional QKV biases, optional LongRoPE factor tables shared by every layer.
 */
export function phi3Tensors(h: Phi3Hyperparameters, model?: ModelDescription): TensorSpec[] {
  const { qDim, kvDim, total } = qkvRows(h);
  if (model) {
    for (let il = 0; il < h.nLayers; il++) {
      if (h.qkvLayout[il] === 'fused') {
        checkFusedWidth(
          model,
          blk(il, 'attn_qkv.weight'),
          total,
          `q_dim + 2·kv_dim = ${h.nHeads}·${h.headDim} + 2·${h.nKvHeads}·${h.headDim}`,
        );
      }
      checkFusedWidth(
        model,
        blk(il, 'ffn_up.weight'),
        2 * h.nFF,
        `2·feed_forward_length = 2·${h.nFF} ([gate | up])`,
      );
    }
  }
  const specs: TensorSpec[] = [
    { name: 'token_embd.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix' },
    { name: 'output_norm.weight', shape: [h.nEmbd], role: 'vector' },
    // Absent → tied embeddings: the LM head is token_embd.weight.
    { name: 'output.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix', optional: true },
    { name: 'rope_factors_long.weight', shape: [h.nRot / 2], role: 'host', optional: true },
    { name: 'rope_factors_short.weight', shape: [h.nRot / 2], role: 'host', optional: true },
  ];
  for (let il = 0; il < h.nLayers; il++) {
    specs.push({ name: blk(il, 'attn_norm.weight'), shape: [h.nEmbd], role: 'vector' });
    if (h.qkvLayout[il] === 'fused') {
      specs.push(
        { name: blk(il, 'attn_qkv.weight'), shape: [h.nEmbd, total], role: 'matrix' },
        { name: blk(il, 'attn_qkv.bias'), shape: [total], role: 'vector', optional: true },
      );
    } else {
      specs.push(
        { name: blk(il, 'attn_q.weight'), shape: [h.nEmbd, qDim], role: 'matrix' },
        { name: blk(il, 'attn_k.weight'), shape: [h.nEmbd, kvDim], role: 'matrix' },
        { name: blk(il, 'attn_v.weight'), shape: [h.nEmbd, kvDim], role: 'matrix' },
      );
    }
    // Separate biases: with separate weights, or (all three) beside a fused weight without a fused bias.
    specs.push(
      { name: blk(il, 'attn_q.bias'), shape: [qDim], role: 'vector', optional: true },
      { name: blk(il, 'attn_k.bias'), shape: [kvDim], role: 'vector', optional: true },
      { name: blk(il, 'attn_v.bias'), shape: [kvDim], role: 'vector', optional: true },
      { name: blk(il, 'attn_output.weight'), shape: [qDim, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'ffn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      { name: blk(il, 'ffn_up.weight'), shape: [h.nEmbd, 2 * h.nFF], role: 'matrix' },
      { name: blk(il, 'ffn_down.weight'), shape: [h.nFF, h.nEmbd], role: 'matrix' },
    );
  }
  return specs;
}
