/**
 * @quant/runtime — load a GGUF model and run it: sessions with a KV cache, sampling, streaming
 * generation and chat. Architecture plugins come from the @quant/plugin-api registry; the built-in
 * ones (@quant/arch-llama, @quant/arch-phi3) are registered on import.
 */
import './builtin-plugins.js';

export {
  type ArchitecturePlugin,
  getArchitecture,
  listArchitectures,
  MetadataError,
  PluginError,
  registerArchitecture,
  TensorSpecError,
  UnknownArchitectureError,
  unregisterArchitecture,
} from '@quant/plugin-api';
export {
  BUILTIN_TEMPLATES,
  type BuiltinTemplateName,
  LLAMA2_TEMPLATE,
  LLAMA3_TEMPLATE,
  PHI3_TEMPLATE,
} from './chat/builtin-templates.js';
export { type ChatMessage, type RenderChatOptions, renderChat } from './chat/render.js';
export { AbortError, ContextFullError, QuantRuntimeError, type RuntimeErrorCode } from './errors.js';
export { GenerationStream } from './generate/generation.js';
export type { ContextShiftOptions, FinishReason, GenerateOptions } from './generate/options.js';
export { StopStringMatcher } from './generate/stop-strings.js';
export { type LoadModelOptions, loadModel, type ModelSource } from './load-model.js';
export type { LoadProgress } from './model/load-weights.js';
export { type ChatOptions, Model } from './model/model.js';
export { type EvaluateOptions, Session, type SessionOptions } from './model/session.js';
export type { SamplingOptions } from './sampling/options.js';
export { argmax, Sampler } from './sampling/sampler.js';
