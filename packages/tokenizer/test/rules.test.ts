// BOS/EOS rules per family, special-token parsing with lstrip/rstrip, end-of-generation sets.
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../src/index.js';
import { hasVocab, loadVocab } from './helpers.js';

// Expected values: llama.cpp's vocab loader rules (src/llama-vocab.cpp) applied to each test vocab's
// metadata; the oracle test checks the same facts against node-llama-cpp.
describe.skipIf(!hasVocab)('BOS / EOS rules on llama.cpp test vocabs', () => {
  const cases: [string, boolean, number | null, number | null][] = [
    // name, adds BOS by default, bos, eos
    ['llama-spm', true, 1, 2], // SPM: add_bos_token = true
    ['phi-3', true, 1, 32000],
    ['baichuan', true, 1, 2], // SPM family default (no add_bos_token key)
    ['gpt-2', false, 50256, 50256], // BPE family default: no BOS
    ['falcon', false, 11, 11],
    ['deepseek-llm', true, 100000, 100001], // add_bos_token = true in metadata
    ['bert-bge', true, 101, null], // WordPiece: [CLS] … [SEP]
  ];
  for (const [name, addBos, bos, eos] of cases) {
    it(name, async () => {
      const tok = await loadVocab(name);
      expect(tok.addBos).toBe(addBos);
      expect(tok.bosId).toBe(bos);
      expect(tok.eosId).toBe(eos);
      const ids = tok.encode('Hello world');
      const plain = tok.encode('Hello world', { addBos: false });
      if (addBos) expect(ids[0]).toBe(bos);
      if (name === 'bert-bge') expect(ids).toEqual([101, ...plain, 102]);
      else expect(ids).toEqual(addBos ? [bos, ...plain] : plain);
      // forcing BOS on a family that does not add it
      if (!addBos && bos !== null)
        expect(tok.encode('Hello world', { addBos: true })).toEqual([bos, ...plain]);
    });
  }

  it('never adds a second BOS when the text starts with one', async () => {
    const tok = await loadVocab('llama-spm');
    const ids = tok.encode('<s>Hello', { parseSpecial: true });
    expect(ids.filter((t) => t === 1)).toHaveLength(1);
    expect(ids[0]).toBe(1);
    // without parseSpecial "<s>" is plain text
    expect(tok.encode('<s>Hello').slice(0, 2)).not.toEqual([1, 1]);
  });

  it('phi-3: control tokens only with parseSpecial; rstrip eats the newline after <|user|>', async () => {
    const tok = await loadVocab('phi-3');
    const user = tok.tokenId('<|user|>')!;
    const end = tok.tokenId('<|end|>')!;
    const parsed = tok.encode('<|user|>\nHi<|end|>\n', { addBos: false, parseSpecial: true });
    // Phi-3's rule (general.name contains "phi3"): special tokens strip whitespace on their right
    expect(parsed[0]).toBe(user);
    expect(parsed).toContain(end);
    expect(parsed.at(-1)).toBe(end);
    // the text after a special token gets SPM's space prefix again ("▁Hi"), so it decodes with a space
    expect(tok.decode(parsed)).toBe('<|user|> Hi<|end|>');
    const plain = tok.encode('<|user|>', { addBos: false });
    expect(plain).not.toContain(user);
    expect(tok.decode(plain)).toBe('<|user|>');
  });

  it('end-of-generation sets', async () => {
    const phi3 = await loadVocab('phi-3');
    expect([...phi3.eogIds].sort((a, b) => a - b)).toEqual([2, 32000, 32007]); // </s>, <|endoftext|>, <|end|>
    expect(phi3.isEog(32007)).toBe(true);
    expect(phi3.isEog(32001)).toBe(false);
    const gpt2 = await loadVocab('gpt-2');
    expect([...gpt2.eogIds]).toEqual([50256]);
    const starcoder = await loadVocab('starcoder');
    // <|endoftext|> plus FIM pad / repo / file-separator tokens detected by text
    expect(starcoder.isEog(0)).toBe(true);
    expect(starcoder.isEog(starcoder.tokenId('<fim_pad>')!)).toBe(true);
  });
});

describe('user-defined tokens are matched even without parseSpecial', () => {
  it('synthetic vocab', () => {
    const tok = new Tokenizer({
      model: 'gpt2',
      pre: 'gpt-2',
      tokens: ['a', 'b', 'Ġ', '<ctl>', '<usr>'],
      tokenTypes: [1, 1, 1, 3, 4],
      merges: [],
    });
    expect(tok.encode('a<usr>b')).toEqual([0, 4, 1]);
    expect(tok.encode('<ctl>')).not.toContain(3);
    expect(tok.encode('<ctl>', { parseSpecial: true })).toEqual([3]);
  });
});
