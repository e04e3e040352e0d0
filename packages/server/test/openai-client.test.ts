/**
 * The official `openai` npm client against the server on 127.0.0.1: chat and text completions,
 * whole and streamed, stop strings, usage, seeds, logprobs. The text at temperature 0 must equal
 * model.generate / model.chat for the same prompt, and on stories260K llama.cpp's recorded greedy
 * continuation (../shared/reference).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '@quant/runtime';
import { sharedDir } from '@quant/test-utils';
import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  haveStories,
  serveModel,
  storiesPath,
  type TempDir as TD,
  TempDir,
  type TestServer,
  writeSyntheticModel,
} from './helpers';

interface ReferenceFile {
  prompt: string;
  prompt_tokens: number[];
  prompt_logits: number[][];
  greedy: { piece: string }[];
}

/** Collects a chat stream: the text, every chunk, the finish reason and the usage chunk. */
async function collectChat(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  let finish: string | null = null;
  let usage: OpenAI.Completions.CompletionUsage | null | undefined;
  for await (const c of stream) {
    chunks.push(c);
    const choice = c.choices[0];
    if (choice) {
      text += choice.delta.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (c.usage) usage = c.usage;
  }
  return { text, chunks, finish, usage };
}

async function collectText(stream: AsyncIterable<OpenAI.Completions.Completion>) {
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.Completions.CompletionUsage | null | undefined;
  const chunks: OpenAI.Completions.Completion[] = [];
  for await (const c of stream) {
    chunks.push(c);
    const choice = c.choices[0];
    if (choice) {
      text += choice.text;
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (c.usage) usage = c.usage;
  }
  return { text, finish, usage, chunks };
}

/** Tests that hold on any model; `label` names it. */
function suite(label: string, open: () => Promise<TestServer>) {
  describe(`${label}: the openai client`, () => {
    let t: TestServer;
    let client: OpenAI;
    let model: Model;
    const prompt = 'Once upon a time';
    const messages = [
      { role: 'system' as const, content: 'You tell short stories.' },
      { role: 'user' as const, content: 'Tell me about a cat.' },
    ];
    let alone: string;
    let aloneChat: string;

    beforeAll(async () => {
      t = await open();
      client = t.client;
      model = t.model;
      alone = await model.generate(prompt, { temperature: 0, maxTokens: 24 }).text();
      aloneChat = await model.chat(messages, { temperature: 0, maxTokens: 24 }).text();
    });
    afterAll(async () => t?.close());

    it('GET /v1/models lists the model', async () => {
      const list = await client.models.list();
      expect(list.data.map((m) => m.id)).toEqual(['test-model']);
      expect((await client.models.retrieve('test-model')).id).toBe('test-model');
    });

    it('completions, temperature 0: the text of model.generate, usage and finish_reason', async () => {
      const r = await client.completions.create({
        model: 'test-model',
        prompt,
        max_tokens: 24,
        temperature: 0,
      });
      expect(r.object).toBe('text_completion');
      expect(r.choices).toHaveLength(1);
      expect(r.choices[0]?.text).toBe(alone);
      expect(r.choices[0]?.finish_reason).toBe('length');
      expect(r.usage).toEqual({
        prompt_tokens: model.tokenize(prompt).length,
        completion_tokens: 24,
        total_tokens: model.tokenize(prompt).length + 24,
      });
    });

    it('completions streamed: the same text, one finish chunk, usage last with include_usage', async () => {
      const s = await client.completions.create({
        model: 'test-model',
        prompt,
        max_tokens: 24,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      });
      const r = await collectText(s);
      expect(r.text).toBe(alone);
      expect(r.finish).toBe('length');
      expect(r.usage?.completion_tokens).toBe(24);
      const last = r.chunks.at(-1);
      expect(last?.choices).toEqual([]);
      expect(new Set(r.chunks.map((c) => c.id)).size).toBe(1);
    });

    it('completions from token ids equal completions from the text', async () => {
      const r = await client.completions.create({
        model: 'test-model',
        prompt: model.tokenize(prompt),
        max_tokens: 24,
        temperature: 0,
      });
      expect(r.choices[0]?.text).toBe(alone);
    });

    it('chat, temperature 0: the text of model.chat, with the chat template', async () => {
      const r = await client.chat.completions.create({
        model: 'test-model',
        messages,
        max_completion_tokens: 24,
        temperature: 0,
      });
      expect(r.object).toBe('chat.completion');
      expect(r.choices[0]?.message.role).toBe('assistant');
      expect(r.choices[0]?.message.content).toBe(aloneChat);
      const promptTokens = model.tokenize(model.renderChat(messages), { parseSpecial: true }).length;
      expect(r.usage?.prompt_tokens).toBe(promptTokens);
      expect(r.usage?.total_tokens).toBe(promptTokens + (r.usage?.completion_tokens ?? Number.NaN));
    });

    it('chat streamed: role first, the same text, finish_reason, usage only in the last chunk', async () => {
      const s = await client.chat.completions.create({
        model: 'test-model',
        messages,
        max_tokens: 24,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      });
      const r = await collectChat(s);
      expect(r.text).toBe(aloneChat);
      expect(r.chunks[0]?.choices[0]?.delta.role).toBe('assistant');
      expect(['stop', 'length']).toContain(r.finish);
      expect(r.chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
      expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
      expect(r.chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    });

    it('chat streamed without include_usage has no usage field', async () => {
      const s = await client.chat.completions.create({
        model: 'test-model',
        messages,
        max_tokens: 8,
        temperature: 0,
        stream: true,
      });
      const r = await collectChat(s);
      expect(r.chunks.every((c) => !('usage' in c))).toBe(true);
      expect(r.usage).toBeUndefined();
    });

    it('a seed reproduces model.generate with the same sampling settings', async () => {
      const settings = { temperature: 0.9, top_p: 0.9, top_k: 20, min_p: 0.02, seed: 42 };
      const r = await client.completions.create({ model: 'test-model', prompt, max_tokens: 30, ...settings });
      const expected = await model
        .generate(prompt, { temperature: 0.9, topP: 0.9, topK: 20, minP: 0.02, seed: 42, maxTokens: 30 })
        .text();
      expect(r.choices[0]?.text).toBe(expected);
    });

    it('penalties reach the sampler (presence/frequency as model.generate applies them)', async () => {
      const r = await client.completions.create({
        model: 'test-model',
        prompt,
        max_tokens: 30,
        temperature: 0,
        presence_penalty: 1.5,
        frequency_penalty: 0.5,
      });
      const expected = await model
        .generate(prompt, { temperature: 0, maxTokens: 30, presencePenalty: 1.5, frequencyPenalty: 0.5 })
        .text();
      expect(r.choices[0]?.text).toBe(expected);
    });

    it('a stop string ends the text before it, finish_reason stop (whole and streamed)', async () => {
      // A stop string taken from the middle of the greedy text: the answer is the text before it.
      const at = Math.floor(alone.length / 2);
      const stop = alone.slice(at, at + 3);
      const expected = alone.slice(0, alone.indexOf(stop));
      const r = await client.completions.create({
        model: 'test-model',
        prompt,
        max_tokens: 24,
        temperature: 0,
        stop,
      });
      expect(r.choices[0]?.text).toBe(expected);
      expect(r.choices[0]?.finish_reason).toBe('stop');
      const s = await collectText(
        await client.completions.create({
          model: 'test-model',
          prompt,
          max_tokens: 24,
          temperature: 0,
          stop: ['§never§', stop],
          stream: true,
        }),
      );
      expect(s.text).toBe(expected);
      expect(s.finish).toBe('stop');
    });

    it('chat logprobs: one entry per token, bytes spell the text, top alternatives sorted', async () => {
      const r = await client.chat.completions.create({
        model: 'test-model',
        messages,
        max_tokens: 12,
        temperature: 0,
        logprobs: true,
        top_logprobs: 3,
      });
      const content = r.choices[0]?.logprobs?.content ?? [];
      expect(content).toHaveLength(r.usage?.completion_tokens ?? -1);
      const bytes = content.flatMap((e) => e.bytes ?? []);
      // The streamer drops a leading space of the first piece after the prompt in SentencePiece models;
      // the bytes of the tokens hold it.
      expect(
        Buffer.from(bytes)
          .toString('utf8')
          .endsWith(r.choices[0]?.message.content ?? '\0'),
      ).toBe(true);
      for (const e of content) {
        expect(e.logprob).toBeLessThanOrEqual(0);
        expect(e.top_logprobs).toHaveLength(3);
        const tops = e.top_logprobs.map((a) => a.logprob);
        expect([...tops].sort((a, b) => b - a)).toEqual(tops);
        // Greedy: the chosen token is the most likely one.
        expect(e.top_logprobs[0]?.token).toBe(e.token);
        expect(e.top_logprobs[0]?.logprob).toBe(e.logprob);
        expect(tops.reduce((s, x) => s + Math.exp(x), 0)).toBeLessThanOrEqual(1 + 1e-9);
      }
    });

    it('completions logprobs (legacy format), streamed and whole agree', async () => {
      const body = { model: 'test-model', prompt, max_tokens: 10, temperature: 0, logprobs: 2 } as const;
      const whole = await client.completions.create(body);
      const lp = whole.choices[0]?.logprobs;
      expect(lp?.tokens).toHaveLength(10);
      expect(lp?.token_logprobs).toHaveLength(10);
      expect(lp?.top_logprobs?.every((o) => Object.keys(o).length >= 1 && Object.keys(o).length <= 2)).toBe(
        true,
      );
      expect(lp?.text_offset?.[0]).toBe(0);
      const s = await collectText(await client.completions.create({ ...body, stream: true }));
      const streamed = s.chunks.flatMap((c) => c.choices[0]?.logprobs?.token_logprobs ?? []);
      expect(streamed).toEqual(lp?.token_logprobs);
      const offsets = s.chunks.flatMap((c) => c.choices[0]?.logprobs?.text_offset ?? []);
      expect(offsets).toEqual(lp?.text_offset);
    });
  });
}

let tmp: TD;
beforeAll(() => {
  tmp = new TempDir();
});
afterAll(() => tmp?.remove());

suite('synthetic model', async () => serveModel(await writeSyntheticModel(tmp.path), { parallel: 2 }));

describe.skipIf(!haveStories)('stories260K', () => {
  suite('stories260K', () => serveModel(storiesPath, { parallel: 2 }));

  describe('against llama.cpp', () => {
    let t: TestServer;
    const ref: ReferenceFile = haveStories
      ? JSON.parse(readFileSync(join(sharedDir, 'reference', 'stories260K.once.json'), 'utf8'))
      : ({} as ReferenceFile);
    beforeAll(async () => {
      t = await serveModel(storiesPath, { parallel: 1 });
    });
    afterAll(async () => t?.close());

    it('greedy completion = llama.cpp’s greedy continuation; a stop string cuts it where llama.cpp’s text has it', async () => {
      const n = 24;
      const expected = ref.greedy
        .slice(0, n)
        .map((g) => g.piece)
        .join('');
      const r = await t.client.completions.create({
        model: 'test-model',
        prompt: ref.prompt,
        max_tokens: n,
        temperature: 0,
      });
      expect(r.choices[0]?.text).toBe(expected);
      expect(r.usage?.prompt_tokens).toBe(ref.prompt_tokens.length);
      const cut = await t.client.completions.create({
        model: 'test-model',
        prompt: ref.prompt,
        max_tokens: n,
        temperature: 0,
        stop: 'Lily',
      });
      expect(cut.choices[0]?.text).toBe(expected.slice(0, expected.indexOf('Lily')));
      expect(cut.choices[0]?.finish_reason).toBe('stop');
    });

    it('the first token’s logprobs = log-softmax of llama.cpp’s logits at the last prompt position', async () => {
      const logits = ref.prompt_logits.at(-1) as number[];
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0));
      const order = logits.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
      const r = await t.client.completions.create({
        model: 'test-model',
        prompt: ref.prompt,
        max_tokens: 1,
        temperature: 0,
        logprobs: 5,
      });
      const lp = r.choices[0]?.logprobs;
      // The reference was recorded with standard attention, the server runs flash attention on an f16
      // KV cache (the runtime's default): the logits differ by ~1e-3 of rounding, hence 2 decimals.
      const first = order[0] as readonly [number, number];
      expect(lp?.token_logprobs?.[0]).toBeCloseTo(first[0] - lse, 2);
      const top = Object.values(lp?.top_logprobs?.[0] ?? {});
      const want = order.slice(0, 5).map(([v]) => v - lse);
      expect(top).toHaveLength(5);
      for (let i = 0; i < 5; i++) expect(top[i]).toBeCloseTo(want[i] as number, 2);
    });
  });
});
