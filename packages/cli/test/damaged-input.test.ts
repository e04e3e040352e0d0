/**
 * Issue 12 through the `quant` command: damaged models and unreachable URLs end with one error line
 * and the documented exit code — never empty output with exit 0, never "needs 244 GiB" for a
 * damaged block_count, never "invalid GGUF" for a file that could not be fetched.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { patchMetadataArrayEntry, patchMetadataScalar, patchTensorF32 } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/exit-codes';
import { SMALL, TempDir } from './helpers/fixtures';
import { quant } from './helpers/quant';

let tmp: TempDir;
let small: string;
beforeAll(async () => {
  tmp = new TempDir();
  small = await tmp.model('small.gguf', SMALL);
});
afterAll(() => tmp?.remove());

/** Exactly one line on stderr, starting with "quant: error:". */
function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('loaded '));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^quant: error: /);
  return lines[0] as string;
}

function damaged(name: string, damage: (p: string) => unknown): Promise<string> {
  const p = tmp.file(name);
  copyFileSync(small, p);
  return Promise.resolve(damage(p)).then(() => p);
}

describe('damaged models', () => {
  it('NaN weights: run and perplexity stop with exit 9 naming non-finite logits (was: empty output, exit 0)', async () => {
    const p = await damaged('nan.gguf', (f) => patchTensorF32(f, 'output_norm.weight', 0, Number.NaN));
    const r = await quant(['run', p, 'Once upon a time', '-n', '8', '--temp', '0']);
    expect(r.code, r.stderr).toBe(EXIT.NON_FINITE);
    expect(oneErrorLine(r.stderr)).toMatch(/damaged model: .*non-finite logits/);
    expect(r.stdout).toBe('');

    const text = tmp.file('text.txt');
    writeFileSync(text, 'once upon a time there was a cat and a dog. '.repeat(20));
    const ppl = await quant(['perplexity', p, '-f', text, '--ctx', '32', '-q']);
    expect(ppl.code, ppl.stderr).toBe(EXIT.NON_FINITE);
    expect(oneErrorLine(ppl.stderr)).toMatch(/non-finite logits/);
    expect(ppl.stdout).not.toMatch(/PPL/);
  });

  it('metadata that can only give NaN, and unknown token types: exit 5 at load', async () => {
    const cases: [string, (p: string) => void, RegExp][] = [
      [
        'eps.gguf',
        (p) => patchMetadataScalar(p, 'llama.attention.layer_norm_rms_epsilon', 'f32', -1e-5),
        /layer_norm_rms_epsilon .*must be positive/,
      ],
      ['base.gguf', (p) => patchMetadataScalar(p, 'llama.rope.freq_base', 'f32', 0), /rope\.freq_base = 0/],
      [
        'type.gguf',
        (p) => patchMetadataArrayEntry(p, 'tokenizer.ggml.token_type', 300, 99),
        /token_type\[300\] = 99/,
      ],
    ];
    for (const [name, damage, message] of cases) {
      const p = await damaged(name, damage);
      const r = await quant(['run', p, 'Once', '-n', '4']);
      expect(r.code, `${name}: ${r.stderr}`).toBe(EXIT.UNSUPPORTED);
      expect(oneErrorLine(r.stderr)).toMatch(message);
    }
  });

  it('block_count 10^6: "does not fit the file" (exit 5), not a memory estimate (was: "needs 244 GiB", exit 6)', async () => {
    const p = await damaged('blocks.gguf', (f) =>
      patchMetadataScalar(f, 'llama.block_count', 'u32', 1_000_000),
    );
    const r = await quant(['run', p, 'Once', '-n', '4']);
    expect(r.code, r.stderr).toBe(EXIT.UNSUPPORTED);
    const line = oneErrorLine(r.stderr);
    expect(line).toMatch(/block_count = 1000000 does not fit/);
    expect(line).not.toMatch(/GiB/);
  });
});

describe('URLs that cannot be read: exit 3 with the URL and the cause (was: exit 4 "invalid GGUF")', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end('no such model');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('connection refused', async () => {
    // A port that was just free: bind, note it, close.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const url = `http://127.0.0.1:${port}/model.gguf`;
    const r = await quant(['inspect', url], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(EXIT.NOT_FOUND);
    const line = oneErrorLine(r.stderr);
    expect(line).toContain(url);
    expect(line).toMatch(/ECONNREFUSED/);
    expect(line).not.toMatch(/invalid GGUF/);
  });

  it('HTTP 404', async () => {
    const url = `${base}/missing.gguf`;
    const r = await quant(['inspect', url], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(EXIT.NOT_FOUND);
    const line = oneErrorLine(r.stderr);
    expect(line).toContain(url);
    expect(line).toMatch(/HTTP 404/);
  });
});
