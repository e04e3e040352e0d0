export { availableBackends, BACKENDS, type Backend, backendUnavailable } from './backends.js';
export { behaviourKernels } from './behaviour-kernels.js';
export {
  bundleScript,
  type ChildHandle,
  type ChildResult,
  childEnv,
  runScript,
  startScript,
} from './child.js';
export {
  allFinite,
  argmaxOf,
  type Comparison,
  compareLogits,
  expectParity,
  klDivergence,
  maxAbsDiff,
  meanKL,
} from './compare.js';
export {
  type Faults,
  fakeCommit,
  HubServer,
  type LoggedRequest,
  type ServedRepo,
  sha256Hex,
} from './hub-server.js';
export { jsKernels } from './js-kernels.js';
export {
  type OracleKvType,
  type OracleOptions,
  oracle,
  oracleLogits,
  oracleLogitsMany,
  oracleTokenize,
} from './oracle.js';
export {
  patchMetadataArrayEntry,
  patchMetadataScalar,
  patchTensorBytes,
  patchTensorF32,
} from './patch-gguf.js';
export {
  haveReferences,
  type Reference,
  readReference,
  referenceDir,
  referenceSets,
} from './reference.js';
export {
  expectReferenceLogits,
  type ReferenceLoadOptions,
  type ReferenceModel,
  type ReferenceSuite,
  referenceParitySuite,
} from './reference-suite.js';
export { gaussian, mulberry32, signedMulberry32, signedXoroshiro } from './rng.js';
export { hasShared, repoRoot, sharedDir, sharedModelsDir, sharedPath, warnSkipped } from './shared.js';
export { writeSplitGGUF } from './split-gguf.js';
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
} from './spm-vocab.js';
export { type StaticRequest, type StaticServer, startStaticServer } from './static-server.js';
export { type SyntheticLlamaConfig, syntheticLlamaMetadata, writeSyntheticLlama } from './synthetic-llama.js';
export {
  type FloatWeights,
  type SyntheticPhi3Config,
  type WeightType,
  writeSyntheticPhi3,
} from './synthetic-phi3.js';
export { type Quantizer, type SyntheticWeightType, TYPE_IDS, type WrittenTensor } from './types.js';
