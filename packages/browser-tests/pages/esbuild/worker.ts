// The model worker, bundled by esbuild for the esbuild page.
import '@quant/runtime/worker';
