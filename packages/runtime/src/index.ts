/**
 * @quant/runtime — load a GGUF model and run it: sessions with a KV cache, sampling, streaming
 * generation and chat. Architecture plugins come from the @quant/plugin-api registry; the built-in
 * ones (@quant/arch-llama, @quant/arch-phi3) are registered on import.
 */
import './builtin-plugins.js';

export { loadModel, type LoadModelOptions, type ModelSource } from './load-model.js';
export { Model, type ChatOptions } from './model/model.js';
export { Session, type SessionOptions, type EvaluateOptions } from './model/session.js';
export type { LoadProgress } from './model/load-weights.js';
export { GenerationStream } from './generate/generation.js';
export type { GenerateOptions, ContextShiftOptions, FinishReason } from './generate/options.js';
export { Sampler, argmax } from './sampling/sampler.js';
export type { SamplingOptions } from './sampling/options.js';
export { renderChat, type ChatMessage, type RenderChatOptions } from './chat/render.js';
export { BUILTIN_TEMPLATES, LLAMA2_TEMPLATE, LLAMA3_TEMPLATE, PHI3_TEMPLATE, type BuiltinTemplateName } from './chat/builtin-templates.js';
export { StopStringMatcher } from './generate/stop-strings.js';
export { AbortError, ContextFullError, QuantRuntimeError, type RuntimeErrorCode } from './errors.js';
export {
  registerArchitecture,
  unregisterArchitecture,
  getArchitecture,
  listArchitectures,
  UnknownArchitectureError,
  PluginError,
  TensorSpecError,
  MetadataError,
  type ArchitecturePlugin,
} from '@quant/plugin-api';
