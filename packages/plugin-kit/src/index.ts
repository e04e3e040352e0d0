/**
 * @quant/plugin-kit — what a plugin author needs to test an architecture plugin: synthetic GGUF
 * models written from the plugin's own tensor specs, and its logits compared with llama.cpp's.
 */
export {
  allFinite,
  argmaxOf,
  type Comparison,
  compareLogits,
  klDivergence,
  maxAbsDiff,
  meanKL,
} from './compare.js';
export {
  compareWithLlamaCpp,
  describeParity,
  type LlamaCppOptions,
  llamaCppLogits,
  type ParityOptions,
  type ParityReport,
} from './parity.js';
export {
  BOS_ID,
  DEFAULT_PIECES,
  EOS_ID,
  FIRST_PIECE_ID,
  type SpmVocab,
  spmBaseVocab,
  spmVocabMetadata,
  syntheticPrompt,
  syntheticVocab,
  UNK_ID,
} from './vocab.js';
export {
  type Quantizer,
  type SyntheticModel,
  type SyntheticModelOptions,
  seededUniform,
  specsFromPlugin,
  WEIGHT_TYPES,
  type WeightTypeName,
  writeSyntheticModel,
} from './writer.js';
