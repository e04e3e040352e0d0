/** Typed errors of @quant/runtime. Every error has a stable `code`. */

export type RuntimeErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_TOKEN'
  | 'INVALID_STATE'
  | 'CONTEXT_FULL'
  | 'DISPOSED'
  | 'ABORTED'
  | 'LOAD_FAILED'
  | 'UNSUPPORTED_TENSOR_TYPE'
  | 'CHAT_TEMPLATE';

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
    `Option ${name} = ${JSON.stringify(value)} is invalid: expected ${want}.`,
  );
}
