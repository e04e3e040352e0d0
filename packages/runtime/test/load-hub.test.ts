/**
 * loadModel('hf:…') resolves through @quant/hub (a local Hub stand-in on 127.0.0.1, a temporary
 * cache) and runs the same model as loading the file itself; a split GGUF set downloads every part and
 * loads as the unsplit file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernels } from '@quant/kernels';
import { behaviourKernels, fakeCommit, HubServer, writeSplitGGUF } from '@quant/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { Fixtures, TINY } from './helpers/fixtures.js';

let kernels: Kernels;
let fx: Fixtures;
let server: HubServer;
let local: string;
let hub: { endpoint: string; env: NodeJS.ProcessEnv };

beforeAll(async () => {
  kernels = await behaviourKernels('load-hub');
  fx = new Fixtures(kernels);
  local = await fx.model('tiny', TINY);
  // The tiny model as a 2-part split set, as llama-gguf-split writes it.
  const parts = (await writeSplitGGUF(local, fx.dir, 'x-Q8_0', 2)).map(
    (p) => new Uint8Array(readFileSync(p)),
  );
  server = await new HubServer().start();
  server.addRepo('test/tiny-GGUF', {
    revisions: {
      main: { commit: fakeCommit('rt'), files: { 'tiny-F32.gguf': new Uint8Array(readFileSync(local)) } },
    },
  });
  server.addRepo('test/split', {
    revisions: {
      main: {
        commit: fakeCommit('rt-split'),
        files: { 'x-Q8_0-00001-of-00002.gguf': parts[0]!, 'x-Q8_0-00002-of-00002.gguf': parts[1]! },
      },
    },
  });
  hub = { endpoint: server.hubUrl, env: { HF_HOME: join(fx.dir, 'hf'), HOME: fx.dir } };
});
afterAll(async () => {
  await server?.stop();
  fx?.cleanup();
});

it('an hf: reference loads the downloaded file and generates what the local file generates', async () => {
  const fromHub = await loadModel('hf:test/tiny-GGUF:F32', { kernels, contextSize: 64, hub });
  const fromFile = await loadModel(local, { kernels, contextSize: 64 });
  try {
    const opts = { maxTokens: 8, temperature: 0 };
    const a: string[] = [];
    for await (const piece of fromHub.generate('hello', opts)) a.push(piece);
    const b: string[] = [];
    for await (const piece of fromFile.generate('hello', opts)) b.push(piece);
    expect(a.length).toBeGreaterThan(0);
    expect(a).toEqual(b);
    expect(server.requests('cdn', 'GET')).toHaveLength(1);
  } finally {
    fromHub.dispose();
    fromFile.dispose();
  }
});

it('a split GGUF set: every part is downloaded and the set generates what the unsplit file generates', async () => {
  const fromHub = await loadModel('hf:test/split:Q8_0', { kernels, contextSize: 64, hub });
  const fromFile = await loadModel(local, { kernels, contextSize: 64 });
  try {
    expect(fromHub.file.parts.length).toBe(2);
    const opts = { maxTokens: 8, temperature: 0 };
    const a = await fromHub.generate('hello', opts).text();
    expect(a.length).toBeGreaterThan(0);
    expect(a).toBe(await fromFile.generate('hello', opts).text());
  } finally {
    fromHub.dispose();
    fromFile.dispose();
  }
});
