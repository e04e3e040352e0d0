import {
  blk,
  longRopeTensorSpecs,
  qkvDims,
  qkvTensorSpecs,
  swigluTensorSpecs,
  type TensorSpec,
} from '@quant/plugin-api';
import type { LlamaHyperparameters } from './hparams.js';

/** The tensors a Llama-family model needs (shapes ne0 first), as llama.cpp's loader lists them. */
export function llamaTensors(h: LlamaHyperparameters): TensorSpec[] {
  const { qDim } = qkvDims(h);
  const specs: TensorSpec[] = [
    { name: 'token_embd.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix' },
    { name: 'output_norm.weight', shape: [h.nEmbd], role: 'vector' },
    // Absent → tied embeddings: the LM head is token_embd.weight.
    { name: 'output.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix', optional: true },
  ];
  if (h.ropeScalingType === 'longrope') specs.push(...longRopeTensorSpecs(h));
  // Llama 3.1+ frequency factors (one tensor shared by all layers).
  else specs.push({ name: 'rope_freqs.weight', shape: [h.nRot / 2], role: 'host', optional: true });
  for (let il = 0; il < h.nLayers; il++) {
    specs.push(
      { name: blk(il, 'attn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      // Separate Q/K/V with optional biases (llama.cpp's llama loader does not read a fused attn_qkv).
      ...qkvTensorSpecs(h, il, 'separate'),
      { name: blk(il, 'attn_output.weight'), shape: [qDim, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'attn_output.bias'), shape: [h.nEmbd], role: 'vector', optional: true },
      { name: blk(il, 'ffn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      ...swigluTensorSpecs(h, il, 'separate'),
    );
  }
  return specs;
}
