/**
 * Browser build of ./wasm-threads.ts: kernel worker threads are dedicated Workers started from a
 * Blob URL (no worker file for a bundler to find). Threads need SharedArrayBuffer, i.e. a
 * cross-origin isolated page (COOP `same-origin` + COEP `require-corp` or `credentialless`).
 */
import { makeSpawner, THREAD_RUN, type ThreadSpawner } from './wasm-thread-source';

/** Dedicated worker source. */
const BROWSER_THREAD_SOURCE = `${THREAD_RUN}
self.onmessage = (e) => {
  const { module, memory, tid, arg } = e.data;
  self.onmessage = null;
  instantiate(module, memory).exports.wasi_thread_start(tid, arg);
  self.close();
};
self.postMessage('ready');
`;

export type { ThreadSpawner };

/** Why the threaded module cannot run here, or undefined when it can. */
export function threadsAvailable(): string | undefined {
  const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };
  if (typeof SharedArrayBuffer !== 'function' || g.crossOriginIsolated === false)
    return 'the page is not cross-origin isolated (SharedArrayBuffer needs COOP: same-origin and COEP: require-corp or credentialless)';
  if (typeof g.Worker !== 'function') return 'Worker is not available in this context';
  return undefined;
}

export function defaultWasmThreads(_physicalCores: number): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n >= 1 ? Math.min(n, 64) : 1;
}

let blobUrl: string | undefined;

export async function createThreadSpawner(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
): Promise<ThreadSpawner> {
  blobUrl ??= URL.createObjectURL(new Blob([BROWSER_THREAD_SOURCE], { type: 'text/javascript' }));
  const url = blobUrl;
  return makeSpawner(module, memory, (onReady, onError) => {
    const w = new Worker(url);
    w.onmessage = () => {
      w.onmessage = null;
      onReady();
    };
    w.onerror = (e) => onError(e);
    return w;
  });
}
