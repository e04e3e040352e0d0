/**
 * Messages between a WorkerModel (the page or main thread) and the model worker (./serve.ts), and
 * errors across the boundary: an error thrown in the worker is rebuilt on the other side as an
 * instance of the same class (QuantRuntimeError, AbortError, GGUFError, KernelError, …) with its
 * code, message and fields.
 */
import { GGUFError } from '@quant/gguf';
import { KernelError } from '@quant/kernels';
import { MetadataError, PluginError, TensorSpecError, UnknownArchitectureError } from '@quant/plugin-api';
import { TokenizerError } from '@quant/tokenizer';
import {
  AbortError,
  ContextFullError,
  ContextTooLargeError,
  KVTypeUnsupportedError,
  ModelTooLargeError,
  NonFiniteLogitsError,
  QuantRuntimeError,
  SessionFileError,
  TemplateLimitError,
} from '../errors.js';

/** A model file as it crosses to the worker: URLs as strings, Requests as URL + headers. */
export type WireFileSource =
  | string
  | Blob
  | ArrayBuffer
  | ArrayBufferView
  | { url: string; headers: [string, string][]; credentials?: RequestCredentials };

export type ToWorker =
  | { type: 'load'; source: WireFileSource | WireFileSource[]; options: Record<string, unknown> }
  | { type: 'abort-load' }
  | {
      type: 'generate';
      id: number;
      prompt: string | number[] | undefined;
      messages: unknown[] | undefined;
      options: Record<string, unknown>;
      session: number | undefined;
    }
  | { type: 'abort'; id: number }
  | { type: 'call'; id: number; method: string; args: unknown[] }
  | { type: 'dispose' };

export interface ModelInfo {
  architecture: string;
  hparams: Record<string, unknown>;
  contextSize: number;
  batchSize: number;
  kvType: unknown;
  flashAttention: boolean;
  backend: string;
  backendReason: string | undefined;
  /** The GGUF metadata without arrays (the vocabulary stays in the worker). */
  metadata: Record<string, unknown>;
  bosId: number | null;
  eosId: number | null;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'loaded'; info: ModelInfo }
  | { type: 'load-error'; error: WireError }
  | { type: 'progress'; kind: 'load' | 'download'; progress: Record<string, unknown> }
  | { type: 'piece'; id: number; text: string }
  | {
      type: 'done';
      id: number;
      tokens: number[];
      logprobs: unknown[];
      finishReason: string | undefined;
      error?: WireError;
    }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'call-error'; id: number; error: WireError };

export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
  /** Own enumerable fields (code, offset, contextSize, …) that can be cloned. */
  fields: Record<string, unknown>;
}

const CLASSES: Record<string, { prototype: object }> = {
  QuantRuntimeError,
  AbortError,
  ContextFullError,
  ContextTooLargeError,
  KVTypeUnsupportedError,
  ModelTooLargeError,
  NonFiniteLogitsError,
  SessionFileError,
  TemplateLimitError,
  GGUFError,
  KernelError,
  PluginError,
  UnknownArchitectureError,
  MetadataError,
  TensorSpecError,
  TokenizerError,
};

function cloneable(v: unknown, depth = 0): boolean {
  if (v === null || ['string', 'number', 'boolean', 'bigint', 'undefined'].includes(typeof v)) return true;
  if (depth > 3) return false;
  if (Array.isArray(v)) return v.length < 1000 && v.every((x) => cloneable(x, depth + 1));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    return Object.values(v as object).every((x) => cloneable(x, depth + 1));
  return false;
}

export function toWireError(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), stack: undefined, fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (k !== 'cause' && cloneable(v)) fields[k] = v;
  return { name: e.name, message: e.message, stack: e.stack, fields };
}

/** The error as an instance of its class (same name), with its fields; a plain Error for unknown classes. */
export function fromWireError(w: WireError): Error {
  const cls = CLASSES[w.name];
  const e = Object.create(cls ? cls.prototype : Error.prototype) as Error;
  Object.defineProperty(e, 'message', { value: w.message, writable: true, configurable: true });
  Object.defineProperty(e, 'stack', {
    value: `${w.stack ?? `${w.name}: ${w.message}`}\n    (thrown in the model worker)`,
    writable: true,
    configurable: true,
  });
  for (const [k, v] of Object.entries(w.fields)) {
    Object.defineProperty(e, k, { value: v, writable: true, enumerable: true, configurable: true });
  }
  if (!cls || e.name !== w.name)
    Object.defineProperty(e, 'name', { value: w.name, writable: true, configurable: true });
  return e;
}
