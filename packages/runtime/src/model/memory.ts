/**
 * The memory check made before a session allocates its KV cache: the cache's exact byte size
 * against what the backend can still get, so an absurd `contextSize` is refused with numbers
 * (ContextTooLargeError, CONTEXT_TOO_LARGE) instead of allocating gigabytes or crashing the host.
 */
import {
  type KVCacheType,
  type KVCacheTypes,
  kvCacheBytes as kernelKvCacheBytes,
  kvTypesForHead,
} from '@quant/kernels';
import { ContextTooLargeError, ModelTooLargeError } from '../errors.js';
import type { ModelCore } from './core.js';

/** Bytes of a KV cache: keys and values for every cache layer and position, in their stored types. */
export function kvCacheBytes(
  kv: { layers: number; kvHeads: number; headDim: number },
  contextSize: number,
  kvType: KVCacheType | KVCacheTypes,
): number {
  return kernelKvCacheBytes(
    { layers: kv.layers, contextSize, kvHeads: kv.kvHeads, headDim: kv.headDim },
    kvType,
  );
}

interface OsLike {
  freemem(): number;
}

/** node:os without a static import (the runtime also runs in browsers), or undefined. */
function nodeOs(): OsLike | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const os = proc?.getBuiltinModule?.('node:os') as OsLike | undefined;
    return typeof os?.freemem === 'function' ? os : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Bytes a new KV cache may take, and what limits it: the host's available memory (os.freemem(), in
 * Node), and on the wasm backend its address space (4 GiB less the C heap's reserve) minus the
 * model's weights, which live in the same linear memory.
 */
export function availableMemory(core: Pick<ModelCore, 'kernels' | 'weights'>): {
  bytes: number;
  where: string;
} {
  let bytes = Number.POSITIVE_INFINITY;
  let where = 'no limit known';
  const os = nodeOs();
  if (os) {
    bytes = os.freemem();
    where = 'free memory reported by the operating system';
  }
  const k = core.kernels;
  if (k.backend === 'wasm' && Number.isFinite(k.maxMemoryBytes)) {
    const wasm = Math.max(0, k.maxMemoryBytes - core.weights.byteLength);
    if (wasm < bytes) {
      bytes = wasm;
      where = "the wasm backend's 4 GiB address space less the model's weights";
    }
  }
  return { bytes, where };
}

/**
 * Throws ContextTooLargeError when a `contextSize`-token KV cache of `kvType` does not fit in the
 * available memory; the error gives the bytes needed, the bytes available and the largest context
 * that fits (rounded down to a multiple of 256 when that is at least 256).
 */
export function checkContextMemory(
  core: Pick<ModelCore, 'kernels' | 'weights' | 'kv'>,
  contextSize: number,
  kvType: KVCacheType | KVCacheTypes,
): void {
  const need = kvCacheBytes(core.kv, contextSize, kvType);
  const { bytes: available, where } = availableMemory(core);
  if (need <= available) return;
  const perToken = kvCacheBytes(core.kv, 1, kvType);
  let max = perToken > 0 ? Math.floor(available / perToken) : 0;
  if (max >= 256) max -= max % 256;
  throw new ContextTooLargeError(
    contextSize,
    need,
    available,
    max,
    where,
    smallerCacheTypes(core.kv, contextSize, kvType, available),
  );
}

/**
 * The cache types (K and V alike) smaller than `kvType` that would fit `contextSize` tokens in
 * `available` bytes, with their sizes, smallest saving first: e.g. [{ type: 'q8_0', bytes }].
 */
export function smallerCacheTypes(
  kv: { layers: number; kvHeads: number; headDim: number },
  contextSize: number,
  kvType: KVCacheType | KVCacheTypes,
  available: number,
): { type: KVCacheType; bytes: number }[] {
  const now = kvCacheBytes(kv, contextSize, kvType);
  return kvTypesForHead(kv.headDim)
    .filter((t) => t !== 'bf16' || !kvTypesForHead(kv.headDim).includes('f16'))
    .map((type) => ({ type, bytes: kvCacheBytes(kv, contextSize, type) }))
    .filter((c) => c.bytes < now && c.bytes <= available)
    .sort((a, b) => b.bytes - a.bytes);
}

/** What a model needs in the backend's memory besides its KV cache, from the GGUF header (before loading). */
export interface ModelMemoryPlan {
  /** Bytes of weights in kernel memory: matrices as stored, `vector` tensors as float32. */
  weightBytes: number;
  /** Estimated bytes of one forward pass's scratch buffers (see `forwardScratchBytes`). */
  scratchBytes: number;
}

/**
 * Estimated scratch memory of one forward pass of `batchSize` rows: float32 activations of a few
 * residual-width and widest-hidden-width rows per token (hidden state, norms, Q/K/V, attention
 * output, FFN gate/up), the logits of up to `maxSequences` rows, and 16 MiB for the kernels' own
 * temporaries. `widest` is the largest matrix dimension other than the vocabulary (e.g. the FFN width).
 */
export function forwardScratchBytes(
  dims: { nEmbd: number; nVocab: number; widest: number },
  batchSize: number,
  maxSequences: number,
): number {
  return 4 * batchSize * (6 * dims.nEmbd + 3 * dims.widest) + 4 * maxSequences * dims.nVocab + 16 * 2 ** 20;
}

/**
 * The check loadModel makes before loading weights (so before a browser downloads them): on a
 * backend with a fixed address space (wasm32: `maxMemoryBytes`, 4 GiB less 64 MiB), the weights, the
 * forward pass's scratch and the default session's KV cache must fit. Throws ModelTooLargeError when
 * even a 256-token cache does not fit, ContextTooLargeError (with the largest context that fits) when
 * `contextSize` does not.
 */
export function checkModelMemory(
  kernels: Pick<ModelCore['kernels'], 'backend' | 'maxMemoryBytes'>,
  plan: ModelMemoryPlan,
  kv: { layers: number; kvHeads: number; headDim: number },
  contextSize: number,
  kvType: KVCacheType | KVCacheTypes,
  where: string,
): void {
  if (kernels.backend !== 'wasm' || !Number.isFinite(kernels.maxMemoryBytes)) return;
  const total = kernels.maxMemoryBytes;
  const fixed = plan.weightBytes + plan.scratchBytes;
  const minimum = fixed + kvCacheBytes(kv, Math.min(256, contextSize), kvType);
  if (minimum > total)
    throw new ModelTooLargeError(plan.weightBytes, minimum - plan.weightBytes, total, where);
  const need = kvCacheBytes(kv, contextSize, kvType);
  const available = total - fixed;
  if (need <= available) return;
  const perToken = kvCacheBytes(kv, 1, kvType);
  let max = perToken > 0 ? Math.floor(available / perToken) : 0;
  if (max >= 256) max -= max % 256;
  throw new ContextTooLargeError(
    contextSize,
    need,
    available,
    max,
    `${where}: the wasm backend's ${(total / 2 ** 30).toFixed(2)} GiB address space less ${(plan.weightBytes / 2 ** 30).toFixed(2)} GiB of weights and ${(plan.scratchBytes / 2 ** 20).toFixed(0)} MiB of scratch`,
    smallerCacheTypes(kv, contextSize, kvType, available),
  );
}
