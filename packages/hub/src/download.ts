/**
 * One file into one blob: resumable (a `<blob>.incomplete` file plus a small JSON record of which byte
 * ranges are on disk), several connections for large files, the hash checked before the rename to
 * the final name, free disk space checked first, one process per blob (a pid lock file).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Settings } from './config.js';
import { HubError } from './errors.js';
import { abortError, httpError, hubFetch, networkError } from './http.js';

export interface ExpectedHash {
  /** sha256 of the bytes (LFS files), or git's blob sha1 (`sha1("blob <size>\0" + bytes)`, small files). */
  algorithm: 'sha256' | 'git-sha1';
  hex: string;
}

export interface BlobTarget {
  /** Final path of the blob; nothing is ever written there but a complete, verified file. */
  dest: string;
  size: number;
  hash: ExpectedHash | undefined;
  /** The URL to GET the bytes from (called again when a signed CDN URL has expired). */
  url: (refresh: boolean) => Promise<string>;
  /** For messages and progress. */
  label: string;
  /** The repository, for error messages. */
  repo?: string;
}

export interface BlobProgress {
  downloaded: number;
  transferred: number;
  phase: 'download' | 'verify';
}

interface Segment {
  start: number;
  end: number;
  done: number;
}

interface PartState {
  version: 1;
  size: number;
  hash: string | null;
  label: string;
  segments: Segment[];
}

/** Hash strings from the Hub: quotes and a `W/` prefix removed, lower case. */
export function expectedHash(etag: string | null | undefined): ExpectedHash | undefined {
  if (!etag) return undefined;
  const hex = etag.replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
  if (/^[0-9a-f]{64}$/.test(hex)) return { algorithm: 'sha256', hex };
  if (/^[0-9a-f]{40}$/.test(hex)) return { algorithm: 'git-sha1', hex };
  return undefined;
}

async function fileHash(path: string, h: ExpectedHash, size: number): Promise<string> {
  const hash = createHash(h.algorithm === 'sha256' ? 'sha256' : 'sha1');
  if (h.algorithm === 'git-sha1') hash.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${u[i]}`;
}

/** Throws INSUFFICIENT_SPACE unless `dir`'s file system has `need` bytes free. */
export async function checkFreeSpace(dir: string, need: number, label: string): Promise<void> {
  if (need <= 0) return;
  let free: number;
  try {
    const fs = await statfs(dir);
    free = Number(fs.bavail) * Number(fs.bsize);
  } catch {
    return; // no statfs here: let the write fail if it must
  }
  if (free < need)
    throw new HubError(
      'INSUFFICIENT_SPACE',
      `${label} needs ${formatSize(need)} more disk space but ${dir} has ${formatSize(free)} free. ` +
        'Free some space (quant rm removes cached models) or point HF_HUB_CACHE at a larger disk.',
    );
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/** Takes `<blob>.incomplete.lock` (stale locks of dead processes are taken over). */
async function lock(path: string, label: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
    const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid))
      throw new HubError(
        'LOCKED',
        `${label} is being downloaded by another process (pid ${pid}) into this cache. Wait for it to finish; ` +
          `if no such download runs, delete ${path}.`,
      );
    await rm(path, { force: true });
  }
  throw new HubError('LOCKED', `cannot take the download lock ${path}; delete it and retry.`);
}

function parseContentRange(v: string | null): { start: number; end: number; total: number } | undefined {
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim()) : null;
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? Number.NaN : Number(m[3]) };
}

class RangeIgnored extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * Downloads `t` into `t.dest` (which must not exist yet). Resumes whatever partial download is
 * there; leaves it (and its range record) in place when interrupted or aborted.
 */
export async function downloadBlob(
  s: Settings,
  t: BlobTarget,
  onProgress: (p: BlobProgress) => void,
): Promise<void> {
  const incomplete = `${t.dest}.incomplete`;
  const statePath = `${incomplete}.json`;
  await mkdir(dirname(t.dest), { recursive: true });
  const unlock = await lock(`${incomplete}.lock`, t.label);
  try {
    let state = await loadState(statePath, incomplete, t);
    const have = state.segments.reduce((n, g) => n + g.done, 0);
    await checkFreeSpace(dirname(t.dest), t.size - have, t.label);
    const fh = await open(incomplete, 'a+').then(async (f) => {
      await f.close();
      return open(incomplete, 'r+');
    });
    let transferred = 0;
    try {
      for (let pass = 0; ; pass++) {
        splitSegments(state, s);
        await saveState(statePath, state);
        try {
          transferred = await fetchSegments(s, t, fh, state, statePath, transferred, onProgress);
          break;
        } catch (e) {
          if (!(e instanceof RangeIgnored)) throw e;
          if (pass > 0)
            throw new HubError(
              'PROTOCOL',
              `${t.label}: the server ignores Range requests, so an interrupted download cannot continue; run again.`,
            );
          // The server ignores Range: start again from byte 0 with one connection.
          await fh.truncate(0);
          state = { ...state, segments: [{ start: 0, end: t.size, done: 0 }] };
          s = { ...s, connections: 1 };
        }
      }
      await fh.truncate(t.size);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (t.hash) {
      onProgress({ downloaded: t.size, transferred, phase: 'verify' });
      const actual = await fileHash(incomplete, t.hash, t.size);
      if (actual !== t.hash.hex) {
        await rm(incomplete, { force: true });
        await rm(statePath, { force: true });
        throw new HubError(
          'HASH_MISMATCH',
          `${t.label}: the downloaded bytes do not match the Hub's ${t.hash.algorithm} (expected ${t.hash.hex}, got ${actual}). ` +
            'The partial file was deleted; run the command again to download it afresh.',
          { reference: t.label },
        );
      }
    }
    await rename(incomplete, t.dest);
    await rm(statePath, { force: true });
  } finally {
    await unlock();
  }
}

async function loadState(statePath: string, incomplete: string, t: BlobTarget): Promise<PartState> {
  const hash = t.hash?.hex ?? null;
  const fresh: PartState = { version: 1, size: t.size, hash, label: t.label, segments: [] };
  let onDisk = 0;
  try {
    onDisk = (await stat(incomplete)).size;
  } catch {}
  if (onDisk > 0) {
    try {
      const saved = JSON.parse(await readFile(statePath, 'utf8')) as PartState;
      if (
        saved.version === 1 &&
        saved.size === t.size &&
        saved.hash === hash &&
        Array.isArray(saved.segments) &&
        saved.segments.every(
          (g) => g.start >= 0 && g.end <= t.size && g.done >= 0 && g.done <= g.end - g.start,
        )
      )
        return saved;
    } catch {}
    // No record (Python's partial, or one written sequentially): its bytes are a prefix.
    if (onDisk <= t.size) return { ...fresh, segments: [{ start: 0, end: t.size, done: onDisk }] };
  }
  return { ...fresh, segments: [{ start: 0, end: t.size, done: 0 }] };
}

async function saveState(statePath: string, state: PartState): Promise<void> {
  const tmp = `${statePath}.tmp`;
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, statePath);
}

/** Splits the largest unfinished ranges until there is one per connection (large files only). */
function splitSegments(state: PartState, s: Settings): void {
  if (state.size < s.parallelThreshold || s.connections < 2) return;
  const minPart = Math.max(1, Math.min(8 * 1024 * 1024, Math.floor(s.parallelThreshold / s.connections)));
  for (;;) {
    const pending = state.segments.filter((g) => g.end - g.start - g.done > 0);
    if (pending.length >= s.connections) return;
    let widest = pending[0];
    for (const g of pending)
      if (widest && g.end - g.start - g.done > widest.end - widest.start - widest.done) widest = g;
    if (!widest) return;
    const from = widest.start + widest.done;
    const left = widest.end - from;
    if (left < 2 * minPart) return;
    const mid = from + Math.floor(left / 2);
    state.segments.push({ start: mid, end: widest.end, done: 0 });
    widest.end = mid;
    state.segments.sort((a, b) => a.start - b.start);
  }
}

async function fetchSegments(
  s: Settings,
  t: BlobTarget,
  fh: Awaited<ReturnType<typeof open>>,
  state: PartState,
  statePath: string,
  transferredBefore: number,
  onProgress: (p: BlobProgress) => void,
): Promise<number> {
  const inner = new AbortController();
  const outer = s.signal;
  const onOuterAbort = () => inner.abort(outer?.reason);
  if (outer?.aborted) throw abortError(outer.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });

  let transferred = transferredBefore;
  const downloaded = () => state.segments.reduce((n, g) => n + g.done, 0);
  let lastReport = 0;
  const report = (force = false) => {
    const now = Date.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    onProgress({ downloaded: downloaded(), transferred, phase: 'download' });
  };
  let saving: Promise<void> = Promise.resolve();
  let dirty = false;
  const saver = setInterval(() => {
    if (!dirty) return;
    dirty = false;
    saving = saving.then(() => saveState(statePath, state)).catch(() => {});
  }, 500);

  let url: string | undefined;
  const getUrl = async (refresh: boolean) => {
    if (refresh || url === undefined) url = await t.url(refresh);
    return url;
  };

  const worker = async (g: Segment): Promise<void> => {
    let failures = 0;
    let refreshed = false;
    while (g.done < g.end - g.start) {
      if (inner.signal.aborted) throw abortError(inner.signal.reason);
      const from = g.start + g.done;
      const target = await getUrl(false);
      let res: Response;
      try {
        res = await hubFetch(s, target, {
          headers: { range: `bytes=${from}-${g.end - 1}`, 'accept-encoding': 'identity' },
          signal: inner.signal,
        });
      } catch (e) {
        if (inner.signal.aborted) throw abortError(inner.signal.reason);
        if (++failures > s.retries) throw e instanceof HubError ? e : networkError(target, e);
        await sleep(Math.min(5000, 200 * 2 ** failures), inner.signal);
        continue;
      }
      let limit: number;
      if (res.status === 200) {
        // The server ignores Range. From byte 0 of the whole file that is the body we want; otherwise
        // start again from byte 0 with one connection.
        if (from !== 0 || g.end !== t.size) {
          await res.body?.cancel().catch(() => {});
          throw new RangeIgnored();
        }
        limit = t.size;
      } else {
        if (res.status !== 206) {
          await res.body?.cancel().catch(() => {});
          const crossOrigin = new URL(target).origin !== new URL(s.endpoint).origin;
          if ((res.status === 401 || res.status === 403 || res.status === 410) && crossOrigin && !refreshed) {
            refreshed = true; // a signed CDN URL expired: ask the Hub for a new one
            await getUrl(true);
            continue;
          }
          if ((res.status >= 500 || res.status === 429) && ++failures <= s.retries) {
            await sleep(Math.min(5000, 200 * 2 ** failures), inner.signal);
            continue;
          }
          throw httpError(s, res.status, t.label, t.repo);
        }
        const cr = parseContentRange(res.headers.get('content-range'));
        if (
          !cr ||
          cr.start !== from ||
          cr.end > g.end - 1 ||
          (Number.isFinite(cr.total) && cr.total !== t.size)
        ) {
          await res.body?.cancel().catch(() => {});
          throw new HubError(
            'PROTOCOL',
            `${t.label}: asked for bytes ${from}-${g.end - 1} of ${t.size}, the server sent "${res.headers.get('content-range')}".`,
          );
        }
        limit = cr.end + 1;
      }
      let progressed = false;
      try {
        const reader = res.body!.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          let chunk = value;
          const pos = g.start + g.done;
          if (pos + chunk.length > limit) chunk = chunk.subarray(0, limit - pos);
          if (chunk.length > 0) {
            await fh.write(chunk, 0, chunk.length, pos);
            g.done += chunk.length;
            transferred += chunk.length;
            progressed = true;
            dirty = true;
            report();
          }
          if (g.start + g.done >= limit) {
            await reader.cancel().catch(() => {});
            break;
          }
        }
      } catch (e) {
        if (inner.signal.aborted) throw abortError(inner.signal.reason);
        // The connection dropped mid-body: continue from where it stopped.
        if (progressed) failures = 0;
        if (++failures > s.retries)
          throw new HubError(
            'DOWNLOAD_FAILED',
            `${t.label}: the connection kept dropping (${(e as Error).message}); ${downloaded()} of ${t.size} bytes are kept and the next run resumes.`,
            { cause: e },
          );
        await sleep(Math.min(5000, 100 * 2 ** failures), inner.signal);
        continue;
      }
      if (g.start + g.done < limit) {
        // The body ended early without an error: retry the rest.
        if (!progressed && ++failures > s.retries)
          throw new HubError('DOWNLOAD_FAILED', `${t.label}: the server keeps ending the body early.`);
      }
    }
  };

  try {
    const pending = state.segments.filter((g) => g.done < g.end - g.start);
    const results = await Promise.allSettled(
      pending.map((g) =>
        worker(g).catch((e) => {
          inner.abort(e);
          throw e;
        }),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Prefer the first real error over the aborts it caused in the other workers.
      const real = results.find(
        (r): r is PromiseRejectedResult =>
          r.status === 'rejected' && !(r.reason instanceof HubError && r.reason.code === 'ABORTED'),
      );
      if (outer?.aborted) throw abortError(outer.reason);
      throw (real ?? failed).reason;
    }
    report(true);
    return transferred;
  } finally {
    clearInterval(saver);
    outer?.removeEventListener('abort', onOuterAbort);
    await saving;
    await saveState(statePath, state).catch(() => {});
  }
}
