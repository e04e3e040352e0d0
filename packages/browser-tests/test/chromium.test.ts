/**
 * @quant/runtime in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core; nothing
 * downloads a browser). Two pages import the built packages as applications do — one bundled by Vite
 * with no configuration, one by esbuild with `--platform=browser` — and are served, with the models,
 * by a static server on 127.0.0.1 (Range requests, COOP/COEP). Every case must write exactly the
 * greedy story the runtime writes in Node on the same file (and, for stories260K, llama.cpp's greedy
 * tokens from ../shared/reference): URL, Request, Blob, File, ArrayBuffer and Uint8Array sources;
 * default options; a prompt longer than batchSize; the worker host; split sets; both bundlers. The
 * bundles must contain no import of a Node built-in, and Vite must not warn about one.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '@quant/runtime';
import {
  hasShared,
  readReference,
  type StaticServer,
  sharedPath,
  startStaticServer,
  warnSkipped,
  writeSplitGGUF,
  writeSyntheticLlama,
} from '@quant/test-utils';
import { build as esbuild } from 'esbuild';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const pkg = join(__dirname, '..');
const distFiles = [
  'runtime/dist/browser.js',
  'runtime/dist/worker.browser.js',
  'kernels/dist/browser.js',
  'gguf/dist/browser.js',
];
const missingDist = distFiles.filter((f) => !existsSync(join(pkg, '..', f)));
let skip: string | undefined;
if (!existsSync(CHROMIUM)) skip = `${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`;
else if (missingDist.length) skip = `not built: ${missingDist.join(', ')} (npx turbo run build)`;
if (skip) {
  if (process.env.CI) throw new Error(`browser tests cannot run: ${skip}`);
  warnSkipped('browser-tests', `${skip}: skipping the Chromium tests`);
}
const shared = hasShared('models/stories260K.gguf', 'reference/stories260K.once.json');
if (!shared)
  warnSkipped(
    'browser-tests',
    '../shared (stories260K and its reference) is absent: only the synthetic model is used',
  );

const N = 32;
const PROMPT = 'Once upon a time';
/** Longer than the batchSize of 4 used with it: the prompt goes through in several forward passes. */
const LONG_PROMPT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';

interface Story {
  text: string;
  tokens: number[];
}
interface ModelCase {
  name: string;
  /** Path of the file on disk and its URL path on the server. */
  path: string;
  urlPath: string;
  splitUrlPaths: string[];
  expected: Story;
  expectedLong: Story;
}

const work = mkdtempSync(join(tmpdir(), 'quant-browser-'));
const modelsDir = join(work, 'models');
const viteOut = join(work, 'vite');
const esbuildOut = join(work, 'esbuild');
const models: ModelCase[] = [];
let server: StaticServer;
/** Serves the Vite page without COOP/COEP: not cross-origin isolated, so no SharedArrayBuffer. */
let plainServer: StaticServer;
let plainPage: Page;
let context: BrowserContext;
let vitePage: Page;
let esbuildPage: Page;
const viteWarnings: string[] = [];
const timings: Record<string, number> = {};

async function nodeStory(path: string, prompt: string, batchSize?: number): Promise<Story> {
  const m = await loadModel(path, { backend: 'wasm', ...(batchSize ? { batchSize } : {}) });
  try {
    const g = m.generate(prompt, { maxTokens: N, temperature: 0 });
    const text = await g.text();
    return { text, tokens: [...g.tokens] };
  } finally {
    m.dispose();
  }
}

function jsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir, { recursive: true }).map(String)) {
    if (f.endsWith('.js') && statSync(join(dir, f)).isFile()) out.push(join(dir, f));
  }
  return out;
}

/** Imports of Node built-ins in bundled JS: static, dynamic and require, with or without `node:`. */
function nodeImports(code: string): string[] {
  const names = new Set(builtinModules.filter((n) => !n.startsWith('_')));
  const found: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;
  for (const m of code.matchAll(re)) {
    const spec = m[1] as string;
    if (spec.startsWith('node:') || names.has(spec) || names.has(spec.split('/')[0] as string))
      found.push(spec);
  }
  return found;
}

async function openPage(path: string, on: StaticServer = server): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[browser-tests] page error on ${path}: ${e.message}`));
  await page.goto(`${on.origin}${path}`);
  await page.waitForFunction(() => (globalThis as { quantReady?: boolean }).quantReady === true, undefined, {
    timeout: 30_000,
  });
  return page;
}

type SourceSpec =
  | { kind: 'url' | 'blob' | 'file' | 'arraybuffer' | 'uint8array' | 'request'; url: string }
  | { kind: 'urls' | 'blobs'; urls: string[] };

/** Runs in the page: load a model from `spec`, generate greedily, dispose. */
async function runInPage(
  page: Page,
  spec: SourceSpec,
  options: Record<string, unknown>,
  prompt: string,
  extra: { worker?: 'default' | 'esbuild'; abortAfter?: number } = {},
): Promise<Story & { backend?: string; threads?: number; error?: string; aborted?: string }> {
  return page.evaluate(
    async ({ spec, options, prompt, n, extra }) => {
      const g = globalThis as unknown as {
        quant: typeof import('@quant/runtime');
        wasmUrl?: string;
        workerUrl?: string;
      };
      const q = g.quant;
      const bytes = async (u: string) => (await fetch(u)).arrayBuffer();
      let source: unknown;
      switch (spec.kind) {
        case 'url':
          source = spec.url;
          break;
        case 'urls':
          source = spec.urls;
          break;
        case 'request':
          source = new Request(spec.url, { headers: { 'X-Test': '1' } });
          break;
        case 'blob':
          source = await (await fetch(spec.url)).blob();
          break;
        case 'blobs':
          source = await Promise.all(spec.urls.map(async (u) => (await fetch(u)).blob()));
          break;
        case 'file':
          source = new File([await bytes(spec.url)], 'model.gguf');
          break;
        case 'arraybuffer':
          source = await bytes(spec.url);
          break;
        case 'uint8array':
          source = new Uint8Array(await bytes(spec.url));
          break;
      }
      const opts = { ...options, ...(options.wasmUrl === true ? { wasmUrl: g.wasmUrl } : {}) };
      try {
        if (extra.worker) {
          const m = await q.loadModelInWorker(source as never, {
            ...opts,
            ...(extra.worker === 'esbuild'
              ? { worker: new Worker(g.workerUrl as string, { type: 'module' }) }
              : {}),
          });
          try {
            const gen = m.generate(prompt, { maxTokens: n, temperature: 0 });
            const text = await gen.text();
            let aborted: string | undefined;
            if (extra.abortAfter) {
              const ac = new AbortController();
              let k = 0;
              try {
                for await (const _ of m.generate(prompt, {
                  maxTokens: 10_000,
                  temperature: 0,
                  signal: ac.signal,
                }))
                  if (++k === extra.abortAfter) ac.abort();
              } catch (e) {
                aborted = `${(e as Error).name}:${k}`;
              }
            }
            return { text, tokens: gen.tokens, backend: m.backend, aborted };
          } finally {
            await m.dispose();
          }
        }
        const m = await q.loadModel(source as never, opts);
        try {
          const gen = m.generate(prompt, { maxTokens: n, temperature: 0 });
          const text = await gen.text();
          return { text, tokens: [...gen.tokens], backend: m.kernels.backend, threads: m.kernels.threads };
        } finally {
          m.dispose();
        }
      } catch (e) {
        return { text: '', tokens: [], error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    },
    { spec, options, prompt, n: N, extra },
  );
}

beforeAll(async () => {
  if (skip) return;
  const t0 = performance.now();
  const { mkdirSync } = await import('node:fs');
  mkdirSync(modelsDir);
  // The models: a synthetic Llama written here (a fresh clone has it), and stories260K from ../shared.
  const synthetic = join(modelsDir, 'synthetic.gguf');
  await writeSyntheticLlama(synthetic, {
    nEmbd: 64,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    nFF: 128,
    seed: 16,
    silentEos: true,
  });
  const sources = [{ name: 'synthetic', path: synthetic, urlPath: '/models/synthetic.gguf' }];
  if (shared)
    sources.push({
      name: 'stories260K',
      path: sharedPath('models', 'stories260K.gguf'),
      urlPath: '/shared/stories260K.gguf',
    });
  for (const s of sources) {
    const parts = await writeSplitGGUF(s.path, modelsDir, `${s.name}-split`, 3);
    models.push({
      ...s,
      splitUrlPaths: parts.map((p) => `/models/${p.slice(modelsDir.length + 1)}`),
      expected: await nodeStory(s.path, PROMPT),
      expectedLong: await nodeStory(s.path, LONG_PROMPT, 4),
    });
  }
  timings.models = performance.now() - t0;

  // Vite: zero configuration; the log must not mention a Node built-in.
  const t1 = performance.now();
  const { build: viteBuild, createLogger } = await import('vite');
  const logger = createLogger('warn', { allowClearScreen: false });
  const record = (msg: string) => viteWarnings.push(msg);
  logger.warn = record;
  logger.warnOnce = record;
  logger.error = record;
  await viteBuild({
    root: join(pkg, 'pages', 'vite'),
    base: './',
    configFile: false,
    logLevel: 'warn',
    customLogger: logger,
    build: { outDir: viteOut, emptyOutDir: true, target: 'es2022', reportCompressedSize: false },
  });
  timings.vite = performance.now() - t1;

  // esbuild --platform=browser: no errors (a Node built-in would be "Could not resolve").
  const t2 = performance.now();
  const res = await esbuild({
    entryPoints: {
      main: join(pkg, 'pages', 'esbuild', 'main.ts'),
      worker: join(pkg, 'pages', 'esbuild', 'worker.ts'),
    },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    outdir: esbuildOut,
    loader: { '.wasm': 'file' },
    metafile: true,
    logLevel: 'silent',
  });
  expect(res.errors).toEqual([]);
  writeFileSync(
    join(esbuildOut, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><title>quant (esbuild)</title></head><body><script type="module" src="./main.js"></script></body></html>',
  );
  timings.esbuild = performance.now() - t2;

  server = await startStaticServer({
    '/vite/': viteOut,
    '/esbuild/': esbuildOut,
    '/models/': modelsDir,
    ...(shared ? { '/shared/': sharedPath('models') } : {}),
  });
  plainServer = await startStaticServer(
    {
      '/vite/': viteOut,
      '/models/': modelsDir,
      ...(shared ? { '/shared/': sharedPath('models') } : {}),
    },
    { isolated: false },
  );
  const t3 = performance.now();
  const { chromium } = await import('playwright-core');
  context = await chromium.launchPersistentContext(join(work, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  vitePage = await openPage('/vite/');
  esbuildPage = await openPage('/esbuild/');
  plainPage = await openPage('/vite/', plainServer);
  timings.launch = performance.now() - t3;
}, 240_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  await plainServer?.close();
  rmSync(work, { recursive: true, force: true });
  if (!skip)
    console.log(
      `[browser-tests] setup: models ${timings.models?.toFixed(0)} ms, vite build ${timings.vite?.toFixed(0)} ms, ` +
        `esbuild ${timings.esbuild?.toFixed(0)} ms, chromium + pages ${timings.launch?.toFixed(0)} ms`,
    );
});

describe.skipIf(!!skip)('bundles', () => {
  it('Vite and esbuild bundles import no Node built-in, and Vite warns about none', () => {
    const files = [...jsFiles(viteOut), ...jsFiles(esbuildOut)];
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) expect(nodeImports(readFileSync(f, 'utf8')), f).toEqual([]);
    const about = viteWarnings.filter((w) =>
      /externalized for browser compatibility|node:|built-?in/i.test(w),
    );
    expect(about).toEqual([]);
    // Vite emitted the wasm module and a worker bundle for the model worker.
    const assets = readdirSync(join(viteOut, 'assets'));
    expect(assets.some((a) => a.endsWith('.wasm'))).toBe(true);
    expect(assets.filter((a) => a.endsWith('.js')).length).toBeGreaterThanOrEqual(2);
    const sizes = files.map((f) => `${f.slice(work.length + 1)} ${(statSync(f).size / 1024).toFixed(0)} KiB`);
    console.log(`[browser-tests] bundles: ${sizes.join(', ')}`);
  });

  it('the bundle check finds a Node built-in when there is one', () => {
    expect(nodeImports('import{readFile as a}from"fs";import("node:os");require("path/posix")')).toEqual([
      'fs',
      'node:os',
      'path/posix',
    ]);
  });
});

describe.skipIf(!!skip)('Chromium', () => {
  it('the Node stories are llama.cpp greedy tokens (stories260K)', () => {
    if (!shared) return;
    const ref = readReference('stories260K.once.json');
    const story = models.find((m) => m.name === 'stories260K') as ModelCase;
    expect(story.expected.tokens).toEqual(ref.greedy.map((g) => g.token).slice(0, N));
  });

  it('every model, every source, both bundlers, the worker host: the Node story exactly', async () => {
    const t0 = performance.now();
    for (const m of models) {
      const url = `${server.origin}${m.urlPath}`;
      const splitUrls = m.splitUrlPaths.map((p) => `${server.origin}${p}`);
      const cases: [string, Page, SourceSpec, Record<string, unknown>, Parameters<typeof runInPage>[4]?][] = [
        ['vite url, cache off', vitePage, { kind: 'url', url }, { cache: false }],
        ['vite Request', vitePage, { kind: 'request', url }, { cache: false }],
        ['vite Blob', vitePage, { kind: 'blob', url }, {}],
        ['vite File', vitePage, { kind: 'file', url }, {}],
        ['vite ArrayBuffer', vitePage, { kind: 'arraybuffer', url }, {}],
        ['vite Uint8Array', vitePage, { kind: 'uint8array', url }, {}],
        ['vite split URLs', vitePage, { kind: 'urls', urls: splitUrls }, { cache: false }],
        [
          'vite split, first URL only',
          vitePage,
          { kind: 'url', url: splitUrls[0] as string },
          { cache: false },
        ],
        ['vite split Blobs', vitePage, { kind: 'blobs', urls: [...splitUrls].reverse() }, {}],
        [
          'vite worker',
          vitePage,
          { kind: 'url', url },
          { cache: false },
          { worker: 'default', abortAfter: 3 },
        ],
        ['vite worker, ArrayBuffer', vitePage, { kind: 'arraybuffer', url }, {}, { worker: 'default' }],
        ['esbuild url', esbuildPage, { kind: 'url', url }, { cache: false, wasmUrl: true }],
        [
          'esbuild worker',
          esbuildPage,
          { kind: 'url', url },
          { cache: false, wasmUrl: true },
          { worker: 'esbuild' },
        ],
      ];
      for (const [what, page, spec, options, extra] of cases) {
        const r = await runInPage(page, spec, options, PROMPT, extra);
        expect(r.error, `${m.name}: ${what}`).toBeUndefined();
        expect(r.backend, `${m.name}: ${what}`).toBe('wasm');
        expect({ text: r.text, tokens: r.tokens }, `${m.name}: ${what}`).toEqual(m.expected);
        if (extra?.abortAfter) expect(r.aborted, `${m.name}: ${what}`).toBe(`AbortError:${extra.abortAfter}`);
      }
      const long = await runInPage(
        vitePage,
        { kind: 'url', url },
        { cache: false, batchSize: 4 },
        LONG_PROMPT,
      );
      expect(long.error).toBeUndefined();
      expect({ text: long.text, tokens: long.tokens }, `${m.name}: prompt longer than batchSize`).toEqual(
        m.expectedLong,
      );
    }
    console.log(
      `[browser-tests] ${models.length} models × 14 cases in ${(performance.now() - t0).toFixed(0)} ms`,
    );
  });

  it('default options (no backend, no wasmUrl, cache on): the story, then a reload reads the cache, not the network', async () => {
    const m = models[models.length - 1] as ModelCase;
    const url = `${server.origin}${m.urlPath}`;
    await vitePage.evaluate(() =>
      (globalThis as unknown as { quant: typeof import('@quant/runtime') }).quant.clearModelCache(),
    );
    const before = server.requests(m.urlPath).length;
    const first = await runInPage(vitePage, { kind: 'url', url }, {}, PROMPT);
    expect(first.error).toBeUndefined();
    expect({ text: first.text, tokens: first.tokens }).toEqual(m.expected);
    const firstRequests = server.requests(m.urlPath).slice(before);
    // The header (one Range request), then the file once into the cache.
    expect(firstRequests.filter((r) => r.range === undefined).length).toBe(1);
    expect(firstRequests.length).toBeLessThanOrEqual(3);
    await vitePage.reload();
    await vitePage.waitForFunction(() => (globalThis as { quantReady?: boolean }).quantReady === true);
    const after = server.requests(m.urlPath).length;
    const second = await runInPage(vitePage, { kind: 'url', url }, {}, PROMPT);
    expect({ text: second.text, tokens: second.tokens }).toEqual(m.expected);
    expect(server.requests(m.urlPath).length - after).toBe(0);
  });

  it('threads: an isolated page runs the threaded module on 2 threads, a page that is not isolated the single-threaded one, same story', async () => {
    const m = models[models.length - 1] as ModelCase;
    const isolated = (p: Page) => p.evaluate(() => globalThis.crossOriginIsolated === true);
    expect(await isolated(vitePage)).toBe(true);
    expect(await isolated(plainPage)).toBe(false);
    const cores = await vitePage.evaluate(() => navigator.hardwareConcurrency);
    const mt = (s: StaticServer) => s.log.filter((r) => /quant-kernels-mt[^/]*\.wasm$/.test(r.path)).length;
    const threaded = await runInPage(
      vitePage,
      { kind: 'url', url: `${server.origin}${m.urlPath}` },
      { cache: false, threads: 2 },
      PROMPT,
    );
    expect(threaded.error).toBeUndefined();
    expect(threaded.threads).toBe(2);
    expect({ text: threaded.text, tokens: threaded.tokens }).toEqual(m.expected);
    // default threads on an isolated page: navigator.hardwareConcurrency
    const byDefault = await runInPage(
      vitePage,
      { kind: 'url', url: `${server.origin}${m.urlPath}` },
      { cache: false },
      PROMPT,
    );
    expect(byDefault.threads).toBe(Math.min(cores, 64));
    expect({ text: byDefault.text, tokens: byDefault.tokens }).toEqual(m.expected);
    // the threaded module was fetched (once: the compiled module is cached in the page)
    expect(mt(server)).toBeGreaterThanOrEqual(1);
    const single = await runInPage(
      plainPage,
      { kind: 'url', url: `${plainServer.origin}${m.urlPath}` },
      { cache: false, threads: 2 },
      PROMPT,
    );
    expect(single.error).toBeUndefined();
    expect(single.threads).toBe(1);
    expect({ text: single.text, tokens: single.tokens }).toEqual(m.expected);
    expect(mt(plainServer)).toBe(0);
    // asking for the threaded module where it cannot run: a typed error saying why
    const refused = await runInPage(
      plainPage,
      { kind: 'url', url: `${plainServer.origin}${m.urlPath}` },
      { cache: false, wasmThreads: true },
      PROMPT,
    );
    expect(refused.error).toMatch(/^KernelError: .*cross-origin isolated/);
  });

  it('esbuild with no wasmUrl: a KernelError that says how to give the module', async () => {
    const m = models[0] as ModelCase;
    const r = await runInPage(
      esbuildPage,
      { kind: 'url', url: `${server.origin}${m.urlPath}` },
      { cache: false },
      PROMPT,
    );
    expect(r.error).toMatch(/^KernelError: .*wasmUrl/);
  });
});
