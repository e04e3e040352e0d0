/**
 * `quant serve` as users run it: the built bin in a child process, HTTP on 127.0.0.1. SIGTERM drains
 * (the running stream finishes, new connections are refused, exit 0); greedy text equals `quant run`;
 * --api-key / QUANT_API_KEY; bad flags and missing files fail before listening.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveShared, stories, TempDir } from './helpers/fixtures';
import { bin, quant } from './helpers/quant';

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `quant serve ...args --port 0` and resolves once it prints "serving … on <url>". */
function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'serve', ...args, '--port', '0'], {
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      child.on('close', (code, signal) => r({ code, signal })),
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`quant serve did not start within 60 s; stderr:\n${err}`));
    }, 60_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /serving "[^"]+" on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] as string, stderr: () => err, exited });
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`quant serve exited before serving; stderr:\n${err}`));
    });
  });
}

/** Reads an SSE body until `until` holds (or the body ends, or 60 s pass). */
async function readUntil(res: Response, until: (s: string) => boolean): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let text = '';
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    if (until(text)) break;
  }
  reader.releaseLock();
  return text;
}

const refused = async (url: string) => {
  try {
    await fetch(`${url}/health`);
    return false;
  } catch {
    return true;
  }
};

let tmp: TempDir;
let slow: string;
beforeAll(async () => {
  tmp = new TempDir();
  // 256 wide, 4 layers, silent </s>: a 600-token answer takes a while, long enough to SIGTERM mid-stream.
  slow = await tmp.model('slow.gguf', { nEmbd: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, nFF: 768, seed: 5 });
});
afterAll(() => tmp?.remove());

describe('quant serve', () => {
  it('SIGTERM drains: the running stream finishes, new connections are refused, exit 0', async () => {
    const s = await serve([slow, '--parallel', '2', '--json-logs', '-q']);
    try {
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      const res = await fetch(`${s.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'slow', prompt: 'once upon a time', max_tokens: 600, stream: true }),
      });
      expect(res.status).toBe(200);
      const head = await readUntil(res, (t) => t.includes('"text":"'));
      s.child.kill('SIGTERM');
      let refusedWhileDraining = false;
      const deadline = Date.now() + 10_000;
      while (!refusedWhileDraining && Date.now() < deadline) {
        refusedWhileDraining = await refused(s.url);
        if (!refusedWhileDraining) await new Promise((r) => setTimeout(r, 20));
      }
      expect(refusedWhileDraining).toBe(true);
      const rest = await readUntil(res, (t) => t.includes('[DONE]'));
      const all = head + rest;
      expect(all).toContain('"finish_reason":"length"');
      expect(all.endsWith('data: [DONE]\n\n')).toBe(true);
      const { code } = await s.exited;
      expect(code).toBe(0);
      expect(s.stderr()).toMatch(/SIGTERM: shutting down/);
      const logs = s
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { path: string; status: number; completion_tokens?: number });
      expect(logs.find((l) => l.path === '/v1/completions')).toMatchObject({
        status: 200,
        completion_tokens: 600,
      });
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  it('QUANT_API_KEY / --api-key: 401 without the key, 200 with it; /health open', async () => {
    const s = await serve([slow, '-q'], { QUANT_API_KEY: 'k-123' });
    try {
      const body = JSON.stringify({ model: 'slow', prompt: 'once', max_tokens: 2 });
      const headers = { 'content-type': 'application/json' };
      const no = await fetch(`${s.url}/v1/completions`, { method: 'POST', headers, body });
      expect(no.status).toBe(401);
      const yes = await fetch(`${s.url}/v1/completions`, {
        method: 'POST',
        headers: { ...headers, Authorization: 'Bearer k-123' },
        body,
      });
      expect(yes.status).toBe(200);
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      s.child.kill('SIGINT');
      expect((await s.exited).code).toBe(0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  it('bad flags and missing files fail before listening, with the usual exit codes', async () => {
    const port = await quant(['serve', slow, '--port', '70000']);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port/);
    const parallel = await quant(['serve', slow, '--parallel', '0']);
    expect(parallel.code).toBe(2);
    const missing = await quant(['serve', tmp.file('nope.gguf')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/model file not found/);
    expect(missing.stderr).not.toMatch(/listening/);
  });

  it.skipIf(!haveShared)('stories260K: greedy text over HTTP equals `quant run`', async () => {
    const run = await quant(['run', stories, 'Once upon a time', '--temp', '0', '-n', '24', '-q']);
    expect(run.code).toBe(0);
    const s = await serve([stories, '-q']);
    try {
      const res = await fetch(`${s.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'stories260K',
          prompt: 'Once upon a time',
          max_tokens: 24,
          temperature: 0,
        }),
      });
      const json = (await res.json()) as { choices: { text: string }[] };
      expect(`${json.choices[0]?.text}\n`).toBe(run.stdout);
      s.child.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });
});
