/** The Web Worker adapter of a WorkerModel (no Node imports; used by both builds). */
import type { FromWorker, ToWorker } from './protocol.js';

/** The page's / main thread's side of the model worker. */
export interface WorkerHandle {
  post(message: ToWorker, transfer?: Transferable[]): void;
  onMessage(handler: (message: FromWorker) => void): void;
  /** A crash of the worker (an uncaught error, or exit before dispose). */
  onFailure(handler: (error: Error) => void): void;
  /** Keep the process alive while requests are pending (Node), or not. */
  ref(on: boolean): void;
  terminate(): Promise<void>;
}

/** A worker_threads Worker or a Web Worker the caller started with the worker script. */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
  terminate(): unknown;
}

interface WebWorkerLike extends WorkerLike {
  addEventListener(type: string, listener: (e: { data?: unknown; message?: string }) => void): void;
}

export function adoptWebWorker(w: WorkerLike): WorkerHandle {
  const web = w as WebWorkerLike;
  return {
    post: (m, transfer) => web.postMessage(m, transfer ?? []),
    onMessage: (h) => web.addEventListener('message', (e) => h(e.data as FromWorker)),
    onFailure: (h) => {
      web.addEventListener('error', (e) =>
        h(new Error(`the model worker failed: ${e.message ?? 'an error (see the console)'}`)),
      );
      web.addEventListener('messageerror', () =>
        h(new Error('a message from the model worker could not be read')),
      );
    },
    ref: () => {},
    terminate: async () => {
      web.terminate();
    },
  };
}
