/** What the cache holds (`quant list`) and removing it again (`quant rm`). */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync } from 'node:fs';
import { rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import { COMMIT_RE, repoFolder } from './cache.js';
import { type HubOptions, settings } from './config.js';
import { HubError } from './errors.js';
import { modelFileSets, quantTag, sameTag } from './files.js';
import { DEFAULT_REVISION, formatHfReference, parseHfReference, parseModelReference } from './reference.js';
import type { ModelRegistry } from './registry.js';
import { urlCacheDir, urlEntryDir } from './resolve.js';

export interface CachedModel {
  /** A reference that names this file (`hf:owner/repo/file.gguf`, `@revision` unless main; or the URL). */
  reference: string;
  /** Registry names that resolve to this file. */
  names: string[];
  source: 'hub' | 'url';
  repo?: string;
  /** Branches/tags of the cache pointing at this snapshot. */
  refs?: string[];
  commit?: string;
  /** File path in the repository (first part of a split set), or the URL's file name. */
  file: string;
  /** Local path (the snapshot symlink). */
  path: string;
  /** Bytes on disk (all parts). */
  size: number;
  /** Split set: parts present and expected. */
  parts?: { present: number; count: number };
  quant?: string;
  /** `general.architecture` from the GGUF header (undefined when the header cannot be read). */
  architecture?: string;
  /** When quant (or another tool) last opened it: the blob's access time. */
  lastUsed: Date;
}

export interface PartialDownload {
  /** What is being downloaded (the reference of the file, or the URL). */
  label: string;
  /** The `.incomplete` file. */
  path: string;
  downloaded: number;
  total: number;
}

export interface CacheListing {
  cacheDir: string;
  models: CachedModel[];
  partial: PartialDownload[];
}

/** llama.cpp's `general.file_type` values (llama_ftype) with their usual names. */
const FILE_TYPES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  36: 'TQ1_0',
  37: 'TQ2_0',
};

function dirents(dir: string) {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Every file under `dir` (recursively), as `/`-separated paths relative to it. */
function walk(dir: string, prefix = ''): string[] {
  return dirents(dir).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? walk(join(dir, e.name), rel) : [rel];
  });
}

/** refs/<name> files → commit → names. */
function readRefs(folder: string): Map<string, string[]> {
  const byCommit = new Map<string, string[]>();
  for (const name of walk(join(folder, 'refs'))) {
    try {
      const commit = readFileSync(join(folder, 'refs', name), 'utf8').trim();
      byCommit.set(commit, [...(byCommit.get(commit) ?? []), name]);
    } catch {}
  }
  return byCommit;
}

const repoOfFolder = (name: string): string | undefined =>
  name.startsWith('models--') ? name.slice('models--'.length).split('--').join('/') : undefined;

async function headerFacts(path: string): Promise<{ architecture?: string; fileType?: string }> {
  try {
    const f = await parseGGUF(path);
    try {
      const ft = f.metadata['general.file_type'];
      const n = typeof ft === 'bigint' ? Number(ft) : ft;
      return {
        ...(f.architecture !== undefined ? { architecture: f.architecture } : {}),
        ...(typeof n === 'number' && FILE_TYPES[n] ? { fileType: FILE_TYPES[n] } : {}),
      };
    } finally {
      await f.close();
    }
  } catch {
    return {};
  }
}

function namesFor(registry: ModelRegistry, repo: string, file: string): string[] {
  const out: string[] = [];
  for (const e of registry.entries) {
    let r: ReturnType<typeof parseHfReference>;
    try {
      r = parseHfReference(e.ref);
    } catch {
      continue;
    }
    if (r.repo.toLowerCase() !== repo.toLowerCase()) continue;
    const tag = quantTag(file);
    const hit =
      r.file !== undefined
        ? r.file === file
        : r.quant !== undefined && tag !== undefined && sameTag(r.quant, tag);
    if (hit) out.push(e.name, ...(e.aliases ?? []));
  }
  return out;
}

function partials(dir: string): PartialDownload[] {
  const out: PartialDownload[] = [];
  for (const e of dirents(dir)) {
    if (!e.name.endsWith('.incomplete')) continue;
    const path = join(dir, e.name);
    let label = e.name;
    let total = 0;
    let downloaded = 0;
    try {
      downloaded = statSync(path).size;
    } catch {}
    try {
      const st = JSON.parse(readFileSync(`${path}.json`, 'utf8')) as {
        label?: string;
        size?: number;
        segments?: { done: number }[];
      };
      label = st.label ?? label;
      total = st.size ?? 0;
      if (Array.isArray(st.segments)) downloaded = st.segments.reduce((n, g) => n + g.done, 0);
    } catch {}
    out.push({ label, path, downloaded, total });
  }
  return out;
}

/** The GGUF models in the cache (every snapshot of every repository, and the URL downloads). */
export async function listCachedModels(options: HubOptions = {}): Promise<CacheListing> {
  const s = settings(options);
  const models: CachedModel[] = [];
  const partial: PartialDownload[] = [];
  for (const e of dirents(s.cacheDir)) {
    const repo = e.isDirectory() ? repoOfFolder(e.name) : undefined;
    if (!repo) continue;
    const folder = join(s.cacheDir, e.name);
    const refs = readRefs(folder);
    partial.push(...partials(join(folder, 'blobs')));
    for (const snap of dirents(join(folder, 'snapshots'))) {
      if (!snap.isDirectory()) continue;
      const commit = snap.name;
      const files = walk(join(folder, 'snapshots', commit)).filter((p) =>
        existsSync(join(folder, 'snapshots', commit, p)),
      );
      const names = refs.get(commit) ?? [];
      const revision = names.includes(DEFAULT_REVISION) ? DEFAULT_REVISION : (names[0] ?? commit);
      for (const set of modelFileSets(files)) {
        const present = set.parts.filter((p) => existsSync(join(folder, 'snapshots', commit, p)));
        if (present.length === 0) continue;
        const paths = present.map((p) => join(folder, 'snapshots', commit, p));
        const stats = paths.map((p) => statSync(p));
        const facts = await headerFacts(paths[0]!);
        const quant = set.tag ?? facts.fileType;
        models.push({
          reference: formatHfReference({ repo, revision, file: set.path }),
          names: namesFor(s.registry, repo, set.path),
          source: 'hub',
          repo,
          refs: names,
          commit,
          file: set.path,
          path: paths[0]!,
          size: stats.reduce((n, x) => n + x.size, 0),
          ...(set.parts.length + set.missing.length > 1
            ? { parts: { present: present.length, count: set.parts.length + set.missing.length } }
            : {}),
          ...(quant !== undefined ? { quant } : {}),
          ...(facts.architecture !== undefined ? { architecture: facts.architecture } : {}),
          lastUsed: new Date(Math.max(...stats.map((x) => x.atimeMs))),
        });
      }
    }
  }
  const urlDir = urlCacheDir(s.env);
  for (const e of dirents(urlDir)) {
    if (!e.isDirectory()) continue;
    const dir = join(urlDir, e.name);
    partial.push(...partials(dir));
    let meta: { url: string; file: string };
    try {
      meta = JSON.parse(readFileSync(join(dir, 'source.json'), 'utf8'));
    } catch {
      continue;
    }
    const path = join(dir, meta.file);
    if (!existsSync(path)) continue;
    const st = statSync(path);
    const facts = await headerFacts(path);
    const quant = quantTag(meta.file) ?? facts.fileType;
    models.push({
      reference: meta.url,
      names: [],
      source: 'url',
      file: meta.file,
      path,
      size: st.size,
      ...(quant !== undefined ? { quant } : {}),
      ...(facts.architecture !== undefined ? { architecture: facts.architecture } : {}),
      lastUsed: new Date(st.atimeMs),
    });
  }
  models.sort((a, b) => (a.reference < b.reference ? -1 : a.reference > b.reference ? 1 : 0));
  return { cacheDir: s.cacheDir, models, partial };
}

export interface RemoveResult {
  /** Snapshot entries (or URL files) removed. */
  removed: string[];
  /** Bytes of blobs deleted (blobs still used by another snapshot are kept). */
  freedBytes: number;
}

function blobName(link: string): string | undefined {
  try {
    return basename(readlinkSync(link));
  } catch {
    return undefined; // a copy, not a symlink (file systems without symlinks)
  }
}

function pruneEmptyDirs(dir: string, stop: string): void {
  let d = dir;
  while (d.startsWith(stop) && d !== stop) {
    try {
      rmdirSync(d);
    } catch {
      return;
    }
    d = dirname(d);
  }
}

/**
 * Removes a model from the cache: `hf:owner/repo` (the whole repository), `hf:owner/repo:QUANT` or
 * `hf:owner/repo/file.gguf` (those files in every cached snapshot), a registry name, or a URL.
 * Blobs are deleted only when no snapshot still links to them. Local paths are never touched.
 */
export async function removeCachedModel(input: string, options: HubOptions = {}): Promise<RemoveResult> {
  const s = settings(options);
  const ref = parseModelReference(input, { registry: s.registry, endpoint: s.endpoint, exists: () => false });
  if (ref.kind === 'path') throw new HubError('NOT_CACHED', `${input} is not a cached model.`);
  if (ref.kind === 'url') {
    const dir = urlEntryDir(s.env, ref.url);
    if (!existsSync(dir)) throw new HubError('NOT_CACHED', `${ref.url} is not in the cache (${dir}).`);
    const freed = walk(dir).reduce((n, p) => n + statSync(join(dir, p)).size, 0);
    await rm(dir, { recursive: true, force: true });
    return { removed: [ref.url], freedBytes: freed };
  }
  const folder = repoFolder(s.cacheDir, ref.repo);
  const label = formatHfReference(ref);
  if (!existsSync(folder))
    throw new HubError('NOT_CACHED', `${label}: nothing of ${ref.repo} is in ${s.cacheDir}.`);

  if (ref.file === undefined && ref.quant === undefined) {
    const freed = walk(join(folder, 'blobs')).reduce(
      (n, p) => n + statSync(join(folder, 'blobs', p)).size,
      0,
    );
    const removed = dirents(join(folder, 'snapshots')).flatMap((d) =>
      walk(join(folder, 'snapshots', d.name)).map((p) =>
        formatHfReference({ repo: ref.repo, revision: d.name, file: p }),
      ),
    );
    await rm(folder, { recursive: true, force: true });
    return { removed, freedBytes: freed };
  }

  // The matching files in every snapshot.
  const doomed: { commit: string; path: string }[] = [];
  for (const snap of dirents(join(folder, 'snapshots'))) {
    const files = walk(join(folder, 'snapshots', snap.name));
    for (const set of modelFileSets(files)) {
      const hit =
        ref.file !== undefined
          ? set.parts.includes(ref.file) || set.path === ref.file
          : set.tag !== undefined && sameTag(set.tag, ref.quant!);
      if (hit) for (const p of set.parts) doomed.push({ commit: snap.name, path: p });
    }
    if (ref.file !== undefined && files.includes(ref.file) && !doomed.some((d) => d.path === ref.file))
      doomed.push({ commit: snap.name, path: ref.file });
  }
  if (doomed.length === 0)
    throw new HubError('NOT_CACHED', `${label}: no such file is cached (see quant list).`, {
      reference: label,
    });

  const refsBefore = readRefs(folder);
  const removed = doomed.map((d) => {
    const names = [...refsBefore.entries()].find(([c]) => c === d.commit)?.[1] ?? [];
    return formatHfReference({
      repo: ref.repo,
      revision: names.includes(DEFAULT_REVISION) ? DEFAULT_REVISION : (names[0] ?? d.commit),
      file: d.path,
    });
  });
  const candidates = new Set<string>();
  for (const d of doomed) {
    const link = join(folder, 'snapshots', d.commit, ...d.path.split('/'));
    const blob = blobName(link);
    if (blob) candidates.add(blob);
    await unlink(link).catch(() => {});
    pruneEmptyDirs(dirname(link), join(folder, 'snapshots'));
  }
  // Blobs still linked from any snapshot stay.
  const used = new Set<string>();
  for (const snap of dirents(join(folder, 'snapshots')))
    for (const p of walk(join(folder, 'snapshots', snap.name))) {
      const b = blobName(join(folder, 'snapshots', snap.name, ...p.split('/')));
      if (b) used.add(b);
    }
  let freed = 0;
  for (const b of candidates) {
    if (used.has(b)) continue;
    const p = join(folder, 'blobs', b);
    try {
      freed += statSync(p).size;
      await unlink(p);
    } catch {}
  }
  // Refs to snapshots that no longer exist would make the cache invalid for Hugging Face's scanner.
  const snapshots = new Set(dirents(join(folder, 'snapshots')).map((d) => d.name));
  for (const [commit, names] of refsBefore)
    if (COMMIT_RE.test(commit) && !snapshots.has(commit))
      for (const n of names) await unlink(join(folder, 'refs', ...n.split('/'))).catch(() => {});
  const downloading = dirents(join(folder, 'blobs')).some((e) => e.name.endsWith('.incomplete'));
  if (snapshots.size === 0 && !downloading) await rm(folder, { recursive: true, force: true });
  return { removed, freedBytes: freed };
}
