/**
 * Node: the model worker is a worker_threads Worker running dist/worker.js (next to the bundle this
 * file is built into). The browser build uses ./spawn.browser.ts.
 */
import { adoptWebWorker } from './spawn-web.js';

export type { WorkerHandle, WorkerLike } from './spawn-web.js';

import type { WorkerHandle, WorkerLike } from './spawn-web.js';

export async function spawnModelWorker(workerUrl: string | URL | undefined): Promise<WorkerHandle> {
  const { Worker } = await import('node:worker_threads');
  const url = workerUrl ?? new URL('./worker.js', import.meta.url);
  return adoptWorker(new Worker(url));
}

export function adoptWorker(w: WorkerLike): WorkerHandle {
  const node = w as unknown as import('node:worker_threads').Worker;
  if (typeof node.on === 'function') {
    let done = false;
    return {
      post: (m, transfer) => node.postMessage(m, transfer as never),
      onMessage: (h) => node.on('message', h),
      onFailure: (h) => {
        node.on('error', (e) => h(e));
        node.on('exit', (code) => {
          if (!done) h(new Error(`the model worker exited with code ${code}`));
        });
      },
      ref: (on) => (on ? node.ref() : node.unref()),
      terminate: async () => {
        done = true;
        await node.terminate();
      },
    };
  }
  return adoptWebWorker(w);
}
