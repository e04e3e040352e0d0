/**
 * What issue 19 found wrong in the CLI as an npm user meets it: help texts that disagree with the code,
 * `run <url>` refused as "file not found", and a `loaded …` line that did not say which kernel backend
 * runs or why.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL, TempDir } from './helpers/fixtures';
import { ensureBuilt, quant } from './helpers/quant';

beforeAll(() => ensureBuilt(), 300_000);

describe('help texts', () => {
  it('quantize --help lists every mix llama-quantize offers that quant writes, Q2_K and Q3_K_S/M/L included', async () => {
    const r = await quant(['quantize', '--help']);
    expect(r.code).toBe(0);
    // llama-quantize's names (tools/quantize/quantize.cpp QUANT_OPTIONS) for the mixes quant implements.
    for (const t of [
      'Q8_0',
      'Q4_0',
      'Q2_K',
      'Q3_K_S',
      'Q3_K_M',
      'Q3_K_L',
      'Q4_K_S',
      'Q4_K_M',
      'Q5_K_S',
      'Q5_K_M',
      'Q6_K',
    ])
      expect(r.stdout).toMatch(new RegExp(`<type>[\\s\\S]*\\b${t}\\b`));
  });

  it('perplexity --help states the 512-token default of --ctx (llama-perplexity’s), not the model’s context', async () => {
    const r = await quant(['perplexity', '--help']);
    const ctx = /--ctx <n>\s+([\s\S]*?)(?=\n\s+-)/.exec(r.stdout)?.[1] ?? '';
    expect(ctx).toMatch(/default: 512/);
    expect(ctx).not.toMatch(/trained context/);
  });

  it('bench --help says --ctx defaults to what the runs need, not the model’s context', async () => {
    const r = await quant(['bench', '--help']);
    const ctx = /--ctx <n>\s+([\s\S]*?)(?=\n\s+-)/.exec(r.stdout)?.[1] ?? '';
    expect(ctx).toMatch(/max\(--n-prompt, --n-gen\)/);
    expect(ctx).not.toMatch(/trained context/);
  });
});

describe('quant run with a model URL and the loaded line', () => {
  const tmp = new TempDir();
  let server: Server;
  let url = '';
  let requests = 0;

  beforeAll(async () => {
    const model = readFileSync(await tmp.model('small.gguf', SMALL));
    server = createServer((req, res) => {
      requests++;
      if (req.url !== '/models/small.gguf') {
        res.writeHead(404).end();
        return;
      }
      const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), model.length - 1) : model.length - 1;
        res.writeHead(206, {
          'content-range': `bytes ${start}-${end}/${model.length}`,
          'content-length': end - start + 1,
          'accept-ranges': 'bytes',
        });
        res.end(model.subarray(start, end + 1));
        return;
      }
      res.writeHead(200, { 'content-length': model.length, 'accept-ranges': 'bytes' });
      res.end(req.method === 'HEAD' ? undefined : model);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/small.gguf`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    tmp.remove();
  });

  it('runs a model given by http URL (downloaded once into the cache), not "file not found"', async () => {
    const home = tmp.file('home');
    const env = {
      HOME: home,
      XDG_CACHE_HOME: join(home, 'xdg'),
      HF_HOME: join(home, 'hf'),
      QUANT_CACHE_DIR: join(home, 'quant'),
      HF_HUB_OFFLINE: '',
    };
    const r = await quant(['run', url, 'Hello', '-n', '4', '--temp', '0'], { env, timeoutMs: 120_000 });
    expect(r.stderr).not.toMatch(/not found/);
    expect(r.code, r.stderr).toBe(0);
    expect(requests).toBeGreaterThan(0);
    // The loaded line names the backend and why it was chosen (@quant/kernels' backendReason).
    expect(r.stderr).toMatch(
      /^loaded .*small\.gguf: llama, .* \((native: (prebuilt @quant\/kernels-[\w-]+@\d+\.\d+\.\d+|built on install|QUANT_KERNELS_ADDON=)|wasm: )[^;]*; \d+ threads?, context \d+\)/m,
    );
  }, 180_000);
});
