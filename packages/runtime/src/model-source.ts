/**
 * What `loadModel` reads: a path, a URL (string, URL or Request), a Blob/File, bytes, or an array of
 * those (the parts of a split GGUF set); `hf:` references are resolved to local files first. Turns
 * them into one parsed GGUFFile (split sets merged), and in browsers stores downloaded URLs in the
 * model cache (./model-cache.ts).
 */
import { assembleGGUFSplit, type GGUFFile, type GGUFSource, parseGGUF, splitPartNames } from '@quant/gguf';
import type { HubOptions } from '@quant/hub';
import { describeValue, invalidOption } from './errors.js';
import { resolveHubFiles } from './hub.js';
import { cachedModel, type DownloadProgress, downloadToCache, modelCacheAvailable } from './model-cache.js';

/** One GGUF file: a path or URL, a Request (its URL, headers and signal are used), a Blob/File, or its bytes. */
export type ModelFileSource = string | URL | Request | Blob | ArrayBuffer | ArrayBufferView;

/**
 * A GGUF path (or file:/http(s): URL), a Request, a Blob or File, its bytes, a Hugging Face reference
 * (`hf:owner/repo:Q4_K_M`, `hf:owner/repo/file.gguf`, downloaded once into the Hugging Face cache by
 * @quant/hub, Node only), or the parts of a split GGUF set as an array. A path or URL named
 * `…-00001-of-0000N.gguf` loads the whole set.
 */
export type ModelSource = ModelFileSource | readonly ModelFileSource[];

/** How URLs are fetched (LoadModelOptions). */
export interface HttpOptions {
  /** Request headers for every request (e.g. Authorization). */
  headers?: HeadersInit;
  /** Aborts downloading and loading (AbortError). */
  signal?: AbortSignal;
  /** fetch's credentials mode. */
  credentials?: RequestCredentials;
  /** fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
}

type Part =
  | { kind: 'path'; path: string }
  | { kind: 'url'; url: string; http: HttpOptions }
  | { kind: 'blob'; blob: Blob; name: string }
  | { kind: 'bytes'; bytes: ArrayBuffer | ArrayBufferView };

export interface OpenedModel {
  file: GGUFFile;
  /** For messages: the first part's path or URL, or a description of the bytes. */
  where: string;
  /** Per part of `file.parts`: the path to memory-map, when the part is a local file. */
  mapPaths: (string | undefined)[];
  /** Downloads the parts that are URLs into the browser's model cache (when enabled and not cached yet) and reopens them from it. */
  materialize(): Promise<GGUFFile>;
}

const isHttp = (s: string) => /^https?:\/\//i.test(s);

function mergeHeaders(a: HeadersInit | undefined, b: HeadersInit | undefined): Headers | undefined {
  if (a === undefined && b === undefined) return undefined;
  const h = new Headers(a);
  new Headers(b).forEach((v, k) => {
    h.set(k, v);
  });
  return h;
}

function toPart(s: ModelFileSource, http: HttpOptions, index: number): Part {
  if (typeof s === 'string') return isHttp(s) ? { kind: 'url', url: s, http } : { kind: 'path', path: s };
  if (typeof URL !== 'undefined' && s instanceof URL) {
    if (s.protocol === 'http:' || s.protocol === 'https:') return { kind: 'url', url: s.href, http };
    if (s.protocol === 'file:') return { kind: 'path', path: s.href };
    throw invalidOption('source', s.href, 'a path, or a file:, http: or https: URL');
  }
  if (typeof Request !== 'undefined' && s instanceof Request) {
    const headers = mergeHeaders(s.headers, http.headers);
    return {
      kind: 'url',
      url: s.url,
      http: {
        ...http,
        ...(headers ? { headers } : {}),
        signal: http.signal ?? s.signal,
        ...((http.credentials ?? s.credentials) ? { credentials: http.credentials ?? s.credentials } : {}),
      },
    };
  }
  if (typeof Blob !== 'undefined' && s instanceof Blob) {
    const n = (s as { name?: unknown }).name;
    return { kind: 'blob', blob: s, name: typeof n === 'string' && n ? n : `<Blob of ${s.size} bytes>` };
  }
  if (s instanceof ArrayBuffer || ArrayBuffer.isView(s)) return { kind: 'bytes', bytes: s };
  throw invalidOption(
    index < 0 ? 'source' : `source[${index}]`,
    s,
    `a path, URL, Request, Blob/File, ArrayBuffer or Uint8Array (got ${describeValue(s)})`,
  );
}

function partName(p: Part): string {
  switch (p.kind) {
    case 'path':
      return p.path;
    case 'url':
      return p.url;
    case 'blob':
      return p.name;
    case 'bytes':
      return `<${p.bytes.byteLength} bytes>`;
  }
}

/** What parseGGUF reads for a part: a Blob gets the part's name (a File over the same data: no copy). */
function ggufInput(p: Part): GGUFSource {
  switch (p.kind) {
    case 'path':
      return p.path;
    case 'url':
      return p.url;
    case 'blob':
      return typeof File !== 'undefined' && !(p.blob instanceof File) ? new File([p.blob], p.name) : p.blob;
    case 'bytes':
      return p.bytes;
  }
}

export interface OpenModelOptions extends HttpOptions {
  hub?: HubOptions;
  /** Browser model cache (default: on where the Cache API exists). */
  cache?: boolean;
  onDownloadProgress?: (p: DownloadProgress) => void;
}

/** Each part parsed with its own HTTP options (a Request's headers), then assembled into one file. */
async function parseParts(parts: readonly Part[]): Promise<{ file: GGUFFile; files: GGUFFile[] }> {
  const files: GGUFFile[] = [];
  try {
    // A few headers at a time: each is a small read (one HTTP request for most models).
    for (let i = 0; i < parts.length; i += 4) {
      const batch = await Promise.allSettled(
        parts.slice(i, i + 4).map((p) => parseGGUF(ggufInput(p), p.kind === 'url' ? p.http : {})),
      );
      for (const r of batch) if (r.status === 'fulfilled') files.push(r.value);
      const failed = batch.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    return { file: assembleGGUFSplit(files), files };
  } catch (e) {
    await Promise.all(files.map((f) => f.close().catch(() => {})));
    throw e;
  }
}

/** Parses the model's header(s); nothing but the headers is read yet. */
export async function openModelSource(source: ModelSource, options: OpenModelOptions): Promise<OpenedModel> {
  const http: HttpOptions = {
    ...(options.headers !== undefined ? { headers: options.headers } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
  };
  let list: readonly ModelFileSource[];
  if (Array.isArray(source)) {
    if (source.length === 0)
      throw invalidOption('source', source, 'at least one file (the parts of a split GGUF set)');
    list = source;
  } else {
    list = [source as ModelFileSource];
  }
  if (list.length === 1 && typeof list[0] === 'string' && /^hf:/i.test(list[0])) {
    list = await resolveHubFiles(list[0], options.hub);
  }
  let parts = list.map((s, i) => toPart(s, http, list.length === 1 ? -1 : i));
  // One path or URL named …-00001-of-0000N.gguf: the whole set, as llama.cpp loads it.
  const only = parts[0] as Part;
  if (parts.length === 1 && (only.kind === 'path' || only.kind === 'url')) {
    const names = splitPartNames(partName(only));
    if (names && names.length > 1)
      parts = names.map((n) =>
        only.kind === 'url' ? { kind: 'url', url: n, http: only.http } : { kind: 'path', path: n },
      );
  }
  const where = partName(parts[0] as Part);
  const useCache = (options.cache ?? true) && modelCacheAvailable();
  const cached: (Blob | undefined)[] = await Promise.all(
    parts.map((p) => (useCache && p.kind === 'url' ? cachedModel(p.url) : undefined)),
  );
  const current = parts.map((p, i) => {
    const blob = cached[i];
    if (blob === undefined) return p;
    options.onDownloadProgress?.({
      url: partName(p),
      receivedBytes: blob.size,
      totalBytes: blob.size,
      part: i,
      parts: parts.length,
      fromCache: true,
    });
    return { kind: 'blob', blob, name: partName(p) } as Part;
  });
  let parsed = await parseParts(current);
  let file = parsed.file;
  // In the order of file.parts (split.no), which may differ from the order given.
  const mapPaths = file.parts.map((f) => {
    const p = current[parsed.files.indexOf(f)];
    return p?.kind === 'path' && !/^[a-z]+:\/\//i.test(p.path) ? p.path : undefined;
  });
  return {
    file,
    where,
    mapPaths,
    async materialize() {
      if (!useCache || !current.some((p) => p.kind === 'url')) return file;
      let changed = false;
      for (let i = 0; i < current.length; i++) {
        const p = current[i] as Part;
        if (p.kind !== 'url') continue;
        const blob = await downloadToCache(
          p.url,
          {
            ...(p.http.headers !== undefined ? { headers: p.http.headers } : {}),
            ...(p.http.signal !== undefined ? { signal: p.http.signal } : {}),
            ...(p.http.credentials !== undefined ? { credentials: p.http.credentials } : {}),
            ...(p.http.fetch !== undefined ? { fetch: p.http.fetch } : {}),
          },
          (receivedBytes, totalBytes) =>
            options.onDownloadProgress?.({
              url: p.url,
              receivedBytes,
              totalBytes,
              part: i,
              parts: current.length,
              fromCache: false,
            }),
        );
        if (blob === undefined) continue; // the cache cannot take it: Range requests, as parsed
        current[i] = { kind: 'blob', blob, name: p.url };
        changed = true;
      }
      if (!changed) return file;
      const reopened = await parseParts(current);
      await file.close().catch(() => {});
      parsed = reopened;
      file = reopened.file;
      return file;
    },
  };
}
