/**
 * The WebAssembly backend: the same C library compiled to wasm32 with emnapi's Node-API shim.
 * The module imports nothing but Node-API (no WASI), so it runs unchanged in browsers.
 * Memory: everything lives in the module's linear memory (at most 4 GiB); weights are copied in
 * once by `weight()`, float buffers are allocated there and viewed through `memory.buffer`.
 */
import { KernelError } from './errors';
import type { FloatBlock, Host, PinnedBytes, RawBinding } from './raw-binding';

/** wasm32 can address 4 GiB; keep 64 MiB for the C heap's own bookkeeping, stack and scratch. */
export const WASM_MAX_MEMORY_BYTES = 4 * 1024 * 1024 * 1024 - 64 * 1024 * 1024;

export interface WasmSourceOptions {
  /** The module's bytes (e.g. fetched by the app). */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /** Where to fetch the module from (browsers). Default in Node: the package's wasm/quant-kernels.wasm. */
  wasmUrl?: string | URL;
}

async function wasmBytes(opts: WasmSourceOptions): Promise<Uint8Array> {
  if (opts.wasmBinary)
    return opts.wasmBinary instanceof Uint8Array ? opts.wasmBinary : new Uint8Array(opts.wasmBinary);
  if (
    opts.wasmUrl !== undefined &&
    !(typeof process !== 'undefined' && process.versions?.node && String(opts.wasmUrl).startsWith('file:'))
  ) {
    const res = await fetch(opts.wasmUrl);
    if (!res.ok)
      throw new KernelError(
        'BACKEND_UNAVAILABLE',
        `could not fetch the wasm module from ${String(opts.wasmUrl)}: HTTP ${res.status}`,
      );
    return new Uint8Array(await res.arrayBuffer());
  }
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const { join, dirname } = await import('node:path');
  const path =
    opts.wasmUrl !== undefined
      ? fileURLToPath(opts.wasmUrl)
      : (process.env.QUANT_KERNELS_WASM ??
        join(dirname(fileURLToPath(import.meta.url)), '..', 'wasm', 'quant-kernels.wasm'));
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `wasm module not found at ${path}: build it with \`node scripts/build-wasm.mjs\` in @quant/kernels (${(e as Error).message})`,
      { cause: e },
    );
  }
}

export async function createWasmHost(opts: WasmSourceOptions = {}): Promise<Host> {
  const bytes = await wasmBytes(opts);
  const [{ instantiateNapiModule }, { getDefaultContext }] = await Promise.all([
    import('@emnapi/core'),
    import('@emnapi/runtime'),
  ]);
  let raw: RawBinding;
  let memory: WebAssembly.Memory;
  try {
    const { instance, napiModule } = await instantiateNapiModule(bytes, {
      context: getDefaultContext(),
      beforeInit({ instance }) {
        const init = instance.exports._initialize as (() => void) | undefined;
        if (typeof init === 'function') init();
      },
    });
    raw = napiModule.exports as unknown as RawBinding;
    memory = instance.exports.memory as WebAssembly.Memory;
  } catch (e) {
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `the wasm module failed to instantiate: ${(e as Error).message}`,
      { cause: e },
    );
  }

  const alloc = (n: number, zero: boolean): number => {
    if (n > WASM_MAX_MEMORY_BYTES) {
      throw new KernelError(
        'OUT_OF_MEMORY',
        `cannot allocate ${n} bytes in wasm memory (limit ${WASM_MAX_MEMORY_BYTES}); use the native backend for larger models`,
      );
    }
    const p = raw.alloc(n, zero ? 1 : 0);
    if (!p) {
      throw new KernelError(
        'OUT_OF_MEMORY',
        `wasm linear memory is full: could not allocate ${n} bytes (in use: ${memory.buffer.byteLength} of at most 4 GiB); dispose unused weights/buffers or use the native backend`,
      );
    }
    return p;
  };

  return {
    kind: 'wasm',
    raw,
    canMapFiles: false,
    maxMemoryBytes: WASM_MAX_MEMORY_BYTES,
    floats(length: number): FloatBlock {
      const ptr = alloc(Math.max(1, length) * 4, true);
      let cached: Float32Array | undefined;
      return {
        ptr,
        view() {
          if (!cached || cached.buffer !== memory.buffer)
            cached = new Float32Array(memory.buffer, ptr, length);
          return cached;
        },
        free: () => raw.free(ptr),
      };
    },
    pin(b: ArrayBufferView): PinnedBytes {
      const n = b.byteLength;
      const ptr = alloc(Math.max(1, n), false);
      new Uint8Array(memory.buffer, ptr, n).set(new Uint8Array(b.buffer, b.byteOffset, n));
      return { ptr, release: () => raw.free(ptr) };
    },
    output(n: number) {
      const ptr = alloc(Math.max(1, n), false);
      return {
        ptr,
        take: () => new Uint8Array(memory.buffer, ptr, n).slice(),
        release: () => raw.free(ptr),
      };
    },
    alloc: (n: number) => alloc(n, true),
    free: (p: number) => raw.free(p),
  };
}
