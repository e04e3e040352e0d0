// The esbuild test page. esbuild does not follow `new URL(…, import.meta.url)`, so the page imports
// the wasm module's URL (`--loader:.wasm=file`) and starts the model worker from its own bundle of
// `@quant/runtime/worker` (worker.ts).
import wasmFile from '@quant/kernels/wasm/quant-kernels.wasm';
import * as quant from '@quant/runtime';

const wasmUrl = new URL(wasmFile, import.meta.url).href;
const workerUrl = new URL('./worker.js', import.meta.url).href;
Object.assign(globalThis, { quant, wasmUrl, workerUrl, quantReady: true });
