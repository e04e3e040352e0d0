/**
 * The browser's model cache: a downloaded GGUF is stored whole in the Cache API (cache
 * `quant-models-v1`, keyed by URL) so that a reload reads it from disk instead of the network. The
 * model is then read from the cached response's Blob, which browsers keep on disk, not in memory.
 * Only where `caches` exists (browsers, workers, on secure origins: https or localhost); elsewhere
 * (Node.js) every function here is a no-op and models are read with Range requests.
 */
import { QuantRuntimeError } from './errors.js';

export const MODEL_CACHE_NAME = 'quant-models-v1';

/** Progress of a download into the browser's model cache (`LoadModelOptions.onDownloadProgress`). */
export interface DownloadProgress {
  url: string;
  /** Bytes received so far. */
  receivedBytes: number;
  /** The file's size, when the server says it (Content-Length without compression). */
  totalBytes: number | undefined;
  /** 0-based part of a split set, and how many parts it has (1 for a single file). */
  part: number;
  parts: number;
  /** True when the file came from the cache (then receivedBytes = totalBytes at once). */
  fromCache: boolean;
}

type CacheStorageLike = {
  open(name: string): Promise<Cache>;
  delete(name: string): Promise<boolean>;
};

function cacheStorage(): CacheStorageLike | undefined {
  const c = (globalThis as { caches?: CacheStorageLike }).caches;
  return c !== undefined && typeof c.open === 'function' ? c : undefined;
}

/** Whether this environment has the Cache API (browsers and workers on secure origins). */
export function modelCacheAvailable(): boolean {
  return cacheStorage() !== undefined;
}

/** The cached copy of `url` as a Blob, or undefined (not cached, no Cache API, or an incomplete entry). */
export async function cachedModel(url: string): Promise<Blob | undefined> {
  const storage = cacheStorage();
  if (!storage) return undefined;
  try {
    const cache = await storage.open(MODEL_CACHE_NAME);
    const res = await cache.match(url);
    if (!res) return undefined;
    const blob = await res.blob();
    const expected = Number(res.headers.get('content-length'));
    if (res.headers.has('content-length') && blob.size !== expected) {
      await cache.delete(url);
      return undefined;
    }
    return blob;
  } catch {
    return undefined;
  }
}

/**
 * Downloads `url` whole into the model cache (streamed to disk: the file is never whole in memory)
 * and returns the cached Blob. Returns undefined when the cache cannot take it (no Cache API, quota
 * exceeded): the caller then reads the URL with Range requests instead. HTTP failures throw LOAD_FAILED.
 */
export async function downloadToCache(
  url: string,
  init: RequestInit & { fetch?: typeof fetch },
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void,
): Promise<Blob | undefined> {
  const storage = cacheStorage();
  if (!storage) return undefined;
  const cache = await storage.open(MODEL_CACHE_NAME);
  const { fetch: fetchImpl, ...requestInit } = init;
  const f = fetchImpl ?? globalThis.fetch;
  let res: Response;
  try {
    res = await f(url, requestInit);
  } catch (cause) {
    if (init.signal?.aborted) throw cause;
    throw new QuantRuntimeError(
      'LOAD_FAILED',
      `Downloading ${url} failed: ${(cause as Error).message}; check the URL and the network.`,
      {
        cause,
      },
    );
  }
  if (!res.ok || res.body === null) {
    await res.body?.cancel().catch(() => {});
    throw new QuantRuntimeError(
      'LOAD_FAILED',
      `Downloading ${url} failed: the server answered HTTP ${res.status}.`,
    );
  }
  const encoded = res.headers.get('content-encoding');
  const length = Number(res.headers.get('content-length'));
  const total = encoded === null && Number.isSafeInteger(length) && length > 0 ? length : undefined;
  let received = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      received += chunk.byteLength;
      onProgress?.(received, total);
      controller.enqueue(chunk);
    },
  });
  const headers = new Headers({
    'content-type': res.headers.get('content-type') ?? 'application/octet-stream',
  });
  if (total !== undefined) headers.set('content-length', String(total));
  try {
    await cache.put(url, new Response(res.body.pipeThrough(counter), { headers }));
  } catch (cause) {
    if (init.signal?.aborted) throw init.signal.reason ?? cause;
    if ((cause as { name?: string }).name === 'QuotaExceededError') return undefined;
    throw new QuantRuntimeError(
      'LOAD_FAILED',
      `Storing ${url} in the browser's model cache failed: ${(cause as Error).message}.`,
      {
        cause,
      },
    );
  }
  const blob = await cachedModel(url);
  if (blob === undefined || (total !== undefined && blob.size !== total)) {
    await cache.delete(url).catch(() => false);
    throw new QuantRuntimeError(
      'LOAD_FAILED',
      `Downloading ${url} ended after ${received} of ${total ?? 'an unknown number of'} bytes; try again.`,
    );
  }
  return blob;
}

/**
 * Removes models from the browser's model cache: one URL, or every cached model. Returns whether
 * anything was removed (false where there is no Cache API).
 */
export async function clearModelCache(url?: string | URL): Promise<boolean> {
  const storage = cacheStorage();
  if (!storage) return false;
  if (url === undefined) return storage.delete(MODEL_CACHE_NAME);
  const cache = await storage.open(MODEL_CACHE_NAME);
  return cache.delete(String(url));
}
