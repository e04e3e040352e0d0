/**
 * @quant/arch-llama — the Llama-family architecture plugin. Importing this module registers it
 * (under "llama" and its aliases) in the @quant/plugin-api registry.
 */
import { registerArchitecture } from '@quant/plugin-api';
import { llamaPlugin } from './plugin.js';

registerArchitecture(llamaPlugin);

export { llamaPlugin } from './plugin.js';
export { type LlamaHyperparameters, readLlamaHyperparameters } from './hparams.js';
export { blk, llamaTensors } from './tensors.js';
export { createLlamaSessionState, type LlamaSessionState, paddedContext } from './session.js';
export { llamaLayer, type LlamaContext } from './forward.js';
