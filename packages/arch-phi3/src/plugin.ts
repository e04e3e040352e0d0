import {
  type ArchitecturePlugin,
  defineArchitecture,
  embedTokens,
  keyRopeLayers,
  rmsNormHead,
} from '@quant/plugin-api';
import { PHI3_CHAT_TEMPLATE } from './chat-template.js';
import { phi3Layer } from './forward.js';
import { type Phi3Hyperparameters, readPhi3Hyperparameters } from './hparams.js';
import { createPhi3SessionState, type Phi3SessionState } from './session.js';
import { phi3Tensors } from './tensors.js';

/** The Phi-3 / Phi-3.5 plugin (`general.architecture = "phi3"`: Phi-3-mini/small-shaped dense models, Phi-3-medium, Phi-3.5-mini, Phi-4-mini). */
export const phi3Plugin: ArchitecturePlugin<Phi3Hyperparameters, Phi3SessionState> = defineArchitecture({
  apiVersion: 2,
  name: 'phi3',
  description:
    'Phi-3 / Phi-3.5: fused QKV and [gate | up], NeoX RoPE with LongRoPE factor tables, sliding-window attention',
  readHyperparameters: readPhi3Hyperparameters,
  tensors: (h, model) => phi3Tensors(h, model),
  createSessionState: createPhi3SessionState,
  // Sessions share a forward pass only when they use the same LongRoPE table and window.
  batchKey: (s) => `${s.ropeTable}:${s.window}`,
  // A context shift rotates the cached keys by the position delta with the session's LongRoPE table.
  keyRope: (h, s) => keyRopeLayers(h, 'neox', s.ropeFactors),
  embed: (ctx) => embedTokens(ctx),
  layer: phi3Layer,
  output: (ctx, x, rows, logits) => rmsNormHead(ctx, x, rows, logits, { eps: ctx.hparams.normEps }),
  chatTemplate: PHI3_CHAT_TEMPLATE,
  // Already in the tokenizer's end-of-generation set (llama.cpp detects them by text); listed so
  // Phi-3 turns end even with a vocabulary that does not mark them.
  endOfGenerationTokens: ['<|end|>', '<|endoftext|>'],
});
