import { KernelError } from './errors';
import { KernelsImpl } from './kernels';
import type { Kernels, LoadKernelsOptions } from './types';
import { int } from './validate';

function forceScalarFromEnv(): boolean {
  return typeof process !== 'undefined' && process.env?.QUANT_KERNELS_SIMD === 'scalar';
}

async function loadWasm(
  forceScalar: boolean,
  options: LoadKernelsOptions,
  defaultThreads: () => Promise<number>,
): Promise<Kernels> {
  const { createWasmHost } = await import('./wasm-host');
  const { threadsAvailable, defaultWasmThreads } = await import('./wasm-threads');
  const cannot = threadsAvailable();
  if (options.wasmThreads === true && cannot)
    throw new KernelError('BACKEND_UNAVAILABLE', `loadKernels: wasmThreads is true but ${cannot}`);
  const threads =
    options.threads !== undefined
      ? int(options.threads, 'loadKernels(threads)', 1, 256)
      : cannot
        ? 1
        : defaultWasmThreads(await defaultThreads());
  const threaded = options.wasmThreads ?? (!cannot && threads > 1);
  const host = await createWasmHost({ ...options, threaded, threads });
  return new KernelsImpl(host, host.threaded ? threads : 1, forceScalar, options.mode);
}

/** What `loadKernels()` returns: the kernels, and which backend runs and why. */
export interface LoadedKernels extends Kernels {
  /**
   * Which backend runs and why, one line for logs: "native: prebuilt @quant/kernels-linux-x64@1.0.0",
   * "native: built on install (…/build/Release/quant_kernels.node)", "wasm: requested", or
   * "wasm: <fallbackReason>" (e.g. "wasm: no prebuilt addon for this platform … and the build failed: …;
   * run `npm rebuild @quant/kernels` …").
   */
  readonly backendReason: string;
}

function withReason(k: Kernels, reason: string): LoadedKernels {
  Object.defineProperty(k, 'backendReason', { value: reason, enumerable: true });
  return k as LoadedKernels;
}

/**
 * Loads a kernel backend. 'auto' (default) tries the native addon — the prebuilt platform package,
 * then the addon built on install — and falls back to wasm, recording why in `fallbackReason`;
 * `backendReason` says which backend runs and why in every case.
 */
export async function loadKernels(options: LoadKernelsOptions = {}): Promise<LoadedKernels> {
  const backend = options.backend ?? 'auto';
  if (options.mode !== undefined && options.mode !== 'fast' && options.mode !== 'parity') {
    throw new KernelError(
      'INVALID_ARGUMENT',
      `loadKernels: mode must be 'fast' or 'parity', got ${String(options.mode)}`,
    );
  }
  if (backend !== 'auto' && backend !== 'native' && backend !== 'wasm') {
    throw new KernelError(
      'INVALID_ARGUMENT',
      `loadKernels: backend must be 'auto', 'native' or 'wasm', got ${String(backend)}`,
    );
  }
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  const physicalCores = async () => (isNode ? (await import('./cpu-info')).physicalCores() : 1);
  const threads =
    options.threads !== undefined
      ? int(options.threads, 'loadKernels(threads)', 1, 256)
      : await physicalCores();
  const forceScalar = options.forceScalar === true || forceScalarFromEnv();
  if (backend === 'wasm')
    return withReason(
      await loadWasm(forceScalar, options, physicalCores),
      "wasm: requested (backend: 'wasm')",
    );
  let reason: string;
  try {
    if (!isNode) throw new KernelError('BACKEND_UNAVAILABLE', 'the native addon needs Node.js');
    const { createNativeHost } = await import('./native-host');
    const { loadNativeAddon } = await import('./native-addon');
    const addon = loadNativeAddon();
    return withReason(
      new KernelsImpl(createNativeHost(addon.binding), threads, forceScalar, options.mode),
      `native: ${addon.source}`,
    );
  } catch (e) {
    if (backend === 'native') throw e;
    reason = (e as Error).message;
  }
  const k = (await loadWasm(forceScalar, options, physicalCores)) as KernelsImpl;
  k.fallbackReason = reason;
  return withReason(k, `wasm: ${reason}`);
}
