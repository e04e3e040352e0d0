/**
 * @quant/plugin-api — the interface an architecture plugin implements, and the shared registry.
 * See README.md for the plugin-authoring guide.
 */

export type {
  AttentionParams,
  F32Buffer,
  GGMLTypeId,
  Kernels,
  KVBatch,
  KVCache,
  KVSegment,
  KVShiftRope,
  RopeParams,
  Weight,
} from '@quant/kernels';
export {
  MetadataError,
  PLUGIN_GUIDE,
  PluginError,
  type PluginErrorCode,
  TensorSpecError,
  UnknownArchitectureError,
} from './errors.js';
export { embedTokens, type RmsNormHeadOptions, rmsNormHead } from './helpers.js';
export { MetadataReader, type MetadataSource } from './metadata.js';
export {
  type ArchitectureInfo,
  defineArchitecture,
  getArchitecture,
  listArchitectures,
  type RegisterOptions,
  registerArchitecture,
  requireArchitecture,
  unregisterArchitecture,
} from './registry.js';
export {
  addOptionalBias,
  blk,
  chooseRopeFactors,
  keyRopeLayers,
  longRopeTensorSpecs,
  paddedContextSize,
  projectQkv,
  type QkvLayout,
  qkvDims,
  qkvLayout,
  qkvTensorSpecs,
  type ReadTransformerOptions,
  type RopeTable,
  readTransformerHparams,
  ropeParams,
  swigluFfn,
  swigluTensorSpecs,
  type TransformerHparams,
  vocabSize,
} from './transformer.js';
export type {
  AnyArchitecturePlugin,
  ArchitecturePlugin,
  BaseHyperparameters,
  ContextChange,
  ForwardContext,
  KeyRope,
  LayerMemory,
  ModelDescription,
  ModelMemory,
  ModelWeights,
  SessionInit,
  TensorDirectory,
  TensorRole,
  TensorShape,
  TensorSpec,
} from './types.js';
export { sameShape, validateTensors } from './validate.js';
