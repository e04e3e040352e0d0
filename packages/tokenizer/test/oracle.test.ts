// Live cross-check against llama.cpp (node-llama-cpp, vocab-only) on random text: encode with and
// without special parsing, BOS rules, decode with and without special tokens.
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasVocab, loadVocab, vocabPath } from './helpers.js';
import { randomText, rng } from './random-text.js';

const VOCABS = [
  'llama-spm',
  'phi-3',
  'baichuan',
  'gpt-2',
  'gpt-neox',
  'falcon',
  'mpt',
  'starcoder',
  'refact',
  'deepseek-coder',
  'deepseek-llm',
  'bert-bge',
];
const CASES = Number(process.env.TOKENIZER_ORACLE_CASES ?? 60);

describe.skipIf(!hasVocab)('cross-check with llama.cpp (node-llama-cpp)', () => {
  let llama: Llama;
  const models: LlamaModel[] = [];
  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  });
  afterAll(async () => {
    for (const m of models) await m.dispose();
  });

  for (const name of VOCABS) {
    it(name, async () => {
      const model = await llama.loadModel({ modelPath: vocabPath(name), vocabOnly: true });
      models.push(model);
      const tok = await loadVocab(name);
      const next = rng(0x5eed + name.length * 7919);
      const mismatches: string[] = [];
      const texts = ['', ' ', 'Hello world', ' Hello', '<s>Hi</s>', '\n\n', 'a\u0000b'];
      for (let i = 0; i < CASES; i++) texts.push(randomText(next, 1 + Math.floor(next() * 25)));
      for (const text of texts) {
        for (const special of [false, true]) {
          const want = Array.from(model.tokenize(text, special));
          const got = tok.encode(text, { addBos: false, parseSpecial: special });
          if (JSON.stringify(want) !== JSON.stringify(got)) {
            mismatches.push(`encode special=${special} ${JSON.stringify(text)}\n want ${want}\n got  ${got}`);
            continue;
          }
          for (const decodeSpecial of [false, true]) {
            const wantText = model.detokenize(want as never, decodeSpecial);
            const gotText = tok.decode(got, { skipSpecial: !decodeSpecial });
            if (wantText !== gotText) {
              mismatches.push(
                `decode special=${decodeSpecial} of ${JSON.stringify(text)}\n want ${JSON.stringify(wantText)}\n got  ${JSON.stringify(gotText)}`,
              );
            }
          }
        }
      }
      expect(mismatches.slice(0, 10), mismatches.slice(0, 10).join('\n')).toEqual([]);
      // BOS / EOS / EOG facts
      expect(tok.bosId).toBe(model.tokens.bos ?? null);
      expect(tok.eosId).toBe(model.tokens.eos ?? null);
      expect(tok.eotId).toBe(model.tokens.eot ?? null);
      expect(tok.addBos).toBe(model.tokens.shouldPrependBosToken);
      expect(tok.addEos).toBe(model.tokens.shouldAppendEosToken);
      for (const id of tok.eogIds) expect(model.isEogToken(id as never), `eog ${id}`).toBe(true);
      expect(tok.vocabSize).toBe(model.fileInfo.metadata.tokenizer.ggml.tokens.length);
    });
  }
});
