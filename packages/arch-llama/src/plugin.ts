import {
  type ArchitecturePlugin,
  defineArchitecture,
  embedTokens,
  keyRopeLayers,
  rmsNormHead,
} from '@quant/plugin-api';
import { llamaLayer } from './forward.js';
import { type LlamaHyperparameters, readLlamaHyperparameters } from './hparams.js';
import { createLlamaSessionState, type LlamaSessionState } from './session.js';
import { llamaTensors } from './tensors.js';

/** The Llama-family plugin (Llama 1/2/3, TinyLlama, SmolLM, Mistral without sliding window…). */
export const llamaPlugin: ArchitecturePlugin<LlamaHyperparameters, LlamaSessionState> = defineArchitecture({
  apiVersion: 2,
  name: 'llama',
  aliases: ['mistral'],
  description: 'Llama 1/2/3 and look-alikes: separate Q/K/V, GQA, interleaved RoPE, SwiGLU FFN, RMS norm',
  readHyperparameters: readLlamaHyperparameters,
  tensors: (h) => llamaTensors(h),
  createSessionState: createLlamaSessionState,
  // LongRoPE llama files pick their factor table by context size: sessions share a batch only with the same table.
  batchKey: (s) => (s.ropeFactors ? String(s.ropeTable) : ''),
  // A context shift rotates the cached keys by the position delta (interleaved pairs, the session's factors).
  keyRope: (h, s) => keyRopeLayers(h, 'normal', s.ropeFactors),
  embed: (ctx) => embedTokens(ctx),
  layer: llamaLayer,
  output: (ctx, x, rows, logits) => rmsNormHead(ctx, x, rows, logits, { eps: ctx.hparams.normEps }),
});
