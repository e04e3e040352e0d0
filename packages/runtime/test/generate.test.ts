import type { Kernels } from '@quant/kernels';
import { behaviourKernels } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenizerStreamer } from '../src/generate/tokenizer-streamer.js';
import { AbortError, ContextFullError, loadModel, type Model } from '../src/index.js';
import { Fixtures, TINY } from './helpers/fixtures.js';

let kernels: Kernels;
let fx: Fixtures;
let model: Model;
const prompt = [1, 300, 301, 302, 17, 99];

beforeAll(async () => {
  kernels = await behaviourKernels('generate');
  fx = new Fixtures(kernels);
  model = await loadModel(await fx.model('tiny', TINY), { kernels, contextSize: 128, batchSize: 8 });
});
afterAll(() => {
  model?.dispose();
  kernels?.dispose();
  fx?.cleanup();
});

/** Greedy tokens computed step by step through Session.evaluate (the reference for generate). */
async function greedyByHand(tokens: number[], n: number): Promise<number[]> {
  const s = model.createSession();
  let logits = await s.evaluate(tokens);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if ((logits[j] as number) > (logits[best] as number)) best = j;
    out.push(best);
    logits = await s.evaluate([best]);
  }
  s.dispose();
  return out;
}

describe('generate', () => {
  it('greedy (temperature 0) follows the argmax and stops at maxTokens', async () => {
    const g = model.generate(prompt, { temperature: 0, maxTokens: 12, replaceEog: true });
    const text = await g.text();
    expect(g.tokens).toEqual(await greedyByHand(prompt, 12));
    expect(g.finishReason).toBe('length');
    // The text is the tokens' pieces (llama.cpp token_to_piece: no leading space dropped), as UTF-8.
    const bytes = g.tokens.flatMap((t) => [...model.tokenizer.tokenToBytes(t, false)]);
    expect(text).toBe(new TextDecoder().decode(Uint8Array.from(bytes)));
  });

  it('the same seed gives the same text; other seeds differ', async () => {
    const run = async (seed: number) => {
      const g = model.generate(prompt, {
        temperature: 1.5,
        topK: 0,
        topP: 1,
        minP: 0,
        seed,
        maxTokens: 16,
        replaceEog: true,
      });
      await g.text();
      return g.tokens;
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    const others = await Promise.all([8, 9, 10].map(run));
    expect(others.some((o) => o.join() !== a.join())).toBe(true);
  });

  it('ends before a stop string, never emitting it', async () => {
    const full = await model.generate(prompt, { temperature: 0, maxTokens: 20, replaceEog: true }).text();
    expect(full.length).toBeGreaterThan(6);
    const stop = full.slice(3, 6);
    const g = model.generate(prompt, { temperature: 0, maxTokens: 20, replaceEog: true, stop: [stop] });
    const text = await g.text();
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
    expect(g.finishReason).toBe('stop');
  });

  it('ends at an end-of-generation token without emitting it', async () => {
    const [first] = await greedyByHand(prompt, 1);
    const g = model.generate(prompt, { temperature: 0, maxTokens: 5, eogTokens: [first as number] });
    expect(await g.text()).toBe('');
    expect(g.tokens).toEqual([]);
    expect(g.finishReason).toBe('eog');
  });

  it('stops with AbortError when the signal aborts', async () => {
    const ac = new AbortController();
    const g = model.generate(prompt, { temperature: 0, replaceEog: true, signal: ac.signal, maxTokens: 50 });
    let n = 0;
    const err = await (async () => {
      for await (const _ of g) {
        n++;
        if (n === 2) ac.abort();
      }
    })().catch((e) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err.code).toBe('ABORTED');
    expect(g.finishReason).toBe('abort');
    expect(g.tokens.length).toBeLessThan(50);
  });

  it('a full context is ContextFullError by default; contextShift keeps going', async () => {
    const g = model.generate(prompt, { temperature: 0, replaceEog: true, maxTokens: 40, contextSize: 16 });
    await expect(g.text()).rejects.toBeInstanceOf(ContextFullError);
    const shifted = model.generate(prompt, {
      temperature: 0,
      replaceEog: true,
      maxTokens: 40,
      contextSize: 16,
      contextShift: true,
    });
    await shifted.text();
    expect(shifted.tokens.length).toBe(40);
    expect(shifted.finishReason).toBe('length');
  });

  it('a prompt longer than the context: ContextFullError, or with contextShift BOS + the newest half', async () => {
    const long = [1, ...Array.from({ length: 19 }, (_, i) => 300 + (i % 20))];
    await expect(
      model.generate(long, { temperature: 0, maxTokens: 2, contextSize: 16 }).text(),
    ).rejects.toMatchObject({
      code: 'CONTEXT_FULL',
    });
    const s = model.createSession({ contextSize: 16 });
    const g = model.generate(long, {
      temperature: 0,
      maxTokens: 1,
      replaceEog: true,
      contextShift: true,
      session: s,
    });
    await g.text();
    expect(s.tokens).toEqual([1, ...long.slice(-7)]);
    expect(g.tokens).toEqual(await greedyByHand([1, ...long.slice(-7)], 1));
    s.dispose();
  });

  it('context shift keeps BOS and a contiguous tail of the newest tokens', async () => {
    const s = model.createSession({ contextSize: 16 });
    const g = model.generate(prompt, {
      temperature: 0,
      replaceEog: true,
      maxTokens: 12,
      session: s,
      contextShift: true,
    });
    await g.text();
    // After the shift the session holds BOS then a contiguous tail of prompt+generated tokens
    // (the last generated token is sampled but not evaluated).
    const all = [...prompt, ...g.tokens.slice(0, -1)];
    expect(s.tokens.length).toBeLessThan(all.length);
    expect(s.tokens[0]).toBe(1);
    const tail = s.tokens.slice(1);
    expect(all.join(',').endsWith(tail.join(','))).toBe(true);
    s.dispose();
  });

  it('reuses a session’s matching prefix', async () => {
    const s = model.createSession();
    await model.generate(prompt, { temperature: 0, maxTokens: 3, replaceEog: true, session: s }).text();
    const before = [...s.tokens];
    const g2 = model.generate([...before, 42], {
      temperature: 0,
      maxTokens: 3,
      replaceEog: true,
      session: s,
    });
    await g2.text();
    const expected = await greedyByHand([...before, 42], 3);
    expect(g2.tokens).toEqual(expected);
    expect(s.isDisposed).toBe(false);
    s.dispose();
  });

  it('streams whole UTF-8 characters: a character split over byte tokens comes out once complete', () => {
    // Byte-fallback tokens <0xC3> <0xA9> are "é"; <0xF0><0x9F><0x98><0x80> is "😀"; then the piece "▁the".
    const byte = (b: number) =>
      model.tokenizer.tokenId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) as number;
    const st = tokenizerStreamer(model.tokenizer, []);
    const out = [0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80].map((b) => st.push(byte(b)));
    expect(out).toEqual(['', 'é', '', '', '', '😀']);
    expect(st.push(model.tokenizer.tokenId('▁the') as number)).toBe(' the');
    expect(st.push(1)).toBe(''); // control tokens (BOS) render as nothing
    expect(st.push(byte(0xe2))).toBe('');
    expect(st.flush()).toBe('\uFFFD');
  });

  it('refuses a second concurrent generation on the same session', async () => {
    const s = model.createSession();
    const a = model
      .generate(prompt, { temperature: 0, maxTokens: 5, replaceEog: true, session: s })
      [Symbol.asyncIterator]();
    await a.next();
    const b = model.generate(prompt, { temperature: 0, maxTokens: 5, replaceEog: true, session: s });
    await expect(b.text()).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await a.return?.(undefined);
    await model.generate(prompt, { temperature: 0, maxTokens: 2, replaceEog: true, session: s }).text();
    s.dispose();
  });

  it('string prompts are tokenized with BOS and special text left as text by default', () => {
    const ids = model.tokenize('the cat');
    expect(ids[0]).toBe(1);
    expect(model.tokenize('<s>', { addBos: false }).includes(1)).toBe(false);
    expect(model.tokenize('<s>', { addBos: false, parseSpecial: true })).toEqual([1]);
  });

  it('a stream iterates once', async () => {
    const g = model.generate(prompt, { temperature: 0, maxTokens: 1, replaceEog: true });
    await g.text();
    expect(() => g[Symbol.asyncIterator]()).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
  });

  it('invalid generation options are INVALID_OPTION', () => {
    expect(() => model.generate(prompt, { maxTokens: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    expect(() => model.generate(prompt, { topP: 2 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});
