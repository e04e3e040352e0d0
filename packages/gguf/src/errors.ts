/** Machine-readable error codes raised by this package (see the README's table). */
export type GGUFErrorCode =
  | 'GGUF_BAD_MAGIC'
  | 'GGUF_BAD_VERSION'
  | 'GGUF_VERSION_LAYOUT_MISMATCH'
  | 'GGUF_BAD_TENSOR_COUNT'
  | 'GGUF_BAD_KV_COUNT'
  | 'GGUF_BAD_STRING_LENGTH'
  | 'GGUF_INVALID_UTF8'
  | 'GGUF_EMPTY_KEY'
  | 'GGUF_DUPLICATE_KEY'
  | 'GGUF_BAD_VALUE_TYPE'
  | 'GGUF_BAD_ARRAY_LENGTH'
  | 'GGUF_BAD_ALIGNMENT'
  | 'GGUF_BAD_ALIGNMENT_TYPE'
  | 'GGUF_BAD_TENSOR_NAME'
  | 'GGUF_DUPLICATE_TENSOR'
  | 'GGUF_BAD_N_DIMS'
  | 'GGUF_BAD_DIMENSION'
  | 'GGUF_ELEMENT_COUNT_OVERFLOW'
  | 'GGUF_BYTE_SIZE_OVERFLOW'
  | 'GGUF_UNKNOWN_TENSOR_TYPE'
  | 'GGUF_BAD_ROW_SIZE'
  | 'GGUF_TENSOR_OFFSET_OUT_OF_BOUNDS'
  | 'GGUF_TENSOR_MISALIGNED'
  | 'GGUF_TENSOR_OVERLAP'
  | 'GGUF_DATA_TRUNCATED'
  | 'GGUF_TRUNCATED'
  | 'GGUF_HEADER_TOO_LARGE'
  | 'GGUF_KEY_NOT_FOUND'
  | 'GGUF_WRONG_VALUE_TYPE'
  | 'GGUF_TENSOR_NOT_FOUND'
  | 'GGUF_SOURCE_ERROR'
  | 'GGUF_INVALID_ARGUMENT'
  | 'GGUF_TENSOR_DATA_SIZE'
  | 'GGUF_WRITE_ERROR'
  | 'GGUF_SPLIT_INVALID'
  | 'GGUF_CLOSED';

export interface GGUFErrorOptions {
  /** Byte offset in the file where the problem was found (absolute, from the file start). */
  offset?: number;
  /** File path or URL, when known. */
  file?: string;
  /** Tensor name, when the problem concerns one tensor. */
  tensor?: string;
  /** Metadata key, when the problem concerns one key. */
  key?: string;
  cause?: unknown;
}

/**
 * Every failure of this package is a GGUFError: `code` says what went wrong, `offset` where in the
 * file (absolute byte offset, or -1 when not about a position), and the message names the file,
 * the tensor or key involved and what to do about it.
 */
export class GGUFError extends Error {
  override readonly name = 'GGUFError';
  readonly code: GGUFErrorCode;
  /** Absolute byte offset in the file, or -1 when the error is not about a position. */
  readonly offset: number;
  readonly file: string | undefined;
  readonly tensor: string | undefined;
  readonly key: string | undefined;
  /** The message without the location suffix. */
  readonly detail: string;

  constructor(code: GGUFErrorCode, message: string, options: GGUFErrorOptions = {}) {
    const where: string[] = [];
    if (options.file !== undefined) where.push(options.file);
    if (options.offset !== undefined && options.offset >= 0) where.push(`at byte ${options.offset}`);
    if (options.tensor !== undefined) where.push(`tensor '${options.tensor}'`);
    if (options.key !== undefined && !message.includes(`'${options.key}'`))
      where.push(`key '${options.key}'`);
    super(
      `${message}${where.length > 0 ? ` (${where.join(', ')})` : ''} [${code}]`,
      options.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.code = code;
    this.detail = message;
    this.offset = options.offset ?? -1;
    this.file = options.file;
    this.tensor = options.tensor;
    this.key = options.key;
  }

  /** A copy of this error that also names the file (used when the error crosses the source boundary). */
  withFile(file: string | undefined): GGUFError {
    if (file === undefined || this.file !== undefined) return this;
    return new GGUFError(this.code, this.detail, {
      offset: this.offset,
      file,
      ...(this.tensor !== undefined ? { tensor: this.tensor } : {}),
      ...(this.key !== undefined ? { key: this.key } : {}),
      ...(this.cause !== undefined ? { cause: this.cause } : {}),
    });
  }
}
