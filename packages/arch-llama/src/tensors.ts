import type { TensorSpec } from '@quant/plugin-api';
import type { LlamaHyperparameters } from './hparams.js';

/** GGUF tensor names of block `il`. */
export function blk(il: number, name: string): string {
  return `blk.${il}.${name}`;
}

/** The tensors a Llama-family model needs (shapes ne0 first), as llama.cpp's loader lists them. */
export function llamaTensors(h: LlamaHyperparameters): TensorSpec[] {
  const qDim = h.nHeads * h.headDim;
  const kvDim = h.nKvHeads * h.headDim;
  const specs: TensorSpec[] = [
    { name: 'token_embd.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix' },
    { name: 'output_norm.weight', shape: [h.nEmbd], role: 'vector' },
    // Absent → tied embeddings: the LM head is token_embd.weight.
    { name: 'output.weight', shape: [h.nEmbd, h.nVocab], role: 'matrix', optional: true },
  ];
  if (h.ropeScalingType === 'longrope') {
    specs.push({ name: 'rope_factors_long.weight', shape: [h.nRot / 2], role: 'host', optional: true });
    specs.push({ name: 'rope_factors_short.weight', shape: [h.nRot / 2], role: 'host', optional: true });
  } else {
    // Llama 3.1+ frequency factors (one tensor shared by all layers).
    specs.push({ name: 'rope_freqs.weight', shape: [h.nRot / 2], role: 'host', optional: true });
  }
  for (let il = 0; il < h.nLayers; il++) {
    specs.push(
      { name: blk(il, 'attn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      { name: blk(il, 'attn_q.weight'), shape: [h.nEmbd, qDim], role: 'matrix' },
      { name: blk(il, 'attn_k.weight'), shape: [h.nEmbd, kvDim], role: 'matrix' },
      { name: blk(il, 'attn_v.weight'), shape: [h.nEmbd, kvDim], role: 'matrix' },
      { name: blk(il, 'attn_output.weight'), shape: [qDim, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'attn_q.bias'), shape: [qDim], role: 'vector', optional: true },
      { name: blk(il, 'attn_k.bias'), shape: [kvDim], role: 'vector', optional: true },
      { name: blk(il, 'attn_v.bias'), shape: [kvDim], role: 'vector', optional: true },
      { name: blk(il, 'attn_output.bias'), shape: [h.nEmbd], role: 'vector', optional: true },
      { name: blk(il, 'ffn_norm.weight'), shape: [h.nEmbd], role: 'vector' },
      { name: blk(il, 'ffn_gate.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
      { name: blk(il, 'ffn_up.weight'), shape: [h.nEmbd, h.nFF], role: 'matrix' },
      { name: blk(il, 'ffn_down.weight'), shape: [h.nFF, h.nEmbd], role: 'matrix' },
      { name: blk(il, 'ffn_gate.bias'), shape: [h.nFF], role: 'vector', optional: true },
      { name: blk(il, 'ffn_up.bias'), shape: [h.nFF], role: 'vector', optional: true },
      { name: blk(il, 'ffn_down.bias'), shape: [h.nEmbd], role: 'vector', optional: true },
    );
  }
  return specs;
}
