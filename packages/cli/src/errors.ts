/**
 * The one place where errors become what the user sees: a single line and an exit code. The
 * libraries' typed errors are recognised by `name` and `code` (duck-typed, so a second copy of a
 * package in node_modules still maps).
 */
import { EXIT, type ExitCode } from './exit-codes.js';

export type CliErrorCode =
  | 'USAGE'
  | 'FILE_NOT_FOUND'
  | 'NOT_A_FILE'
  | 'MODEL_TOO_LARGE'
  | 'PROMPT_TOO_LONG'
  | 'TEXT_TOO_SHORT'
  | 'EMPTY_PROMPT'
  | 'NOT_A_TTY'
  | 'PLUGIN_NOT_FOUND'
  | 'PLUGIN_FAILED';

const CLI_EXIT: Record<CliErrorCode, ExitCode> = {
  USAGE: EXIT.USAGE,
  FILE_NOT_FOUND: EXIT.NOT_FOUND,
  NOT_A_FILE: EXIT.NOT_FOUND,
  MODEL_TOO_LARGE: EXIT.NO_MEMORY,
  PROMPT_TOO_LONG: EXIT.CONTEXT,
  TEXT_TOO_SHORT: EXIT.CONTEXT,
  EMPTY_PROMPT: EXIT.USAGE,
  NOT_A_TTY: EXIT.USAGE,
  PLUGIN_NOT_FOUND: EXIT.NOT_FOUND,
  PLUGIN_FAILED: EXIT.FAILURE,
};

/** An error the CLI itself raises; the message is already what the user should read. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  readonly exitCode: ExitCode;
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = CLI_EXIT[code];
  }
}

export interface UserError {
  /** One line, without the `quant: error:` prefix. */
  message: string;
  exitCode: ExitCode;
}

interface CodedError extends Error {
  code?: unknown;
  registered?: unknown;
  architecture?: unknown;
  detail?: unknown;
  file?: unknown;
  path?: unknown;
  maxContextSize?: unknown;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

/** Strips the ` [GGUF_CODE]` suffix @quant/gguf appends to its messages. */
const withoutCodeSuffix = (s: string) => s.replace(/\s*\[[A-Z0-9_]+\]$/, '');

const SYSTEM_FILE_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EPERM', 'ELOOP']);

function systemFileError(e: CodedError): UserError | undefined {
  if (typeof e.code !== 'string' || !SYSTEM_FILE_CODES.has(e.code)) return undefined;
  const path = (e as { path?: string }).path;
  const what =
    e.code === 'ENOENT'
      ? 'no such file'
      : e.code === 'EISDIR'
        ? 'is a directory, not a file'
        : e.code === 'EACCES' || e.code === 'EPERM'
          ? 'permission denied'
          : e.code.toLowerCase();
  return { message: path ? `${path}: ${what}` : oneLine(e.message), exitCode: EXIT.NOT_FOUND };
}

function ggufError(e: CodedError): UserError {
  const code = String(e.code);
  const detail = typeof e.detail === 'string' ? e.detail : withoutCodeSuffix(e.message);
  const file = typeof e.file === 'string' ? e.file : undefined;
  if (code === 'GGUF_SOURCE_ERROR') {
    if (e.cause instanceof Error) {
      const sys = systemFileError(e.cause as CodedError);
      if (sys) return sys;
    }
    // The bytes could not be read (network, HTTP status, I/O): the file is unreachable, not invalid.
    return {
      message: `cannot read ${file ?? 'the model'}: ${oneLine(detail)}`,
      exitCode: EXIT.NOT_FOUND,
    };
  }
  if (code === 'GGUF_BAD_MAGIC') {
    const what = file ?? 'the file';
    return {
      message: /not a GGUF/i.test(detail) ? `${what}: ${detail}` : `${what} is not a GGUF file: ${detail}`,
      exitCode: EXIT.BAD_FILE,
    };
  }
  return {
    message: `${file ? `${file}: ` : ''}invalid GGUF: ${oneLine(withoutCodeSuffix(e.message))}`,
    exitCode: EXIT.BAD_FILE,
  };
}

function pluginError(e: CodedError): UserError {
  if (e.code === 'UNKNOWN_ARCHITECTURE') {
    const reg = Array.isArray(e.registered) ? (e.registered as string[]) : [];
    return {
      message:
        `unsupported architecture "${String(e.architecture)}"; installed architecture plugins: ${reg.length ? reg.join(', ') : '(none)'}. ` +
        'Install a plugin package for it and load it with --plugin <package or path> (repeatable) or ' +
        'QUANT_PLUGINS=<package or path>[,…] (see @quant/plugin-api).',
      exitCode: EXIT.UNSUPPORTED,
    };
  }
  return { message: `unsupported model: ${oneLine(e.message)}`, exitCode: EXIT.UNSUPPORTED };
}

function runtimeError(e: CodedError): UserError {
  switch (e.code) {
    case 'CONTEXT_FULL':
      return { message: `${oneLine(e.message)} (use --ctx to enlarge the context)`, exitCode: EXIT.CONTEXT };
    case 'INVALID_OPTION':
    case 'INVALID_PROMPT':
      return { message: oneLine(e.message), exitCode: EXIT.USAGE };
    case 'CONTEXT_TOO_LARGE': {
      const max = typeof e.maxContextSize === 'number' ? e.maxContextSize : 0;
      return {
        message: `out of memory: ${oneLine(e.message)}${max > 0 ? ` (use --ctx ${max} or less)` : ''}`,
        exitCode: EXIT.NO_MEMORY,
      };
    }
    case 'NON_FINITE_LOGITS':
      return { message: `damaged model: ${oneLine(e.message)}`, exitCode: EXIT.NON_FINITE };
    case 'TEMPLATE_LIMIT':
      return { message: `unsupported chat template: ${oneLine(e.message)}`, exitCode: EXIT.UNSUPPORTED };
    case 'ABORTED':
      return { message: 'interrupted', exitCode: EXIT.INTERRUPTED };
    case 'UNSUPPORTED_TENSOR_TYPE':
    case 'LOAD_FAILED':
    case 'CHAT_TEMPLATE':
      return { message: `unsupported model: ${oneLine(e.message)}`, exitCode: EXIT.UNSUPPORTED };
    default:
      return { message: oneLine(e.message), exitCode: EXIT.FAILURE };
  }
}

function kernelError(e: CodedError): UserError {
  switch (e.code) {
    case 'OUT_OF_MEMORY':
      return { message: `out of memory: ${oneLine(e.message)}`, exitCode: EXIT.NO_MEMORY };
    case 'BACKEND_UNAVAILABLE':
      return {
        message: `backend unavailable: ${oneLine(e.message)} (try --backend native or --backend wasm)`,
        exitCode: EXIT.UNSUPPORTED,
      };
    case 'UNSUPPORTED_TYPE':
    case 'NOT_SUPPORTED':
      return { message: `unsupported model: ${oneLine(e.message)}`, exitCode: EXIT.UNSUPPORTED };
    default:
      return { message: oneLine(e.message), exitCode: EXIT.FAILURE };
  }
}

function quantizeError(e: CodedError): UserError {
  const cause = e.cause instanceof Error ? (e.cause as CodedError) : undefined;
  switch (e.code) {
    case 'UNKNOWN_FILE_TYPE':
    case 'SAME_INPUT_OUTPUT':
      return { message: oneLine(e.message), exitCode: EXIT.USAGE };
    case 'UNSUPPORTED_SOURCE_TYPE':
    case 'UNSUPPORTED_TARGET_TYPE':
    case 'REQUANTIZE_NOT_ALLOWED':
    case 'BAD_MODEL_METADATA':
    case 'BAD_TENSOR_SHAPE':
      return { message: oneLine(e.message), exitCode: EXIT.UNSUPPORTED };
    case 'READ_FAILED':
      if (cause) {
        const inner = describeError(cause);
        if (inner.exitCode === EXIT.NOT_FOUND || inner.exitCode === EXIT.BAD_FILE) return inner;
      }
      return { message: oneLine(e.message), exitCode: EXIT.FAILURE };
    case 'WRITE_FAILED':
    case 'OUTPUT_EXISTS':
    case 'OUTPUT_NOT_REGULAR':
      return { message: oneLine(e.message), exitCode: EXIT.WRITE_FAILED };
    case 'NON_FINITE_VALUES':
      return { message: oneLine(e.message), exitCode: EXIT.NON_FINITE };
    case 'ABORTED':
      return { message: oneLine(e.message), exitCode: EXIT.INTERRUPTED };
    default:
      return { message: oneLine(e.message), exitCode: EXIT.FAILURE };
  }
}

function hubError(e: CodedError): UserError {
  const message = oneLine(e.message);
  switch (e.code) {
    case 'INVALID_REFERENCE':
    case 'INVALID_REGISTRY':
    case 'QUANT_AMBIGUOUS':
      return { message, exitCode: EXIT.USAGE };
    case 'UNKNOWN_MODEL':
    case 'NOT_FOUND':
    case 'QUANT_NOT_FOUND':
    case 'OFFLINE':
    case 'NOT_CACHED':
      return { message, exitCode: EXIT.NOT_FOUND };
    case 'HASH_MISMATCH':
      return { message, exitCode: EXIT.BAD_FILE };
    case 'INSUFFICIENT_SPACE':
      return { message, exitCode: EXIT.WRITE_FAILED };
    case 'ABORTED':
      return {
        message: 'interrupted; the partial download is kept and the same command resumes it',
        exitCode: EXIT.INTERRUPTED,
      };
    default:
      return { message, exitCode: EXIT.FAILURE };
  }
}

/** What to tell the user about `e`, and the exit code. */
export function describeError(e: unknown): UserError {
  if (e instanceof CliError) return { message: oneLine(e.message), exitCode: e.exitCode };
  if (!(e instanceof Error)) return { message: String(e), exitCode: EXIT.FAILURE };
  const err = e as CodedError;
  switch (err.name) {
    case 'GGUFError':
      return ggufError(err);
    case 'PluginError':
    case 'UnknownArchitectureError':
    case 'MetadataError':
    case 'TensorSpecError':
      return pluginError(err);
    case 'QuantRuntimeError':
    case 'ContextFullError':
    case 'ContextTooLargeError':
    case 'NonFiniteLogitsError':
    case 'TemplateLimitError':
    case 'AbortError':
      return runtimeError(err);
    case 'KernelError':
      return kernelError(err);
    case 'HubError':
      return hubError(err);
    case 'TokenizerError':
      return String(err.code).startsWith('TOKENIZER_UNSUPPORTED')
        ? { message: `unsupported tokenizer: ${oneLine(err.message)}`, exitCode: EXIT.UNSUPPORTED }
        : { message: `tokenizer: ${oneLine(err.message)}`, exitCode: EXIT.UNSUPPORTED };
    case 'QuantizeError':
      return quantizeError(err);
  }
  const sys = systemFileError(err);
  if (sys) return sys;
  if (
    err.code === 'ERR_MEMORY_ALLOCATION_FAILED' ||
    (err instanceof RangeError && /allocat/i.test(err.message))
  ) {
    return { message: `out of memory: ${oneLine(err.message)}`, exitCode: EXIT.NO_MEMORY };
  }
  return { message: oneLine(err.message), exitCode: EXIT.FAILURE };
}
