/**
 * Response objects exactly as OpenAI's API writes them: chat.completion, chat.completion.chunk,
 * text_completion (whole and streamed), usage and both log-probability formats (the chat one and the
 * legacy completions one).
 */
import { randomUUID } from 'node:crypto';
import type { Model, TokenLogprob, TokenLogprobEntry } from '@quant/runtime';
import type { OpenAIFinishReason } from './engine.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export const usage = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
});

export const newId = (prefix: 'chatcmpl' | 'cmpl'): string => `${prefix}-${randomUUID().replace(/-/g, '')}`;

export const unixTime = (): number => Math.floor(Date.now() / 1000);

interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/** Token text and bytes for log-probability entries (a byte token may be half a character). */
export class TokenTexts {
  private readonly model: Model;
  private readonly cache = new Map<number, { text: string; bytes: number[] }>();
  constructor(model: Model) {
    this.model = model;
  }
  get(id: number): { text: string; bytes: number[] } {
    let e = this.cache.get(id);
    if (!e) {
      const tok = this.model.tokenizer;
      e = { text: tok.tokenToPiece(id), bytes: Array.from(tok.tokenToBytes(id)) };
      if (this.cache.size < 65536) this.cache.set(id, e);
    }
    return e;
  }
}

/** The chat `logprobs` object: `{ content: [...] }`. */
export function chatLogprobs(
  records: readonly TokenLogprob[],
  texts: TokenTexts,
): { content: ChatTokenLogprob[] } {
  return {
    content: records.map((r) => {
      const t = texts.get(r.token);
      return {
        token: t.text,
        logprob: r.logprob,
        bytes: t.bytes,
        top_logprobs: r.top.map((a: TokenLogprobEntry) => {
          const at = texts.get(a.token);
          return { token: at.text, logprob: a.logprob, bytes: at.bytes };
        }),
      };
    }),
  };
}

export interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

/** The completions `logprobs` object; `offset` is the text length before the first record's token. */
export function legacyLogprobs(
  records: readonly TokenLogprob[],
  texts: TokenTexts,
  offset: number,
): LegacyLogprobs {
  const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const r of records) {
    const t = texts.get(r.token).text;
    out.tokens.push(t);
    out.token_logprobs.push(r.logprob);
    const top: Record<string, number> = {};
    for (const a of r.top) {
      const k = texts.get(a.token).text;
      if (!(k in top)) top[k] = a.logprob;
    }
    out.top_logprobs.push(top);
    out.text_offset.push(at);
    at += t.length;
  }
  return out;
}

interface Common {
  id: string;
  created: number;
  model: string;
}

export function chatCompletion(
  c: Common,
  text: string,
  finish: OpenAIFinishReason,
  u: Usage,
  logprobs: { content: ChatTokenLogprob[] } | null,
) {
  return {
    id: c.id,
    object: 'chat.completion' as const,
    created: c.created,
    model: c.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: text, refusal: null },
        logprobs,
        finish_reason: finish,
      },
    ],
    usage: u,
  };
}

export function chatChunk(
  c: Common,
  delta: { role?: 'assistant'; content?: string },
  finish: OpenAIFinishReason | null,
  logprobs: { content: ChatTokenLogprob[] } | null,
  withUsage: boolean,
) {
  return {
    id: c.id,
    object: 'chat.completion.chunk' as const,
    created: c.created,
    model: c.model,
    choices: [{ index: 0, delta, logprobs, finish_reason: finish }],
    ...(withUsage ? { usage: null } : {}),
  };
}

/** The last chunk of a stream with `stream_options.include_usage`: no choices, the usage. */
export function usageChunk(c: Common, object: 'chat.completion.chunk' | 'text_completion', u: Usage) {
  return { id: c.id, object, created: c.created, model: c.model, choices: [], usage: u };
}

export function textCompletion(
  c: Common,
  text: string,
  finish: OpenAIFinishReason | null,
  logprobs: LegacyLogprobs | null,
  u: Usage | null | undefined,
) {
  return {
    id: c.id,
    object: 'text_completion' as const,
    created: c.created,
    model: c.model,
    choices: [{ index: 0, text, logprobs, finish_reason: finish }],
    ...(u !== undefined ? { usage: u } : {}),
  };
}
