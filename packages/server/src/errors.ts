/**
 * Errors of @quant/server. `ApiError` is what a client sees: an HTTP status and OpenAI's error body
 * `{ error: { message, type, param, code } }`. `ServerError` is for programming and startup faults
 * (bad options, a port already in use).
 */

/** OpenAI's error `type` values, plus the server-side ones llama-server also uses. */
export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'server_error'
  | 'unavailable_error'
  | 'timeout_error';

/** The JSON body of every error response. */
export interface OpenAIErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

/** An error answered to the client with `status` and OpenAI's error shape. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly param: string | null;
  readonly code: string | null;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    type: ApiErrorType,
    message: string,
    o: {
      param?: string | null;
      code?: string | null;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(message, o.cause !== undefined ? { cause: o.cause } : undefined);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.param = o.param ?? null;
    this.code = o.code ?? null;
    this.headers = o.headers ?? {};
  }

  toJSON(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 invalid_request_error about one request field. */
export function invalidRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): ApiError {
  return new ApiError(400, 'invalid_request_error', message, { param, code });
}

export type ServerErrorCode = 'INVALID_OPTION' | 'LISTEN_FAILED' | 'MODEL_LOAD_FAILED';

/** A fault of the server itself (its options, the socket), not of a request. */
export class ServerError extends Error {
  readonly code: ServerErrorCode;
  constructor(code: ServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerError';
    this.code = code;
  }
}

export function invalidServerOption(name: string, value: unknown, want: string): ServerError {
  return new ServerError(
    'INVALID_OPTION',
    `Server option ${name} = ${JSON.stringify(value)} is invalid: expected ${want}.`,
  );
}
