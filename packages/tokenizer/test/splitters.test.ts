// The hand-written gpt2 / llama3 / qwen2 splitters must cut text exactly like their regexes.
import { describe, expect, it } from 'vitest';
import { preSplit, preTokenizerFor, supportedPreTokenizers } from '../src/pretokenizers.js';
import { randomText, rng } from './random-text.js';

describe('fast splitters = regex splitters', () => {
  for (const pre of ['gpt-2', 'llama-bpe', 'qwen2', 'starcoder', 'falcon', 'default']) {
    it(pre, () => {
      const p = preTokenizerFor(pre)!;
      expect(p.fast.some((f) => f !== null)).toBe(true);
      const next = rng(99 + pre.length);
      const texts = ["'s 'S 'Re x'll '", '  \n\n a\t\tb \r\n 1234567 ١٢٣ \u3000x\u0085y', ' \ud800 \udc00x '];
      for (let i = 0; i < 1500; i++) texts.push(randomText(next, 1 + Math.floor(next() * 30)));
      for (const t of texts) {
        expect(preSplit(t, p.regexes, p.substituteWs, p.fast), JSON.stringify(t)).toEqual(
          preSplit(t, p.regexes, p.substituteWs),
        );
      }
    });
  }
});

describe('every supported pre-tokenizer', () => {
  it('includes the families the issue lists', () => {
    const names = supportedPreTokenizers();
    for (const n of [
      'llama3',
      'llama-bpe',
      'gpt-2',
      'qwen2',
      'falcon',
      'mpt',
      'starcoder',
      'refact',
      'deepseek-llm',
      'deepseek-coder',
      'command-r',
    ]) {
      expect(names).toContain(n);
    }
  });
  it('compiles and splits losslessly (the pieces concatenate back to the text)', () => {
    const next = rng(5);
    const texts: string[] = [];
    for (let i = 0; i < 200; i++) texts.push(randomText(next, 1 + Math.floor(next() * 20)));
    for (const name of supportedPreTokenizers()) {
      const p = preTokenizerFor(name)!;
      for (const t of texts) {
        const pieces = preSplit(t, p.regexes, p.substituteWs, p.fast);
        expect(pieces.join(''), `${name}: ${JSON.stringify(t)}`).toBe(t);
        expect(pieces.every((x) => x.length > 0)).toBe(true);
      }
    }
  });
});
