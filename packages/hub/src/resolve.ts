/**
 * From a reference to local files: the cache first (no network when it already has the file, or with
 * HF_HUB_OFFLINE), else the Hub's tree listing and resolve endpoint, then resumable verified downloads.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HubApiError, listFiles } from '@huggingface/hub';
import {
  blobPath,
  isFile,
  linkSnapshot,
  readRef,
  repoFolder,
  snapshotFile,
  touch,
  writeRef,
} from './cache.js';
import { type HubOptions, type Settings, settings } from './config.js';
import { type BlobTarget, checkFreeSpace, downloadBlob, expectedHash } from './download.js';
import { HubError } from './errors.js';
import {
  availableTags,
  type ModelFileSet,
  modelFileSets,
  quantTag,
  setsWithTag,
  splitInfo,
  splitPartPath,
} from './files.js';
import { httpError, hubFetch, hubFetchFunction } from './http.js';
import { formatHfReference, type HfReference, parseModelReference } from './reference.js';

/** The quantization picked when a reference names neither a file nor a tag (llama.cpp's default too). */
export const DEFAULT_QUANT = 'Q4_K_M';

export interface ResolvedModel {
  /** The local file to load: the model, or the first part of a split set. */
  path: string;
  /** Every local file of the model (the parts of a split set, in order). */
  files: string[];
  /** What the caller passed. */
  input: string;
  /** Where it came from. */
  source: 'local' | 'hub' | 'url';
  /** A reference that names exactly this file: `hf:owner/repo/file.gguf` (`@revision` unless main), a URL or a path. */
  reference: string;
  /** The registry name the input was, if any. */
  alias?: string;
  repo?: string;
  revision?: string;
  /** The commit the files come from. */
  commit?: string;
  /** The file's path in the repository (first part of a split set). */
  file?: string;
  /** The quantization tag of the file name, if it has one. */
  quant?: string;
  /** Bytes of all files. */
  size: number;
  /** Parts, when the model is a split GGUF set. */
  split?: { count: number };
  /** Bytes this call fetched over the network (0: everything came from the cache). */
  downloadedBytes: number;
  /** Whether the Hub was asked (false: resolved from the cache alone). */
  online: boolean;
}

/** Resolves a reference (see parseModelReference) to local files, downloading what the cache lacks. */
export async function resolveModel(input: string, options: HubOptions = {}): Promise<ResolvedModel> {
  const s = settings(options);
  const ref = parseModelReference(input, { registry: s.registry, endpoint: s.endpoint });
  if (ref.kind === 'path') {
    let size = 0;
    try {
      size = statSync(ref.path).size;
    } catch {}
    const split = splitInfo(ref.path);
    return {
      path: ref.path,
      files: [ref.path],
      input,
      source: 'local',
      reference: ref.path,
      size,
      ...(split ? { split: { count: split.count } } : {}),
      downloadedBytes: 0,
      online: false,
    };
  }
  if (ref.kind === 'url') return resolveUrl(s, input, ref.url);
  return resolveHf(s, input, ref);
}

/** `resolveModel` that always asks the Hub for the revision's current files (what `quant pull` does). */
export function pullModel(input: string, options: HubOptions = {}): Promise<ResolvedModel> {
  return resolveModel(input, { ...options, refresh: true });
}

// ---- the cache alone ------------------------------------------------------------------------------

function listSnapshot(dir: string, prefix = ''): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listSnapshot(join(dir, e.name), rel));
    else if (isFile(join(dir, e.name))) out.push(rel);
  }
  return out;
}

/** Picks the file set a reference means among `sets` (throws the QUANT_* errors). */
export function chooseFileSet(sets: readonly ModelFileSet[], ref: HfReference, where: string): ModelFileSet {
  const label = formatHfReference(ref);
  const tags = availableTags(sets);
  if (sets.length === 0)
    throw new HubError('NOT_FOUND', `${label}: ${where} has no GGUF model files.`, { reference: label });
  if (ref.quant !== undefined) {
    const matches = setsWithTag(sets, ref.quant);
    if (matches.length === 1) return matches[0]!;
    if (matches.length === 0)
      throw new HubError(
        'QUANT_NOT_FOUND',
        `${label}: no file in ${where} carries the quantization tag ${ref.quant}. Available: ${tags.join(', ') || '(no tagged files)'}; ` +
          `files: ${sets.map((x) => x.path).join(', ')}.`,
        { reference: label, availableTags: tags },
      );
    throw new HubError(
      'QUANT_AMBIGUOUS',
      `${label}: ${matches.length} files in ${where} carry the tag ${ref.quant}: ${matches.map((x) => x.path).join(', ')}. ` +
        `Name one: hf:${ref.repo}/<file>.`,
      { reference: label, availableTags: tags, candidates: matches.map((x) => x.path) },
    );
  }
  if (sets.length === 1) return sets[0]!;
  const preferred = setsWithTag(sets, DEFAULT_QUANT);
  if (preferred.length === 1) return preferred[0]!;
  throw new HubError(
    'QUANT_AMBIGUOUS',
    `${label}: ${where} has ${sets.length} GGUF models; choose one with hf:${ref.repo}:<TAG> (available: ${tags.join(', ') || 'none'}) ` +
      `or hf:${ref.repo}/<file> (${sets.map((x) => x.path).join(', ')}).`,
    { reference: label, availableTags: tags, candidates: sets.map((x) => x.path) },
  );
}

/** The parts a single requested file stands for (all parts of its split set). */
function partsOf(file: string): string[] {
  const split = splitInfo(file);
  if (!split) return [file];
  return Array.from({ length: split.count }, (_, i) => splitPartPath(file, i + 1, split.count));
}

function fromCache(s: Settings, ref: HfReference): { commit: string; parts: string[] } | undefined {
  const folder = repoFolder(s.cacheDir, ref.repo);
  const commit = readRef(folder, ref.revision);
  if (commit === undefined) return undefined;
  let parts: string[];
  if (ref.file !== undefined) parts = partsOf(ref.file);
  else {
    const sets = modelFileSets(listSnapshot(join(folder, 'snapshots', commit))).filter(
      (x) => x.missing.length === 0,
    );
    try {
      parts = chooseFileSet(sets, ref, 'the cache').parts;
    } catch {
      return undefined;
    }
  }
  return parts.every((p) => isFile(snapshotFile(folder, commit, p))) ? { commit, parts } : undefined;
}

async function cachedResult(
  s: Settings,
  input: string,
  ref: HfReference,
  commit: string,
  parts: string[],
  downloadedBytes: number,
  online: boolean,
): Promise<ResolvedModel> {
  const folder = repoFolder(s.cacheDir, ref.repo);
  const files = parts.map((p) => snapshotFile(folder, commit, p));
  for (const f of files) await touch(f);
  const first = parts[0]!;
  const split = splitInfo(first);
  const quant = quantTag(first);
  return {
    path: files[0]!,
    files,
    input,
    source: 'hub',
    reference: formatHfReference({ repo: ref.repo, revision: ref.revision, file: first }),
    ...(ref.alias !== undefined ? { alias: ref.alias } : {}),
    repo: ref.repo,
    revision: ref.revision,
    commit,
    file: first,
    ...(quant !== undefined ? { quant } : {}),
    size: files.reduce((n, f) => n + statSync(f).size, 0),
    ...(split ? { split: { count: split.count } } : {}),
    downloadedBytes,
    online,
  };
}

// ---- the Hub -------------------------------------------------------------------------------------

interface ListedFile {
  size: number;
  sha256?: string;
}

async function listRepo(s: Settings, ref: HfReference): Promise<Map<string, ListedFile>> {
  const label = formatHfReference(ref);
  const out = new Map<string, ListedFile>();
  try {
    for await (const e of listFiles({
      repo: { type: 'model', name: ref.repo },
      revision: ref.revision,
      recursive: true,
      hubUrl: s.endpoint,
      fetch: hubFetchFunction(s),
    })) {
      if (e.type !== 'file') continue;
      out.set(e.path, { size: e.lfs?.size ?? e.size, ...(e.lfs?.oid ? { sha256: e.lfs.oid } : {}) });
    }
  } catch (e) {
    if (e instanceof HubError) throw e;
    if (e instanceof HubApiError) throw httpError(s, e.statusCode, label, ref.repo);
    throw new HubError('PROTOCOL', `${label}: the file listing failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return out;
}

interface RemoteFile {
  path: string;
  commit: string;
  size: number;
  hash: ReturnType<typeof expectedHash>;
  url: string;
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/** HEAD on the resolve URL, stopping at the redirect to the CDN: the commit, size, hash and CDN URL. */
async function resolveFile(
  s: Settings,
  ref: HfReference,
  path: string,
  listed: ListedFile | undefined,
): Promise<RemoteFile> {
  const label = formatHfReference({ ...ref, file: path });
  const resolveUrl = `${s.endpoint}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${encodePath(path)}`;
  const res = await hubFetch(s, resolveUrl, { method: 'HEAD', followRelativeOnly: true });
  await res.body?.cancel().catch(() => {});
  if (res.status >= 400) throw httpError(s, res.status, label, ref.repo);
  const h = res.headers;
  const commit = h.get('x-repo-commit') ?? undefined;
  const sizeText = h.get('x-linked-size') ?? (res.status < 300 ? h.get('content-length') : null);
  const size = sizeText !== null ? Number(sizeText) : listed?.size;
  const hash =
    expectedHash(h.get('x-linked-etag')) ??
    expectedHash(h.get('etag')) ??
    (listed?.sha256 ? expectedHash(listed.sha256) : undefined);
  if (!commit || !/^[0-9a-f]{40}$/.test(commit))
    throw new HubError('PROTOCOL', `${label}: the Hub's answer has no X-Repo-Commit header.`);
  if (size === undefined || !Number.isSafeInteger(size) || size < 0)
    throw new HubError('PROTOCOL', `${label}: the Hub's answer has no file size (X-Linked-Size).`);
  if (!hash) throw new HubError('PROTOCOL', `${label}: the Hub's answer has no sha256 (X-Linked-Etag).`);
  const location = res.status >= 300 ? res.headers.get('location') : null;
  const url = location ? new URL(location, res.url || resolveUrl).href : res.url || resolveUrl;
  return { path, commit, size, hash, url };
}

async function resolveHf(s: Settings, input: string, ref: HfReference): Promise<ResolvedModel> {
  const label = formatHfReference(ref);
  if (!s.refresh || s.offline) {
    const hit = fromCache(s, ref);
    if (hit) return cachedResult(s, input, ref, hit.commit, hit.parts, 0, false);
    if (s.offline)
      throw new HubError(
        'OFFLINE',
        `${label}${ref.alias ? ` (${ref.alias})` : ''} is not in the cache ${s.cacheDir} and HF_HUB_OFFLINE is set. ` +
          'Pull it where there is network and copy the cache folder here (see the @quant/cli README), or unset HF_HUB_OFFLINE.',
        { reference: label },
      );
  }
  try {
    return await download(s, input, ref);
  } catch (e) {
    // The Hub is unreachable (not an HTTP answer): a cached copy still serves `pull`.
    if (e instanceof HubError && e.code === 'DOWNLOAD_FAILED' && e.status === undefined && s.refresh) {
      const hit = fromCache(s, ref);
      if (hit) return cachedResult(s, input, ref, hit.commit, hit.parts, 0, false);
    }
    throw e;
  }
}

async function download(s: Settings, input: string, ref: HfReference): Promise<ResolvedModel> {
  const label = formatHfReference(ref);
  let parts: string[];
  let listing: Map<string, ListedFile> | undefined;
  if (ref.file !== undefined) parts = partsOf(ref.file);
  else {
    listing = await listRepo(s, ref);
    const chosen = chooseFileSet(modelFileSets([...listing.keys()]), ref, `${ref.repo}@${ref.revision}`);
    if (chosen.missing.length > 0)
      throw new HubError(
        'NOT_FOUND',
        `${label}: the split set ${chosen.path} is incomplete on the Hub; missing ${chosen.missing.join(', ')}.`,
        { reference: label },
      );
    parts = chosen.parts;
  }
  const remotes: RemoteFile[] = [];
  for (const p of parts) remotes.push(await resolveFile(s, ref, p, listing?.get(p)));
  const commit = remotes[0]!.commit;
  if (remotes.some((r) => r.commit !== commit))
    throw new HubError('PROTOCOL', `${label}: the parts resolved to different commits; retry.`);

  const folder = repoFolder(s.cacheDir, ref.repo);
  const todo = remotes.filter((r) => !isFile(blobPath(folder, r.hash!.hex)));
  await mkdir(join(folder, 'blobs'), { recursive: true });
  await checkFreeSpace(
    join(folder, 'blobs'),
    todo.reduce((n, r) => n + r.size, 0),
    label,
  );
  let downloadedBytes = 0;
  for (const [i, r] of remotes.entries()) {
    const dest = blobPath(folder, r.hash!.hex);
    const report = (downloaded: number, transferred: number, phase: 'download' | 'verify' | 'done') =>
      s.onProgress?.({
        file: r.path,
        fileIndex: i + 1,
        fileCount: remotes.length,
        downloaded,
        total: r.size,
        transferred,
        phase,
      });
    if (!isFile(dest)) {
      let url = r.url;
      const target: BlobTarget = {
        dest,
        size: r.size,
        hash: r.hash,
        label: formatHfReference({ ...ref, file: r.path }),
        repo: ref.repo,
        url: async (refresh) => {
          if (refresh) url = (await resolveFile(s, ref, r.path, listing?.get(r.path))).url;
          return url;
        },
      };
      let transferred = 0;
      await downloadBlob(s, target, (p) => {
        transferred = p.transferred;
        report(p.downloaded, p.transferred, p.phase);
      });
      downloadedBytes += transferred;
    }
    await linkSnapshot(folder, commit, r.path, r.hash!.hex);
    report(r.size, 0, 'done');
  }
  await writeRef(folder, ref.revision, commit);
  return cachedResult(s, input, ref, commit, parts, downloadedBytes, true);
}

// ---- plain URLs ------------------------------------------------------------------------------------

/** Where files of plain http(s) URLs go: $QUANT_CACHE_DIR, else $XDG_CACHE_HOME/quant, else ~/.cache/quant; then url/. */
export function urlCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.QUANT_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'quant'), 'url');
}

function urlFileName(url: string): string {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop();
  const name = last ? decodeURIComponent(last).replace(/[^A-Za-z0-9._-]/g, '_') : 'model.gguf';
  return name === '' || name.startsWith('.') ? `model${name}` : name;
}

export function urlEntryDir(env: NodeJS.ProcessEnv, url: string): string {
  return join(urlCacheDir(env), createHash('sha256').update(url).digest('hex').slice(0, 16));
}

async function resolveUrl(s: Settings, input: string, url: string): Promise<ResolvedModel> {
  const dir = urlEntryDir(s.env, url);
  const path = join(dir, urlFileName(url));
  const result = (downloadedBytes: number, online: boolean): ResolvedModel => {
    const quant = quantTag(path);
    return {
      path,
      files: [path],
      input,
      source: 'url',
      reference: url,
      ...(quant !== undefined ? { quant } : {}),
      size: statSync(path).size,
      downloadedBytes,
      online,
    };
  };
  if (isFile(path) && !s.refresh) {
    await touch(path);
    return result(0, false);
  }
  if (s.offline) {
    if (isFile(path)) return result(0, false);
    throw new HubError('OFFLINE', `${url} is not in the cache ${dir} and HF_HUB_OFFLINE is set.`, {
      reference: url,
    });
  }
  // A one-byte Range request tells the size (Content-Range) and, from the Hub's CDN, the hash.
  const probe = await hubFetch(s, url, { headers: { range: 'bytes=0-0', 'accept-encoding': 'identity' } });
  await probe.body?.cancel().catch(() => {});
  if (probe.status >= 400) throw httpError(s, probe.status, url);
  const total = /\/(\d+)$/.exec(probe.headers.get('content-range') ?? '')?.[1];
  const size =
    total !== undefined ? Number(total) : Number(probe.headers.get('content-length') ?? Number.NaN);
  if (!Number.isSafeInteger(size))
    throw new HubError('PROTOCOL', `${url}: the server does not say how large the file is.`, {
      reference: url,
    });
  const hash = expectedHash(probe.headers.get('x-linked-etag'));
  if (isFile(path) && statSync(path).size === size) {
    await touch(path);
    return result(0, true);
  }
  await mkdir(dir, { recursive: true });
  await checkFreeSpace(dir, size, url);
  let transferred = 0;
  await downloadBlob(s, { dest: path, size, hash, label: url, url: async () => probe.url || url }, (p) => {
    transferred = p.transferred;
    s.onProgress?.({
      file: urlFileName(url),
      fileIndex: 1,
      fileCount: 1,
      downloaded: p.downloaded,
      total: size,
      transferred: p.transferred,
      phase: p.phase,
    });
  });
  await writeFile(
    join(dir, 'source.json'),
    JSON.stringify({ url, file: urlFileName(url), size, downloadedAt: new Date().toISOString() }, null, 2),
  );
  return result(transferred, true);
}
