/**
 * KV cache element types (llama.cpp's `--cache-type-k/-v` names), their storage geometry, and the
 * rules that decide which K/V pairs a cache and an attention path can use.
 */
import { KernelError } from './errors';
import type { KVCacheType, KVCacheTypes, KVRotation } from './types';

export interface KVTypeInfo {
  readonly name: KVCacheType;
  /** ggml type id. */
  readonly id: number;
  /** Values per block (1 for float types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** A block-quantized type (q8_0 … iq4_nlr). */
  readonly quantized: boolean;
  /**
   * quant's rotated type (iq4_nlr): stored in the `id` type's blocks, each head rotated by a
   * randomized Hadamard transform over the whole head, quantized with a scale search, and (K) its
   * outlier channels smoothed. The C mode bits of K and V.
   */
  readonly mode?: { readonly k: number; readonly v: number };
}

/** C mode bits (csrc/ctx.h QK_KVM_*). */
const RANDH = 1,
  SEARCH = 2,
  SMOOTH = 4;

const TYPES: readonly KVTypeInfo[] = [
  { name: 'f32', id: 0, blockSize: 1, blockBytes: 4, quantized: false },
  { name: 'f16', id: 1, blockSize: 1, blockBytes: 2, quantized: false },
  { name: 'bf16', id: 30, blockSize: 1, blockBytes: 2, quantized: false },
  { name: 'q8_0', id: 8, blockSize: 32, blockBytes: 34, quantized: true },
  { name: 'q4_0', id: 2, blockSize: 32, blockBytes: 18, quantized: true },
  { name: 'q4_1', id: 3, blockSize: 32, blockBytes: 20, quantized: true },
  { name: 'q5_0', id: 6, blockSize: 32, blockBytes: 22, quantized: true },
  { name: 'q5_1', id: 7, blockSize: 32, blockBytes: 24, quantized: true },
  { name: 'iq4_nl', id: 20, blockSize: 32, blockBytes: 18, quantized: true },
  {
    name: 'iq4_nlr',
    id: 20,
    blockSize: 32,
    blockBytes: 18,
    quantized: true,
    mode: { k: RANDH | SEARCH | SMOOTH, v: RANDH | SEARCH },
  },
].map((t) => Object.freeze(t as KVTypeInfo));

/** Every KV cache type, in llama.cpp's order of `--cache-type-k` values. */
export const KV_CACHE_TYPES: readonly KVCacheType[] = TYPES.map((t) => t.name);

const BY_NAME = new Map(TYPES.map((t) => [t.name as string, t]));

/** The info of a KV cache type name, or KernelError('UNSUPPORTED_TYPE') listing the names. */
export function kvTypeInfo(name: unknown, what = 'KV cache type'): KVTypeInfo {
  const t = typeof name === 'string' ? BY_NAME.get(name.toLowerCase()) : undefined;
  if (!t)
    throw new KernelError(
      'UNSUPPORTED_TYPE',
      `${what}: ${JSON.stringify(name)} is not a KV cache type; use one of ${KV_CACHE_TYPES.join(', ')}`,
    );
  return t;
}

/** `'q8_0'` → { k: 'q8_0', v: 'q8_0' }; `{ k, v }` checked. */
export function kvTypes(type: unknown, what = 'kvCache(type)'): KVCacheTypes {
  if (typeof type === 'string') {
    const t = kvTypeInfo(type, what).name;
    return { k: t, v: t };
  }
  if (type && typeof type === 'object') {
    const o = type as { k?: unknown; v?: unknown };
    return { k: kvTypeInfo(o.k, `${what}.k`).name, v: kvTypeInfo(o.v, `${what}.v`).name };
  }
  throw new KernelError(
    'INVALID_ARGUMENT',
    `${what}: expected a KV cache type (${KV_CACHE_TYPES.join(', ')}) or { k, v }, got ${String(type)}`,
  );
}

/** Bytes of one cache row of `width` values. */
export function kvRowBytes(type: KVCacheType, width: number): number {
  const t = kvTypeInfo(type);
  return (width / t.blockSize) * t.blockBytes;
}

/** Bits per stored value of a type (e.g. q4_0: 4.5, q8_0: 8.5). */
export function kvBitsPerValue(type: KVCacheType): number {
  const t = kvTypeInfo(type);
  return (t.blockBytes * 8) / t.blockSize;
}

/**
 * Bytes of a whole KV cache: K and V rows of kvHeads·headDim values for every layer and position.
 */
export function kvCacheBytes(
  shape: { layers: number; contextSize: number; kvHeads: number; headDim: number },
  type: KVCacheType | KVCacheTypes,
): number {
  const { k, v } = kvTypes(type);
  const width = shape.kvHeads * shape.headDim;
  return (
    shape.layers * shape.contextSize * (kvRowBytes(k, width) + kvRowBytes(v, width)) + kvStateBytes(shape, k)
  );
}

/** Bytes of a cache's state besides its rows: an iq4_nlr K's smoothing scales (f32 per layer and channel). */
export function kvStateBytes(
  shape: { layers: number; kvHeads: number; headDim: number },
  k: KVCacheType,
): number {
  return (kvTypeInfo(k).mode?.k ?? 0) & SMOOTH ? shape.layers * shape.kvHeads * shape.headDim * 4 : 0;
}

/** The C mode bits of a K (`part` 'k') or V type (0 for llama.cpp's types). */
export function kvModeBits(type: KVCacheType, part: 'k' | 'v'): number {
  return kvTypeInfo(type).mode?.[part] ?? 0;
}

/**
 * The rotation size of quant's rotated types: the whole head when it is a power of two or 12 times
 * one (H12 ⊗ H_{2^k}), else the largest power of two dividing it (at most 1024).
 */
function wholeHeadRotation(headDim: number): number {
  const p2 = pow2Divisor(headDim);
  if (p2 === headDim) return Math.min(headDim, 1024);
  if (headDim % 12 === 0 && pow2Divisor(headDim / 12) === headDim / 12 && headDim <= 1024) return headDim;
  return Math.min(p2, 1024);
}

/** The KV cache types a head of `headDim` values can use (block types need whole blocks per head). */
export function kvTypesForHead(headDim: number): KVCacheType[] {
  return TYPES.filter((t) => headDim % t.blockSize === 0).map((t) => t.name);
}

/** Types a V cache can use on the standard (non-flash) attention path. */
export const STANDARD_PATH_V_TYPES: readonly KVCacheType[] = ['f32', 'f16', 'bf16'];

/**
 * Throws KernelError('UNSUPPORTED_TYPE') when a head of `headDim` values cannot be stored in `type`,
 * naming the types that can.
 */
export function checkKvTypeForHead(type: KVCacheType, headDim: number, what: string): void {
  const t = kvTypeInfo(type);
  if (headDim % t.blockSize)
    throw new KernelError(
      'UNSUPPORTED_TYPE',
      `${what}: a ${type} cache stores blocks of ${t.blockSize} values, but the head size ${headDim} is not a multiple of ${t.blockSize}; ` +
        `types that work for this head size: ${kvTypesForHead(headDim).join(', ')}`,
    );
}

/** Largest power of two that divides n (n > 0). */
function pow2Divisor(n: number): number {
  return n & -n;
}

/**
 * Walsh-Hadamard rotation sizes (0 = none) for a cache: 'llama' (default) rotates exactly when
 * llama.cpp does (a quantized type and a head size that is a multiple of 64: K in chunks of the
 * largest power of two dividing the head size, V in chunks of 64); 'none' never rotates; 'always'
 * rotates every quantized type, in chunks of the largest power of two dividing the head size (at
 * least the 32 of a block, so head size 96 is rotated in chunks of 32).
 */
export function kvRotationSizes(
  types: KVCacheTypes,
  headDim: number,
  rotation: KVRotation = 'llama',
): { k: number; v: number } {
  const q = (t: KVCacheType) => kvTypeInfo(t).quantized;
  const cap = (n: number) => Math.min(n, 1024);
  // quant's rotated types carry their rotation (whatever `rotation` says for llama.cpp's types)
  const own = (t: KVCacheType) => (kvTypeInfo(t).mode ? wholeHeadRotation(headDim) : undefined);
  const ownK = own(types.k),
    ownV = own(types.v);
  if (ownK !== undefined || ownV !== undefined) {
    const rest = kvRotationSizes(
      { k: ownK === undefined ? types.k : 'f32', v: ownV === undefined ? types.v : 'f32' },
      headDim,
      rotation,
    );
    return { k: ownK ?? rest.k, v: ownV ?? rest.v };
  }
  if (rotation === 'none') return { k: 0, v: 0 };
  if (rotation === 'always') {
    const r = cap(pow2Divisor(headDim));
    return { k: q(types.k) && r >= 32 ? r : 0, v: q(types.v) && r >= 32 ? r : 0 };
  }
  if (rotation !== 'llama')
    throw new KernelError(
      'INVALID_ARGUMENT',
      `kvCache(rotation): expected 'llama', 'always' or 'none', got ${String(rotation)}`,
    );
  const ok = headDim % 64 === 0;
  return { k: ok && q(types.k) ? cap(pow2Divisor(headDim)) : 0, v: ok && q(types.v) ? 64 : 0 };
}
