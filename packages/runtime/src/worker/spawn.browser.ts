/**
 * Browsers: the model worker is a module Web Worker running dist/worker.browser.js. The literal
 * `new Worker(new URL('./worker.browser.js', import.meta.url), { type: 'module' })` is what Vite,
 * webpack 5 and Parcel recognise: they bundle the worker script (and the wasm it loads) with the app.
 */
import { adoptWebWorker, type WorkerHandle, type WorkerLike } from './spawn-web.js';

export type { WorkerHandle, WorkerLike };

export async function spawnModelWorker(workerUrl: string | URL | undefined): Promise<WorkerHandle> {
  const worker =
    workerUrl !== undefined
      ? new Worker(workerUrl, { type: 'module' })
      : new Worker(new URL('./worker.browser.js', import.meta.url), { type: 'module' });
  return adoptWebWorker(worker as unknown as WorkerLike);
}

export function adoptWorker(w: WorkerLike): WorkerHandle {
  return adoptWebWorker(w);
}
