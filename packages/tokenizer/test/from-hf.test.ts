// tokenizer.json → the same tokenizer as the equivalent GGUF metadata.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../src/index.js';
import { llama3TokenizerJsonPath } from './helpers.js';
import { randomText, rng } from './random-text.js';

describe('fromHuggingFace', () => {
  it('Llama 3 tokenizer.json: llama-bpe pre-tokenizer, BOS/EOS, specials', () => {
    const tok = Tokenizer.fromHuggingFace(readFileSync(llama3TokenizerJsonPath, 'utf8'));
    expect(tok.type).toBe('bpe');
    expect(tok.vocab.pre).toBe('llama-bpe');
    expect(tok.vocabSize).toBe(128256);
    expect(tok.bosId).toBe(128000);
    expect(tok.eosId).toBe(128001);
    expect(tok.addBos).toBe(true);
    expect(tok.isEog(tok.tokenId('<|eot_id|>')!)).toBe(true);
    expect(tok.eotId).toBe(tok.tokenId('<|eot_id|>'));
    const ids = tok.encode('<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>', {
      parseSpecial: true,
    });
    expect(ids[0]).toBe(128000);
    expect(ids[1]).toBe(tok.tokenId('<|start_header_id|>'));
    expect(ids.at(-1)).toBe(tok.tokenId('<|eot_id|>'));
    expect(tok.decode(ids)).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>',
    );
  });

  it('a synthetic BPE tokenizer.json matches the same vocab given as GGUF metadata', () => {
    const chars: string[] = [];
    let k = 0;
    for (let b = 0; b < 256; b++) {
      const direct = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
      chars.push(String.fromCharCode(direct ? b : 256 + k++));
    }
    const extra = ['Ġt', 'he', 'Ġthe', 'in', 'Ġin'];
    const merges = ['Ġ t', 'h e', 'Ġt he', 'i n', 'Ġ in'];
    const vocab: Record<string, number> = {};
    [...chars, ...extra].forEach((t, i) => {
      vocab[t] = i;
    });
    const n = chars.length + extra.length;
    const json = {
      model: { type: 'BPE', vocab, merges: merges.map((m) => m.split(' ')) },
      added_tokens: [
        { id: n, content: '<|endoftext|>', special: true },
        { id: n + 1, content: '<tool>', special: false },
      ],
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
    };
    const hf = Tokenizer.fromHuggingFace(json);
    const gguf = Tokenizer.fromGGUF({
      metadata: {
        'tokenizer.ggml.model': 'gpt2',
        'tokenizer.ggml.pre': 'gpt-2',
        'tokenizer.ggml.tokens': [...chars, ...extra, '<|endoftext|>', '<tool>'],
        'tokenizer.ggml.token_type': [...chars.map(() => 1), ...extra.map(() => 1), 3, 4],
        'tokenizer.ggml.merges': merges,
        'tokenizer.ggml.bos_token_id': n,
        'tokenizer.ggml.eos_token_id': n,
      },
    });
    expect(hf.eosId).toBe(n);
    const next = rng(7);
    for (let i = 0; i < 200; i++) {
      const s = randomText(next, 10) + ' the in<tool><|endoftext|>';
      for (const parseSpecial of [false, true]) {
        expect(hf.encode(s, { parseSpecial })).toEqual(gguf.encode(s, { parseSpecial }));
      }
    }
  });

  it('WordPiece tokenizer.json uses the GGUF layout ("▁word", bare "##" suffixes)', () => {
    const json = {
      model: {
        type: 'WordPiece',
        vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4, hello: 5, '##lo': 6, hel: 7 },
      },
      normalizer: { type: 'BertNormalizer', lowercase: true },
    };
    const tok = Tokenizer.fromHuggingFace(json);
    expect(tok.tokenText(5)).toBe('▁hello');
    expect(tok.tokenText(6)).toBe('lo');
    expect(tok.encode('Hello HELLO hellolo helo x')).toEqual([2, 5, 5, 5, 6, 1, 1, 3]); // "helo" → ▁hel + o? no "o" → [UNK]
  });
});
