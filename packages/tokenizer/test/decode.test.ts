// Decoding: round trips (property tests), the streaming decoder, special-token rendering.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../src/index.js';
import { hasVocab, loadVocab } from './helpers.js';

/** Lone surrogates → U+FFFD (String.prototype.toWellFormed, which the ES2022 lib typings lack). */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const WELL_FORMED = fc.string({ unit: 'grapheme', maxLength: 40 });
const ANY_UNICODE = fc.string({ unit: 'binary', maxLength: 40 }).map(wellFormed);

/** A small byte-level BPE vocab (all 256 byte chars, a few merges) with clean_spaces off. */
function tinyBpe(): Tokenizer {
  const chars: string[] = [];
  let k = 0;
  for (let b = 0; b < 256; b++) {
    const direct = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCharCode(direct ? b : 256 + k++));
  }
  return new Tokenizer({
    model: 'gpt2',
    pre: 'qwen2',
    tokens: [...chars, 'Ġt', 'he', 'Ġthe', '<|end|>'],
    tokenTypes: [...chars.map(() => 1), 1, 1, 1, 3],
    merges: ['Ġ t', 'h e', 'Ġt he'],
  });
}

/** A small SPM vocab with byte fallback. */
function tinySpm(): Tokenizer {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  for (const t of ['▁', 'a', 'b', '▁a', 'ab', '▁ab']) {
    tokens.push(t);
    types.push(1);
  }
  return new Tokenizer({ model: 'llama', tokens, tokenTypes: types, scores: tokens.map((_, i) => -i) });
}

describe('round trip decode(encode(s)) === s', () => {
  it('byte-level BPE (synthetic, clean_spaces off): any well-formed string', () => {
    const tok = tinyBpe();
    fc.assert(
      fc.property(ANY_UNICODE, (s) => tok.decode(tok.encode(s, { addBos: false })) === s),
      { numRuns: 300 },
    );
  });
  it('SPM with byte fallback (synthetic): any string without U+2581', () => {
    const tok = tinySpm();
    fc.assert(
      fc.property(ANY_UNICODE, (s) => s.includes('▁') || tok.decode(tok.encode(s, { addBos: false })) === s),
      { numRuns: 300 },
    );
  });
  it.skipIf(!hasVocab)('deepseek-llm (byte-level, no clean-up): any well-formed string', async () => {
    const tok = await loadVocab('deepseek-llm');
    fc.assert(
      fc.property(ANY_UNICODE, (s) => tok.decode(tok.encode(s, { addBos: false })) === s),
      { numRuns: 300 },
    );
  });
  it.skipIf(!hasVocab)('phi-3 / llama-spm: strings without U+2581', async () => {
    for (const name of ['phi-3', 'llama-spm']) {
      const tok = await loadVocab(name);
      fc.assert(
        fc.property(
          WELL_FORMED,
          (s) => s.includes('▁') || tok.decode(tok.encode(s, { addBos: false })) === s,
        ),
        { numRuns: 200 },
      );
    }
  });
  it.skipIf(!hasVocab)('gpt-2 (clean_spaces on): strings without " ?", " !", " .", " ,", " \'"', async () => {
    const tok = await loadVocab('gpt-2');
    fc.assert(
      fc.property(
        WELL_FORMED,
        (s) => / [?!.,']/.test(s) || tok.decode(tok.encode(s, { addBos: false })) === s,
      ),
      { numRuns: 300 },
    );
    // and the clean-up llama.cpp applies: " ." loses its space
    expect(tok.decode(tok.encode('Hello .'))).toBe('Hello.');
  });
  it.skipIf(!hasVocab)(
    'with BOS: skipSpecial drops it; SPM keeps the prefix space after a removed BOS',
    async () => {
      const tok = await loadVocab('llama-spm');
      const ids = tok.encode('Hello');
      expect(ids[0]).toBe(1);
      expect(tok.decode(ids)).toBe('<s> Hello');
      expect(tok.decode(ids, { skipSpecial: true })).toBe(' Hello');
      expect(tok.decode(ids, { skipSpecial: true, removeBosEos: true })).toBe(' Hello');
      expect(tok.decode(ids.slice(1))).toBe('Hello');
    },
  );
});

describe('streaming decoder', () => {
  const check = (tok: Tokenizer, text: string): void => {
    const ids = tok.encode(text, { addBos: false });
    const dec = tok.createDecoder({ stripLeadingSpace: true });
    let out = '';
    for (const id of ids) {
      const piece = dec.push(id);
      // never half a character: every emitted chunk is well-formed and has no replacement char
      expect(piece).toBe(wellFormed(piece));
      if (!text.includes('\ufffd')) expect(piece).not.toContain('\ufffd');
      out += piece;
    }
    out += dec.flush();
    expect(out).toBe(tok.decode(ids));
  };
  it('byte-fallback SPM splits emoji into byte tokens and the decoder reassembles them', () => {
    const tok = tinySpm();
    const ids = tok.encode('🦙', { addBos: false });
    expect(ids.length).toBe(5); // ▁ + 4 byte tokens
    const dec = tok.createDecoder();
    expect(ids.map((id) => dec.push(id))).toEqual([' ', '', '', '', '🦙']);
    const stripped = tok.createDecoder({ stripLeadingSpace: true });
    expect(ids.map((id) => stripped.push(id)).join('')).toBe('🦙');
    expect(dec.flush()).toBe('');
    fc.assert(
      fc.property(ANY_UNICODE, (s) => {
        check(tok, s);
      }),
      { numRuns: 100 },
    );
  });
  it('byte-level BPE', () => {
    const tok = tinyBpe();
    fc.assert(
      fc.property(ANY_UNICODE, (s) => {
        check(tok, s);
      }),
      { numRuns: 100 },
    );
  });
  it('flush() turns a dangling partial character into U+FFFD; invalid bytes come out at once', () => {
    const tok = tinySpm();
    const byte = (b: number) => tok.tokenId(`<0x${b.toString(16).toUpperCase()}>`)!;
    const dec = tok.createDecoder();
    expect(dec.push(byte(0xf0))).toBe('');
    expect(dec.push(byte(0x9f))).toBe('');
    expect(dec.flush()).toBe('\ufffd');
    expect(dec.push(byte(0xff))).toBe('\ufffd');
    expect(dec.push(byte(0xe2))).toBe('');
    expect(dec.push(tok.tokenId('a')!)).toBe('\ufffda');
  });
  it('skipSpecial hides control tokens', () => {
    const tok = tinyBpe();
    const end = tok.tokenId('<|end|>')!;
    expect(tok.createDecoder().push(end)).toBe('<|end|>');
    expect(tok.createDecoder({ skipSpecial: true }).push(end)).toBe('');
    expect(tok.decode([end], { skipSpecial: true })).toBe('');
  });
  it.skipIf(!hasVocab)('real vocabs', async () => {
    for (const name of ['phi-3', 'gpt-2', 'deepseek-llm']) {
      const tok = await loadVocab(name);
      fc.assert(
        fc.property(ANY_UNICODE, (s) => {
          check(tok, s);
        }),
        { numRuns: 100 },
      );
    }
  });
});
