/**
 * @quant/arch-phi3 — the Phi-3 / Phi-3.5 architecture plugin. Importing this module registers it
 * under "phi3" in the @quant/plugin-api registry.
 */
import { registerArchitecture } from '@quant/plugin-api';
import { phi3Plugin } from './plugin.js';

registerArchitecture(phi3Plugin);

/** Re-exported from the shared transformer core for existing importers. */
export { blk, chooseRopeFactors, paddedContextSize, type RopeTable } from '@quant/plugin-api';
export { PHI3_CHAT_TEMPLATE } from './chat-template.js';
export { Phi3OptionError } from './errors.js';
export { type Phi3Context, phi3Layer } from './forward.js';
export { type Phi3Hyperparameters, type QkvLayout, readPhi3Hyperparameters } from './hparams.js';
export { PHI3_OPTION_NAMES, type Phi3Options, resolveSlidingWindow } from './options.js';
export { phi3Plugin } from './plugin.js';
export { createPhi3SessionState, type Phi3SessionState } from './session.js';
export { phi3Tensors, qkvRows } from './tensors.js';
