/**
 * Browser build of ./wasm-file.ts: the module is fetched from `wasmUrl`, else from the package's
 * wasm/quant-kernels.wasm next to this file — `new URL(…, import.meta.url)`, which Vite, webpack 5,
 * Rollup and Parcel turn into an emitted asset, and which works unbundled (CDNs, import maps).
 */
import { fetchWasmBytes, type WasmLocation } from './wasm-fetch';

export type { WasmLocation };
export { fetchWasmBytes };

/** esbuild does not follow `new URL(…, import.meta.url)`: say how to give the module's location. */
const HINT =
  '; pass wasmUrl (esbuild: `import wasmUrl from "@quant/kernels/wasm/quant-kernels.wasm"` with `--loader:.wasm=file`) or wasmBinary to loadKernels / loadModel';

export async function wasmLocation(
  wasmUrl: string | URL | undefined,
  threaded = false,
): Promise<WasmLocation> {
  // Two literal `new URL(…)` expressions, so bundlers emit both modules.
  const url =
    wasmUrl ??
    (threaded
      ? new URL('../wasm/quant-kernels-mt.wasm', import.meta.url)
      : new URL('../wasm/quant-kernels.wasm', import.meta.url));
  return { key: String(url), load: () => fetchWasmBytes(url, wasmUrl === undefined ? HINT : '') };
}
