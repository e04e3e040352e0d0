/**
 * The worker side of a WorkerModel: loads one model and runs what the page asks — generations
 * streamed back piece by piece, aborts, tokenize/renderChat, sessions, dispose. Runs in a Web Worker
 * (./entry.ts with ./port.browser.ts) or a Node worker thread (./port.ts).
 */

import type { ChatMessage } from '../chat/render.js';
import { QuantRuntimeError } from '../errors.js';
import type { GenerationStream } from '../generate/generation.js';
import { type LoadModelOptions, loadModel } from '../load-model.js';
import type { Model } from '../model/model.js';
import type { Session } from '../model/session.js';
import type { FromWorker, ModelInfo, ToWorker, WireFileSource } from './protocol.js';
import { toWireError } from './protocol.js';

/** The message port of the worker's side: the Web Worker global scope or worker_threads' parentPort. */
export interface WorkerEndpoint {
  post(message: FromWorker): void;
  listen(handler: (message: ToWorker) => void): void;
  close(): void;
}

function toSource(s: WireFileSource): string | Blob | ArrayBuffer | ArrayBufferView | Request {
  if (typeof s === 'object' && s !== null && 'url' in s && typeof (s as { url: unknown }).url === 'string') {
    const r = s as { url: string; headers: [string, string][]; credentials?: RequestCredentials };
    return new Request(r.url, {
      headers: r.headers,
      ...(r.credentials ? { credentials: r.credentials } : {}),
    });
  }
  return s as string | Blob | ArrayBuffer | ArrayBufferView;
}

function info(model: Model): ModelInfo {
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(model.file.metadata)) if (!Array.isArray(v)) metadata[k] = v;
  const k = model.kernels as { backend: string; backendReason?: string };
  return {
    architecture: model.architecture,
    hparams: { ...model.hparams } as Record<string, unknown>,
    contextSize: model.contextSize,
    batchSize: model.batchSize,
    kvType: model.kvType,
    flashAttention: model.flashAttention,
    backend: k.backend,
    backendReason: k.backendReason,
    metadata,
    bosId: model.tokenizer.bosId,
    eosId: model.tokenizer.eosId,
  };
}

export function serveModelWorker(port: WorkerEndpoint): void {
  let model: Model | undefined;
  let loading: AbortController | undefined;
  const generations = new Map<number, AbortController>();
  const sessions = new Map<number, Session>();
  let nextSession = 1;

  const needModel = (): Model => {
    if (!model) throw new QuantRuntimeError('INVALID_STATE', 'The worker has no model loaded.');
    return model;
  };
  const session = (id: unknown): Session => {
    const s = sessions.get(id as number);
    if (!s)
      throw new QuantRuntimeError('DISPOSED', `Session ${String(id)} of the worker model was disposed.`);
    return s;
  };

  const calls: Record<string, (...args: unknown[]) => unknown> = {
    tokenize: (text, o) => needModel().tokenize(text as string, (o ?? {}) as { addBos?: boolean }),
    detokenize: (ids) => needModel().tokenizer.decode(ids as number[]),
    renderChat: (messages, o) => needModel().renderChat(messages as ChatMessage[], (o ?? {}) as object),
    createSession: (o) => {
      const s = needModel().createSession((o ?? {}) as object);
      const id = nextSession++;
      sessions.set(id, s);
      return { id, contextSize: s.contextSize, batchSize: s.batchSize, kvType: s.kvType };
    },
    'session.tokens': (id) => [...session(id).tokens],
    'session.truncate': (id, n) => session(id).truncate(n as number),
    'session.reset': (id) => session(id).reset(),
    'session.dispose': (id) => {
      sessions.get(id as number)?.dispose();
      sessions.delete(id as number);
    },
    batchStats: () => needModel().batchStats,
    kvPool: () => needModel().kvPool,
    trimKvPool: () => needModel().trimKvPool(),
  };

  async function load(msg: Extract<ToWorker, { type: 'load' }>): Promise<void> {
    loading = new AbortController();
    const options = {
      ...(msg.options as LoadModelOptions),
      signal: loading.signal,
      onProgress: (progress) => port.post({ type: 'progress', kind: 'load', progress: { ...progress } }),
      onDownloadProgress: (progress) =>
        port.post({ type: 'progress', kind: 'download', progress: { ...progress } }),
    } satisfies LoadModelOptions;
    try {
      const source = Array.isArray(msg.source) ? msg.source.map(toSource) : toSource(msg.source);
      model = await loadModel(source, options);
      port.post({ type: 'loaded', info: info(model) });
    } catch (e) {
      port.post({ type: 'load-error', error: toWireError(e) });
    } finally {
      loading = undefined;
    }
  }

  async function generate(msg: Extract<ToWorker, { type: 'generate' }>): Promise<void> {
    const ac = new AbortController();
    generations.set(msg.id, ac);
    let stream: GenerationStream | undefined;
    try {
      const m = needModel();
      const options = {
        ...msg.options,
        signal: ac.signal,
        ...(msg.session !== undefined ? { session: session(msg.session) } : {}),
      };
      stream = msg.messages
        ? m.chat(msg.messages as ChatMessage[], options)
        : m.generate(msg.prompt as string | number[], options);
      for await (const text of stream) port.post({ type: 'piece', id: msg.id, text });
      port.post({
        type: 'done',
        id: msg.id,
        tokens: stream.tokens,
        logprobs: stream.logprobs,
        finishReason: stream.finishReason,
      });
    } catch (e) {
      port.post({
        type: 'done',
        id: msg.id,
        tokens: stream?.tokens ?? [],
        logprobs: stream?.logprobs ?? [],
        finishReason: stream?.finishReason ?? 'error',
        error: toWireError(e),
      });
    } finally {
      generations.delete(msg.id);
    }
  }

  port.listen((msg) => {
    switch (msg.type) {
      case 'load':
        void load(msg);
        break;
      case 'abort-load':
        loading?.abort(new QuantRuntimeError('ABORTED', 'Loading was aborted.'));
        break;
      case 'generate':
        void generate(msg);
        break;
      case 'abort':
        generations.get(msg.id)?.abort();
        break;
      case 'call': {
        const fn = calls[msg.method];
        try {
          if (!fn)
            throw new QuantRuntimeError('INVALID_OPTION', `The model worker has no method ${msg.method}.`);
          const value = fn(...msg.args);
          if (value instanceof Promise)
            value.then(
              (v) => port.post({ type: 'result', id: msg.id, value: v }),
              (e) => port.post({ type: 'call-error', id: msg.id, error: toWireError(e) }),
            );
          else port.post({ type: 'result', id: msg.id, value });
        } catch (e) {
          port.post({ type: 'call-error', id: msg.id, error: toWireError(e) });
        }
        break;
      }
      case 'dispose':
        for (const ac of generations.values()) ac.abort();
        model?.dispose();
        model = undefined;
        port.post({ type: 'result', id: -1, value: true });
        port.close();
        break;
    }
  });
  port.post({ type: 'ready' });
}
