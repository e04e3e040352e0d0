/**
 * A minimal SentencePiece (`tokenizer.ggml.model = llama`) vocabulary that llama.cpp and
 * @quant/tokenizer both load: <unk>, <s>, </s>, the 256 byte tokens <0x00>…<0xFF>, then pieces.
 */

export interface SpmVocab {
  tokens: string[];
  scores: number[];
  /** llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte. */
  types: number[];
}

/** Token ids of the specials every synthetic vocabulary starts with. */
export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
/** Number of tokens before the first piece (3 specials + 256 bytes). */
export const FIRST_PIECE_ID = 259;

/** The specials and the 256 byte tokens (scores 0). */
export function spmBaseVocab(): SpmVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  return { tokens, scores: tokens.map(() => 0), types };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
/** The default pieces: ▁, a–z, ▁a–▁z and a few words. */
export const DEFAULT_PIECES: readonly string[] = [
  '▁',
  ...LETTERS,
  ...LETTERS.map((l) => `▁${l}`),
  '▁the',
  '▁and',
  '▁cat',
  '▁dog',
  'ing',
  'ed',
  'er',
  '▁once',
];

/**
 * The base vocabulary plus `DEFAULT_PIECES` and `extraPieces`. Piece scores fall with the id, and
 * pieces of one or two characters get 5 less, so merges prefer whole words.
 */
export function syntheticVocab(extraPieces: readonly string[] = []): SpmVocab {
  const { tokens, types } = spmBaseVocab();
  for (const p of [...DEFAULT_PIECES, ...extraPieces]) {
    tokens.push(p);
    types.push(1);
  }
  const scores = tokens.map((t, i) => (types[i] === 1 ? -i / 10 - (t.length > 2 ? 0 : 5) : 0));
  return { tokens, scores, types };
}

/** The `tokenizer.*` metadata of a vocabulary, in @quant/gguf's `writeGGUF` form (BOS added, no EOS). */
export function spmVocabMetadata(v: SpmVocab): Record<string, unknown> {
  return {
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': v.tokens,
    'tokenizer.ggml.scores': { type: 'arr[f32]', value: v.scores },
    'tokenizer.ggml.token_type': { type: 'arr[i32]', value: v.types },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: BOS_ID },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: EOS_ID },
    'tokenizer.ggml.unknown_token_id': { type: 'u32', value: UNK_ID },
    'tokenizer.ggml.add_bos_token': true,
  };
}

/**
 * A prompt of `n` ordinary tokens (ids ≥ 3) of a vocabulary of `nVocab` tokens, BOS first, from a
 * small LCG started at `seed · 7919 + salt`.
 */
export function syntheticPrompt(
  seed: number,
  n = 40,
  salt = 17,
  nVocab = syntheticVocab().tokens.length,
): number[] {
  const out = [BOS_ID];
  let s = seed * 7919 + salt;
  for (let i = 1; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out.push(3 + (s % (nVocab - 3)));
  }
  return out;
}
