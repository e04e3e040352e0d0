/**
 * The model worker's script (`@quant/runtime/worker`: dist/worker.js for Node's worker_threads,
 * dist/worker.browser.js for Web Workers). loadModelInWorker() starts it; to start it yourself (e.g.
 * with esbuild, which does not follow `new Worker(new URL(…, import.meta.url))`), bundle this entry and
 * pass the Worker: `loadModelInWorker(url, { worker: new Worker('/quant-worker.js', { type: 'module' }) })`.
 */
import { workerEndpoint } from './port.js';
import { serveModelWorker } from './serve.js';

serveModelWorker(workerEndpoint());
