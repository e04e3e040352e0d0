/** The `quant` command's exit codes (documented in the README). */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** An unexpected failure (a bug, an I/O error we did not foresee). */
  FAILURE: 1,
  /** Bad command line: unknown command or flag, missing or invalid argument. */
  USAGE: 2,
  /** A file does not exist or cannot be read. */
  NOT_FOUND: 3,
  /** The file is not a GGUF, or a damaged one. */
  BAD_FILE: 4,
  /** The model is a GGUF quant cannot run: unknown architecture, tensor type, tokenizer or metadata. */
  UNSUPPORTED: 5,
  /** The model does not fit in memory. */
  NO_MEMORY: 6,
  /** The context is too small for the prompt (or the perplexity text too short for the context). */
  CONTEXT: 7,
  /** Writing an output file failed or was refused (it exists without --force, is not a regular file). */
  WRITE_FAILED: 8,
  /** The input model's weights hold NaN or infinite values (`quantize`: the tensor is named). */
  NON_FINITE: 9,
  /** Stopped by SIGHUP (the terminal closed), 128 + 1 as shells report it. */
  HANGUP: 129,
  /** Interrupted by Ctrl-C (SIGINT), 128 + 2 as shells report it. */
  INTERRUPTED: 130,
  /** Stopped by SIGTERM, 128 + 15 as shells report it. */
  TERMINATED: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
