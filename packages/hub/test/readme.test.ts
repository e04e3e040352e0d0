/** The README's example, run as written against a local Hub (HF_ENDPOINT) and a temporary HF_HOME. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fakeCommit, HubServer } from '@quant/test-utils';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import * as hub from '../src/index.js';
import { isolatedEnv, syntheticGGUF } from './helpers/fixtures.js';

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
let server: HubServer;
let ctx: ReturnType<typeof isolatedEnv>;
const saved = { ...process.env };

beforeAll(async () => {
  server = await new HubServer().start();
  server.addRepo('bartowski/Llama-3.2-1B-Instruct-GGUF', {
    revisions: {
      main: {
        commit: fakeCommit('readme'),
        files: {
          'Llama-3.2-1B-Instruct-Q4_K_M.gguf': await syntheticGGUF(5),
          'Llama-3.2-1B-Instruct-f16.gguf': await syntheticGGUF(6),
        },
      },
    },
  });
  ctx = isolatedEnv();
  Object.assign(process.env, { HF_ENDPOINT: server.hubUrl, HF_HOME: ctx.env.HF_HOME, HF_TOKEN: '' });
  delete process.env.HF_HUB_CACHE;
  delete process.env.HUGGINGFACE_HUB_CACHE;
  delete process.env.HF_HUB_OFFLINE;
});
afterAll(async () => {
  for (const k of ['HF_ENDPOINT', 'HF_HOME', 'HF_TOKEN']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await server.stop();
  rmSync(ctx.root, { recursive: true, force: true });
});

test('the README example downloads, prints the reference and path, and lists the model', async () => {
  const m = /^import \{([^}]+)\} from '@quant\/hub';\n/.exec(example);
  expect(m).not.toBeNull();
  const body = example.replace(m![0], `const {${m![1]}} = hub;\n`);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
    await new AsyncFunction('hub', body)(hub);
    const lines = log.mock.calls.map((c) => c.join(' '));
    expect(lines[0]).toBe('hf:bartowski/Llama-3.2-1B-Instruct-GGUF/Llama-3.2-1B-Instruct-Q4_K_M.gguf');
    expect(lines[1]).toMatch(
      /models--bartowski--Llama-3\.2-1B-Instruct-GGUF\/snapshots\/[0-9a-f]{40}\/Llama-3\.2-1B-Instruct-Q4_K_M\.gguf$/,
    );
    expect(lines[1]!.startsWith(join(ctx.env.HF_HOME!, 'hub'))).toBe(true);
    expect(lines[2]).toMatch(
      /^hf:bartowski\/Llama-3\.2-1B-Instruct-GGUF\/Llama-3\.2-1B-Instruct-Q4_K_M\.gguf Q4_K_M llama \d+$/,
    );
    expect(err.mock.calls.some((c) => String(c[0]).includes('done'))).toBe(true);
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
});
