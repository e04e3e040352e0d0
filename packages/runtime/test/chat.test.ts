import type { Kernels } from '@quant/kernels';
import { behaviourKernels } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';
import { Fixtures, TINY } from './helpers/fixtures.js';

let kernels: Kernels;
let fx: Fixtures;
let plain: Model;
let templated: Model;
const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";

beforeAll(async () => {
  kernels = await behaviourKernels('chat');
  fx = new Fixtures(kernels);
  plain = await loadModel(await fx.model('plain', TINY), { kernels, contextSize: 128 });
  templated = await loadModel(await fx.model('templated', { ...TINY, chatTemplate: TEMPLATE }), {
    kernels,
    contextSize: 128,
  });
});
afterAll(() => {
  plain?.dispose();
  templated?.dispose();
  kernels?.dispose();
  fx?.cleanup();
});

const messages = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'the cat' },
];

describe('chat', () => {
  it("renders the GGUF's tokenizer.chat_template", () => {
    expect(templated.renderChat(messages)).toBe('<s><system>Be brief.<user>the cat<assistant>');
  });

  it('falls back to the Llama 2 format for a Llama vocabulary without a template', () => {
    expect(plain.renderChat(messages)).toBe('<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nthe cat [/INST]');
  });

  it('accepts a built-in name or Jinja source as chatTemplate', () => {
    expect(plain.renderChat(messages, { chatTemplate: 'phi3' })).toBe(
      '<|system|>\nBe brief.<|end|>\n<|user|>\nthe cat<|end|>\n<|assistant|>\n',
    );
    expect(
      plain.renderChat([{ role: 'user', content: 'x' }], { chatTemplate: '{{ messages[0].content }}!' }),
    ).toBe('x!');
  });

  it("refuses another model's session", () => {
    const s = templated.createSession();
    expect(() => plain.generate([1, 2], { session: s })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    s.dispose();
  });

  it('tokenizes the rendered prompt with one BOS and special tokens parsed, then generates', async () => {
    const s = plain.createSession();
    const g = plain.chat(messages, { session: s, temperature: 0, maxTokens: 4, replaceEog: true });
    await g.text();
    expect(s.tokens[0]).toBe(1);
    expect(s.tokens[1]).not.toBe(1);
    const expectedPrompt = plain.tokenize(plain.renderChat(messages), { addBos: false, parseSpecial: true });
    expect(s.tokens.slice(0, expectedPrompt.length)).toEqual(expectedPrompt);
    expect(g.tokens.length).toBe(4);
    s.dispose();
  });
});
