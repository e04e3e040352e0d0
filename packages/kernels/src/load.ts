import { KernelError } from './errors';
import { KernelsImpl } from './kernels';
import type { Kernels, LoadKernelsOptions } from './types';
import { int } from './validate';

function forceScalarFromEnv(): boolean {
  return typeof process !== 'undefined' && process.env?.QUANT_KERNELS_SIMD === 'scalar';
}

async function loadWasm(forceScalar: boolean, options: LoadKernelsOptions): Promise<Kernels> {
  const { createWasmHost } = await import('./wasm-host');
  const host = await createWasmHost(options);
  return new KernelsImpl(host, 1, forceScalar);
}

/**
 * Loads a kernel backend. 'auto' (default) tries the native addon and falls back to wasm,
 * recording why in `fallbackReason`.
 */
export async function loadKernels(options: LoadKernelsOptions = {}): Promise<Kernels> {
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'native' && backend !== 'wasm') {
    throw new KernelError(
      'INVALID_ARGUMENT',
      `loadKernels: backend must be 'auto', 'native' or 'wasm', got ${String(backend)}`,
    );
  }
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  const threads =
    options.threads !== undefined
      ? int(options.threads, 'loadKernels(threads)', 1, 256)
      : isNode
        ? (await import('./cpu-info')).physicalCores()
        : 1;
  const forceScalar = options.forceScalar === true || forceScalarFromEnv();
  if (backend === 'wasm') return loadWasm(forceScalar, options);
  let reason: string;
  try {
    if (!isNode) throw new KernelError('BACKEND_UNAVAILABLE', 'the native addon needs Node.js');
    const { createNativeHost, loadNativeBinding } = await import('./native-host');
    const raw = loadNativeBinding();
    return new KernelsImpl(createNativeHost(raw), threads, forceScalar);
  } catch (e) {
    if (backend === 'native') throw e;
    reason = (e as Error).message;
  }
  const k = (await loadWasm(forceScalar, options)) as KernelsImpl;
  k.fallbackReason = reason;
  return k;
}
