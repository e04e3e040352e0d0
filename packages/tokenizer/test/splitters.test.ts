// The hand-written gpt2 / llama3 / qwen2 splitters must cut text exactly like their regexes.
import { describe, expect, it } from 'vitest';
import { preSplit, preTokenizerFor } from '../src/pretokenizers.js';
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
        expect(preSplit(t, p.regexes, p.substituteWs, p.fast), JSON.stringify(t)).toEqual(preSplit(t, p.regexes, p.substituteWs));
      }
    });
  }
});
