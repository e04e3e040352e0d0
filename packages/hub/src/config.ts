/**
 * Settings from options and the environment variables Hugging Face's own tools read (HF_ENDPOINT,
 * HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE), so quant and Python share one cache and one login.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { getHFHubCachePath } from '@huggingface/hub';
import { DEFAULT_ENDPOINT } from './reference.js';
import { loadRegistry, type ModelRegistry, type RegistrySource } from './registry.js';

export interface DownloadProgress {
  /** The file being downloaded (repository path, or the URL's file name). */
  file: string;
  /** 1-based index of the file among those this call downloads, and their count. */
  fileIndex: number;
  fileCount: number;
  /** Bytes of this file on disk so far (including a resumed partial) and its size. */
  downloaded: number;
  total: number;
  /** Bytes fetched over the network by this call (for speed: excludes what was resumed). */
  transferred: number;
  phase: 'download' | 'verify' | 'done';
}

export interface HubOptions {
  /** Hub endpoint (default: $HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /**
   * Access token sent as `Authorization: Bearer …` to the endpoint only (default: $HF_TOKEN, else
   * $HUGGING_FACE_HUB_TOKEN, else the file `huggingface-cli login` writes, $HF_HOME/token).
   */
  token?: string;
  /** The Hugging Face hub cache (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Use only the cache, never the network (default: $HF_HUB_OFFLINE is 1/true/yes/on). */
  offline?: boolean;
  /**
   * Ask the Hub for the revision's current files even when the cache already resolves the reference
   * (`quant pull` does). Without it a cached file is used without any network request.
   */
  refresh?: boolean;
  /** More alias registry files or objects (see ModelRegistry); QUANT_MODEL_REGISTRY adds more. */
  registry?: RegistrySource;
  /** Parallel connections for one large file (default 4). */
  connections?: number;
  /** Files at least this large are fetched with several connections (default 64 MiB). */
  parallelThreshold?: number;
  /** Attempts per byte range after a dropped connection or a 5xx answer (default 5). */
  retries?: number;
  /** Download progress (called at most every ~100 ms per file, and at each phase change). */
  onProgress?: (p: DownloadProgress) => void;
  /** Aborting leaves the partial download in place; the next call resumes it. */
  signal?: AbortSignal;
  /** The environment to read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
}

export interface Settings {
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  offline: boolean;
  refresh: boolean;
  registry: ModelRegistry;
  connections: number;
  parallelThreshold: number;
  retries: number;
  onProgress: ((p: DownloadProgress) => void) | undefined;
  signal: AbortSignal | undefined;
  env: NodeJS.ProcessEnv;
  fetch: typeof fetch;
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const isTrue = (v: string | undefined) => v !== undefined && TRUE.has(v.trim().toLowerCase());

function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
}

/** Hugging Face's cache rule ($HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env === process.env) return getHFHubCachePath();
  return env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(hfHome(env), 'hub');
}

function readToken(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv.trim();
  try {
    const t = readFileSync(env.HF_TOKEN_PATH ?? join(hfHome(env), 'token'), 'utf8').trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}

export function settings(o: HubOptions = {}): Settings {
  const env = o.env ?? process.env;
  const endpoint = (o.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  return {
    endpoint,
    token: o.token ?? readToken(env),
    cacheDir: o.cacheDir ?? hubCacheDir(env),
    offline: o.offline ?? isTrue(env.HF_HUB_OFFLINE),
    refresh: o.refresh ?? false,
    registry: loadRegistry(o.registry, env),
    connections: Math.max(1, Math.floor(o.connections ?? 4)),
    parallelThreshold: o.parallelThreshold ?? 64 * 1024 * 1024,
    retries: Math.max(0, Math.floor(o.retries ?? 5)),
    onProgress: o.onProgress,
    signal: o.signal,
    env,
    fetch: o.fetch ?? globalThis.fetch,
  };
}
