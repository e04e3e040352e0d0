/**
 * The HTTP surface (hono): routes, validation, authentication, CORS, body limit, request logs, and
 * the SSE streams (hono's streamSSE frames every event).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { HttpBindings } from '@hono/node-server';
import type { TokenLogprob } from '@quant/runtime';
import { type Context, Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import type { Engine, GenerationResult, Piece, PreparedRequest } from './engine.js';
import { ApiError, invalidRequest } from './errors.js';
import type { ServerMetrics } from './metrics.js';
import {
  chatChunk,
  chatCompletion,
  chatLogprobs,
  legacyLogprobs,
  newId,
  type TokenTexts,
  textCompletion,
  unixTime,
  usage,
  usageChunk,
} from './openai-format.js';
import {
  chatCompletionSchema,
  checkCommon,
  completionSchema,
  detokenizeSchema,
  tokenizeSchema,
  validate,
} from './schemas.js';
import type { Slot, SlotPool } from './slots.js';

/** Why a request's AbortController fired. */
export type AbortKind = 'client' | 'timeout' | 'shutdown';
class AbortReason extends Error {
  readonly kind: AbortKind;
  constructor(kind: AbortKind) {
    super(`request aborted: ${kind}`);
    this.kind = kind;
  }
}

/** Aborts a request's controller, recording why (the response says so). */
export function abortRequest(ctl: AbortController, kind: AbortKind): void {
  if (!ctl.signal.aborted) ctl.abort(new AbortReason(kind));
}

/** One request line in the log. */
export interface RequestLogEntry {
  time: string;
  method: string;
  path: string;
  status: number;
  prompt_tokens?: number;
  completion_tokens?: number;
  ms: number;
}

/** Everything the routes share; owned by the server (see server.ts). */
export interface AppState {
  status: 'loading' | 'ready' | 'failed';
  loadError?: Error;
  engine?: Engine;
  pool?: SlotPool;
  texts?: TokenTexts;
  modelId: string;
  created: number;
  draining: boolean;
  metrics: ServerMetrics;
  /** Controllers of the running generation requests (aborted when a shutdown runs out of time). */
  inflight: Set<AbortController>;
  requestTimeoutMs: number;
  retryAfterSeconds: number;
  log: (e: RequestLogEntry) => void;
}

export interface AppOptions {
  apiKey?: string;
  cors?: readonly string[];
  bodyLimitBytes: number;
}

interface RequestRecord {
  promptTokens?: number;
  completionTokens?: number;
  /** Set by streaming handlers: the log line is written when the stream ends, not when headers go out. */
  deferred: boolean;
  finish: (status: number) => void;
}

type Env = { Bindings: HttpBindings; Variables: { rec: RequestRecord } };

// biome-ignore lint/suspicious/noExplicitAny: any route or middleware context
const errorResponse = (c: Context<any, any, any>, e: ApiError): Response => {
  for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
  return c.json(e.toJSON(), e.status as 400);
};

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Reads the body as JSON (400 in OpenAI's words when it is not). */
async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidRequest(
      `We could not parse the JSON body of your request: ${(e as Error).message}. The body must be a JSON object (Content-Type: application/json).`,
    );
  }
}

function requireReady(state: AppState): { engine: Engine; pool: SlotPool; texts: TokenTexts } {
  if (state.status === 'loading' || !state.engine || !state.pool || !state.texts) {
    if (state.status === 'failed') {
      throw new ApiError(
        500,
        'server_error',
        `The model failed to load: ${state.loadError?.message ?? 'unknown error'}`,
        {
          code: 'model_load_failed',
        },
      );
    }
    throw new ApiError(503, 'unavailable_error', 'Loading model', {
      code: 'model_loading',
      headers: { 'Retry-After': String(state.retryAfterSeconds) },
    });
  }
  return { engine: state.engine, pool: state.pool, texts: state.texts };
}

/** An ApiError for a request whose controller fired. */
function abortedError(kind: AbortKind, state: AppState): ApiError {
  if (kind === 'timeout') {
    return new ApiError(
      504,
      'timeout_error',
      `The request did not finish within ${state.requestTimeoutMs / 1000} s (the server's request timeout).`,
      { code: 'request_timeout' },
    );
  }
  if (kind === 'shutdown')
    return new ApiError(503, 'unavailable_error', 'The server is shutting down.', { code: 'shutting_down' });
  return new ApiError(499, 'invalid_request_error', 'The client closed the connection.', {
    code: 'client_closed',
  });
}

/** The error to report for `e` thrown while `ctl` was the request's controller. */
function reportable(e: unknown, ctl: AbortController, state: AppState): ApiError {
  if (ctl.signal.aborted && ctl.signal.reason instanceof AbortReason)
    return abortedError(ctl.signal.reason.kind, state);
  if (e instanceof ApiError) return e;
  const err = e as { name?: string; code?: string; message?: string };
  if (err?.code === 'CONTEXT_FULL')
    return new ApiError(400, 'invalid_request_error', err.message ?? 'context full', {
      code: 'context_length_exceeded',
    });
  return new ApiError(500, 'server_error', `Generation failed: ${err?.message ?? String(e)}`);
}

export function createApp(state: AppState, options: AppOptions): Hono<Env> {
  const app = new Hono<Env>();

  // One log line (and metrics sample) per request.
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    let done = false;
    const rec: RequestRecord = {
      deferred: false,
      finish: (status) => {
        if (done) return;
        done = true;
        const ms = performance.now() - t0;
        const route =
          c.req.routePath && c.req.routePath !== '*' && c.req.routePath !== '/*' ? c.req.routePath : 'other';
        state.metrics.request(route, status, ms / 1000);
        const entry: RequestLogEntry = {
          time: new Date().toISOString(),
          method: c.req.method,
          path: c.req.path,
          status,
          ms: Math.round(ms),
        };
        if (rec.promptTokens !== undefined) entry.prompt_tokens = rec.promptTokens;
        if (rec.completionTokens !== undefined) entry.completion_tokens = rec.completionTokens;
        state.log(entry);
      },
    };
    c.set('rec', rec);
    await next();
    if (!rec.deferred) rec.finish(c.res.status);
  });

  // While shutting down: refuse new work, tell load balancers to go elsewhere.
  app.use('*', async (c, next) => {
    if (state.draining) {
      c.header('Connection', 'close');
      return errorResponse(
        c,
        new ApiError(503, 'unavailable_error', 'The server is shutting down.', {
          code: 'shutting_down',
          headers: { 'Retry-After': String(state.retryAfterSeconds) },
        }),
      );
    }
    return next();
  });

  if (options.cors && options.cors.length > 0) {
    app.use(
      '*',
      cors({
        origin: [...options.cors],
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type'],
        maxAge: 600,
      }),
    );
  }

  if (options.apiKey !== undefined) {
    const want = sha256(options.apiKey);
    const unauthorized = (message: string) => () =>
      new Response(
        JSON.stringify(
          new ApiError(401, 'authentication_error', message, { code: 'invalid_api_key' }).toJSON(),
        ),
        { status: 401, headers: { 'content-type': 'application/json' } },
      );
    const auth = bearerAuth<Env>({
      // Compare SHA-256 digests with crypto.timingSafeEqual: constant time whatever the lengths.
      verifyToken: (token) => timingSafeEqual(sha256(token), want),
      noAuthenticationHeader: {
        message: unauthorized(
          "You didn't provide an API key. Send it in an Authorization header: 'Authorization: Bearer YOUR_KEY'.",
        ),
      },
      invalidAuthenticationHeader: {
        message: unauthorized("The Authorization header must be 'Bearer YOUR_KEY'."),
      },
      invalidToken: { message: unauthorized('Incorrect API key provided.') },
    });
    app.use('*', async (c, next) => {
      if (c.req.path === '/health' || c.req.method === 'OPTIONS') return next();
      return auth(c, next);
    });
  }

  app.use(
    '*',
    bodyLimit({
      maxSize: options.bodyLimitBytes,
      onError: (c) =>
        errorResponse(
          c,
          new ApiError(
            413,
            'invalid_request_error',
            `The request body is larger than this server's limit of ${options.bodyLimitBytes} bytes.`,
            { code: 'request_too_large' },
          ),
        ),
    }),
  );

  app.get('/health', (c) => {
    if (state.status === 'ready' && state.pool) {
      return c.json({
        status: 'ok',
        model: state.modelId,
        slots_idle: state.pool.size - state.pool.busy,
        slots_processing: state.pool.busy,
        queue: state.pool.queued,
      });
    }
    return errorResponse(
      c,
      state.status === 'failed'
        ? new ApiError(500, 'server_error', `The model failed to load: ${state.loadError?.message}`, {
            code: 'model_load_failed',
          })
        : new ApiError(503, 'unavailable_error', 'Loading model', {
            code: 'model_loading',
            headers: { 'Retry-After': String(state.retryAfterSeconds) },
          }),
    );
  });

  const modelObject = () => {
    const m = state.engine?.model;
    return {
      id: state.modelId,
      object: 'model' as const,
      created: state.created,
      owned_by: 'quant',
      ...(m
        ? {
            meta: {
              architecture: m.architecture,
              context_length: m.contextSize,
              vocab_size: m.tokenizer.vocabSize,
            },
          }
        : {}),
    };
  };

  app.get('/v1/models', (c) => {
    requireReady(state);
    return c.json({ object: 'list', data: [modelObject()] });
  });

  app.get('/v1/models/:id', (c) => {
    const { engine } = requireReady(state);
    engine.checkModel(c.req.param('id'));
    return c.json(modelObject());
  });

  app.get('/metrics', async (c) => {
    const { body, contentType } = await state.metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType });
  });

  app.post('/tokenize', async (c) => {
    const req = validate(tokenizeSchema, await readJson(c));
    const { engine, texts } = requireReady(state);
    engine.checkModel(req.model);
    const tokens = engine.model.tokenize(req.content, {
      addBos: req.add_special ?? false,
      parseSpecial: req.parse_special ?? true,
    });
    if (req.with_pieces === true) {
      return c.json({ tokens: tokens.map((id) => ({ id, piece: texts.get(id).text })) });
    }
    return c.json({ tokens });
  });

  app.post('/detokenize', async (c) => {
    const req = validate(detokenizeSchema, await readJson(c));
    const { engine } = requireReady(state);
    engine.checkModel(req.model);
    const n = engine.model.tokenizer.vocabSize;
    const bad = req.tokens.findIndex((t) => t >= n);
    if (bad >= 0) {
      throw invalidRequest(
        `Invalid value for 'tokens[${bad}]': token id ${req.tokens[bad]} is outside the vocabulary [0, ${n}).`,
        `tokens[${bad}]`,
      );
    }
    return c.json({ content: engine.model.tokenizer.decode(req.tokens) });
  });

  app.post('/v1/chat/completions', async (c) => {
    const req = validate(chatCompletionSchema, await readJson(c));
    checkCommon(req, req);
    const { engine } = requireReady(state);
    return generate(c, 'chat', engine.prepareChat(req));
  });

  app.post('/v1/completions', async (c) => {
    const req = validate(completionSchema, await readJson(c));
    checkCommon(req);
    const { engine } = requireReady(state);
    return generate(c, 'text', engine.prepareCompletion(req));
  });

  /** Queues `req` for a slot, then answers it whole or as an SSE stream. */
  async function generate(c: Context<Env>, kind: 'chat' | 'text', req: PreparedRequest): Promise<Response> {
    const { engine, pool, texts } = requireReady(state);
    const rec = c.get('rec');
    const ctl = new AbortController();
    const abort = (kind: AbortKind) => abortRequest(ctl, kind);
    const clientSignal = c.req.raw.signal;
    const onClientGone = () => abort('client');
    clientSignal.addEventListener('abort', onClientGone, { once: true });
    const timer = setTimeout(() => abort('timeout'), state.requestTimeoutMs);
    state.inflight.add(ctl);
    let slot: Slot | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      clientSignal.removeEventListener('abort', onClientGone);
      if (slot) pool.release(slot);
      slot = undefined;
      state.inflight.delete(ctl);
    };
    try {
      if (clientSignal.aborted) abort('client');
      slot = await pool.acquire(req.prompt, ctl.signal);
    } catch (e) {
      cleanup();
      throw reportable(e, ctl, state);
    }
    rec.promptTokens = req.prompt.length;
    state.metrics.promptIn(req.prompt.length);
    const meta = {
      id: newId(kind === 'chat' ? 'chatcmpl' : 'cmpl'),
      created: unixTime(),
      model: state.modelId,
    };
    let generated = 0;
    const pieces = engine.run(req, slot, ctl.signal, (n) => {
      generated += n;
      state.metrics.generated(n);
    });

    if (!req.stream) {
      try {
        let text = '';
        const records: TokenLogprob[] = [];
        let result: GenerationResult;
        for (;;) {
          const r = await pieces.next();
          if (r.done) {
            result = r.value;
            break;
          }
          text += r.value.text;
          records.push(...r.value.logprobs);
        }
        records.push(...result.logprobs);
        rec.completionTokens = result.completionTokens;
        const u = usage(req.prompt.length, result.completionTokens);
        if (kind === 'chat') {
          return c.json(
            chatCompletion(
              meta,
              text,
              result.finishReason,
              u,
              req.logprobs ? chatLogprobs(records, texts) : null,
            ),
          );
        }
        return c.json(
          textCompletion(
            meta,
            text,
            result.finishReason,
            req.logprobs ? legacyLogprobs(records, texts, 0) : null,
            u,
          ),
        );
      } catch (e) {
        throw reportable(e, ctl, state);
      } finally {
        await pieces.return(undefined as never).catch(() => {});
        rec.completionTokens ??= generated;
        cleanup();
      }
    }

    rec.deferred = true;
    return streamSSE(c, async (sse: SSEStreamingApi) => {
      sse.onAbort(() => abort('client'));
      const send = (chunk: unknown) => sse.writeSSE({ data: JSON.stringify(chunk) });
      let status = 200;
      let offset = 0;
      const lpChat = (l: TokenLogprob[]) => (req.logprobs ? chatLogprobs(l, texts) : null);
      const lpText = (l: TokenLogprob[]) => {
        if (!req.logprobs) return null;
        const out = legacyLogprobs(l, texts, offset);
        for (const t of out.tokens) offset += t.length;
        return out;
      };
      const withUsage = req.includeUsage;
      try {
        if (kind === 'chat')
          await send(chatChunk(meta, { role: 'assistant', content: '' }, null, null, withUsage));
        let result: GenerationResult;
        for (;;) {
          const r: IteratorResult<Piece, GenerationResult> = await pieces.next();
          if (r.done) {
            result = r.value;
            break;
          }
          const { text, logprobs } = r.value;
          await send(
            kind === 'chat'
              ? chatChunk(meta, { content: text }, null, lpChat(logprobs), withUsage)
              : textCompletion(meta, text, null, lpText(logprobs), withUsage ? null : undefined),
          );
        }
        rec.completionTokens = result.completionTokens;
        const rest = result.logprobs;
        await send(
          kind === 'chat'
            ? chatChunk(meta, {}, result.finishReason, rest.length > 0 ? lpChat(rest) : null, withUsage)
            : textCompletion(
                meta,
                '',
                result.finishReason,
                rest.length > 0 ? lpText(rest) : null,
                withUsage ? null : undefined,
              ),
        );
        if (withUsage) {
          await send(
            usageChunk(
              meta,
              kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
              usage(req.prompt.length, result.completionTokens),
            ),
          );
        }
        await sse.writeSSE({ data: '[DONE]' });
      } catch (e) {
        const err = reportable(e, ctl, state);
        status = err.status;
        // A client that left reads nothing; anyone else gets the error as an SSE error event.
        if (!(ctl.signal.reason instanceof AbortReason && ctl.signal.reason.kind === 'client')) {
          await sse.writeSSE({ event: 'error', data: JSON.stringify(err.toJSON()) });
        }
      } finally {
        await pieces.return(undefined as never).catch(() => {});
        rec.completionTokens ??= generated;
        cleanup();
        rec.finish(status);
      }
    });
  }

  app.notFound((c) =>
    errorResponse(
      c,
      new ApiError(404, 'invalid_request_error', `Invalid URL (${c.req.method} ${c.req.path})`, {
        code: 'not_found',
      }),
    ),
  );

  app.onError((e, c) => {
    if (e instanceof ApiError) return errorResponse(c, e);
    if (e instanceof HTTPException) return e.getResponse();
    const err = e as { code?: string; name?: string; message: string };
    if (err.name === 'QuantRuntimeError' || err.name === 'TokenizerError') {
      // Option checks of the runtime that the schema did not catch.
      if (err.code === 'INVALID_OPTION' || String(err.code).startsWith('TOKENIZER'))
        return errorResponse(c, invalidRequest(err.message));
    }
    return errorResponse(c, new ApiError(500, 'server_error', `Internal error: ${err.message}`));
  });

  return app;
}
