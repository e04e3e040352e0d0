import { REBUILD_ADVICE } from './advice';
import { KernelError } from './errors';
import { loadNativeAddon, nativeAddonPath } from './native-addon';
import type { FloatBlock, Host, PinnedBytes, RawBinding } from './raw-binding';

/**
 * Loads the native addon (QUANT_KERNELS_ADDON, else the prebuilt platform package, else
 * build/Release — see native-addon.ts) or throws KernelError('BACKEND_UNAVAILABLE') saying why.
 */
export function loadNativeBinding(): RawBinding {
  return loadNativeAddon().binding;
}

/** A copy of the binding's functions (its properties are read-only) with some replaced. */
function withOverrides(binding: RawBinding, over: Partial<RawBinding>): RawBinding {
  const o: Record<string, unknown> = {};
  for (const k of Object.getOwnPropertyNames(binding))
    o[k] = (binding as unknown as Record<string, unknown>)[k];
  return Object.assign(o, over) as unknown as RawBinding;
}

/** What a QK_FILE_* bit set (csrc/file-map.h) says about a mapped file. */
function changeReasons(bits: number): string {
  const why: string[] = [];
  if (bits & 1)
    why.push(
      'a read reached past its end: it was truncated while being read (those pages now read as zeros, so the last result is invalid)',
    );
  if (bits & 2) why.push('its size changed (truncated or extended)');
  if (bits & 4) why.push('it was rewritten in place (its modification time changed)');
  return why.join('; ');
}

export function fileChangedError(path: string, bits: number, where: string): KernelError {
  return new KernelError(
    'MODEL_FILE_CHANGED',
    `${where}: the model file ${path} changed while its weights were memory-mapped: ${changeReasons(bits)}. ` +
      'The weights in use are no longer the ones loaded. Dispose the model and load it again; to update a model ' +
      'file that is in use, write the new version to another file and rename it over the old one (running ' +
      'processes keep the old file), never modify or truncate it in place.',
  );
}

/**
 * The binding as one native host uses it: file mappings are tracked per host (file id → path), and
 * after every op that reads weights (matmul, getRows) the process-wide count of SIGBUS faults
 * absorbed in mappings (csrc/mmap.c) is compared with the last one seen — one cheap call; if it
 * moved, this host's files are checked and a fault in one of them throws MODEL_FILE_CHANGED
 * (again on every later op, until the weights are disposed).
 */
function guardMappedFiles(raw: RawBinding): { raw: RawBinding; check(where: string): void } {
  const files = new Map<number, { path: string; maps: number }>();
  const fileOfBase = new Map<number, number>();
  let seenFaults = raw.mapFaults();
  const check = (where: string) => {
    for (const [id, f] of files) {
      const bits = raw.mapCheck(id);
      if (bits > 0 && bits & 7) throw fileChangedError(f.path, bits, where);
    }
  };
  const afterRead = (where: string) => {
    const faults = raw.mapFaults();
    if (faults === seenFaults) return;
    check(where);
    seenFaults = faults;
  };
  const guarded: RawBinding = withOverrides(raw, {
    mapFile(path: string, offset: number, bytes: number) {
      const r = raw.mapFile(path, offset, bytes);
      if (typeof r !== 'number') {
        const [, base, , id] = r;
        const f = files.get(id);
        if (f) f.maps++;
        else files.set(id, { path, maps: 1 });
        fileOfBase.set(base, id);
      }
      return r;
    },
    unmap(base: number, len: number) {
      raw.unmap(base, len);
      const id = fileOfBase.get(base);
      if (id === undefined) return;
      fileOfBase.delete(base);
      const f = files.get(id);
      if (f && --f.maps === 0) files.delete(id);
    },
    matmul(...a: Parameters<RawBinding['matmul']>) {
      const rc = raw.matmul(...a);
      afterRead('matmul');
      return rc;
    },
    getRows(...a: Parameters<RawBinding['getRows']>) {
      const rc = raw.getRows(...a);
      afterRead('getRows');
      return rc;
    },
  });
  return { raw: guarded, check };
}

/**
 * Native memory: float buffers are JS ArrayBuffers (off-heap, never moved, freed by GC — so a view
 * kept after dispose() can never dangle); weights keep a reference to the caller's bytes (no copy).
 */
export function createNativeHost(binding: RawBinding): Host {
  if (typeof binding.mapFaults !== 'function' || typeof binding.mapCheck !== 'function') {
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `the native addon at ${nativeAddonPath()} is out of date (no mapFaults/mapCheck); ${REBUILD_ADVICE} (in the quant repository: \`pnpm --filter @quant/kernels build\`)`,
    );
  }
  const { raw, check } = guardMappedFiles(binding);
  return {
    kind: 'native',
    raw,
    checkMappedFiles: () => check('checkMappedFiles'),
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
    alloc(bytes: number, zero = true): number {
      const p = raw.alloc(bytes, zero ? 1 : 0);
      if (!p) throw new KernelError('OUT_OF_MEMORY', `could not allocate ${bytes} bytes of native memory`);
      return p;
    },
    free(ptr: number) {
      raw.free(ptr);
    },
  };
}
