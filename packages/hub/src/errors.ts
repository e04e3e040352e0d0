/** Typed errors of @quant/hub. Every error has a stable `code`; messages say what, where and what to do. */

export type HubErrorCode =
  /** The reference string cannot be parsed (`hf:` without owner/repo, an empty quantization tag…). */
  | 'INVALID_REFERENCE'
  /** Not a file, not a URL, not an `hf:` reference and not a name in the alias registry. */
  | 'UNKNOWN_MODEL'
  /** The alias registry file is unreadable or malformed. */
  | 'INVALID_REGISTRY'
  /** The repository, revision or file does not exist on the Hub (HTTP 404). */
  | 'NOT_FOUND'
  /** HTTP 401/403: a gated or private repository; the user must accept its licence and set HF_TOKEN. */
  | 'UNAUTHORIZED'
  /** No file in the repository carries the requested quantization tag. */
  | 'QUANT_NOT_FOUND'
  /** Several files (or split sets) carry the requested quantization tag. */
  | 'QUANT_AMBIGUOUS'
  /** HF_HUB_OFFLINE is set (or the Hub is unreachable) and the file is not in the cache. */
  | 'OFFLINE'
  /** The Hub answered something the protocol does not allow (no size, no hash, a bad Content-Range). */
  | 'PROTOCOL'
  /** A network failure or HTTP error that retrying did not fix; the partial download is kept. */
  | 'DOWNLOAD_FAILED'
  /** The downloaded bytes do not hash to the Hub's sha256; the partial blob was deleted. */
  | 'HASH_MISMATCH'
  /** Not enough free disk space for the file. */
  | 'INSUFFICIENT_SPACE'
  /** Another process is downloading the same file into this cache. */
  | 'LOCKED'
  /** The download was aborted (Ctrl-C, an AbortSignal); the partial download is kept for resuming. */
  | 'ABORTED'
  /** A reference given to `removeCachedModel` matches nothing in the cache. */
  | 'NOT_CACHED';

export class HubError extends Error {
  readonly code: HubErrorCode;
  /** The reference or URL concerned, when there is one. */
  readonly reference?: string;
  /** For QUANT_NOT_FOUND / QUANT_AMBIGUOUS: the quantization tags the repository offers. */
  readonly availableTags?: readonly string[];
  /** For QUANT_AMBIGUOUS: the files that matched. */
  readonly candidates?: readonly string[];
  /** HTTP status, when the error comes from an HTTP answer. */
  readonly status?: number;
  constructor(
    code: HubErrorCode,
    message: string,
    options: {
      cause?: unknown;
      reference?: string;
      availableTags?: readonly string[];
      candidates?: readonly string[];
      status?: number;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    if (options.reference !== undefined) this.reference = options.reference;
    if (options.availableTags !== undefined) this.availableTags = options.availableTags;
    if (options.candidates !== undefined) this.candidates = options.candidates;
    if (options.status !== undefined) this.status = options.status;
  }
}
