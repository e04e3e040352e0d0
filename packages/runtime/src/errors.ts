/** Typed errors of @quant/runtime. Every error has a stable `code`. */

export type RuntimeErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_PROMPT'
  | 'INVALID_TOKEN'
  | 'INVALID_STATE'
  | 'CONTEXT_FULL'
  | 'DISPOSED'
  | 'ABORTED'
  | 'LOAD_FAILED'
  | 'UNSUPPORTED_TENSOR_TYPE'
  | 'CHAT_TEMPLATE'
  | 'TEMPLATE_LIMIT'
  | 'NON_FINITE_LOGITS'
  | 'CONTEXT_TOO_LARGE'
  | 'UNSUPPORTED_KV_TYPE'
  | 'SESSION_FILE'
  | 'MODEL_TOO_LARGE'
  | 'WORKER_FAILED';

export class QuantRuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QuantRuntimeError';
    this.code = code;
  }
}

/** The session's KV cache cannot take the tokens; pass `contextShift: true` to `generate` to slide instead. */
export class ContextFullError extends QuantRuntimeError {
  readonly contextSize: number;
  readonly position: number;
  readonly requested: number;
  constructor(contextSize: number, position: number, requested: number) {
    super(
      'CONTEXT_FULL',
      `The context is full: ${position} tokens are in a ${contextSize}-token context and ${requested} more were given. ` +
        'Create the session with a larger contextSize, shorten the prompt, or pass { contextShift: true } to generate() to drop the oldest tokens.',
    );
    this.name = 'ContextFullError';
    this.contextSize = contextSize;
    this.position = position;
    this.requested = requested;
  }
}

/** Generation was stopped through its AbortSignal. */
export class AbortError extends QuantRuntimeError {
  constructor(reason?: unknown) {
    super('ABORTED', 'Generation was aborted.', { cause: reason });
    this.name = 'AbortError';
  }
}

export function invalidOption(name: string, value: unknown, want: string): QuantRuntimeError {
  return new QuantRuntimeError(
    'INVALID_OPTION',
    `Option ${name} = ${formatValue(value)} is invalid: expected ${want}.`,
  );
}

/** A value as it would be written in code (short; bigint, NaN and objects included). */
function formatValue(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v === null || v === undefined || typeof v === 'boolean') return String(v);
  return describeValue(v);
}

/** A value given as a prompt (or chat messages) that is not one: the message names the index and what was found. */
export function invalidPrompt(message: string): QuantRuntimeError {
  return new QuantRuntimeError('INVALID_PROMPT', message);
}

/** Short description of an untrusted value for messages (never huge, never throws). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return `the bigint ${v}n`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  return `${typeof v} ${String(v)}`;
}

/**
 * The model produced NaN or infinite logits: its weights or metadata are broken (generation stops
 * instead of sampling from garbage, which used to give empty text).
 */
export class NonFiniteLogitsError extends QuantRuntimeError {
  /** Position (token index in the context) whose logits were not finite. */
  readonly position: number;
  /** How many of the nVocab logits were NaN / ±Infinity. */
  readonly nanCount: number;
  readonly infCount: number;
  constructor(position: number, nanCount: number, infCount: number, nVocab: number) {
    super(
      'NON_FINITE_LOGITS',
      `The model produced non-finite logits at position ${position} (${nanCount} NaN and ${infCount} infinite of ${nVocab}), so no token can be sampled. ` +
        'The model file is most likely damaged: NaN/Inf weights, corrupted quantization scales, tensors relabelled with the wrong type, ' +
        'or invalid metadata (e.g. attention.layer_norm_rms_epsilon or rope.freq_base). Re-download or re-convert the model.',
    );
    this.name = 'NonFiniteLogitsError';
    this.position = position;
    this.nanCount = nanCount;
    this.infCount = infCount;
  }
}

/** Which chat-template budget ran out. */
export type TemplateLimitName = 'maxSteps' | 'timeoutMs' | 'maxOutputChars' | 'maxItems';

/** A chat template exceeded a rendering budget (templates come from downloaded files, so they run with limits). */
export class TemplateLimitError extends QuantRuntimeError {
  readonly limit: TemplateLimitName;
  readonly value: number;
  constructor(limit: TemplateLimitName, value: number, what: string) {
    super(
      'TEMPLATE_LIMIT',
      `The chat template exceeded its ${limit} limit of ${value} (${what}); it is probably hostile or broken. ` +
        `If you trust it, raise the limit with { templateLimits: { ${limit}: <larger> } }, or pass { chatTemplate } with another template.`,
    );
    this.name = 'TemplateLimitError';
    this.limit = limit;
    this.value = value;
  }
}

/**
 * A KV cache type this model or attention path cannot use (a block type whose block does not divide
 * the head size; a quantized V cache without flash attention). `supported` lists the types that work.
 */
export class KVTypeUnsupportedError extends QuantRuntimeError {
  readonly kvType: string;
  readonly supported: readonly string[];
  constructor(kvType: string, reason: string, supported: readonly string[]) {
    super(
      'UNSUPPORTED_KV_TYPE',
      `KV cache type ${kvType} cannot be used: ${reason}. Types that work here: ${supported.join(', ')}.`,
    );
    this.name = 'KVTypeUnsupportedError';
    this.kvType = kvType;
    this.supported = supported;
  }
}

/**
 * A saved session file that cannot be restored: `reason` says why (not a session file, a newer
 * format version, another model or cache type, truncated or corrupted); `path` is the file.
 */
export class SessionFileError extends QuantRuntimeError {
  readonly path: string;
  readonly reason: 'NOT_A_SESSION' | 'VERSION' | 'MODEL_MISMATCH' | 'CORRUPT' | 'TRUNCATED' | 'IO';
  constructor(
    path: string,
    reason: SessionFileError['reason'],
    message: string,
    options?: { cause?: unknown },
  ) {
    super('SESSION_FILE', `${path}: ${message}`, options);
    this.name = 'SessionFileError';
    this.path = path;
    this.reason = reason;
  }
}

/** A session's KV cache would not fit in the memory available to the backend. */
export class ContextTooLargeError extends QuantRuntimeError {
  readonly contextSize: number;
  /** Bytes the KV cache needs. */
  readonly bytes: number;
  /** Bytes available for it. */
  readonly available: number;
  /** The largest context that fits (0 when none does). */
  readonly maxContextSize: number;
  /** Smaller KV cache types that would fit this context, with their byte sizes (largest first). */
  readonly fittingCacheTypes: readonly { type: string; bytes: number }[];
  constructor(
    contextSize: number,
    bytes: number,
    available: number,
    maxContextSize: number,
    where: string,
    fittingCacheTypes: readonly { type: string; bytes: number }[] = [],
  ) {
    super(
      'CONTEXT_TOO_LARGE',
      `A ${contextSize}-token context needs ${formatBytes(bytes)} of KV cache, but only ${formatBytes(available)} is available (${where}). ` +
        (maxContextSize > 0
          ? `Use a smaller contextSize: at most ${maxContextSize} tokens fit now`
          : 'Free memory, or use a smaller model') +
        (fittingCacheTypes.length
          ? `; or a quantized KV cache type (kvType / --cache-type-k and --cache-type-v): ${fittingCacheTypes
              .map((c) => `${c.type} needs ${formatBytes(c.bytes)}`)
              .join(', ')}.`
          : '.'),
    );
    this.fittingCacheTypes = fittingCacheTypes;
    this.name = 'ContextTooLargeError';
    this.contextSize = contextSize;
    this.bytes = bytes;
    this.available = available;
    this.maxContextSize = maxContextSize;
  }
}

function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(1)} ${units[u]}`;
}

/**
 * The model's weights, with the smallest useful KV cache and the forward pass's scratch memory, do
 * not fit in what the backend can address (the wasm backend: 4 GiB of linear memory less a reserve),
 * found from the GGUF header before any weight is downloaded or loaded.
 */
export class ModelTooLargeError extends QuantRuntimeError {
  /** Bytes the weights take in the backend's memory. */
  readonly weightBytes: number;
  /** Bytes of the forward pass's scratch buffers (estimate) plus a 256-token KV cache. */
  readonly overheadBytes: number;
  /** Bytes the backend can hold. */
  readonly available: number;
  constructor(weightBytes: number, overheadBytes: number, available: number, where: string) {
    super(
      'MODEL_TOO_LARGE',
      `${where} does not fit in the wasm backend's memory: its weights take ${formatBytes(weightBytes)} and a forward pass with a 256-token KV cache needs ${formatBytes(overheadBytes)} more, ` +
        `but wasm32 linear memory holds at most ${formatBytes(available)}. Use a smaller quantization (e.g. Q4_K_M instead of Q8_0) or a smaller model, ` +
        "or the native backend in Node.js (backend: 'native').",
    );
    this.name = 'ModelTooLargeError';
    this.weightBytes = weightBytes;
    this.overheadBytes = overheadBytes;
    this.available = available;
  }
}
