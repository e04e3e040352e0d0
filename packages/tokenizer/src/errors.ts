/** Machine-readable error codes raised by this package (see the README's table). */
export type TokenizerErrorCode =
  /** `tokenizer.ggml.model` (or the tokenizer.json model type) is not one this package implements. */
  | 'TOKENIZER_UNSUPPORTED_MODEL'
  /** `tokenizer.ggml.pre` names a pre-tokenizer this package does not implement. */
  | 'TOKENIZER_UNSUPPORTED_PRE'
  /** A required metadata key is missing (tokens, merges …). */
  | 'TOKENIZER_MISSING_KEY'
  /** A metadata key has the wrong type or length (e.g. fewer scores than tokens). */
  | 'TOKENIZER_BAD_METADATA'
  /** A token id passed to decode / tokenToPiece is not an integer in [0, vocabSize). */
  | 'TOKENIZER_INVALID_TOKEN_ID'
  /** An argument has the wrong type (e.g. encode() given a number). */
  | 'TOKENIZER_INVALID_ARGUMENT'
  /** The vocabulary cannot represent a byte (no `<0xNN>` token, no raw byte token and no unknown token). */
  | 'TOKENIZER_NO_BYTE_TOKEN';

export interface TokenizerErrorOptions {
  /** Metadata key the problem concerns. */
  key?: string;
  /** Token id the problem concerns. */
  tokenId?: number;
  cause?: unknown;
}

/**
 * Every failure of this package is a TokenizerError: `code` says what went wrong; the message says
 * where (metadata key, token id) and what to do about it.
 */
export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
  readonly code: TokenizerErrorCode;
  readonly key: string | undefined;
  readonly tokenId: number | undefined;

  constructor(code: TokenizerErrorCode, message: string, options: TokenizerErrorOptions = {}) {
    super(`${message} [${code}]`, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.key = options.key;
    this.tokenId = options.tokenId;
  }
}
