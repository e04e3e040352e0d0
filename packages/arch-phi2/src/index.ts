/**
 * @quant/arch-phi2 — the Phi-2 architecture plugin. Importing this module registers it under
 * "phi2" in the @quant/plugin-api registry.
 */
import { registerArchitecture } from '@quant/plugin-api';
import { phi2Plugin } from './plugin.js';

registerArchitecture(phi2Plugin);

export {
  type Phi2Context,
  type Phi2Hyperparameters,
  phi2Layer,
  phi2Plugin,
  phi2Tensors,
  readPhi2Hyperparameters,
} from './plugin.js';
