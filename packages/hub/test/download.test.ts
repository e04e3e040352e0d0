/**
 * Downloads against a local Hub stand-in (test/helpers/hub-server.ts): the cache layout Hugging Face's
 * own scanner reads, no network for cached files, resuming, several connections, hash checks,
 * gated repositories, :QUANT choice on the Hub's listing, split sets, aliases, URLs, disk space.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import { fakeCommit, HubServer, sha256Hex as sha256 } from '@quant/test-utils';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { type DownloadProgress, HubError, pullModel, resolveModel } from '../src/index.js';
import { isolatedEnv, syntheticGGUF } from './helpers/fixtures.js';

let server: HubServer;
let modelA: Uint8Array;
let modelB: Uint8Array;
let big: Uint8Array;
const C1 = fakeCommit('c1');
const C2 = fakeCommit('c2');
const TOKEN = 'hf_test_secret_token_123';

beforeAll(async () => {
  modelA = await syntheticGGUF(1);
  modelB = await syntheticGGUF(2);
  // ~1 MiB of deterministic bytes for ranges and parallel connections.
  big = new Uint8Array(1024 * 1024 + 12345);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  server = await new HubServer().start();
  server.addRepo('test/tiny-GGUF', {
    revisions: {
      main: {
        commit: C1,
        files: {
          'README.md': new TextEncoder().encode('# tiny\n'),
          'tiny-Q4_K_M.gguf': modelA,
          'tiny-Q8_0.gguf': modelB,
          'tiny-chat-Q8_0.gguf': modelB,
          'mmproj-tiny-f16.gguf': modelB,
        },
      },
      v1: { commit: C2, files: { 'tiny-Q4_K_M.gguf': modelA, 'old-Q4_0.gguf': modelB } },
    },
  });
  server.addRepo('test/big', { revisions: { main: { commit: C1, files: { 'big-Q4_K_M.gguf': big } } } });
  server.addRepo('test/gated', {
    revisions: { main: { commit: C1, files: { 'g-Q4_K_M.gguf': modelA } } },
    gatedToken: TOKEN,
  });
  const parts = [big.subarray(0, 400_000), big.subarray(400_000, 800_000), big.subarray(800_000)];
  server.addRepo('test/split', {
    revisions: {
      main: {
        commit: C1,
        files: {
          'S-Q8_0/S-Q8_0-00001-of-00003.gguf': parts[0]!,
          'S-Q8_0/S-Q8_0-00002-of-00003.gguf': parts[1]!,
          'S-Q8_0/S-Q8_0-00003-of-00003.gguf': parts[2]!,
          'S-Q4_K_M.gguf': modelA,
        },
      },
    },
  });
});
afterAll(() => server.stop());

let ctx: ReturnType<typeof isolatedEnv>;
beforeEach(() => {
  ctx = isolatedEnv();
  server.log.length = 0;
  server.faults = {};
  server.pageSize = 1000;
});
afterEach(() => rmSync(ctx.root, { recursive: true, force: true }));

const opts = (extra: Record<string, unknown> = {}) => ({ env: ctx.env, endpoint: server.hubUrl, ...extra });
const folder = (repo: string) => join(ctx.cache, `models--${repo.replace('/', '--')}`);

async function rejects(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HubError) return e;
    throw e;
  }
  throw new Error('expected a HubError');
}

describe('first download and the cache layout', () => {
  test('hf:owner/repo:QUANT lands in blobs/<sha256>, snapshots/<commit>/<file> → ../../blobs/<sha256>, refs/main', async () => {
    const r = await resolveModel('hf:test/tiny-GGUF:Q4_K_M', opts());
    const sha = sha256(modelA);
    const f = folder('test/tiny-GGUF');
    expect(r.path).toBe(join(f, 'snapshots', C1, 'tiny-Q4_K_M.gguf'));
    expect(r.files).toEqual([r.path]);
    expect(r).toMatchObject({
      source: 'hub',
      reference: 'hf:test/tiny-GGUF/tiny-Q4_K_M.gguf',
      repo: 'test/tiny-GGUF',
      revision: 'main',
      commit: C1,
      file: 'tiny-Q4_K_M.gguf',
      quant: 'Q4_K_M',
      size: modelA.length,
      downloadedBytes: modelA.length,
      online: true,
    });
    expect(lstatSync(r.path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(r.path)).toBe(`../../blobs/${sha}`);
    expect(sha256(readFileSync(join(f, 'blobs', sha)))).toBe(sha256(modelA));
    expect(readFileSync(join(f, 'refs', 'main'), 'utf8')).toBe(C1);
    expect(existsSync(join(f, 'blobs', `${sha}.incomplete`))).toBe(false);
    // Hugging Face's own cache scanner (@huggingface/hub, as Python's scan-cache) reads what we wrote.
    const scan = await scanCacheDir(ctx.cache);
    expect(scan.warnings).toEqual([]);
    expect(scan.repos).toHaveLength(1);
    expect(scan.repos[0]!.id).toEqual({ name: 'test/tiny-GGUF', type: 'model' });
    expect(scan.repos[0]!.revisions[0]).toMatchObject({ commitOid: C1, refs: ['main'], size: modelA.length });
    // The protocol as used: a tree listing, a HEAD on resolve, the bytes from the CDN.
    expect(server.requests('hub').map((l) => `${l.method} ${l.url.split('?')[0]}`)).toEqual([
      'GET /api/models/test/tiny-GGUF/tree/main',
      'HEAD /test/tiny-GGUF/resolve/main/tiny-Q4_K_M.gguf',
    ]);
    expect(server.requests('hub')[0]!.url).toContain('recursive=true');
    expect(server.requests('cdn', 'GET')).toHaveLength(1);
  });

  test('a second run uses the cache with the server unreachable; HF_HUB_OFFLINE=1 too', async () => {
    const first = await resolveModel('hf:test/tiny-GGUF:Q4_K_M', opts());
    const dead = 'http://127.0.0.1:9'; // nothing listens there
    const again = await resolveModel('hf:test/tiny-GGUF:Q4_K_M', opts({ endpoint: dead }));
    expect(again).toMatchObject({ path: first.path, downloadedBytes: 0, online: false });
    const byFile = await resolveModel('hf:test/tiny-GGUF/tiny-Q4_K_M.gguf', opts({ endpoint: dead }));
    expect(byFile.path).toBe(first.path);
    const offline = await resolveModel('hf:test/tiny-GGUF:q4_k_m', {
      env: { ...ctx.env, HF_HUB_OFFLINE: '1', HF_ENDPOINT: dead },
    });
    expect(offline.path).toBe(first.path);
    // pull asks the Hub, but falls back to the cache when it is unreachable.
    expect((await pullModel('hf:test/tiny-GGUF:Q4_K_M', opts({ endpoint: dead }))).path).toBe(first.path);
    const notCached = await rejects(
      resolveModel('hf:test/tiny-GGUF:Q8_0', { env: { ...ctx.env, HF_HUB_OFFLINE: '1' } }),
    );
    expect(notCached.code).toBe('OFFLINE');
    expect(notCached.message).toContain(ctx.cache);
  });

  test('revisions get their own snapshot and ref; identical files share one blob', async () => {
    const main = await resolveModel('hf:test/tiny-GGUF/tiny-Q4_K_M.gguf', opts());
    const v1 = await resolveModel('hf:test/tiny-GGUF/tiny-Q4_K_M.gguf@v1', opts());
    expect(v1.commit).toBe(C2);
    expect(v1.reference).toBe('hf:test/tiny-GGUF/tiny-Q4_K_M.gguf@v1');
    expect(v1.downloadedBytes).toBe(0); // the blob was already there
    expect(readFileSync(join(folder('test/tiny-GGUF'), 'refs', 'v1'), 'utf8')).toBe(C2);
    expect(readlinkSync(v1.path)).toBe(readlinkSync(main.path));
  });

  test('the token goes to the Hub only, never to the CDN the resolve URL redirects to', async () => {
    await resolveModel('hf:test/tiny-GGUF:Q4_K_M', opts({ token: TOKEN }));
    for (const l of server.requests('hub')) expect(l.authorization).toBe(`Bearer ${TOKEN}`);
    expect(server.requests('cdn').length).toBeGreaterThan(0);
    for (const l of server.requests('cdn')) expect(l.authorization).toBeUndefined();
  });

  test('a paginated tree listing (Link: rel="next") is read to the end', async () => {
    server.pageSize = 2;
    const r = await resolveModel('hf:test/tiny-GGUF:Q4_K_M', opts());
    expect(r.file).toBe('tiny-Q4_K_M.gguf');
    expect(server.requests('hub', 'GET').length).toBeGreaterThan(2);
  });

  test('progress reports bytes up to the size, then verify and done', async () => {
    const seen: DownloadProgress[] = [];
    await resolveModel(
      'hf:test/big:Q4_K_M',
      opts({ onProgress: (p: DownloadProgress) => seen.push({ ...p }) }),
    );
    expect(seen.at(-1)).toMatchObject({ phase: 'done', downloaded: big.length, total: big.length });
    expect(seen.some((p) => p.phase === 'verify')).toBe(true);
    const dl = seen.filter((p) => p.phase === 'download').map((p) => p.downloaded);
    expect(dl.at(-1)).toBe(big.length);
    expect([...dl].sort((a, b) => a - b)).toEqual(dl);
  });
});

describe('resuming', () => {
  test('a connection dropped mid-body is continued with a Range request', async () => {
    server.faults = { drop: { afterBytes: 300_000, times: 1 } };
    const r = await resolveModel('hf:test/big:Q4_K_M', opts());
    expect(sha256(readFileSync(r.path))).toBe(sha256(big));
    const gets = server.requests('cdn', 'GET');
    expect(gets).toHaveLength(2);
    const resumedAt = Number(/^bytes=(\d+)-/.exec(gets[1]!.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(300_000);
    expect(gets[0]!.sent + gets[1]!.sent).toBeLessThan(big.length + 300_000);
  });

  test('an aborted download leaves a resumable partial, never a file under the final name', async () => {
    server.faults = { slow: { chunk: 16 * 1024, delayMs: 5 } };
    const controller = new AbortController();
    let aborted = false;
    const e = await rejects(
      resolveModel(
        'hf:test/big:Q4_K_M',
        opts({
          signal: controller.signal,
          onProgress: (p: DownloadProgress) => {
            if (!aborted && p.downloaded > 200_000) {
              aborted = true;
              controller.abort();
            }
          },
        }),
      ),
    );
    expect(e.code).toBe('ABORTED');
    const blob = join(folder('test/big'), 'blobs', sha256(big));
    expect(existsSync(blob)).toBe(false);
    expect(existsSync(`${blob}.incomplete`)).toBe(true);
    expect(existsSync(join(folder('test/big'), 'snapshots'))).toBe(false);
    const state = JSON.parse(readFileSync(`${blob}.incomplete.json`, 'utf8'));
    const kept = state.segments.reduce((n: number, g: { done: number }) => n + g.done, 0);
    expect(kept).toBeGreaterThan(100_000);

    server.faults = {};
    server.log.length = 0;
    const r = await resolveModel('hf:test/big:Q4_K_M', opts());
    expect(sha256(readFileSync(r.path))).toBe(sha256(big));
    expect(r.downloadedBytes).toBe(big.length - kept);
    const gets = server.requests('cdn', 'GET');
    expect(Number(/^bytes=(\d+)-/.exec(gets[0]!.range ?? '')?.[1])).toBe(kept);
    expect(existsSync(`${blob}.incomplete`)).toBe(false);
    expect(existsSync(`${blob}.incomplete.json`)).toBe(false);
  });

  test('a partial left by a killed process (no range record, a stale lock of a dead pid) is continued', async () => {
    const blobs = join(folder('test/big'), 'blobs');
    mkdirSync(blobs, { recursive: true });
    const blob = join(blobs, sha256(big));
    writeFileSync(`${blob}.incomplete`, big.subarray(0, 123_456));
    writeFileSync(`${blob}.incomplete.lock`, '2147483646'); // no such process
    const r = await resolveModel('hf:test/big:Q4_K_M', opts());
    expect(sha256(readFileSync(r.path))).toBe(sha256(big));
    expect(server.requests('cdn', 'GET')[0]!.range).toBe(`bytes=123456-${big.length - 1}`);
    expect(existsSync(`${blob}.incomplete.lock`)).toBe(false);
  });

  test('a live lock means another process downloads the same blob: LOCKED', async () => {
    const blobs = join(folder('test/big'), 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha256(big)}.incomplete.lock`), String(process.ppid));
    const e = await rejects(resolveModel('hf:test/big:Q4_K_M', opts()));
    expect(e.code).toBe('LOCKED');
    expect(e.message).toContain(`pid ${process.ppid}`);
  });

  test('large files come over several connections, each a Range, and the bytes are right', async () => {
    const r = await resolveModel(
      'hf:test/big:Q4_K_M',
      opts({ connections: 4, parallelThreshold: 64 * 1024 }),
    );
    expect(sha256(readFileSync(r.path))).toBe(sha256(big));
    const ranges = server.requests('cdn', 'GET').map((l) => l.range);
    expect(ranges).toHaveLength(4);
    const starts = ranges.map((x) => Number(/^bytes=(\d+)-(\d+)$/.exec(x ?? '')?.[1])).sort((a, b) => a - b);
    expect(starts[0]).toBe(0);
    expect(new Set(starts).size).toBe(4);
    const sent = server.requests('cdn', 'GET').reduce((n, l) => n + l.sent, 0);
    expect(sent).toBe(big.length);
  });

  test('parallel parts survive a drop and an abort too', async () => {
    server.faults = { drop: { afterBytes: 50_000, times: 2 }, slow: { chunk: 8192, delayMs: 2 } };
    const controller = new AbortController();
    let stop = false;
    const o = { connections: 3, parallelThreshold: 64 * 1024 };
    const e = await rejects(
      resolveModel(
        'hf:test/big:Q4_K_M',
        opts({
          ...o,
          signal: controller.signal,
          onProgress: (p: DownloadProgress) => {
            if (!stop && p.downloaded > 400_000) {
              stop = true;
              controller.abort();
            }
          },
        }),
      ),
    );
    expect(e.code).toBe('ABORTED');
    server.faults = {};
    const r = await resolveModel('hf:test/big:Q4_K_M', opts(o));
    expect(sha256(readFileSync(r.path))).toBe(sha256(big));
  });
});

describe('failures', () => {
  test('bytes that do not match the sha256: HASH_MISMATCH, the partial deleted, nothing in the cache', async () => {
    server.faults = { corrupt: true };
    const e = await rejects(resolveModel('hf:test/tiny-GGUF:Q4_K_M', opts()));
    expect(e.code).toBe('HASH_MISMATCH');
    expect(e.message).toContain(sha256(modelA));
    const blob = join(folder('test/tiny-GGUF'), 'blobs', sha256(modelA));
    expect(existsSync(blob)).toBe(false);
    expect(existsSync(`${blob}.incomplete`)).toBe(false);
    server.faults = {};
    expect((await resolveModel('hf:test/tiny-GGUF:Q4_K_M', opts())).size).toBe(modelA.length);
  });

  test('a gated repository: UNAUTHORIZED saying to accept the licence and set HF_TOKEN; the token never in messages', async () => {
    const e = await rejects(resolveModel('hf:test/gated:Q4_K_M', opts()));
    expect(e.code).toBe('UNAUTHORIZED');
    expect(e.status).toBe(401);
    expect(e.message).toContain(`accept its licence on ${server.hubUrl}/test/gated`);
    expect(e.message).toContain('HF_TOKEN');
    const wrong = await rejects(
      resolveModel('hf:test/gated/g-Q4_K_M.gguf', opts({ token: 'hf_wrong_secret' })),
    );
    expect(wrong.code).toBe('UNAUTHORIZED');
    expect(wrong.message).not.toContain('hf_wrong_secret');
    const ok = await resolveModel('hf:test/gated:Q4_K_M', {
      env: { ...ctx.env, HF_TOKEN: TOKEN },
      endpoint: server.hubUrl,
    });
    expect(ok.size).toBe(modelA.length);
  });

  test('the token file written by `huggingface-cli login` ($HF_HOME/token) is used', async () => {
    mkdirSync(ctx.env.HF_HOME!, { recursive: true });
    writeFileSync(join(ctx.env.HF_HOME!, 'token'), `${TOKEN}\n`);
    expect((await resolveModel('hf:test/gated:Q4_K_M', opts())).size).toBe(modelA.length);
  });

  test('404s: unknown repository, revision or file', async () => {
    for (const ref of [
      'hf:test/nope:Q4_K_M',
      'hf:test/tiny-GGUF:Q4_K_M@nope',
      'hf:test/tiny-GGUF/missing.gguf',
    ]) {
      const e = await rejects(resolveModel(ref, opts()));
      expect(e.code, ref).toBe('NOT_FOUND');
      expect(e.status, ref).toBe(404);
    }
  });

  test(':QUANT on the Hub listing: no match lists the tags, several name the files', async () => {
    const none = await rejects(resolveModel('hf:test/tiny-GGUF:Q5_K_M', opts()));
    expect(none.code).toBe('QUANT_NOT_FOUND');
    expect(none.availableTags).toEqual(['Q4_K_M', 'Q8_0']); // mmproj files are not models
    const several = await rejects(resolveModel('hf:test/tiny-GGUF:Q8_0', opts()));
    expect(several.code).toBe('QUANT_AMBIGUOUS');
    expect(several.candidates).toEqual(['tiny-Q8_0.gguf', 'tiny-chat-Q8_0.gguf']);
    expect(server.requests('cdn')).toHaveLength(0);
    expect((await resolveModel('hf:test/tiny-GGUF', opts())).file).toBe('tiny-Q4_K_M.gguf');
  });

  test('not enough disk space for X-Linked-Size: INSUFFICIENT_SPACE before any byte is fetched', async () => {
    server.faults = { linkedSize: 2 ** 52 };
    const e = await rejects(resolveModel('hf:test/tiny-GGUF:Q4_K_M', opts()));
    expect(e.code).toBe('INSUFFICIENT_SPACE');
    expect(server.requests('cdn')).toHaveLength(0);
  });
});

describe('split sets, aliases and URLs', () => {
  test('a split GGUF is fetched as a set, in order, from its :QUANT or from any part', async () => {
    const r = await resolveModel('hf:test/split:Q8_0', opts());
    const snap = join(folder('test/split'), 'snapshots', C1, 'S-Q8_0');
    expect(r.files).toEqual([1, 2, 3].map((i) => join(snap, `S-Q8_0-0000${i}-of-00003.gguf`)));
    expect(r.path).toBe(r.files[0]);
    expect(r.split).toEqual({ count: 3 });
    expect(sha256(Buffer.concat(r.files.map((f) => readFileSync(f))))).toBe(sha256(big));
    const again = await resolveModel(
      'hf:test/split/S-Q8_0/S-Q8_0-00002-of-00003.gguf',
      opts({ endpoint: 'http://127.0.0.1:9' }),
    );
    expect(again.files).toEqual(r.files);
  });

  test('an alias from an extra registry file resolves like its hf: reference', async () => {
    const reg = join(ctx.root, 'registry.json');
    writeFileSync(
      reg,
      JSON.stringify({
        models: [{ name: 'tiny', aliases: ['tiny:latest'], ref: 'hf:test/tiny-GGUF:Q4_K_M' }],
      }),
    );
    const r = await resolveModel('tiny:latest', {
      env: { ...ctx.env, QUANT_MODEL_REGISTRY: reg },
      endpoint: server.hubUrl,
    });
    expect(r).toMatchObject({
      alias: 'tiny',
      reference: 'hf:test/tiny-GGUF/tiny-Q4_K_M.gguf',
      size: modelA.length,
    });
  });

  test('a plain URL is downloaded once into the quant URL cache', async () => {
    const url = `${server.cdnUrl}/blobs/${sha256(modelA)}`;
    const r = await resolveModel(url, opts());
    expect(r.source).toBe('url');
    expect(r.path.startsWith(join(ctx.env.XDG_CACHE_HOME!, 'quant', 'url'))).toBe(true);
    expect(sha256(readFileSync(r.path))).toBe(sha256(modelA));
    server.log.length = 0;
    expect((await resolveModel(url, opts())).downloadedBytes).toBe(0);
    expect(server.log).toHaveLength(0);
  });
});
