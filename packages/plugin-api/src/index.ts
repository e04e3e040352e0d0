/**
 * @quant/plugin-api — the interface an architecture plugin implements, and the shared registry.
 * See README.md for the plugin-authoring guide.
 */
export type {
  AnyArchitecturePlugin,
  ArchitecturePlugin,
  BaseHyperparameters,
  ForwardContext,
  ModelDescription,
  ModelWeights,
  SessionInit,
  TensorDirectory,
  TensorRole,
  TensorShape,
  TensorSpec,
} from './types.js';
export { MetadataReader, type MetadataSource } from './metadata.js';
export {
  defineArchitecture,
  getArchitecture,
  listArchitectures,
  registerArchitecture,
  requireArchitecture,
  unregisterArchitecture,
  type ArchitectureInfo,
  type RegisterOptions,
} from './registry.js';
export { sameShape, validateTensors } from './validate.js';
export { embedTokens, rmsNormHead, type RmsNormHeadOptions } from './helpers.js';
export {
  MetadataError,
  PLUGIN_GUIDE,
  PluginError,
  TensorSpecError,
  UnknownArchitectureError,
  type PluginErrorCode,
} from './errors.js';
export type { F32Buffer, Kernels, KVCache, RopeParams, AttentionParams, Weight, GGMLTypeId } from '@quant/kernels';
