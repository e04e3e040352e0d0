/** Node: the worker thread's side of a WorkerModel is worker_threads' parentPort. */
import { parentPort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './protocol.js';
import type { WorkerEndpoint } from './serve.js';

export function workerEndpoint(): WorkerEndpoint {
  const port = parentPort;
  if (!port)
    throw new Error('@quant/runtime/worker must run in a worker thread (new Worker(…) / loadModelInWorker)');
  return {
    post: (m: FromWorker) => port.postMessage(m),
    listen: (h: (m: ToWorker) => void) => port.on('message', h),
    close: () => port.close(),
  };
}
