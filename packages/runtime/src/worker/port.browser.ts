/** Browsers: the Web Worker's side of a WorkerModel is its global scope. */
import type { FromWorker, ToWorker } from './protocol.js';
import type { WorkerEndpoint } from './serve.js';

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
  close(): void;
}

export function workerEndpoint(): WorkerEndpoint {
  const scope = globalThis as unknown as WorkerScope;
  return {
    post: (m: FromWorker) => scope.postMessage(m),
    listen: (h: (m: ToWorker) => void) => scope.addEventListener('message', (e) => h(e.data as ToWorker)),
    close: () => scope.close(),
  };
}
