/**
 * Issue 12, "Untrusted input accepted silently": token ids are checked before any conversion,
 * prompts/options/chat messages of the wrong type are typed errors (never a plain TypeError, never
 * silently converted or dropped). On both backends where a forward pass is involved.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, BACKENDS, writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model, QuantRuntimeError } from '../src/index.js';
import { TINY } from './helpers/fixtures.js';

const backends = await availableBackends('untrusted-input');
const dir = mkdtempSync(join(tmpdir(), 'quant-untrusted-'));
const path = join(dir, 'tiny.gguf');
beforeAll(() => writeSyntheticLlama(path, TINY));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Calls `f` and returns what it threw (synchronously or as a rejection). */
async function thrown(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectCode(e: unknown, code: string, message?: RegExp): void {
  expect(e, `expected ${code}`).toBeInstanceOf(QuantRuntimeError);
  expect((e as QuantRuntimeError).code).toBe(code);
  if (message) expect((e as Error).message).toMatch(message);
}

for (const backend of BACKENDS) {
  describe.skipIf(!backends[backend])(`${backend} backend`, () => {
    let model: Model;
    beforeAll(async () => {
      model = await loadModel(path, { backend, threads: 1, contextSize: 64 });
    });
    afterAll(() => model?.dispose());

    it('evaluate() rejects every id that is not an integer in [0, nVocab), naming its index, and evaluates nothing', async () => {
      const s = model.createSession();
      const nVocab = model.hparams.nVocab;
      // Each of these used to become another token (0, 1 or 5) through Int32Array conversion.
      const bad: unknown[] = [
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        null,
        undefined,
        'x',
        '5',
        1.7,
        2 ** 32 + 5,
        -1,
        nVocab,
        1n,
        {},
        [3],
        true,
      ];
      for (const v of bad) {
        const e = await thrown(() => s.evaluate([1, 2, v as number]));
        expectCode(e, 'INVALID_TOKEN', /token 2 is .*integers in \[0, \d+\)/);
        expect(s.position).toBe(0);
      }
      // What a token list is not.
      for (const v of [null, undefined, 5, 'abc', { length: 2 }, new DataView(new ArrayBuffer(4))]) {
        expectCode(await thrown(() => s.evaluate(v as never)), 'INVALID_PROMPT', /array of token ids/);
      }
      // Typed arrays and plain arrays of valid ids still work.
      await s.evaluate(Int32Array.of(1, 2));
      await s.evaluate([3]);
      expect(s.tokens).toEqual([1, 2, 3]);
      s.dispose();
    });

    it('generate() checks a token prompt and eogTokens the same way, at the call', async () => {
      expectCode(
        await thrown(() => model.generate([1, Number.NaN, 3])),
        'INVALID_TOKEN',
        /token 1 is the number NaN/,
      );
      expectCode(await thrown(() => model.generate([1, 2 ** 32 + 5])), 'INVALID_TOKEN', /token 1/);
      expectCode(
        await thrown(() => model.generate([1, 2], { eogTokens: [1.5] })),
        'INVALID_TOKEN',
        /eogTokens/,
      );
    });
  });
}

describe('prompts and options of the wrong type are typed errors', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(path, {
      backend: backends.native ? 'native' : 'wasm',
      threads: 1,
      contextSize: 64,
    });
  });
  afterAll(() => model?.dispose());

  it('generate(prompt) needs a string or a token array: INVALID_PROMPT', async () => {
    for (const p of [null, undefined, 5, {}, { length: 1, 0: 1 }, true]) {
      expectCode(
        await thrown(() => model.generate(p as never)),
        'INVALID_PROMPT',
        /prompt string or an array/,
      );
    }
  });

  it('stop, signal, flags, options object, seed: INVALID_OPTION naming the option', async () => {
    const cases: [unknown, RegExp][] = [
      [{ stop: [null] }, /stop\[0\] = null/],
      [{ stop: ['a', 5] }, /stop\[1\] = 5/],
      [{ stop: 5 }, /Option stop = 5/],
      [{ stop: 'x' }, /Option stop = "x"/],
      [{ signal: {} }, /Option signal/],
      [{ signal: 'abort' }, /Option signal/],
      [{ addBos: 1 }, /Option addBos/],
      [{ parseSpecial: 'yes' }, /Option parseSpecial/],
      [{ replaceEog: 0 }, /Option replaceEog/],
      [{ eogTokens: 7 }, /Option eogTokens/],
      [{ contextShift: 'yes' }, /Option contextShift/],
      [{ contextSize: 0 }, /Option contextSize/],
      [{ maxTokens: Number.NaN }, /Option maxTokens = NaN/],
      [{ seed: 1n }, /Option seed = 1n/],
      [{ temperature: '0' }, /Option temperature/],
      [null, /Option options/],
      [[], /Option options/],
    ];
    for (const [options, message] of cases) {
      const e = await thrown(() => model.generate('Once', options as never));
      expectCode(e, 'INVALID_OPTION', message);
    }
  });

  it('chat messages: a missing or unknown role, non-string content or a non-object is INVALID_PROMPT with the index', async () => {
    const ok = { role: 'user', content: 'hi' };
    const cases: [unknown, RegExp][] = [
      [[ok, { content: 'no role' }], /message 1 has role undefined/],
      [[ok, ok, { role: 'admin', content: 'x' }], /message 2 has role the string "admin"/],
      [[{ role: 'User', content: 'x' }], /message 0 has role/],
      [[{ role: 'user', content: 5 }], /message 0 \(user\) has content the number 5/],
      [[{ role: 'user' }], /message 0 \(user\) has content undefined/],
      [[{ role: 'user', content: null }], /message 0 \(user\) has content null/],
      [[ok, null], /message 1 is null/],
      [[ok, 'hello'], /message 1 is the string "hello"/],
      [null, /must be an array/],
      [{ role: 'user', content: 'x' }, /must be an array/],
    ];
    for (const [messages, message] of cases) {
      expectCode(await thrown(() => model.chat(messages as never)), 'INVALID_PROMPT', message);
      expectCode(await thrown(() => model.renderChat(messages as never)), 'INVALID_PROMPT', message);
    }
    // Every known role is accepted.
    const all = ['system', 'user', 'assistant', 'tool', 'ipython'].map((role) => ({ role, content: role }));
    expect(model.renderChat(all, { chatTemplate: '{% for m in messages %}{{ m.role }};{% endfor %}' })).toBe(
      'system;user;assistant;tool;ipython;',
    );
  });
});
