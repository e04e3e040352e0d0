/**
 * loadModelInWorker(): the model runs in a Web Worker (browsers) or a worker thread (Node), so the
 * page's main thread — or the Node event loop — never waits for a forward pass. The returned
 * WorkerModel has Model's API with Promises where an answer has to come from the worker: generate()
 * and chat() stream text pieces as they are generated, options.signal aborts, dispose() ends the worker.
 */
import type { ChatMessage } from '../chat/render.js';
import { AbortError, QuantRuntimeError } from '../errors.js';
import type { TokenLogprob } from '../generate/logprobs.js';
import type { FinishReason, GenerateOptions } from '../generate/options.js';
import type { LoadModelOptions } from '../load-model.js';
import type { KvPoolStats } from '../model/kv-pool.js';
import type { ChatOptions } from '../model/model.js';
import type { BatchStats } from '../model/scheduler.js';
import type { SessionOptions } from '../model/session.js';
import type { ModelFileSource, ModelSource } from '../model-source.js';
import {
  type FromWorker,
  fromWireError,
  type ModelInfo,
  type ToWorker,
  type WireError,
  type WireFileSource,
} from './protocol.js';
import { adoptWorker, spawnModelWorker, type WorkerHandle, type WorkerLike } from './spawn.js';

export interface WorkerModelOptions extends Omit<LoadModelOptions, 'kernels' | 'fetch'> {
  /**
   * The worker script's URL (default: the package's dist/worker.js in Node, dist/worker.browser.js in
   * browsers, found with `new URL(…, import.meta.url)`).
   */
  workerUrl?: string | URL;
  /** A Worker already running `@quant/runtime/worker` (e.g. bundled by esbuild); it is terminated on dispose. */
  worker?: WorkerLike;
  /**
   * Move (transfer) ArrayBuffer sources to the worker instead of copying them (default true: the
   * file is never twice in memory; the caller's buffer is detached afterwards).
   */
  transferSource?: boolean;
}

/** What generate()/chat() options can carry to the worker (a session is a WorkerSession). */
export interface WorkerGenerateOptions extends Omit<GenerateOptions, 'session'> {
  session?: WorkerSession;
}

export interface WorkerChatOptions extends Omit<ChatOptions, 'session'> {
  session?: WorkerSession;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

interface GenerationSink {
  piece(text: string): void;
  /** The generation ended; `error` (else the message's error) is what iteration throws. */
  done(m: Extract<FromWorker, { type: 'done' }>, error?: Error): void;
  fail(e: Error): void;
}

/** One generation in the worker: an async iterable of text pieces, like GenerationStream. */
export class WorkerGeneration implements AsyncIterable<string> {
  /** Token ids generated (filled in when the generation ends). */
  tokens: number[] = [];
  /** With the `logprobs` option: per generated token (filled in when the generation ends). */
  logprobs: TokenLogprob[] = [];
  /** Why the generation ended (undefined while it runs). */
  finishReason: FinishReason | undefined;
  private started = false;

  /** @internal */
  constructor(
    private readonly begin: (sink: GenerationSink) => () => void,
    private readonly signal?: AbortSignal,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.started) {
      throw new QuantRuntimeError(
        'INVALID_STATE',
        'A WorkerGeneration can be iterated only once; call generate() again for another run.',
      );
    }
    this.started = true;
    const queue: string[] = [];
    let ended = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const signal = () => {
      wake?.();
      wake = undefined;
    };
    const stop = this.begin({
      piece: (text) => {
        queue.push(text);
        signal();
      },
      done: (m, error) => {
        this.tokens = m.tokens;
        this.logprobs = m.logprobs as TokenLogprob[];
        this.finishReason = m.finishReason as FinishReason | undefined;
        if (error ?? m.error) failure = error ?? fromWireError(m.error as WireError);
        ended = true;
        signal();
      },
      fail: (e) => {
        failure = e;
        this.finishReason ??= 'error';
        ended = true;
        signal();
      },
    });
    return {
      next: async (): Promise<IteratorResult<string>> => {
        for (;;) {
          // As in-process: once the signal aborts, no further piece is delivered.
          if (this.signal?.aborted && !(ended && failure === undefined && queue.length === 0)) {
            if (!ended) stop();
            ended = true;
            this.finishReason = 'abort';
            queue.length = 0;
            throw new AbortError(this.signal.reason);
          }
          if (queue.length > 0) return { value: queue.shift() as string, done: false };
          if (ended) {
            if (failure) throw failure;
            return { value: undefined, done: true };
          }
          await new Promise<void>((r) => {
            wake = r;
          });
        }
      },
      return: async (): Promise<IteratorResult<string>> => {
        // The consumer stopped iterating (break/return/throw): stop the worker's generation too.
        if (!ended) {
          stop();
          this.finishReason = 'abort';
        }
        ended = true;
        return { value: undefined, done: true };
      },
    };
  }

  /** Runs the generation to the end and returns all text. */
  async text(): Promise<string> {
    let s = '';
    for await (const piece of this) s += piece;
    return s;
  }
}

/** A session (KV cache) living in the worker. */
export class WorkerSession {
  /** @internal */
  constructor(
    private readonly model: WorkerModel,
    /** @internal */ readonly id: number,
    readonly contextSize: number,
    readonly batchSize: number,
  ) {}

  /** The tokens in the session's context. */
  tokens(): Promise<number[]> {
    return this.model.call('session.tokens', [this.id]) as Promise<number[]>;
  }
  truncate(n: number): Promise<void> {
    return this.model.call('session.truncate', [this.id, n]) as Promise<void>;
  }
  reset(): Promise<void> {
    return this.model.call('session.reset', [this.id]) as Promise<void>;
  }
  dispose(): Promise<void> {
    return this.model.call('session.dispose', [this.id]) as Promise<void>;
  }
}

/** A model loaded in a worker (see loadModelInWorker). */
export class WorkerModel {
  readonly architecture: string;
  readonly hparams: Readonly<Record<string, unknown>>;
  readonly contextSize: number;
  readonly batchSize: number;
  /** 'wasm' or 'native', and why (see @quant/kernels' backendReason). */
  readonly backend: string;
  readonly backendReason: string | undefined;
  /** The GGUF metadata, without array values (the vocabulary stays in the worker). */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly bosId: number | null;
  readonly eosId: number | null;
  private disposed = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly sinks = new Map<number, GenerationSink>();

  /** @internal use loadModelInWorker() */
  constructor(
    private readonly handle: WorkerHandle,
    info: ModelInfo,
  ) {
    this.architecture = info.architecture;
    this.hparams = info.hparams;
    this.contextSize = info.contextSize;
    this.batchSize = info.batchSize;
    this.backend = info.backend;
    this.backendReason = info.backendReason;
    this.metadata = info.metadata;
    this.bosId = info.bosId;
    this.eosId = info.eosId;
    handle.onMessage((m) => this.receive(m));
    handle.onFailure((e) => this.fail(e));
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private receive(m: FromWorker): void {
    switch (m.type) {
      case 'piece':
        this.sinks.get(m.id)?.piece(m.text);
        break;
      case 'done':
        this.sinks.get(m.id)?.done(m);
        this.sinks.delete(m.id);
        this.idle();
        break;
      case 'result':
      case 'call-error': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.type === 'result') p?.resolve(m.value);
        else p?.reject(fromWireError(m.error));
        this.idle();
        break;
      }
    }
  }

  private fail(e: Error): void {
    if (this.disposed) return;
    const err = new QuantRuntimeError('WORKER_FAILED', `The model worker stopped: ${e.message}`, {
      cause: e,
    });
    for (const p of this.pending.values()) p.reject(err);
    for (const s of this.sinks.values()) s.fail(err);
    this.pending.clear();
    this.sinks.clear();
    this.disposed = true;
  }

  private idle(): void {
    if (this.pending.size === 0 && this.sinks.size === 0) this.handle.ref(false);
  }

  private assertAlive(): void {
    if (this.disposed)
      throw new QuantRuntimeError(
        'DISPOSED',
        'This worker model was disposed; load it again with loadModelInWorker().',
      );
  }

  /** @internal */
  call(method: string, args: unknown[]): Promise<unknown> {
    this.assertAlive();
    const id = this.nextId++;
    this.handle.ref(true);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.handle.post({ type: 'call', id, method, args });
    });
  }

  private start(
    prompt: string | ArrayLike<number> | undefined,
    messages: readonly ChatMessage[] | undefined,
    options: WorkerGenerateOptions | WorkerChatOptions,
  ): WorkerGeneration {
    this.assertAlive();
    const { signal, session, ...rest } = options;
    return new WorkerGeneration((sink) => {
      const id = this.nextId++;
      if (this.disposed) {
        sink.fail(new QuantRuntimeError('DISPOSED', 'This worker model was disposed.'));
        return () => {};
      }
      if (signal?.aborted) {
        sink.fail(new AbortError(signal.reason));
        return () => {};
      }
      const onAbort = () => this.handle.post({ type: 'abort', id });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sinks.set(id, {
        piece: sink.piece,
        done: (m) => {
          signal?.removeEventListener('abort', onAbort);
          // Aborted through the caller's signal: the caller's AbortError, with its reason.
          sink.done(
            m,
            m.error?.name === 'AbortError' && signal?.aborted ? new AbortError(signal.reason) : undefined,
          );
        },
        fail: sink.fail,
      });
      this.handle.ref(true);
      this.handle.post({
        type: 'generate',
        id,
        prompt: prompt === undefined ? undefined : typeof prompt === 'string' ? prompt : Array.from(prompt),
        messages: messages ? [...messages] : undefined,
        options: rest as Record<string, unknown>,
        session: session?.id,
      });
      return onAbort;
    }, signal);
  }

  /** Streams generated text for a prompt, as Model.generate (`signal` aborts; `session` is a WorkerSession). */
  generate(prompt: string | ArrayLike<number>, options: WorkerGenerateOptions = {}): WorkerGeneration {
    return this.start(prompt, undefined, options);
  }

  /** The assistant's reply to `messages`, as Model.chat. */
  chat(messages: readonly ChatMessage[], options: WorkerChatOptions = {}): WorkerGeneration {
    return this.start(undefined, messages, options);
  }

  tokenize(text: string, options: { addBos?: boolean; parseSpecial?: boolean } = {}): Promise<number[]> {
    return this.call('tokenize', [text, options]) as Promise<number[]>;
  }

  detokenize(tokens: readonly number[]): Promise<string> {
    return this.call('detokenize', [[...tokens]]) as Promise<string>;
  }

  renderChat(
    messages: readonly ChatMessage[],
    options: Pick<ChatOptions, 'chatTemplate' | 'templateVariables' | 'templateLimits'> = {},
  ): Promise<string> {
    return this.call('renderChat', [[...messages], options]) as Promise<string>;
  }

  async createSession(options: SessionOptions = {}): Promise<WorkerSession> {
    const r = (await this.call('createSession', [options])) as {
      id: number;
      contextSize: number;
      batchSize: number;
    };
    return new WorkerSession(this, r.id, r.contextSize, r.batchSize);
  }

  get batchStats(): Promise<BatchStats> {
    return this.call('batchStats', []) as Promise<BatchStats>;
  }

  /** The KV caches of disposed sessions the worker's model keeps (LoadModelOptions.kvPool). */
  get kvPool(): Promise<KvPoolStats> {
    return this.call('kvPool', []) as Promise<KvPoolStats>;
  }

  /** Frees the KV caches kept for reuse; resolves with the bytes freed. */
  trimKvPool(): Promise<number> {
    return this.call('trimKvPool', []) as Promise<number>;
  }

  /** Frees the model and ends the worker; running generations end with DISPOSED. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const err = new QuantRuntimeError('DISPOSED', 'The worker model was disposed.');
    for (const s of this.sinks.values()) s.fail(err);
    for (const p of this.pending.values()) p.reject(err);
    this.sinks.clear();
    this.pending.clear();
    await this.handle.terminate();
  }
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** A source as it can cross to the worker; ArrayBuffers are listed in `transfer` to move them. */
function toWire(s: ModelFileSource, transfer: Transferable[], move: boolean): WireFileSource {
  if (typeof s === 'string') return s;
  if (typeof URL !== 'undefined' && s instanceof URL) return s.href;
  if (typeof Request !== 'undefined' && s instanceof Request) {
    const headers: [string, string][] = [];
    s.headers.forEach((v, k) => {
      headers.push([k, v]);
    });
    return { url: s.url, headers, credentials: s.credentials };
  }
  if (typeof Blob !== 'undefined' && s instanceof Blob) return s;
  if (s instanceof ArrayBuffer) {
    if (move) transfer.push(s);
    return s;
  }
  if (ArrayBuffer.isView(s)) {
    const whole =
      s.byteOffset === 0 && s.byteLength === s.buffer.byteLength && s.buffer instanceof ArrayBuffer;
    if (move && whole) {
      transfer.push(s.buffer as ArrayBuffer);
      return s;
    }
    return new Uint8Array(s.buffer, s.byteOffset, s.byteLength).slice();
  }
  return s as WireFileSource;
}

/**
 * Loads a model in a worker (a module Web Worker in browsers, a worker_threads Worker in Node) and
 * returns a WorkerModel: the same generate()/chat() streams as Model, computed off the main thread.
 * Sources are those of loadModel; an ArrayBuffer is moved to the worker (see `transferSource`).
 * `onProgress` / `onDownloadProgress` are called on this side; `signal` aborts loading.
 */
export async function loadModelInWorker(
  source: ModelSource,
  options: WorkerModelOptions = {},
): Promise<WorkerModel> {
  const { workerUrl, worker, transferSource, onProgress, onDownloadProgress, signal, ...rest } = options;
  for (const [k, v] of Object.entries(rest)) {
    if (typeof v === 'function')
      throw new QuantRuntimeError(
        'INVALID_OPTION',
        `Option ${k} is a function, which cannot be sent to the model worker.`,
      );
  }
  if (rest.architectureOptions !== undefined && !isPlainRecord(rest.architectureOptions))
    throw new QuantRuntimeError(
      'INVALID_OPTION',
      'Option architectureOptions must be a plain object for the model worker.',
    );
  if (signal?.aborted) throw new AbortError(signal.reason);
  const transfer: Transferable[] = [];
  const move = transferSource ?? true;
  const wire = Array.isArray(source)
    ? (source as readonly ModelFileSource[]).map((s) => toWire(s, transfer, move))
    : toWire(source as ModelFileSource, transfer, move);
  const handle = worker ? adoptWorker(worker) : await spawnModelWorker(workerUrl);
  try {
    const info = await new Promise<ModelInfo>((resolve, reject) => {
      const onAbort = () => handle.post({ type: 'abort-load' });
      signal?.addEventListener('abort', onAbort, { once: true });
      let settled = false;
      handle.onFailure((e) => {
        if (settled) return;
        settled = true;
        reject(
          new QuantRuntimeError('WORKER_FAILED', `The model worker failed while loading: ${e.message}`, {
            cause: e,
          }),
        );
      });
      handle.onMessage((m) => {
        if (settled) return;
        if (m.type === 'progress') {
          if (m.kind === 'load') onProgress?.(m.progress as never);
          else onDownloadProgress?.(m.progress as never);
        } else if (m.type === 'loaded' || m.type === 'load-error') {
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          if (m.type === 'loaded') resolve(m.info);
          else {
            const e = fromWireError(m.error);
            reject(signal?.aborted ? new AbortError(signal.reason) : e);
          }
        }
      });
      handle.post(
        { type: 'load', source: wire, options: rest as Record<string, unknown> } satisfies ToWorker,
        transfer,
      );
    });
    handle.ref(false);
    return new WorkerModel(handle, info);
  } catch (e) {
    await handle.terminate().catch(() => {});
    throw e;
  }
}
