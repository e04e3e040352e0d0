import { hasShared, type OracleOptions, sharedModelsDir, sharedPath, warnSkipped } from '@quant/test-utils';

export const modelsDir = sharedModelsDir;
export const haveShared = hasShared('models/stories260K-llama-pad256-f32.gguf');
if (!haveShared)
  warnSkipped('quantize', `${modelsDir} is absent: tests comparing with llama-quantize's files are skipped`);

export const model = (name: string): string => sharedPath('models', name);

/** How the tests run llama.cpp: 256-token contexts and batches, node-llama-cpp's flash-attention choice. */
export const EVAL: OracleOptions = { contextSize: 256, batchSize: 256, flashAttention: 'model-default' };
