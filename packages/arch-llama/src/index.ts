/**
 * @quant/arch-llama — the Llama-family architecture plugin. Importing this module registers it
 * (under "llama" and its aliases) in the @quant/plugin-api registry.
 */
import { registerArchitecture } from '@quant/plugin-api';
import { llamaPlugin } from './plugin.js';

registerArchitecture(llamaPlugin);

/** Re-exported from the shared transformer core for existing importers. */
export { blk } from '@quant/plugin-api';
export { type LlamaContext, llamaLayer } from './forward.js';
export { type LlamaHyperparameters, readLlamaHyperparameters } from './hparams.js';
export { llamaPlugin } from './plugin.js';
export { createLlamaSessionState, type LlamaSessionState, paddedContext } from './session.js';
export { llamaTensors } from './tensors.js';
