/**
 * Strict validation and the security defaults, over real sockets: every bad request gets the right
 * 4xx with OpenAI's error shape `{ error: { message, type, param, code } }` (the openai client's
 * APIError reads those fields), and nothing malformed falls back to a default.
 */
import { loadModel, type Model } from '@quant/runtime';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/index';
import { post, serveModel, TempDir, type TestServer, writeSyntheticModel } from './helpers';

let tmp: TempDir;
let modelPath: string;
let t: TestServer;
beforeAll(async () => {
  tmp = new TempDir();
  modelPath = await writeSyntheticModel(tmp.path);
  t = await serveModel(modelPath, { parallel: 1, bodyLimitBytes: 64 * 1024 });
});
afterAll(async () => {
  await t?.close();
  tmp?.remove();
});

const chat = (extra: Record<string, unknown>) => ({
  model: 'test-model',
  messages: [{ role: 'user', content: 'once upon a time' }],
  max_tokens: 4,
  ...extra,
});
const completion = (extra: Record<string, unknown>) => ({
  model: 'test-model',
  prompt: 'once',
  max_tokens: 4,
  ...extra,
});
const without = (o: Record<string, unknown>, key: string) => {
  const c = { ...o };
  delete c[key];
  return c;
};

interface BadCase {
  name: string;
  path: string;
  body: unknown;
  status: number;
  param: string | null;
  code?: string;
  message?: RegExp;
}

const long = 'once upon a time '.repeat(200);

const CASES: BadCase[] = [
  {
    name: 'a body that is not JSON',
    path: '/v1/chat/completions',
    body: '{"model": ',
    status: 400,
    param: null,
    message: /parse the JSON/,
  },
  {
    name: 'a JSON array instead of an object',
    path: '/v1/chat/completions',
    body: '[1,2]',
    status: 400,
    param: null,
  },
  {
    name: 'no model',
    path: '/v1/chat/completions',
    body: without(chat({}), 'model'),
    status: 400,
    param: 'model',
    message: /Missing required parameter/,
  },
  {
    name: 'no messages',
    path: '/v1/chat/completions',
    body: without(chat({}), 'messages'),
    status: 400,
    param: 'messages',
  },
  {
    name: 'empty messages',
    path: '/v1/chat/completions',
    body: chat({ messages: [] }),
    status: 400,
    param: 'messages',
  },
  {
    name: 'an unknown role',
    path: '/v1/chat/completions',
    body: chat({ messages: [{ role: 'tool', content: 'x' }] }),
    status: 400,
    param: 'messages[0].role',
  },
  {
    name: 'content of the wrong type',
    path: '/v1/chat/completions',
    body: chat({ messages: [{ role: 'user', content: 42 }] }),
    status: 400,
    param: 'messages[0].content',
  },
  {
    name: 'an image content part',
    path: '/v1/chat/completions',
    body: chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }),
    status: 400,
    param: 'messages[0].content',
  },
  {
    name: 'an unknown field in a message',
    path: '/v1/chat/completions',
    body: chat({ messages: [{ role: 'user', content: 'x', foo: 1 }] }),
    status: 400,
    param: 'messages[0].foo',
  },
  {
    name: 'temperature of the wrong type',
    path: '/v1/chat/completions',
    body: chat({ temperature: 'hot' }),
    status: 400,
    param: 'temperature',
  },
  {
    name: 'temperature above 2',
    path: '/v1/chat/completions',
    body: chat({ temperature: 2.5 }),
    status: 400,
    param: 'temperature',
  },
  { name: 'top_p 0', path: '/v1/chat/completions', body: chat({ top_p: 0 }), status: 400, param: 'top_p' },
  {
    name: 'top_p above 1',
    path: '/v1/chat/completions',
    body: chat({ top_p: 1.5 }),
    status: 400,
    param: 'top_p',
  },
  {
    name: 'negative top_k',
    path: '/v1/chat/completions',
    body: chat({ top_k: -1 }),
    status: 400,
    param: 'top_k',
  },
  {
    name: 'fractional top_k',
    path: '/v1/chat/completions',
    body: chat({ top_k: 2.5 }),
    status: 400,
    param: 'top_k',
  },
  {
    name: 'min_p above 1',
    path: '/v1/chat/completions',
    body: chat({ min_p: 2 }),
    status: 400,
    param: 'min_p',
  },
  {
    name: 'max_tokens 0',
    path: '/v1/chat/completions',
    body: chat({ max_tokens: 0 }),
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'max_tokens as a string',
    path: '/v1/chat/completions',
    body: chat({ max_tokens: '10' }),
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'max_completion_tokens negative',
    path: '/v1/chat/completions',
    body: chat({ max_completion_tokens: -5 }),
    status: 400,
    param: 'max_completion_tokens',
  },
  {
    name: 'max_tokens and max_completion_tokens disagree',
    path: '/v1/chat/completions',
    body: chat({ max_tokens: 4, max_completion_tokens: 5 }),
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'n > 1',
    path: '/v1/chat/completions',
    body: chat({ n: 2 }),
    status: 400,
    param: 'n',
    message: /n > 1 is not supported/,
  },
  {
    name: 'five stop strings',
    path: '/v1/chat/completions',
    body: chat({ stop: ['a', 'b', 'c', 'd', 'e'] }),
    status: 400,
    param: 'stop',
  },
  {
    name: 'an empty stop string',
    path: '/v1/chat/completions',
    body: chat({ stop: '' }),
    status: 400,
    param: 'stop',
  },
  {
    name: 'stop of the wrong type',
    path: '/v1/chat/completions',
    body: chat({ stop: 7 }),
    status: 400,
    param: 'stop',
  },
  {
    name: 'presence_penalty above 2',
    path: '/v1/chat/completions',
    body: chat({ presence_penalty: 3 }),
    status: 400,
    param: 'presence_penalty',
  },
  {
    name: 'frequency_penalty below -2',
    path: '/v1/chat/completions',
    body: chat({ frequency_penalty: -2.5 }),
    status: 400,
    param: 'frequency_penalty',
  },
  {
    name: 'a fractional seed',
    path: '/v1/chat/completions',
    body: chat({ seed: 1.5 }),
    status: 400,
    param: 'seed',
  },
  {
    name: 'stream not a boolean',
    path: '/v1/chat/completions',
    body: chat({ stream: 'yes' }),
    status: 400,
    param: 'stream',
  },
  {
    name: 'stream_options without stream',
    path: '/v1/chat/completions',
    body: chat({ stream_options: { include_usage: true } }),
    status: 400,
    param: 'stream_options',
  },
  {
    name: 'top_logprobs above 20',
    path: '/v1/chat/completions',
    body: chat({ logprobs: true, top_logprobs: 21 }),
    status: 400,
    param: 'top_logprobs',
  },
  {
    name: 'top_logprobs without logprobs',
    path: '/v1/chat/completions',
    body: chat({ top_logprobs: 2 }),
    status: 400,
    param: 'top_logprobs',
  },
  {
    name: 'an unsupported field (tools)',
    path: '/v1/chat/completions',
    body: chat({ tools: [] }),
    status: 400,
    param: 'tools',
    message: /Unrecognized request argument supplied: tools/,
  },
  {
    name: 'a prompt longer than the context',
    path: '/v1/chat/completions',
    body: chat({ messages: [{ role: 'user', content: long }] }),
    status: 400,
    param: 'messages',
    code: 'context_length_exceeded',
  },
  {
    name: 'prompt + max_tokens beyond the context',
    path: '/v1/chat/completions',
    body: chat({ max_tokens: 250 }),
    status: 400,
    param: 'messages',
    code: 'context_length_exceeded',
  },
  {
    name: 'an unknown model',
    path: '/v1/chat/completions',
    body: chat({ model: 'gpt-4o' }),
    status: 404,
    param: 'model',
    code: 'model_not_found',
  },
  {
    name: 'completions: no prompt',
    path: '/v1/completions',
    body: without(completion({}), 'prompt'),
    status: 400,
    param: 'prompt',
  },
  {
    name: 'completions: an empty token array',
    path: '/v1/completions',
    body: completion({ prompt: [] }),
    status: 400,
    param: 'prompt',
  },
  {
    name: 'completions: a negative token id',
    path: '/v1/completions',
    body: completion({ prompt: [1, -2] }),
    status: 400,
    param: 'prompt[1]',
  },
  {
    name: 'completions: a token id outside the vocabulary',
    path: '/v1/completions',
    body: completion({ prompt: [1, 999999] }),
    status: 400,
    param: 'prompt[1]',
  },
  {
    name: 'completions: a batch of prompts',
    path: '/v1/completions',
    body: completion({ prompt: ['a', 'b'] }),
    status: 400,
    param: 'prompt',
  },
  {
    name: 'completions: logprobs above 5',
    path: '/v1/completions',
    body: completion({ logprobs: 6 }),
    status: 400,
    param: 'logprobs',
  },
  {
    name: 'completions: echo (unsupported)',
    path: '/v1/completions',
    body: completion({ echo: true }),
    status: 400,
    param: 'echo',
  },
  {
    name: 'completions: an unknown model',
    path: '/v1/completions',
    body: completion({ model: 'nope' }),
    status: 404,
    param: 'model',
    code: 'model_not_found',
  },
  {
    name: 'completions: prompt beyond the context',
    path: '/v1/completions',
    body: completion({ prompt: long }),
    status: 400,
    param: 'prompt',
    code: 'context_length_exceeded',
  },
  { name: 'tokenize: no content', path: '/tokenize', body: {}, status: 400, param: 'content' },
  {
    name: 'detokenize: an id outside the vocabulary',
    path: '/detokenize',
    body: { tokens: [1, 999999] },
    status: 400,
    param: 'tokens[1]',
  },
  {
    name: 'a body over the size limit',
    path: '/v1/chat/completions',
    body: chat({ messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] }),
    status: 413,
    param: null,
    code: 'request_too_large',
  },
  {
    name: 'an unknown URL',
    path: '/v1/embeddings',
    body: { input: 'x' },
    status: 404,
    param: null,
    code: 'not_found',
  },
];

describe('bad requests get the right 4xx with OpenAI’s error shape', () => {
  it(`covers at least 20 kinds (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
  });

  for (const c of CASES) {
    it(`${c.name} → ${c.status}`, async () => {
      const res = await post(`${t.url}${c.path}`, c.body);
      expect(res.status).toBe(c.status);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(Object.keys(body)).toEqual(['error']);
      expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(typeof body.error.message).toBe('string');
      expect(body.error.type).toBe(
        c.status === 404 || c.status < 500 ? 'invalid_request_error' : body.error.type,
      );
      expect(body.error.param).toBe(c.param);
      if (c.code) expect(body.error.code).toBe(c.code);
      if (c.message) expect(body.error.message).toMatch(c.message);
    });
  }

  it('the openai client surfaces them as BadRequestError / NotFoundError with param and code', async () => {
    const e1 = await t.client.chat.completions
      .create({ model: 'test-model', messages: [{ role: 'user', content: 'x' }], n: 3 })
      .catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(OpenAI.BadRequestError);
    expect((e1 as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n');
    const e2 = await t.client.chat.completions
      .create({ model: 'other', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(OpenAI.NotFoundError);
    expect((e2 as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('nothing was generated for them: the server still answers, no slot is held', async () => {
    const h = (await (await fetch(`${t.url}/health`)).json()) as { slots_processing: number; queue: number };
    expect(h.slots_processing).toBe(0);
    expect(h.queue).toBe(0);
    // Every refused request was logged with its status.
    expect(t.logs.filter((l) => l.status >= 400).length).toBeGreaterThanOrEqual(CASES.length);
  });

  it('tokenize and detokenize round-trip (llama-server’s fields)', async () => {
    const tok = (await (
      await post(`${t.url}/tokenize`, { content: 'once upon a time', with_pieces: true })
    ).json()) as {
      tokens: { id: number; piece: string }[];
    };
    expect(tok.tokens.map((x) => x.id)).toEqual(t.model.tokenize('once upon a time', { addBos: false }));
    const back = (await (
      await post(`${t.url}/detokenize`, { tokens: tok.tokens.map((x) => x.id) })
    ).json()) as {
      content: string;
    };
    expect(back.content.trim()).toBe('once upon a time');
  });
});

describe('security defaults', () => {
  it('listens on 127.0.0.1 unless told otherwise', () => {
    expect(t.server.host).toBe('127.0.0.1');
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('without --cors no CORS headers are sent', async () => {
    const res = await fetch(`${t.url}/v1/models`, { headers: { Origin: 'http://evil.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  describe('with an API key and CORS origins', () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await serveModel(modelPath, { parallel: 1, apiKey: 'sk-test-123', cors: ['http://app.example'] });
    });
    afterAll(async () => s?.close());

    it('401 with OpenAI’s shape without a key, with a wrong key, with a non-Bearer header', async () => {
      const variants: Record<string, string>[] = [
        {},
        { Authorization: 'Bearer sk-test-124' },
        { Authorization: 'Bearer sk-test-1234' },
        { Authorization: 'Basic c2stdGVzdC0xMjM=' },
        { Authorization: 'Bearer' },
      ];
      for (const headers of variants) {
        const res = await post(`${s.url}/v1/completions`, completion({}), headers);
        expect(res.status).toBe(401);
        const body = (await res.json()) as { error: { type: string; code: string } };
        expect(body.error.type).toBe('authentication_error');
        expect(body.error.code).toBe('invalid_api_key');
      }
      const wrong = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
      await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    });

    it('the right key works; /health needs none', async () => {
      const res = await post(`${s.url}/v1/completions`, completion({}), {
        Authorization: 'Bearer sk-test-123',
      });
      expect(res.status).toBe(200);
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      const good = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sk-test-123', maxRetries: 0 });
      expect((await good.models.list()).data[0]?.id).toBe('test-model');
    });

    it('CORS: the listed origin is allowed (preflight without a key), others get no header', async () => {
      const pre = await fetch(`${s.url}/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: {
          Origin: 'http://app.example',
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type',
        },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('http://app.example');
      expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      const other = await fetch(`${s.url}/health`, { headers: { Origin: 'http://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});

describe('/health while the model loads', () => {
  it('503 (model_loading, Retry-After) until the model is there, then 200; other routes 503 meanwhile', async () => {
    let resolve!: (m: Model) => void;
    const pending = new Promise<Model>((r) => {
      resolve = r;
    });
    const server = await startServer({ model: pending, modelId: 'late', port: 0, log: () => {} });
    let model: Model | undefined;
    try {
      const h = await fetch(`${server.url}/health`);
      expect(h.status).toBe(503);
      expect(h.headers.get('retry-after')).toBe('1');
      expect(((await h.json()) as { error: { code: string } }).error.code).toBe('model_loading');
      const c = await post(`${server.url}/v1/completions`, { model: 'late', prompt: 'x' });
      expect(c.status).toBe(503);
      model = await loadModel(modelPath, { threads: 1 });
      resolve(model);
      await server.ready;
      const ok = await fetch(`${server.url}/health`);
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { status: string }).status).toBe('ok');
    } finally {
      await server.close({ timeoutMs: 1000 });
      model?.dispose();
    }
  });
});
