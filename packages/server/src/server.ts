/**
 * `startServer`: listen (127.0.0.1 unless told otherwise), serve 503 on /health while the model
 * loads, then requests on parallel slots; `close()` drains gracefully.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freemem } from 'node:os';
import { serve } from '@hono/node-server';
import type { Model } from '@quant/runtime';
import { type AppState, abortRequest, createApp, type RequestLogEntry } from './app.js';
import { Engine } from './engine.js';
import { ApiError, invalidServerOption, ServerError } from './errors.js';
import { ServerMetrics } from './metrics.js';
import { TokenTexts, unixTime } from './openai-format.js';
import { SlotPool } from './slots.js';

export interface ServeOptions {
  /** The model, or a promise of it: /health answers 503 until it resolves. */
  model: Model | Promise<Model>;
  /** The id clients put in `model` and GET /v1/models lists. */
  modelId: string;
  /** Interface to listen on (default 127.0.0.1: only this machine). */
  host?: string;
  /** TCP port (default 8080; 0 picks a free one, see `RunningServer.port`). */
  port?: number;
  /** Generations that run at once (default: `defaultParallel(model)`). */
  parallel?: number;
  /** Requests that may wait for a slot; the next gets 503 with Retry-After (default 64). */
  queue?: number;
  /** A request (queueing included) is aborted after this long (default 600 000 ms). */
  requestTimeoutMs?: number;
  /** Require `Authorization: Bearer <apiKey>` on every route but /health. */
  apiKey?: string;
  /** Origins allowed by CORS (`*` for any); default none (no CORS headers). */
  cors?: readonly string[];
  /** Largest request body in bytes (default 4 MiB). */
  bodyLimitBytes?: number;
  /** Retry-After seconds on 503 (default 1). */
  retryAfterSeconds?: number;
  /** Keep each slot's KV cache between requests to reuse common prompt prefixes (default true). */
  prefixCache?: boolean;
  /** Where request log lines go (default: one line per request on stderr). */
  log?: (entry: RequestLogEntry) => void;
  /** Log lines as JSON objects instead of text (for the default `log`). */
  jsonLogs?: boolean;
}

export interface CloseOptions {
  /** How long running and queued requests may take to finish before they are aborted (default 30 000 ms). */
  timeoutMs?: number;
}

export interface RunningServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Resolves when the model is loaded and requests are served; rejects if loading failed. */
  readonly ready: Promise<void>;
  /** The server's Prometheus registry and counters. */
  readonly metrics: ServerMetrics;
  /** Slots, queue and model once loaded. */
  readonly state: Readonly<AppState>;
  /**
   * Graceful shutdown: stop accepting connections, let running and queued requests finish (at most
   * `timeoutMs`, then abort them), close every connection. Resolves when all is closed; the model is
   * not disposed (it belongs to the caller).
   */
  close(options?: CloseOptions): Promise<void>;
}

/** The most slots `defaultParallel` picks. */
export const MAX_DEFAULT_PARALLEL = 4;

/**
 * Slots by default: as many KV caches of the model's context as half the free memory holds, at
 * least 1 and at most MAX_DEFAULT_PARALLEL.
 */
export function defaultParallel(model: Model, freeBytes: number = freemem()): number {
  const perSlot = model.sessionKvBytes();
  if (!(perSlot > 0)) return 1;
  return Math.max(1, Math.min(MAX_DEFAULT_PARALLEL, Math.floor((freeBytes * 0.5) / perSlot)));
}

/** The default log line: `POST /v1/chat/completions 200 12+40 tokens 153 ms`, or JSON. */
export function formatLogEntry(e: RequestLogEntry, json: boolean): string {
  if (json) return JSON.stringify(e);
  const tokens =
    e.prompt_tokens !== undefined ? ` ${e.prompt_tokens}+${e.completion_tokens ?? 0} tokens` : '';
  return `${e.time} ${e.method} ${e.path} ${e.status}${tokens} ${e.ms} ms`;
}

function positiveInt(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= min))
    throw invalidServerOption(name, v, `an integer ≥ ${min}`);
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  positiveInt('parallel', options.parallel, 1);
  positiveInt('queue', options.queue, 0);
  positiveInt('port', options.port, 0);
  positiveInt('requestTimeoutMs', options.requestTimeoutMs, 1);
  positiveInt('bodyLimitBytes', options.bodyLimitBytes, 1);
  positiveInt('retryAfterSeconds', options.retryAfterSeconds, 0);
  if (options.port !== undefined && options.port > 65535)
    throw invalidServerOption('port', options.port, 'a port ≤ 65535');
  if (typeof options.modelId !== 'string' || options.modelId === '')
    throw invalidServerOption('modelId', options.modelId, 'a non-empty string');
  const jsonLogs = options.jsonLogs === true;
  const log =
    options.log ?? ((e: RequestLogEntry) => process.stderr.write(`${formatLogEntry(e, jsonLogs)}\n`));

  let pool: SlotPool | undefined;
  const state: AppState = {
    status: 'loading',
    modelId: options.modelId,
    created: unixTime(),
    draining: false,
    metrics: new ServerMetrics({
      queued: () => pool?.queued ?? 0,
      active: () => pool?.busy ?? 0,
      slots: () => pool?.size ?? 0,
      ready: () => state.status === 'ready',
    }),
    inflight: new Set(),
    requestTimeoutMs: options.requestTimeoutMs ?? 600_000,
    retryAfterSeconds: options.retryAfterSeconds ?? 1,
    log,
  };
  const app = createApp(state, {
    ...(options.apiKey !== undefined ? { apiKey: options.apiKey } : {}),
    ...(options.cors ? { cors: options.cors } : {}),
    bodyLimitBytes: options.bodyLimitBytes ?? 4 * 1024 * 1024,
  });

  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({
      fetch: app.fetch,
      hostname: host,
      port: options.port ?? 8080,
      overrideGlobalObjects: false,
    }) as Server;
    const onError = (e: Error) =>
      reject(
        new ServerError('LISTEN_FAILED', `Cannot listen on ${host}:${options.port ?? 8080}: ${e.message}`, {
          cause: e,
        }),
      );
    s.once('error', onError);
    s.once('listening', () => {
      s.off('error', onError);
      resolve(s);
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const ready = Promise.resolve(options.model).then(
    (model) => {
      const engine = new Engine(model, options.modelId);
      pool = new SlotPool(model, {
        size: options.parallel ?? defaultParallel(model),
        queueLimit: options.queue ?? 64,
        retryAfterSeconds: state.retryAfterSeconds,
        prefixCache: options.prefixCache !== false,
      });
      state.engine = engine;
      state.pool = pool;
      state.texts = new TokenTexts(model);
      state.status = 'ready';
    },
    (e: unknown) => {
      state.status = 'failed';
      state.loadError = e instanceof Error ? e : new Error(String(e));
      throw new ServerError('MODEL_LOAD_FAILED', `The model failed to load: ${state.loadError.message}`, {
        cause: e,
      });
    },
  );
  ready.catch(() => {});

  let closing: Promise<void> | undefined;
  let deadline = Number.POSITIVE_INFINITY;
  const close = (o: CloseOptions = {}): Promise<void> => {
    // A later call with a shorter timeout (a second Ctrl-C) brings the deadline forward.
    deadline = Math.min(deadline, Date.now() + Math.max(0, o.timeoutMs ?? 30_000));
    closing ??= (async () => {
      state.draining = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Let running and queued requests finish; idle keep-alive connections are closed as they go idle.
      while (state.inflight.size > 0 && Date.now() < deadline) {
        server.closeIdleConnections();
        await new Promise((r) => setTimeout(r, 20));
      }
      if (state.inflight.size > 0) {
        for (const ctl of state.inflight) abortRequest(ctl, 'shutdown');
        const hard = Date.now() + 5_000;
        while (state.inflight.size > 0 && Date.now() < hard) await new Promise((r) => setTimeout(r, 20));
      }
      server.closeIdleConnections();
      // Give responses already written a moment to flush, then cut what is left.
      await new Promise((r) => setTimeout(r, 50));
      server.closeAllConnections();
      pool?.dispose(
        new ApiError(503, 'unavailable_error', 'The server is shutting down.', { code: 'shutting_down' }),
      );
      await closed;
    })();
    return closing;
  };

  return { url, host, port, ready, metrics: state.metrics, state, close };
}
