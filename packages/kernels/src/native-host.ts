import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelError } from './errors';
import type { FloatBlock, Host, PinnedBytes, RawBinding } from './raw-binding';

/** The package root (this file is in src/ or dist/, one level below it). */
export function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..');
}

export function nativeAddonPath(): string {
  return process.env.QUANT_KERNELS_ADDON ?? join(packageRoot(), 'build', 'Release', 'quant_kernels.node');
}

/** Loads the native addon or throws KernelError('BACKEND_UNAVAILABLE') saying why. */
export function loadNativeBinding(): RawBinding {
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `native addon not found at ${path}; build it with \`pnpm --filter @quant/kernels build\` (needs a C compiler and node-gyp) or use backend 'wasm'`,
    );
  }
  try {
    const require = createRequire(import.meta.url);
    return require(path) as RawBinding;
  } catch (e) {
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `native addon at ${path} failed to load: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

/**
 * Native memory: float buffers are JS ArrayBuffers (off-heap, never moved, freed by GC — so a view
 * kept after dispose() can never dangle); weights keep a reference to the caller's bytes (no copy).
 */
export function createNativeHost(raw: RawBinding): Host {
  return {
    kind: 'native',
    raw,
    canMapFiles: process.platform !== 'win32',
    maxMemoryBytes: Number.MAX_SAFE_INTEGER,
    floats(length: number): FloatBlock {
      const arr = new Float32Array(Math.max(1, length));
      const ptr = raw.addressOf(arr);
      return {
        ptr,
        view: () => (length === arr.length ? arr : arr.subarray(0, length)),
        free: () => {},
      };
    },
    pin(bytes: ArrayBufferView): PinnedBytes {
      if (bytes.byteLength === 0) return { ptr: 0, release: () => {} };
      let keep: ArrayBufferView | undefined = bytes;
      const ptr = raw.addressOf(bytes);
      return {
        ptr,
        release: () => {
          keep = undefined;
          return keep;
        },
      };
    },
    output(bytes: number) {
      const out = new Uint8Array(Math.max(1, bytes));
      const ptr = raw.addressOf(out);
      return { ptr, take: () => (bytes === out.length ? out : out.subarray(0, bytes)), release: () => {} };
    },
    alloc(bytes: number): number {
      const p = raw.alloc(bytes, 1);
      if (!p) throw new KernelError('OUT_OF_MEMORY', `could not allocate ${bytes} bytes of native memory`);
      return p;
    },
    free(ptr: number) {
      raw.free(ptr);
    },
  };
}
