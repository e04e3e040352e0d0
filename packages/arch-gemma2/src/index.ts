/**
 * @quant/arch-gemma2 — the Gemma 2 architecture plugin. Importing this module registers it under
 * "gemma2" in the @quant/plugin-api registry.
 */
import { registerArchitecture } from '@quant/plugin-api';
import { gemma2Plugin } from './plugin.js';

registerArchitecture(gemma2Plugin);

export {
  type Gemma2Context,
  type Gemma2Hyperparameters,
  gemma2Embed,
  gemma2Layer,
  gemma2Memory,
  gemma2Plugin,
  gemma2Tensors,
  readGemma2Hyperparameters,
} from './plugin.js';
