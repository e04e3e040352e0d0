/**
 * Shared by `run` and `chat`: sampling flags → runtime options, prompt tokenization (plain or through
 * the chat template), and a timed generation that streams to stdout.
 */
import type { ChatMessage, GenerateOptions, Model, Session } from '@quant/runtime';
import { CliError } from './errors.js';
import { out } from './terminal.js';

export interface SamplingFlags {
  maxTokens?: number;
  temp?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  seed?: number;
  stop?: string[];
}

export function generateOptions(f: SamplingFlags): GenerateOptions {
  const o: GenerateOptions = {};
  if (f.maxTokens !== undefined) o.maxTokens = f.maxTokens;
  if (f.temp !== undefined) o.temperature = f.temp;
  if (f.topK !== undefined) o.topK = f.topK;
  if (f.topP !== undefined) o.topP = f.topP;
  if (f.minP !== undefined) o.minP = f.minP;
  if (f.repeatPenalty !== undefined) o.repeatPenalty = f.repeatPenalty;
  if (f.seed !== undefined) o.seed = f.seed;
  if (f.stop && f.stop.length > 0) o.stop = f.stop;
  return o;
}

/** Tokens of a plain prompt (BOS per the model's tokenizer settings). */
export function promptTokens(model: Model, prompt: string): number[] {
  return model.tokenize(prompt);
}

/** Tokens of `messages` rendered with the chat template, as `model.chat` tokenizes them. */
export function chatTokens(model: Model, messages: readonly ChatMessage[]): number[] {
  const text = model.renderChat(messages);
  const tok = model.tokenizer;
  const bosText = tok.bosId === null ? '' : tok.tokenText(tok.bosId);
  const templateWritesBos = bosText.length > 0 && text.startsWith(bosText);
  return model.tokenize(text, { parseSpecial: true, ...(templateWritesBos ? { addBos: false } : {}) });
}

/** Fails with PROMPT_TOO_LONG unless the prompt leaves room for at least one generated token. */
export function checkPromptFits(tokens: readonly number[], contextSize: number): void {
  if (tokens.length === 0)
    throw new CliError('EMPTY_PROMPT', 'the prompt is empty and the model adds no BOS token; give a prompt');
  if (tokens.length >= contextSize) {
    throw new CliError(
      'PROMPT_TOO_LONG',
      `the prompt is ${tokens.length} tokens but the context holds ${contextSize}; use --ctx ${tokens.length + 256} or more, or a shorter prompt`,
    );
  }
}

export interface GenerationStats {
  promptTokens: number;
  promptSeconds: number;
  generatedTokens: number;
  generationSeconds: number;
  finishReason: string;
  text: string;
}

export interface TimedGeneration {
  model: Model;
  session: Session;
  /** The whole prompt (earlier tokens already in the session are reused, not re-evaluated). */
  tokens: readonly number[];
  options: GenerateOptions;
  signal?: AbortSignal;
  /** Called with each text piece (default: write to stdout). */
  onText?: (piece: string) => void | Promise<void>;
  /** Called once the prompt (all but its last token) is in the session, before generating (--prompt-cache saves it). */
  onPromptEvaluated?: (session: Session) => void | Promise<void>;
}

/**
 * Evaluates the new part of the prompt (timed as prompt processing), then generates with the
 * runtime's sampler, streaming text. A full context after the prompt ends generation with
 * finishReason 'context'; an abort ends it with 'abort'. Other errors propagate.
 */
export async function timedGenerate(g: TimedGeneration): Promise<GenerationStats> {
  const { model, session, tokens } = g;
  const write = g.onText ?? ((p: string) => out(p));
  const reuse = commonPrefix(session.tokens, tokens);
  session.truncate(reuse);
  const t0 = performance.now();
  const head = tokens.slice(reuse, -1);
  if (head.length > 0) await session.evaluate(head);
  const t1 = performance.now();
  if (head.length > 0) await g.onPromptEvaluated?.(session);
  const stream = model.generate(tokens, { ...g.options, session, ...(g.signal ? { signal: g.signal } : {}) });
  let text = '';
  let finishReason: string;
  try {
    for await (const piece of stream) {
      text += piece;
      await write(piece);
      // Let signal handlers (Ctrl-C) and stdin run between tokens.
      await new Promise<void>((r) => setImmediate(r));
    }
    finishReason = stream.finishReason ?? 'eog';
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ABORTED') finishReason = 'abort';
    else if (code === 'CONTEXT_FULL' && session.position >= tokens.length) finishReason = 'context';
    else throw e;
  }
  const t2 = performance.now();
  return {
    promptTokens: head.length + 1,
    promptSeconds: (t1 - t0) / 1000,
    generatedTokens: stream.tokens.length,
    generationSeconds: (t2 - t1) / 1000,
    finishReason,
    text,
  };
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

const rate = (n: number, s: number) => (s > 0 ? (n / s).toFixed(2) : '∞');

/** "prompt 12 tokens, 850.31 tok/s · generation 128 tokens, 95.02 tok/s" */
export function formatStats(s: GenerationStats): string {
  return (
    `prompt ${s.promptTokens} token${s.promptTokens === 1 ? '' : 's'}, ${rate(s.promptTokens, s.promptSeconds)} tok/s · ` +
    `generation ${s.generatedTokens} token${s.generatedTokens === 1 ? '' : 's'}, ${rate(s.generatedTokens, s.generationSeconds)} tok/s`
  );
}
