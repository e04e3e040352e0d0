// The Vite test page: @quant/runtime as an application imports it, with no configuration (the wasm
// module and the model worker are found through `new URL(…, import.meta.url)`).
import * as quant from '@quant/runtime';

Object.assign(globalThis, { quant, quantReady: true });
