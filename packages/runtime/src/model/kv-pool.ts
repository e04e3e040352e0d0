/**
 * KV caches of disposed sessions, kept for the model's next sessions of the same context size and
 * cache types.
 *
 * Why: a new cache's memory is mapped as it fills, and mapping a page is a page fault — under some
 * hypervisors 5–20 µs per 4 KiB page (kernels' csrc/mem-advise.c). A server that creates a session
 * per request paid that on every stored token of every request: ~4% of an 8-sequence decode step of
 * the Phi-3.5-mini-shaped benchmark. A reused cache is already mapped. llama.cpp allocates one cache
 * for all its sequences when a context is created and keeps it; this pool keeps freed caches only
 * up to a limit (LoadModelOptions.kvPool, default: maxSequences) and gives them up when memory is
 * short: a new session whose cache would not fit frees the pool first (see session.ts), and
 * `model.trimKvPool()` / `model.dispose()` free it.
 *
 * A reused cache holds the previous session's rows; nothing reads them (attention, shifts and saves
 * read only positions the new session stored). Caches with state besides their rows (iq4_nlr K's
 * smoothing scales) are not kept.
 */
import type { KVCache, KVCacheTypes } from '@quant/kernels';

/** What the pool holds. */
export interface KvPoolStats {
  /** Caches kept for reuse. */
  readonly caches: number;
  /** Their bytes. */
  readonly bytes: number;
  /** Sessions that got a kept cache instead of a new one, since the model was loaded. */
  readonly reused: number;
}

export class KvPool {
  private readonly kept: { key: string; cache: KVCache }[] = [];
  private reusedCount = 0;

  /** @param limit most caches kept (0: a disposed session's cache is freed at once) */
  constructor(private readonly limit: number) {}

  static key(contextSize: number, types: Readonly<KVCacheTypes>): string {
    return `${contextSize}:${types.k}:${types.v}`;
  }

  /** The most recently kept cache for `key`, taken out of the pool, or undefined. */
  take(key: string): KVCache | undefined {
    for (let i = this.kept.length - 1; i >= 0; i--) {
      const e = this.kept[i] as { key: string; cache: KVCache };
      if (e.key !== key) continue;
      this.kept.splice(i, 1);
      if (e.cache.disposed) continue;
      this.reusedCount++;
      return e.cache;
    }
    return undefined;
  }

  /** Keeps a disposed session's cache (freeing the oldest kept one past the limit), or frees it. */
  give(key: string, cache: KVCache): void {
    if (cache.disposed) return;
    if (this.limit <= 0 || cache.types.k === 'iq4_nlr' || cache.types.v === 'iq4_nlr') {
      cache.dispose();
      return;
    }
    this.kept.push({ key, cache });
    while (this.kept.length > this.limit) this.kept.shift()?.cache.dispose();
  }

  /**
   * Runs `allocate`; if it throws (the memory check or the allocation) while caches are kept, frees
   * them — they hold memory the new cache may need — and runs it once more.
   */
  withRoom<T>(allocate: () => T): T {
    try {
      return allocate();
    } catch (e) {
      if (!this.stats.caches) throw e;
      this.clear();
      return allocate();
    }
  }

  /** Frees every kept cache; returns the bytes freed. */
  clear(): number {
    let bytes = 0;
    for (const e of this.kept.splice(0)) {
      if (!e.cache.disposed) bytes += e.cache.byteLength;
      e.cache.dispose();
    }
    return bytes;
  }

  get stats(): KvPoolStats {
    let bytes = 0;
    let caches = 0;
    for (const e of this.kept) {
      if (e.cache.disposed) continue;
      caches++;
      bytes += e.cache.byteLength;
    }
    return { caches, bytes, reused: this.reusedCount };
  }
}
