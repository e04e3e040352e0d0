/**
 * @quant/arch-llama — the Llama-family architecture plugin. Importing this module registers it
 * (under "llama" and its aliases) in the @quant/plugin-api registry.
 */
import { registerArchitecture } from '@quant/plugin-api';
import { llamaPlugin } from './plugin.js';

registerArchitecture(llamaPlugin);

export { type LlamaContext, llamaLayer } from './forward.js';
export { type LlamaHyperparameters, readLlamaHyperparameters } from './hparams.js';
export { llamaPlugin } from './plugin.js';
export { createLlamaSessionState, type LlamaSessionState, paddedContext } from './session.js';
export { blk, llamaTensors } from './tensors.js';
