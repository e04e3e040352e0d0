// Deterministic random text that exercises tokenizer edge cases: whitespace runs, newlines, digits,
// punctuation, contractions, many scripts, combining marks, emoji (incl. ZWJ sequences), CJK, and
// special-token texts.

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'Hello', 'world', 'the', ' quick', 'brown', 'fox', "'s", "'ll", "'VE", "'re", "n't", 'don\'t', 'I\'m',
  ' ', '  ', '   ', '    ', '\t', '\n', '\n\n', '\r\n', ' \n ', '\u00a0', '\u3000', '\u2009', '\u0085', '\ufeff',
  '0', '7', '42', '123', '3333', '2024', '3.14', '1,000', '٣', '²',
  '.', ',', '!', '?', '...', '(', ')', '[', ']', '{', '}', '<', '>', '=', '==', '->', '$', '+', '^', '~', '|', '`',
  '@', '#', '%', '&', '*', '_', '-', '—', '–', '…', '«', '»', '“', '”', '·', '§',
  'é', 'É', 'ü', 'ñ', 'ß', 'ø', 'İ', 'ǅ', 'e\u0301', 'a\u0308', 'Ω', 'Ω', 'K',
  'нещо', 'Български', 'Привет', 'Ελληνικά', 'עברית', 'العربية', 'हिन्दी', 'ত', 'ภาษาไทย', 'ქართული', 'ខ្មែរ',
  '我想在', '工作', '日本語', 'カタカナ', 'ひらがな', '한국어', '漢', '〜', '～', '。', '，',
  '🦙', '🚀', '😁', '😶‍🌫️', '👍🏽', '🇫🇷', '✅', '❤️', '\u{10FFFF}', '\u{E000}', '\u200b', '\u200d',
  '<s>', '</s>', '<unk>', '<|endoftext|>', '<|end|>', '<|user|>', '<|assistant|>', '<|eot_id|>',
  '<|begin_of_text|>', '[CLS]', '[SEP]', '[MASK]', '<fim_prefix>', '>>TITLE<<', '▁', '▁▁', 'Ġ', 'Ċ',
  'function', 'return', 'const x = 1;', 'if (a) {', '}', '//', '/*', '#include', 'def', '__init__', 'self',
  'w048', '7tuijk', 'dsdfhu', 'ied', 'months', 'Führer', 'apple', '1314151天', 'Hello, y\'all!',
];

/** A random string of `n` pieces. */
export function randomText(next: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.08) {
      // a random code point from a broad range (skipping surrogates)
      let cp = Math.floor(next() * 0x30000);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x20 + (cp % 90);
      s += String.fromCodePoint(cp);
    } else if (r < 0.12) {
      s += ' '.repeat(1 + Math.floor(next() * 30));
    } else {
      s += PIECES[Math.floor(next() * PIECES.length)];
    }
    if (next() < 0.4) s += ' ';
  }
  return s;
}
