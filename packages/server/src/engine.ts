/**
 * The model side of the server: turning validated requests into prompt tokens and generate options
 * (chat template, context checks, OpenAI → runtime sampling names), and running one generation on a
 * slot as a stream of text pieces with their log-probabilities.
 */
import type { ChatMessage, GenerateOptions, Model, TokenLogprob } from '@quant/runtime';
import { ApiError, invalidRequest } from './errors.js';
import type { ChatCompletionRequest, CompletionRequest } from './schemas.js';
import type { Slot } from './slots.js';

/** What OpenAI calls finish_reason. */
export type OpenAIFinishReason = 'stop' | 'length';

/** A request ready to run. */
export interface PreparedRequest {
  prompt: number[];
  options: GenerateOptions;
  /** Whether log-probabilities are returned (chat `logprobs: true`, completions `logprobs: n`). */
  logprobs: boolean;
  includeUsage: boolean;
  stream: boolean;
}

export interface Piece {
  text: string;
  /** Records of the tokens generated since the previous piece (with logprobs on). */
  logprobs: TokenLogprob[];
}

export interface GenerationResult {
  finishReason: OpenAIFinishReason;
  completionTokens: number;
  /** Records not yet handed out with a piece (tokens whose text was held back or was a stop string). */
  logprobs: TokenLogprob[];
}

type SamplingFields = Pick<
  CompletionRequest,
  'temperature' | 'top_p' | 'top_k' | 'min_p' | 'seed' | 'stop' | 'presence_penalty' | 'frequency_penalty'
>;

/** OpenAI sampling fields → runtime options; absent (or null) fields keep the runtime's defaults. */
function samplingOptions(r: SamplingFields): GenerateOptions {
  const o: GenerateOptions = {};
  if (r.temperature != null) o.temperature = r.temperature;
  if (r.top_p != null) o.topP = r.top_p;
  if (r.top_k != null) o.topK = r.top_k;
  if (r.min_p != null) o.minP = r.min_p;
  if (r.seed != null) o.seed = r.seed;
  if (r.presence_penalty != null) o.presencePenalty = r.presence_penalty;
  if (r.frequency_penalty != null) o.frequencyPenalty = r.frequency_penalty;
  if (r.stop != null) o.stop = typeof r.stop === 'string' ? [r.stop] : r.stop;
  return o;
}

function contextError(ctx: number, prompt: number, max: number | undefined, what: string): ApiError {
  const msg =
    max === undefined
      ? `This model's maximum context length is ${ctx} tokens. However, your ${what} resulted in ${prompt} tokens. Please reduce the length of the ${what}.`
      : `This model's maximum context length is ${ctx} tokens. However, you requested ${prompt + max} tokens (${prompt} in the ${what}, ${max} in the completion). Please reduce the length of the ${what} or completion.`;
  return new ApiError(400, 'invalid_request_error', msg, {
    param: what === 'messages' ? 'messages' : 'prompt',
    code: 'context_length_exceeded',
  });
}

export class Engine {
  readonly model: Model;
  readonly modelId: string;
  /** Context size of every slot's session. */
  readonly contextSize: number;

  constructor(model: Model, modelId: string) {
    this.model = model;
    this.modelId = modelId;
    this.contextSize = model.contextSize;
  }

  /** 404 unless `id` names this server's model. */
  checkModel(id: string | null | undefined): void {
    if (id == null) return;
    if (id !== this.modelId) {
      throw new ApiError(
        404,
        'invalid_request_error',
        `The model '${id}' does not exist. This server serves '${this.modelId}' (see GET /v1/models).`,
        { param: 'model', code: 'model_not_found' },
      );
    }
  }

  /** Renders the chat with the model's template and tokenizes it as model.chat() does. */
  chatPrompt(messages: ChatCompletionRequest['messages']): number[] {
    const msgs: ChatMessage[] = messages.map((m) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('\n'),
    }));
    let text: string;
    try {
      text = this.model.renderChat(msgs);
    } catch (e) {
      throw invalidRequest(
        `The model's chat template could not render these messages: ${(e as Error).message}`,
        'messages',
        'chat_template_error',
      );
    }
    const tok = this.model.tokenizer;
    const bos = tok.bosId;
    const bosText = bos === null ? '' : tok.tokenText(bos);
    const templateWritesBos = bosText.length > 0 && text.startsWith(bosText);
    return this.model.tokenize(text, { parseSpecial: true, ...(templateWritesBos ? { addBos: false } : {}) });
  }

  /** The completions prompt: a string tokenized as generate() does (BOS per the model), or token ids. */
  completionPrompt(prompt: CompletionRequest['prompt']): number[] {
    if (typeof prompt === 'string') {
      const tokens = this.model.tokenize(prompt);
      if (tokens.length === 0) {
        throw invalidRequest(
          'The prompt is empty and this model adds no BOS token: give at least one token.',
          'prompt',
        );
      }
      return tokens;
    }
    const n = this.model.tokenizer.vocabSize;
    const bad = prompt.findIndex((t) => t >= n);
    if (bad >= 0) {
      throw invalidRequest(
        `Invalid value for 'prompt[${bad}]': token id ${prompt[bad]} is outside the vocabulary [0, ${n}).`,
        `prompt[${bad}]`,
      );
    }
    return [...prompt];
  }

  /** Generation limit: the request's, checked against the context, else what is left of the context. */
  private maxTokens(prompt: number, requested: number | undefined, what: string): number {
    const ctx = this.contextSize;
    if (prompt >= ctx) throw contextError(ctx, prompt, undefined, what);
    if (requested !== undefined && prompt + requested > ctx) throw contextError(ctx, prompt, requested, what);
    return requested ?? ctx - prompt;
  }

  prepareChat(r: ChatCompletionRequest): PreparedRequest {
    this.checkModel(r.model);
    if (r.max_tokens != null && r.max_completion_tokens != null && r.max_tokens !== r.max_completion_tokens) {
      throw invalidRequest(
        `'max_tokens' (${r.max_tokens}) and 'max_completion_tokens' (${r.max_completion_tokens}) disagree; give one of them.`,
        'max_tokens',
      );
    }
    const prompt = this.chatPrompt(r.messages);
    const options = samplingOptions(r);
    options.maxTokens = this.maxTokens(
      prompt.length,
      r.max_completion_tokens ?? r.max_tokens ?? undefined,
      'messages',
    );
    if (r.logprobs === true) options.logprobs = r.top_logprobs ?? 0;
    return {
      prompt,
      options,
      logprobs: r.logprobs === true,
      includeUsage: r.stream_options?.include_usage === true,
      stream: r.stream === true,
    };
  }

  prepareCompletion(r: CompletionRequest): PreparedRequest {
    this.checkModel(r.model);
    const prompt = this.completionPrompt(r.prompt);
    const options = samplingOptions(r);
    options.maxTokens = this.maxTokens(prompt.length, r.max_tokens ?? undefined, 'prompt');
    if (r.logprobs != null) options.logprobs = r.logprobs;
    return {
      prompt,
      options,
      logprobs: r.logprobs != null,
      includeUsage: r.stream_options?.include_usage === true,
      stream: r.stream === true,
    };
  }

  /**
   * Runs `req` on `slot`: yields text pieces (with the log-probability records that came with them),
   * returns why it ended. Aborting `signal` stops it with the runtime's AbortError.
   */
  async *run(
    req: PreparedRequest,
    slot: Slot,
    signal: AbortSignal,
    onTokens: (n: number) => void,
  ): AsyncGenerator<Piece, GenerationResult> {
    const stream = this.model.generate(req.prompt, { ...req.options, session: slot.session, signal });
    let counted = 0;
    let handed = 0;
    for await (const text of stream) {
      onTokens(stream.tokens.length - counted);
      counted = stream.tokens.length;
      const logprobs = stream.logprobs.slice(handed);
      handed = stream.logprobs.length;
      // The runtime yields to the event loop after every token: sockets, timers and other requests move.
      yield { text, logprobs };
    }
    onTokens(stream.tokens.length - counted);
    return {
      finishReason: stream.finishReason === 'length' ? 'length' : 'stop',
      completionTokens: stream.tokens.length,
      logprobs: stream.logprobs.slice(handed),
    };
  }
}
