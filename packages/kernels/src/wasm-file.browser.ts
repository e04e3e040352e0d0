/**
 * Browser build of ./wasm-file.ts: the module is fetched from `wasmUrl`, else from the package's
 * wasm/quant-kernels.wasm (or its -mt / -relaxed twins) next to this file — `new URL(…, import.meta.url)`, which Vite, webpack 5,
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
  relaxed = false,
): Promise<WasmLocation> {
  // Literal `new URL(…)` expressions, so bundlers emit every module.
  const url =
    wasmUrl ??
    (threaded
      ? relaxed
        ? new URL('../wasm/quant-kernels-mt-relaxed.wasm', import.meta.url)
        : new URL('../wasm/quant-kernels-mt.wasm', import.meta.url)
      : relaxed
        ? new URL('../wasm/quant-kernels-relaxed.wasm', import.meta.url)
        : new URL('../wasm/quant-kernels.wasm', import.meta.url));
  return { key: String(url), load: () => fetchWasmBytes(url, wasmUrl === undefined ? HINT : '') };
}

export type FileReader = (path: string, offset: number, dst: Uint8Array) => number;

/** Browsers have no files to read weights from (see ./wasm-file.ts). */
export async function fileReader(_helpers = 0): Promise<FileReader | undefined> {
  return undefined;
}
