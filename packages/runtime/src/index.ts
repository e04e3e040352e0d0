/**
 * @quant/runtime — load a GGUF model and run it: sessions with a KV cache, sampling, streaming
 * generation and chat. Architecture plugins come from the @quant/plugin-api registry; the built-in
 * ones (@quant/arch-llama, @quant/arch-phi3) are registered on import.
 */
import './builtin-plugins.js';

export {
  type ArchitecturePlugin,
  type ContextChange,
  type ForwardContext,
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
} from './chat/builtin-templates.js';
export {
  CHAT_ROLES,
  type ChatMessage,
  DEFAULT_TEMPLATE_LIMITS,
  type RenderChatOptions,
  renderChat,
  type TemplateLimits,
} from './chat/render.js';
export {
  AbortError,
  ContextFullError,
  ContextTooLargeError,
  KVTypeUnsupportedError,
  ModelTooLargeError,
  NonFiniteLogitsError,
  QuantRuntimeError,
  type RuntimeErrorCode,
  SessionFileError,
  TemplateLimitError,
  type TemplateLimitName,
} from './errors.js';
export { assertFiniteLogits } from './generate/finite-logits.js';
export { GenerationStream } from './generate/generation.js';
export type { TokenLogprob, TokenLogprobEntry } from './generate/logprobs.js';
export type { ContextShiftOptions, FinishReason, GenerateOptions } from './generate/options.js';
export { StopStringMatcher } from './generate/stop-strings.js';
export { type LoadModelOptions, loadModel, type ModelSource } from './load-model.js';
export type { KvPoolStats } from './model/kv-pool.js';
export { type KVTypeOption, parseKvType } from './model/kv-type.js';
export type { LoadProgress } from './model/load-weights.js';
export { type ChatOptions, Model } from './model/model.js';
export type { BatchStats } from './model/scheduler.js';
export { type EvaluateOptions, Session, type SessionOptions } from './model/session.js';
export {
  clearModelCache,
  type DownloadProgress,
  MODEL_CACHE_NAME,
  modelCacheAvailable,
} from './model-cache.js';
export type { HttpOptions, ModelFileSource } from './model-source.js';
export type { SamplingOptions } from './sampling/options.js';
export { argmax, Sampler } from './sampling/sampler.js';
export {
  loadModelInWorker,
  type WorkerChatOptions,
  type WorkerGenerateOptions,
  WorkerGeneration,
  WorkerModel,
  type WorkerModelOptions,
  WorkerSession,
} from './worker/host.js';
export type { WorkerLike } from './worker/spawn-web.js';
export { yieldToEventLoop } from './yield.js';
