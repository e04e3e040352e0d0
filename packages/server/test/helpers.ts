/**
 * Test fixtures: the shared stories260K model (skipped with a message when ../shared is absent), a
 * small synthetic Llama written per test file (so a fresh clone exercises the server), and a server on
 * 127.0.0.1 with an `openai` client pointed at it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type Model } from '@quant/runtime';
import { hasShared, sharedPath, warnSkipped, writeSyntheticLlama } from '@quant/test-utils';
import OpenAI from 'openai';
import { type RequestLogEntry, type RunningServer, type ServeOptions, startServer } from '../src/index';

export const storiesPath = sharedPath('models', 'stories260K.gguf');
export const haveStories = hasShared('models/stories260K.gguf');
if (!haveStories)
  warnSkipped(
    'server tests',
    `${storiesPath} not found: tests on stories260K are skipped (synthetic models still run).`,
  );

/** A Jinja chat template for the synthetic model (it has none of its own). */
export const SYNTHETIC_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}';

/** Writes a small random-weight Llama (F32, 256-token context) whose </s> never wins, so answers run to max_tokens. */
export async function writeSyntheticModel(dir: string, seed = 11): Promise<string> {
  const path = join(dir, `synthetic-${seed}.gguf`);
  await writeSyntheticLlama(path, {
    nEmbd: 64,
    nLayers: 2,
    nHeads: 4,
    nKvHeads: 2,
    nFF: 128,
    seed,
    rng: 'mulberry32',
    output: { scale: 4, lean: 0 },
    silentEos: true,
    contextLength: 256,
    extraPieces: ['▁upon', '▁time', '▁once'],
    chatTemplate: SYNTHETIC_TEMPLATE,
    name: 'synthetic-server',
  });
  return path;
}

/**
 * A larger random Llama (256 wide, 4 layers, 2048-token context, silent </s>): a 2000-token answer
 * takes seconds, long enough to hold a slot while a test disconnects, queues or shuts down.
 */
export async function writeSlowModel(dir: string): Promise<string> {
  const path = join(dir, 'slow.gguf');
  await writeSyntheticLlama(path, {
    nEmbd: 256,
    nLayers: 4,
    nHeads: 8,
    nKvHeads: 4,
    nFF: 768,
    seed: 5,
    rng: 'mulberry32',
    output: { scale: 4, lean: 0 },
    silentEos: true,
    contextLength: 2048,
    name: 'synthetic-slow',
  });
  return path;
}

/** Reads an SSE response until `until(textSoFar)` holds or the body ends; returns the text read. */
export async function readUntil(
  res: Response,
  until: (text: string) => boolean,
  maxMs = 30_000,
): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let text = '';
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const { done, value } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    if (until(text)) break;
  }
  reader.releaseLock();
  return text;
}

/** Polls `check` every 10 ms until it returns true (false after `maxMs`). */
export async function waitFor(check: () => Promise<boolean> | boolean, maxMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'quant-server-'));
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export interface TestServer {
  server: RunningServer;
  model: Model;
  client: OpenAI;
  logs: RequestLogEntry[];
  url: string;
  close(): Promise<void>;
}

/** Loads `path` (threads 1: tests run two files at once on two cores) and serves it on a free port. */
export async function serveModel(
  path: string,
  options: Partial<ServeOptions> & { contextSize?: number } = {},
): Promise<TestServer> {
  const { contextSize, ...rest } = options;
  const model = await loadModel(path, { threads: 1, ...(contextSize ? { contextSize } : {}) });
  const logs: RequestLogEntry[] = [];
  const server = await startServer({
    model,
    modelId: 'test-model',
    port: 0,
    log: (e) => logs.push(e),
    ...rest,
  });
  await server.ready;
  const client = new OpenAI({
    baseURL: `${server.url}/v1`,
    apiKey: options.apiKey ?? 'unused',
    maxRetries: 0,
    timeout: 60_000,
  });
  return {
    server,
    model,
    client,
    logs,
    url: server.url,
    close: async () => {
      await server.close({ timeoutMs: 5_000 });
      model.dispose();
    },
  };
}

/** fetch with a JSON body. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
