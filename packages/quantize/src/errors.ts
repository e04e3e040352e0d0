/** Machine-readable reasons a plan or a quantization fails. */
export type QuantizeErrorCode =
  | 'UNKNOWN_FILE_TYPE'
  | 'UNSUPPORTED_TARGET_TYPE'
  | 'UNSUPPORTED_SOURCE_TYPE'
  | 'REQUANTIZE_NOT_ALLOWED'
  | 'BAD_MODEL_METADATA'
  | 'BAD_TENSOR_SHAPE'
  | 'SAME_INPUT_OUTPUT'
  | 'OUTPUT_EXISTS'
  | 'OUTPUT_NOT_REGULAR'
  | 'READ_FAILED'
  | 'QUANTIZE_FAILED'
  | 'NON_FINITE_VALUES'
  | 'WRITE_FAILED'
  | 'ABORTED';

/** Every error this package throws on purpose. `code` says what kind; the message says where and what to do. */
export class QuantizeError extends Error {
  readonly code: QuantizeErrorCode;
  /** The tensor concerned, when there is one. */
  readonly tensor: string | undefined;
  /** The file concerned, when there is one. */
  readonly path: string | undefined;

  constructor(
    code: QuantizeErrorCode,
    message: string,
    opts: { tensor?: string; path?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'QuantizeError';
    this.code = code;
    this.tensor = opts.tensor;
    this.path = opts.path;
  }
}
