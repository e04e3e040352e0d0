/**
 * Issue 12, "The host's event loop": generate() yields a macrotask after every token, so timers,
 * I/O and AbortSignal.timeout() run during a generation and an abort stops it within one token; the
 * yield helper works where setImmediate does not exist (browsers); finishReason is set when the
 * consumer breaks out of the loop; a bad contextShift.keep is reported as such. On both backends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, BACKENDS, writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AbortError, loadModel, type Model } from '../src/index.js';
import { yieldToEventLoop } from '../src/yield.js';
import { TINY } from './helpers/fixtures.js';

const backends = await availableBackends('event-loop');
const dir = mkdtempSync(join(tmpdir(), 'quant-event-loop-'));
const path = join(dir, 'tiny.gguf');
const prompt = [1, 300, 301, 302, 17, 99];
/** Greedy, no end-of-generation token: generation only ends by maxTokens, context or abort. */
const endless = { temperature: 0, replaceEog: true } as const;

beforeAll(async () => {
  // </s> never wins (silentEos) and the tokens do not matter: only how generation runs.
  await writeSyntheticLlama(path, { ...TINY, silentEos: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.unstubAllGlobals());

describe('yieldToEventLoop', () => {
  async function expectMacrotask(): Promise<void> {
    let done = false;
    const p = yieldToEventLoop().then(() => {
      done = true;
    });
    // A microtask-based yield would have resolved after these.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(done).toBe(false);
    await p;
    expect(done).toBe(true);
  }

  it('is a macrotask with setImmediate (Node)', async () => {
    await expectMacrotask();
    // An immediate queued first runs before the yield resolves (same queue, FIFO).
    const order: string[] = [];
    setImmediate(() => order.push('immediate'));
    await yieldToEventLoop();
    order.push('yield');
    expect(order).toEqual(['immediate', 'yield']);
  });

  it('uses a MessageChannel where setImmediate does not exist (browsers), else setTimeout', async () => {
    vi.stubGlobal('setImmediate', undefined);
    await expectMacrotask();
    // Many yields in a row are not clamped the way nested setTimeout(0) is in browsers.
    for (let i = 0; i < 100; i++) await yieldToEventLoop();
    vi.stubGlobal('MessageChannel', undefined);
    await expectMacrotask();
  });
});

for (const backend of BACKENDS) {
  describe.skipIf(!backends[backend])(`${backend} backend`, () => {
    let model: Model;
    beforeAll(async () => {
      // batchSize above the context: a context shift's re-evaluation is one forward pass (no yield between batches).
      model = await loadModel(path, { backend, threads: 1, contextSize: 64, batchSize: 512 });
    });
    afterAll(() => model?.dispose());

    it('a macrotask queued before the generation runs after its first token, not after the last', async () => {
      const g = model.generate(prompt, { ...endless, maxTokens: 200, contextShift: true });
      let seenAt = -1;
      setImmediate(() => {
        seenAt = g.tokens.length;
      });
      await g.text();
      expect(g.finishReason).toBe('length');
      expect(seenAt).toBeGreaterThanOrEqual(0);
      expect(seenAt).toBeLessThanOrEqual(1);
    });

    it('a 1 ms setInterval ticks while tokens are generated', async () => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const ticksAt: number[] = [];
      const g = model.generate(prompt, { ...endless, maxTokens: 400, contextShift: true });
      try {
        for await (const _ of g) ticksAt.push(ticks);
      } finally {
        clearInterval(timer);
      }
      expect(g.tokens.length).toBe(400);
      // The interval ran during the generation (before the last piece arrived), not only afterwards.
      expect(ticksAt[ticksAt.length - 1]).toBeGreaterThan(0);
    });

    it('an abort from a macrotask stops the generation within one token (finishReason "abort")', async () => {
      const ac = new AbortController();
      const g = model.generate(prompt, { ...endless, maxTokens: 500, contextShift: true, signal: ac.signal });
      let abortedAt = -1;
      setImmediate(() => {
        abortedAt = g.tokens.length;
        ac.abort();
      });
      await expect(g.text()).rejects.toBeInstanceOf(AbortError);
      expect(g.finishReason).toBe('abort');
      expect(abortedAt).toBeGreaterThanOrEqual(0);
      expect(g.tokens.length - abortedAt).toBeLessThanOrEqual(1);
    });

    it('AbortSignal.timeout() ends an endless contextShift generation', async () => {
      const started = performance.now();
      const g = model.generate(prompt, {
        ...endless,
        contextShift: true,
        // Bounded so the test ends even without the fix; far more than the timeout allows.
        maxTokens: 20_000,
        signal: AbortSignal.timeout(50),
      });
      const err = await g.text().catch((e) => e);
      expect(err).toBeInstanceOf(AbortError);
      expect(err.code).toBe('ABORTED');
      expect(g.finishReason).toBe('abort');
      expect(g.tokens.length).toBeLessThan(20_000);
      // Generous: the point is that the abort is seen at all, while generation is running.
      expect(performance.now() - started).toBeLessThan(5_000);
    });

    it('breaking out of the loop ends the generation with finishReason "abort"', async () => {
      const s = model.createSession();
      const g = model.generate(prompt, { ...endless, maxTokens: 50, session: s });
      let n = 0;
      for await (const _ of g) if (++n === 3) break;
      expect(g.finishReason).toBe('abort');
      expect(g.tokens.length).toBe(3);
      // The session is free again.
      await model.generate(prompt, { ...endless, maxTokens: 2, session: s }).text();
      s.dispose();
    });

    it('a bad contextShift.keep is an INVALID_OPTION about contextShift.keep, not truncate()', async () => {
      for (const keep of [-1, 1.5, Number.NaN, '2']) {
        expect(() =>
          model.generate(prompt, { ...endless, maxTokens: 100, contextShift: { keep: keep as number } }),
        ).toThrow(
          expect.objectContaining({
            code: 'INVALID_OPTION',
            message: expect.stringContaining('contextShift.keep'),
          }),
        );
      }
      const tooMany = model.generate(prompt, { ...endless, maxTokens: 100, contextShift: { keep: 63 } });
      await expect(tooMany.text()).rejects.toMatchObject({
        code: 'INVALID_OPTION',
        message: expect.stringMatching(/contextShift\.keep = 63 .*contextSize - 2 = 62/),
      });
      // keep within the context works: generation runs through several shifts.
      const ok = model.generate(prompt, { ...endless, maxTokens: 100, contextShift: { keep: 10 } });
      await ok.text();
      expect(ok.tokens.length).toBe(100);
    });
  });
}
