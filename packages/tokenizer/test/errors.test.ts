import { describe, expect, it } from 'vitest';
import { specFromGGUF, Tokenizer, TokenizerError } from '../src/index.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof TokenizerError) return e.code;
    throw e;
  }
  return undefined;
}

describe('typed errors', () => {
  it('missing or wrong metadata', () => {
    expect(code(() => Tokenizer.fromGGUF({ metadata: {} }))).toBe('TOKENIZER_MISSING_KEY');
    expect(code(() => Tokenizer.fromGGUF({ metadata: { 'tokenizer.ggml.model': 'llama' } }))).toBe(
      'TOKENIZER_MISSING_KEY',
    );
    expect(
      code(() =>
        Tokenizer.fromGGUF({ metadata: { 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': 'abc' } }),
      ),
    ).toBe('TOKENIZER_BAD_METADATA');
    expect(
      code(() =>
        Tokenizer.fromGGUF({
          metadata: {
            'tokenizer.ggml.model': 'llama',
            'tokenizer.ggml.tokens': ['a', 'b'],
            'tokenizer.ggml.scores': [0],
          },
        }),
      ),
    ).toBe('TOKENIZER_BAD_METADATA');
    expect(
      code(() =>
        Tokenizer.fromGGUF({ metadata: { 'tokenizer.ggml.model': 't5', 'tokenizer.ggml.tokens': ['a'] } }),
      ),
    ).toBe('TOKENIZER_UNSUPPORTED_MODEL');
    expect(
      code(() =>
        Tokenizer.fromGGUF({
          metadata: {
            'tokenizer.ggml.model': 'gpt2',
            'tokenizer.ggml.pre': 'nonsense',
            'tokenizer.ggml.tokens': ['a'],
            'tokenizer.ggml.merges': [],
          },
        }),
      ),
    ).toBe('TOKENIZER_UNSUPPORTED_PRE');
    expect(
      code(() =>
        Tokenizer.fromGGUF({ metadata: { 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'] } }),
      ),
    ).toBe('TOKENIZER_MISSING_KEY');
    const e = (() => {
      try {
        specFromGGUF({ 'tokenizer.ggml.model': 42 });
      } catch (err) {
        return err as TokenizerError;
      }
    })()!;
    expect(e.key).toBe('tokenizer.ggml.model');
    expect(e.message).toMatch(/tokenizer\.ggml\.model should be a string/);
  });
  it('Map metadata and bigint ids are accepted', () => {
    const tok = Tokenizer.fromGGUF({
      metadata: new Map<string, unknown>([
        ['tokenizer.ggml.model', 'llama'],
        ['tokenizer.ggml.tokens', ['<unk>', '<s>', '</s>', '▁a']],
        ['tokenizer.ggml.eos_token_id', 2n],
      ]) as never,
    });
    expect(tok.eosId).toBe(2);
    expect(tok.encode('a')).toEqual([1, 3]);
  });
  it('Hugging Face input errors', () => {
    expect(code(() => Tokenizer.fromHuggingFace('{not json'))).toBe('TOKENIZER_BAD_METADATA');
    expect(code(() => Tokenizer.fromHuggingFace({ model: { type: 'Unigram', vocab: {} } }))).toBe(
      'TOKENIZER_UNSUPPORTED_MODEL',
    );
    expect(code(() => Tokenizer.fromHuggingFace({ model: { type: 'BPE' } }))).toBe('TOKENIZER_MISSING_KEY');
  });
});
