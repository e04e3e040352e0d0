import {
  blk,
  longRopeTensorSpecs,
  type ModelDescription,
  qkvDims,
  qkvTensorSpecs,
  swigluTensorSpecs,
  type TensorSpec,
  TensorSpecError,
} from '@quant/plugin-api';
import type { Phi3Hyperparameters } from './hparams.js';

/**
 * Rows of the fused `[Q | K | V]` projection.
 * @deprecated Use `qkvDims` from `@quant/plugin-api` (the shared core); kept as an alias.
 */
export const qkvRows: (h: Phi3Hyperparameters) => { qDim: number; kvDim: number; total: number } = qkvDims;

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
  const { qDim, total } = qkvDims(h);
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
    ...longRopeTensorSpecs(h),
  ];
  for (let il = 0; il < h.nLayers; il++) {
    specs.push(
      { name: blk(il, 'attn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      // Fused or separate Q/K/V, optional biases (separate ones beside a fused weight only all three).
      ...qkvTensorSpecs(h, il, h.qkvLayout[il] ?? 'separate'),
      { name: blk(il, 'attn_output.weight'), shape: [qDim, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'ffn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      ...swigluTensorSpecs(h, il, 'fused'),
    );
  }
  return specs;
}
