/**
 * Node: kernel worker threads are `worker_threads` Workers (unref'd, so they never keep the process
 * alive). The browser build uses ./wasm-threads.browser.ts.
 */
import { makeSpawner, THREAD_RUN, type ThreadSpawner } from './wasm-thread-source';

/** Node worker_threads source (CommonJS, eval: true). */
const NODE_THREAD_SOURCE = `${THREAD_RUN}
const { parentPort } = require('node:worker_threads');
parentPort.once('message', ({ module, memory, tid, arg }) => {
  instantiate(module, memory).exports.wasi_thread_start(tid, arg);
  parentPort.close();
});
parentPort.postMessage('ready');
`;

export type { ThreadSpawner };

/** Node always has SharedArrayBuffer, shared wasm memory and worker_threads. */
export function threadsAvailable(): string | undefined {
  return typeof SharedArrayBuffer === 'function' ? undefined : 'SharedArrayBuffer is not available';
}

export function defaultWasmThreads(physicalCores: number): number {
  return physicalCores;
}

export async function createThreadSpawner(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
): Promise<ThreadSpawner> {
  const { Worker } = await import('node:worker_threads');
  return makeSpawner(module, memory, (onReady, onError) => {
    const w = new Worker(NODE_THREAD_SOURCE, { eval: true });
    w.unref();
    w.once('message', onReady);
    w.once('error', onError);
    return w;
  });
}
