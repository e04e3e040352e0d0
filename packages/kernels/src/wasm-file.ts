/**
 * Where the wasm module comes from when no `wasmBinary` is given — Node: `wasmUrl` (a file: URL is
 * read from disk, an http(s) URL fetched), else QUANT_KERNELS_WASM (QUANT_KERNELS_WASM_MT for the
 * threaded module), else the package's wasm/quant-kernels.wasm (wasm/quant-kernels-mt.wasm). The browser build (dist/browser.js) uses ./wasm-file.browser.ts instead.
 */
import { KernelError } from './errors';
import { fetchWasmBytes, type WasmLocation } from './wasm-fetch';

export type { WasmLocation };
export { fetchWasmBytes };

export async function wasmLocation(
  wasmUrl: string | URL | undefined,
  threaded = false,
): Promise<WasmLocation> {
  if (wasmUrl !== undefined && !String(wasmUrl).startsWith('file:')) {
    const key = String(wasmUrl);
    return { key, load: () => fetchWasmBytes(wasmUrl) };
  }
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const { join, dirname } = await import('node:path');
  const path =
    wasmUrl !== undefined
      ? fileURLToPath(wasmUrl)
      : ((threaded ? process.env.QUANT_KERNELS_WASM_MT : process.env.QUANT_KERNELS_WASM) ??
        join(
          dirname(fileURLToPath(import.meta.url)),
          '..',
          'wasm',
          threaded ? 'quant-kernels-mt.wasm' : 'quant-kernels.wasm',
        ));
  return {
    key: path,
    async load() {
      try {
        return new Uint8Array(await readFile(path));
      } catch (e) {
        throw new KernelError(
          'BACKEND_UNAVAILABLE',
          `wasm module not found at ${path}: build it with \`node scripts/build-wasm.mjs\` in @quant/kernels (${(e as Error).message})`,
          { cause: e },
        );
      }
    },
  };
}
