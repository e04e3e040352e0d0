// Bad input: invalid UTF-8, lone surrogates, empty strings, NUL bytes, 10 MB strings, wrong types.
// Documented results (README "Bad input"): no crash, no hang; the expectations below come from
// llama.cpp (node-llama-cpp) where it can take the input, and from llama.cpp's algorithm otherwise.
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer, TokenizerError } from '../src/index.js';
import { hasVocab, loadVocab, vocabPath } from './helpers.js';

function tinySpm(): Tokenizer {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  tokens.push('▁', 'a', '▁a', '\ufffd', 'aa', 'aaaa', 'aaaaaaaa');
  types.push(1, 1, 1, 1, 1, 1, 1);
  return new Tokenizer({ model: 'llama', tokens, tokenTypes: types, scores: tokens.map((t) => t.length) });
}
const byteId = (b: number): number => 3 + b;

function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('bad input (synthetic vocab)', () => {
  const tok = tinySpm();
  const SP = tok.tokenId('▁')!;
  it('empty string: [] without BOS, [BOS] with it', () => {
    expect(tok.encode('', { addBos: false })).toEqual([]);
    expect(tok.encode('')).toEqual([1]);
    expect(tok.encode(new Uint8Array(0), { addBos: false })).toEqual([]);
    expect(tok.decode([])).toBe('');
  });
  it('invalid UTF-8 bytes: SPM groups them as llama.cpp does (by lead byte) and emits byte tokens', () => {
    // 0xFF announces a 4-byte sequence, so llama.cpp's symbol is [FF 61] (not a token) → two byte tokens
    expect(tok.encode(new Uint8Array([0xff, 0x61]), { addBos: false })).toEqual([
      SP,
      byteId(0xff),
      byteId(0x61),
    ]);
    // a lone continuation byte is a 1-byte symbol
    expect(tok.encode(new Uint8Array([0x61, 0x80]), { addBos: false })).toEqual([
      tok.tokenId('▁a')!,
      byteId(0x80),
    ]);
    // decoding the byte tokens gives back the bytes; as a string they show as U+FFFD
    expect(tok.decodeBytes([byteId(0xff), byteId(0x61)])).toEqual(new Uint8Array([0xff, 0x61]));
    expect(tok.decode([byteId(0xff), byteId(0x61)])).toBe('\ufffda');
  });
  it('lone surrogates in a string count as U+FFFD', () => {
    expect(tok.encode('a\ud800', { addBos: false })).toEqual(tok.encode('a\ufffd', { addBos: false }));
    expect(tok.encode('\udc00a', { addBos: false })).toEqual(tok.encode('\ufffda', { addBos: false }));
  });
  it('NUL bytes are ordinary bytes', () => {
    expect(tok.encode('a\u0000a', { addBos: false })).toEqual([
      tok.tokenId('▁a')!,
      byteId(0),
      tok.tokenId('a')!,
    ]);
    expect(tok.decode(tok.encode('a\u0000a', { addBos: false }))).toBe('a\u0000a');
  });
  it('wrong argument types and bad ids throw TokenizerError with a code', () => {
    expect(() => tok.encode(42 as never)).toThrow(TokenizerError);
    try {
      tok.decode([1, 99999]);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TokenizerError);
      expect((e as TokenizerError).code).toBe('TOKENIZER_INVALID_TOKEN_ID');
      expect((e as TokenizerError).message).toContain('99999');
    }
    expect(() => tok.decode([1.5])).toThrow(/not in this vocabulary/);
    expect(() => tok.createDecoder().push(-1)).toThrow(TokenizerError);
    expect(() => tok.tokenToPiece(Number.NaN)).toThrow(TokenizerError);
  });
  it('a 10 MB string encodes without trouble (SPM, byte fallback)', () => {
    const big = 'aaaaaaaaaaaaaaaaaaaa\u00e9 '.repeat(450_000); // ~10 MB of UTF-8
    const ids = tok.encode(big, { addBos: false });
    expect(ids.length).toBeGreaterThan(2_000_000);
    expect(tok.decode(ids) === big).toBe(true);
  });
});

describe.skipIf(!hasVocab)('bad input vs llama.cpp', () => {
  let llama: Llama;
  const models: LlamaModel[] = [];
  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  });
  afterAll(async () => {
    for (const m of models) await m.dispose();
  });
  // llama.cpp itself needs ~6 s (BPE) to ~30 s (SPM) for 10 MB on a small machine, so the comparison
  // uses 1–2 MB; the 10 MB case runs on our side only (above, and in the gpt-2 case below)
  for (const [name, mb] of [
    ['phi-3', 1],
    ['gpt-2', 2],
  ] as const) {
    it(`${name}: lone surrogates, NUL, empty, ${mb} MB`, async () => {
      const model = await llama.loadModel({ modelPath: vocabPath(name), vocabOnly: true });
      models.push(model);
      const tok = await loadVocab(name);
      for (const s of [
        '',
        '\u0000',
        'a\u0000b',
        '\ud800',
        'x\udfffy',
        '\ud83d\ude00\ud83d',
        '\u0000\u0000 \u0000',
      ]) {
        expect(tok.encode(s, { addBos: false }), JSON.stringify(s)).toEqual(
          Array.from(model.tokenize(s, false)),
        );
      }
      const big = 'The quick brown fox jumps over the lazy dog. '.repeat(23_000 * mb); // ~1 / 10 MB
      const ids = tok.encode(big, { addBos: false });
      const want = model.tokenize(big, false);
      expect(ids.length).toBe(want.length);
      expect(firstDifference(ids, want)).toBe(-1);
    });
  }
  it('gpt-2: a 10 MB string, and a 1 MB string without any space (one huge word)', async () => {
    const tok = await loadVocab('gpt-2');
    const big = 'The quick brown fox jumps over the lazy dog. '.repeat(230_000);
    const ids = tok.encode(big, { addBos: false });
    expect(ids.length).toBe(2_300_001); // 10 tokens per sentence + the final lone space
    expect(tok.decode(ids) === big).toBe(true);
    const word = 'x'.repeat(1_000_000);
    const wids = tok.encode(word, { addBos: false });
    expect(tok.decode(wids) === word).toBe(true);
  });
  it('gpt-2: invalid UTF-8 bytes become U+FFFD as in llama.cpp', async () => {
    const tok = await loadVocab('gpt-2');
    expect(tok.encode(new Uint8Array([0x61, 0xff, 0x62]))).toEqual(tok.encode('a\ufffdb'));
    expect(tok.encode(new Uint8Array([0xe2, 0x82]))).toEqual(tok.encode('\ufffd\ufffd'));
  });
});
