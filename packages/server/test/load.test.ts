/**
 * Behaviour under load and faults, over real sockets: SSE framing exactly as OpenAI streams, a client
 * that disconnects frees its slot at once, a full queue answers 503 with Retry-After, the request
 * timeout, and a graceful close that drains running streams.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  post,
  readUntil,
  serveModel,
  TempDir,
  type TestServer,
  waitFor,
  writeSlowModel,
  writeSyntheticModel,
} from './helpers';

let tmp: TempDir;
let slowPath: string;
let fastPath: string;
beforeAll(async () => {
  tmp = new TempDir();
  slowPath = await writeSlowModel(tmp.path);
  fastPath = await writeSyntheticModel(tmp.path);
});
afterAll(() => tmp?.remove());

interface Health {
  slots_processing: number;
  slots_idle: number;
  queue: number;
}
const health = async (t: TestServer) => (await (await fetch(`${t.url}/health`)).json()) as Health;

/** A long streamed completion (2000 tokens on the slow model) with a controller to hang up. */
function longStream(t: TestServer, extra: Record<string, unknown> = {}) {
  const ac = new AbortController();
  const res = fetch(`${t.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'test-model',
      prompt: 'once upon a time',
      max_tokens: 2000,
      stream: true,
      ...extra,
    }),
    signal: ac.signal,
  });
  return { ac, res };
}

describe('SSE framing', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await serveModel(fastPath, { parallel: 1 });
  });
  afterAll(async () => t?.close());

  it('text/event-stream of `data: {json}\\n\\n` events ending with `data: [DONE]\\n\\n`', async () => {
    for (const [path, body] of [
      ['/v1/completions', { model: 'test-model', prompt: 'once', max_tokens: 12, stream: true }],
      [
        '/v1/chat/completions',
        {
          model: 'test-model',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 12,
          stream: true,
          stream_options: { include_usage: true },
        },
      ],
    ] as const) {
      const res = await post(`${t.url}${path}`, body);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const text = await res.text();
      expect(text).toMatch(/^(data: \{[^\n]*\}\n\n)+data: \[DONE\]\n\n$/);
      const events = text.split('\n\n').filter((e) => e && e !== 'data: [DONE]');
      for (const e of events) JSON.parse(e.slice('data: '.length));
    }
  });
});

describe('slots, queue, disconnects and timeouts', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await serveModel(slowPath, { parallel: 1, queue: 1, requestTimeoutMs: 120_000 });
  });
  afterAll(async () => t?.close());

  it('a client that disconnects mid-stream frees its slot at once; the next request is served', async () => {
    const a = longStream(t);
    const resA = await a.res;
    await readUntil(resA, (s) => s.includes('"text":"'));
    expect((await health(t)).slots_processing).toBe(1);
    const t0 = performance.now();
    a.ac.abort();
    expect(await waitFor(async () => (await health(t)).slots_processing === 0, 5_000)).toBe(true);
    const freedMs = performance.now() - t0;
    // The only slot is free again: the next request runs on it.
    const b = await post(`${t.url}/v1/completions`, { model: 'test-model', prompt: 'once', max_tokens: 5 });
    expect(b.status).toBe(200);
    expect(((await b.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(5);
    const logA = t.logs.find((l) => l.status === 499);
    expect(logA?.completion_tokens).toBeLessThan(2000);
    console.log(`[server] slot freed ${freedMs.toFixed(0)} ms after the client hung up`);
  });

  it('queue full → 503 with Retry-After and OpenAI’s error shape; the queued request is served later', async () => {
    const a = longStream(t);
    await readUntil(await a.res, (s) => s.includes('"text":"'));
    const b = longStream(t, { max_tokens: 3 });
    expect(await waitFor(async () => (await health(t)).queue === 1)).toBe(true);
    const c = await post(`${t.url}/v1/completions`, { model: 'test-model', prompt: 'once', max_tokens: 3 });
    expect(c.status).toBe(503);
    expect(c.headers.get('retry-after')).toBe('1');
    const body = (await c.json()) as { error: { type: string; code: string; param: null; message: string } };
    expect(body.error).toMatchObject({ type: 'unavailable_error', code: 'queue_full', param: null });
    // The openai client sees the same (no retries configured in the tests).
    const err = await t.client.completions
      .create({ model: 'test-model', prompt: 'once', max_tokens: 3 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    a.ac.abort();
    const textB = await readUntil(await b.res, (s) => s.includes('[DONE]'));
    expect(textB).toContain('"finish_reason":"length"');
    expect(textB.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('a queued client that disconnects leaves the queue at once', async () => {
    const a = longStream(t);
    await readUntil(await a.res, (s) => s.includes('"text":"'));
    const b = longStream(t);
    expect(await waitFor(async () => (await health(t)).queue === 1)).toBe(true);
    b.ac.abort();
    await b.res.catch(() => {});
    expect(await waitFor(async () => (await health(t)).queue === 0, 2_000)).toBe(true);
    a.ac.abort();
    expect(await waitFor(async () => (await health(t)).slots_processing === 0)).toBe(true);
  });
});

describe('request timeout', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await serveModel(slowPath, { parallel: 1, requestTimeoutMs: 300 });
  });
  afterAll(async () => t?.close());

  it('a whole response that takes too long → 504 timeout_error, slot freed', async () => {
    const res = await post(`${t.url}/v1/completions`, {
      model: 'test-model',
      prompt: 'once',
      max_tokens: 2000,
    });
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request_timeout');
    expect(await waitFor(async () => (await health(t)).slots_processing === 0)).toBe(true);
  });

  it('a stream that takes too long ends with an SSE error event and no [DONE]; the client raises it', async () => {
    const res = await post(`${t.url}/v1/completions`, {
      model: 'test-model',
      prompt: 'once',
      max_tokens: 2000,
      stream: true,
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/\n\nevent: error\ndata: \{"error":\{[^\n]*"code":"request_timeout"\}\}\n\n$/);
    expect(text).not.toContain('[DONE]');
    const stream = await t.client.chat.completions.create({
      model: 'test-model',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2000,
      stream: true,
    });
    const err = await (async () => {
      for await (const _ of stream) {
        // read until the error
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toMatch(/did not finish within 0.3 s/);
  });
});

describe('graceful close', () => {
  it('stops accepting connections, lets the running stream finish, then closes', async () => {
    const t = await serveModel(slowPath, { parallel: 2 });
    try {
      const a = longStream(t, { max_tokens: 300 });
      const resA = await a.res;
      const head = await readUntil(resA, (s) => s.includes('"text":"'));
      const closing = t.server.close({ timeoutMs: 60_000 });
      // New connections are refused once the listener is closed.
      expect(
        await waitFor(async () => {
          try {
            await fetch(`${t.url}/health`);
            return false;
          } catch {
            return true;
          }
        }),
      ).toBe(true);
      const rest = await readUntil(resA, (s) => s.includes('[DONE]'), 60_000);
      expect(`${head}${rest}`).toContain('"finish_reason":"length"');
      expect(rest.endsWith('data: [DONE]\n\n')).toBe(true);
      await closing;
    } finally {
      t.model.dispose();
    }
  });

  it('when the grace period runs out, running streams end with a shutting_down error event', async () => {
    const t = await serveModel(slowPath, { parallel: 1 });
    try {
      const a = longStream(t);
      const resA = await a.res;
      await readUntil(resA, (s) => s.includes('"text":"'));
      const closing = t.server.close({ timeoutMs: 100 });
      const rest = await readUntil(resA, () => false, 30_000);
      expect(rest).toMatch(/event: error\ndata: \{"error":\{[^\n]*"code":"shutting_down"\}\}\n\n$/);
      await closing;
    } finally {
      t.model.dispose();
    }
  });
});
