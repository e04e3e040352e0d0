/**
 * @quant/server — an OpenAI-compatible HTTP server for GGUF models on @quant/runtime: chat and text
 * completions (whole or streamed as server-sent events), models, tokenize/detokenize, health and
 * Prometheus metrics, with parallel slots, a bounded queue and graceful shutdown.
 */
export { type AbortKind, type AppState, createApp, type RequestLogEntry } from './app.js';
export {
  Engine,
  type GenerationResult,
  type OpenAIFinishReason,
  type Piece,
  type PreparedRequest,
} from './engine.js';
export {
  ApiError,
  type ApiErrorType,
  type OpenAIErrorBody,
  ServerError,
  type ServerErrorCode,
} from './errors.js';
export { ServerMetrics } from './metrics.js';
export {
  type CloseOptions,
  defaultParallel,
  formatLogEntry,
  MAX_DEFAULT_PARALLEL,
  type RunningServer,
  type ServeOptions,
  startServer,
} from './server.js';
export { type Slot, SlotPool, type SlotPoolOptions } from './slots.js';
