import type { Session } from '../model/session.js';
import type { SamplingOptions } from '../sampling/options.js';

export interface ContextShiftOptions {
  /** Tokens at the start that are always kept (default: 1 when the context starts with BOS, else 0). */
  keep?: number;
}

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default: no limit — until an end-of-generation token or a full context). */
  maxTokens?: number;
  /** Generation ends before any of these strings; the stop string itself is not emitted. */
  stop?: readonly string[];
  /** Stops generation; the iterator then throws AbortError (code ABORTED). */
  signal?: AbortSignal;
  /**
   * When the context fills up: false (default) → ContextFullError; true or options → drop the oldest
   * half of the tokens after `keep` and continue (the kept tail is re-evaluated at its new positions).
   */
  contextShift?: boolean | ContextShiftOptions;
  /** Token ids that end generation, in addition to (or with `replaceEog`, instead of) the tokenizer's set. */
  eogTokens?: readonly number[];
  replaceEog?: boolean;
  /** For a string prompt: add BOS (default: the tokenizer's `add_bos_token` setting). */
  addBos?: boolean;
  /** For a string prompt: recognise special-token text such as `<|end|>` (default false). */
  parseSpecial?: boolean;
  /**
   * Continue in this session (its cached tokens are reused where they match the prompt's start).
   * Without it, a fresh session is created and disposed after generation.
   */
  session?: Session;
  /** Context size of the session created when `session` is not given. */
  contextSize?: number;
  /**
   * Record each generated token's log-probability and this many most likely alternatives (an integer ≥ 0)
   * in `GenerationStream.logprobs`; default: off. From the raw logits (before penalties and filters).
   */
  logprobs?: number;
}

export type FinishReason = 'eog' | 'stop' | 'length' | 'abort' | 'error';
