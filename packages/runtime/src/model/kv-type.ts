/**
 * The `kvType` option: one KV cache type for K and V (`'q8_0'`) or `{ k, v }`, spelled as
 * llama.cpp's `--cache-type-k/-v`, and the checks a session makes before it allocates its cache.
 */
import {
  KV_CACHE_TYPES,
  type KVCacheType,
  type KVCacheTypes,
  kvTypeInfo,
  kvTypesForHead,
  STANDARD_PATH_V_TYPES,
} from '@quant/kernels';
import { invalidOption, KVTypeUnsupportedError } from '../errors.js';

/** A KV cache type for both K and V, or separate ones. */
export type KVTypeOption = KVCacheType | { k: KVCacheType; v: KVCacheType };

function one(v: unknown): KVCacheType | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.toLowerCase();
  return (KV_CACHE_TYPES as readonly string[]).includes(t) ? (t as KVCacheType) : undefined;
}

/** `'q8_0'` → { k: 'q8_0', v: 'q8_0' }; throws INVALID_OPTION naming the accepted values. */
export function parseKvType(value: unknown, name = 'kvType'): KVCacheTypes {
  const want = `one of ${KV_CACHE_TYPES.map((t) => `"${t}"`).join(', ')}, or { k, v } of them`;
  if (typeof value === 'string') {
    const t = one(value);
    if (!t) throw invalidOption(name, value, want);
    return { k: t, v: t };
  }
  if (value && typeof value === 'object') {
    const o = value as { k?: unknown; v?: unknown };
    const k = one(o.k),
      v = one(o.v);
    if (!k) throw invalidOption(`${name}.k`, o.k, want);
    if (!v) throw invalidOption(`${name}.v`, o.v, want);
    return { k, v };
  }
  throw invalidOption(name, value, want);
}

/** 'q8_0' when K and V match, else 'k=q8_0,v=f16'. */
export function kvTypeName(t: KVCacheTypes): string {
  return t.k === t.v ? t.k : `k=${t.k},v=${t.v}`;
}

/**
 * Throws KVTypeUnsupportedError when the cache types cannot serve this model's heads (a block type
 * needs the head size to be a multiple of its block) or this attention path (a quantized V needs
 * flash attention, as in llama.cpp).
 */
export function checkKvTypes(types: KVCacheTypes, headDim: number, flashAttention: boolean): void {
  for (const [part, t] of [
    ['K', types.k],
    ['V', types.v],
  ] as const) {
    const info = kvTypeInfo(t);
    if (headDim % info.blockSize)
      throw new KVTypeUnsupportedError(
        t,
        `the ${part} cache stores blocks of ${info.blockSize} values and this model's head size ${headDim} is not a multiple of ${info.blockSize}`,
        kvTypesForHead(headDim),
      );
  }
  if (!flashAttention && kvTypeInfo(types.v).quantized)
    throw new KVTypeUnsupportedError(
      types.v,
      'a quantized V cache is only read by the flash-attention path (flashAttention: false was asked); use flashAttention: true or one of the V types below',
      STANDARD_PATH_V_TYPES.filter((t) => headDim % kvTypeInfo(t).blockSize === 0),
    );
}
