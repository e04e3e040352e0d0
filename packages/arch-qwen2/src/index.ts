/**
 * @quant/arch-qwen2 — the Qwen2 / Qwen2.5 architecture plugin. Importing this module registers it
 * under "qwen2" in the @quant/plugin-api registry.
 */
import { registerArchitecture } from '@quant/plugin-api';
import { qwen2Plugin } from './plugin.js';

registerArchitecture(qwen2Plugin);

export {
  type Qwen2Context,
  type Qwen2Hyperparameters,
  qwen2Layer,
  qwen2Plugin,
  qwen2Tensors,
  readQwen2Hyperparameters,
} from './plugin.js';
