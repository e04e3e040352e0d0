// BPE pre-tokenizers: the regex lists llama.cpp selects by `tokenizer.ggml.pre`, and the splitter that
// applies them one after the other (each regex splits every chunk into its matches and the gaps
// between them, as llama.cpp's unicode_regex_split does).
//
// llama.cpp runs these regexes either through hand-written splitters (gpt2, llama3, qwen2 patterns) or
// through std::regex on a "collapsed" text where every non-ASCII code point is replaced by one byte
// per Unicode category. Both are equivalent to running the regex with real Unicode properties, given
// two adjustments made here when translating a pattern to a JS RegExp:
//  - `\s` is llama.cpp's whitespace set (Unicode White_Space: includes U+0085, excludes U+FEFF, which
//    JS `\s` has the other way round);
//  - `\p{Lu}`, `\p{Ll}`, `\p{Lt}`, `\p{Lm}`, `\p{Lo}` all mean `\p{L}` (the collapsed text only keeps
//    the top-level category);
//  - categories are Unicode 15.1's (the version llama.cpp's tables were generated from), not the JS
//    engine's: a code point assigned in Unicode 16+ is unassigned for llama.cpp.

import { splitGpt2, splitLlama3 } from './splitters.js';
import { U15_L, U15_M, U15_N, U15_P, U15_S } from './unicode-15.1.js';

/** Unicode 15.1 category classes: llama.cpp's tables are generated from Unicode 15.1. */
const CATEGORY_BODIES: Record<string, string> = { L: U15_L, N: U15_N, M: U15_M, P: U15_P, S: U15_S };

export interface PreTokenizer {
  /** The `tokenizer.ggml.pre` group name this was selected by. */
  readonly name: string;
  readonly regexes: readonly RegExp[];
  /**
   * Per regex: match against a copy of the text where non-ASCII whitespace is replaced by U+000B.
   * llama.cpp does that for regexes without Unicode categories (run with std::wregex); it matters when
   * the regex names a non-ASCII whitespace char literally (deepseek-llm's class includes U+3000).
   */
  readonly substituteWs: readonly boolean[];
  /** Per regex: an equivalent hand-written splitter (gpt2 / llama3 / qwen2 patterns), or null. */
  readonly fast: readonly (((text: string) => string[]) | null)[];
  readonly ignoreMerges?: boolean;
  readonly addBos?: boolean;
  readonly cleanSpaces?: boolean;
  readonly addSep?: boolean;
  /** The family has no BOS token by default (chatglm). */
  readonly noBos?: boolean;
}

/** llama.cpp's whitespace set (unicode_set_whitespace), as the inside of a character class. */
export const WS_CLASS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/** Translate one of llama.cpp's regex strings into an equivalent JS RegExp (flags `gu`). */
export function translateRegex(src: string): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const d = src[i + 1];
      if (d === 's') {
        out += inClass ? WS_CLASS : `[${WS_CLASS}]`;
        i++;
        continue;
      }
      if (d === 'S') {
        if (inClass) throw new Error(`\\S inside a character class is not supported: ${src}`);
        out += `[^${WS_CLASS}]`;
        i++;
        continue;
      }
      if (d === 'p' && src[i + 2] === '{') {
        const close = src.indexOf('}', i + 3);
        const name = src.substring(i + 3, close);
        const key = /^L[ultmo]?$/.test(name) ? 'L' : name;
        const body = CATEGORY_BODIES[key];
        if (body === undefined) out += `\\p{${name}}`;
        else out += inClass ? body : `[${body}]`;
        i = close;
        continue;
      }
      out += c + (d ?? '');
      i++;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return new RegExp(out, 'gu');
}

const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const R = {
  GPT2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  LLAMA3: `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`,
  QWEN2: `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`,
  QWEN35: `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`,
  JAIS2: `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}`,
  DEEPSEEK_LLM: [
    '[\r\n]',
    '\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]+',
    '\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+',
    '\\s+$',
    '[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+',
    '\\p{N}+',
  ],
  DEEPSEEK3: [
    '\\p{N}{1,3}',
    '[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+',
    '[!"#$%&\'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+',
  ],
  DEEPSEEK_CODER: [
    '[\r\n]',
    '\\s?\\p{L}+',
    '\\s?\\p{P}+',
    '[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+',
    '\\p{N}',
  ],
  FALCON: [
    '[\\p{P}\\$\\+<=>\\^~\\|`]+',
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    '[0-9][0-9][0-9]',
  ],
  PORO: ' ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+',
  TEKKEN:
    '[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+',
  GPT4O: `[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+${CONTRACTIONS}?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*${CONTRACTIONS}?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`,
  CHAMELEON: [
    '<sentinel:[0-9]+>',
    '(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z',
    '([\\t\\n]|    |  )',
    '\\p{N}',
    '[\\p{P}!-/:-@\\[-`{-~]',
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  ],
  BAILINGMOE:
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
  SEED_CODER: `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`,
  DEFAULT: [
    '[\\p{P}\\$\\+<=>\\^~\\|]+',
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    '\\p{N}+',
    '[0-9][0-9][0-9]',
  ],
} as const;

interface Def {
  names: readonly string[];
  regexes: readonly string[];
  ignoreMerges?: boolean;
  addBos?: boolean;
  cleanSpaces?: boolean;
  addSep?: boolean;
  noBos?: boolean;
}

const STARCODER = ['\\p{N}', R.GPT2];

// Each entry mirrors one `tokenizer_pre == ...` branch of llama.cpp's vocab loader.
const DEFS: readonly Def[] = [
  { names: ['', 'default'], regexes: R.DEFAULT },
  {
    names: [
      'llama3',
      'llama-v3',
      'llama-bpe',
      'falcon3',
      'falcon-h1',
      'pixtral',
      'midm-2.0',
      'lfm2',
      'jina-v5-nano',
    ],
    regexes: [R.LLAMA3],
    ignoreMerges: true,
    addBos: true,
  },
  { names: ['dbrx', 'smaug-bpe'], regexes: [R.LLAMA3] },
  { names: ['deepseek-llm'], regexes: R.DEEPSEEK_LLM, cleanSpaces: false },
  { names: ['deepseek-coder'], regexes: R.DEEPSEEK_CODER, cleanSpaces: false },
  { names: ['deepseek-v3', 'hunyuan-dense', 'hy_v4', 'joyai-llm'], regexes: R.DEEPSEEK3, cleanSpaces: false },
  { names: ['falcon'], regexes: R.FALCON },
  { names: ['mpt', 'olmo', 'jais', 'exaone4'], regexes: [R.GPT2] },
  {
    names: [
      'gpt-2',
      'phi-2',
      'jina-es',
      'jina-de',
      'gigachat',
      'jina-v2-es',
      'jina-v2-de',
      'a.x-4.0',
      'mellum',
      'modern-bert',
    ],
    regexes: [R.GPT2],
  },
  { names: ['jina-v1-en', 'jina-v2-code', 'roberta-bpe'], regexes: [R.GPT2], addSep: true },
  { names: ['trillion', 'granite-docling'], regexes: [R.GPT2], cleanSpaces: false },
  { names: ['starcoder', 'refact', 'codeshell', 'exaone', 'minerva-7b', 'mellum2'], regexes: STARCODER },
  { names: ['command-r', 'smollm'], regexes: STARCODER, cleanSpaces: false },
  { names: ['jais-2'], regexes: [R.JAIS2] },
  {
    names: ['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'hunyuan', 'solar-open', 'grok-2'],
    regexes: [R.QWEN2],
    cleanSpaces: false,
  },
  { names: ['stablelm2', 'megrez'], regexes: [R.QWEN2] },
  { names: ['qwen35'], regexes: [R.QWEN35], cleanSpaces: false },
  { names: ['poro-chat'], regexes: [R.PORO], cleanSpaces: false },
  { names: ['bloom', 'gpt3-finnish'], regexes: [R.PORO] },
  { names: ['viking'], regexes: [R.PORO, '\\p{N}'], cleanSpaces: false },
  { names: ['glm4', 'chatglm-bpe'], regexes: [R.LLAMA3], noBos: true },
  { names: ['tekken'], regexes: [R.TEKKEN], cleanSpaces: false, ignoreMerges: true, addBos: true },
  { names: ['chameleon'], regexes: R.CHAMELEON, addBos: true, cleanSpaces: false },
  { names: ['gpt-4o', 'llama4', 'kanana2', 'talkie'], regexes: [R.GPT4O], cleanSpaces: false },
  { names: ['bailingmoe', 'bailingmoe2', 'llada-moe'], regexes: [R.BAILINGMOE], cleanSpaces: false },
  { names: ['seed-coder'], regexes: [R.SEED_CODER], cleanSpaces: false },
];

const cache = new Map<string, PreTokenizer>();

function fastSplitterFor(regex: string): ((text: string) => string[]) | null {
  if (regex === R.GPT2) return splitGpt2;
  if (regex === R.LLAMA3) return (t) => splitLlama3(t, 3);
  if (regex === R.QWEN2) return (t) => splitLlama3(t, 1);
  return null;
}
const NON_ASCII_WS = /[\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/;
const NON_ASCII_WS_G = /[\x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/g;

/** The pre-tokenizer llama.cpp uses for a `tokenizer.ggml.pre` value, or null if not implemented here. */
export function preTokenizerFor(pre: string): PreTokenizer | null {
  const hit = cache.get(pre);
  if (hit !== undefined) return hit;
  const def = DEFS.find((d) => d.names.includes(pre));
  if (def === undefined) return null;
  const p: PreTokenizer = {
    name: def.names[0] === '' ? 'default' : def.names[0]!,
    regexes: def.regexes.map(translateRegex),
    substituteWs: def.regexes.map((r) => !r.includes('\\p{') && NON_ASCII_WS.test(r)),
    fast: def.regexes.map(fastSplitterFor),
    ...(def.ignoreMerges !== undefined ? { ignoreMerges: def.ignoreMerges } : {}),
    ...(def.addBos !== undefined ? { addBos: def.addBos } : {}),
    ...(def.cleanSpaces !== undefined ? { cleanSpaces: def.cleanSpaces } : {}),
    ...(def.addSep !== undefined ? { addSep: def.addSep } : {}),
    ...(def.noBos !== undefined ? { noBos: def.noBos } : {}),
  };
  cache.set(pre, p);
  return p;
}

/** Every `tokenizer.ggml.pre` value this package implements. */
export function supportedPreTokenizers(): string[] {
  return DEFS.flatMap((d) => d.names.filter((n) => n !== ''));
}

/**
 * Split text with a list of regexes, llama.cpp style: regex k splits each chunk left by regex k-1
 * into its matches and the unmatched gaps between them (both kept). Returns the chunk end offsets.
 */
export function preSplit(
  text: string,
  regexes: readonly RegExp[],
  substituteWs?: readonly boolean[],
  fast?: readonly (((text: string) => string[]) | null)[],
): string[] {
  if (text.length === 0) return [];
  const f0 = fast?.[0];
  if (regexes.length === 1 && f0 != null) return f0(text);
  let ends: number[] = [text.length];
  let wsText: string | undefined;
  for (let k = 0; k < regexes.length; k++) {
    const re = regexes[k]!;
    const f = fast?.[k];
    if (f != null) {
      // hand-written splitter for this step, chunk by chunk
      const next: number[] = [];
      let start = 0;
      for (const end of ends) {
        let p = start;
        for (const piece of f(text.substring(start, end))) {
          p += piece.length;
          next.push(p);
        }
        start = end;
      }
      ends = next;
      continue;
    }
    let src = text;
    if (substituteWs?.[k] === true) src = wsText ??= text.replace(NON_ASCII_WS_G, '\x0b');
    const next: number[] = [];
    let start = 0;
    for (const end of ends) {
      const sub = start === 0 && end === src.length ? src : src.substring(start, end);
      re.lastIndex = 0;
      let prev = 0;
      for (;;) {
        const m = re.exec(sub);
        if (m === null) break;
        const ms = m.index;
        const me = ms + m[0].length;
        if (me === ms) {
          // empty match: step over one code point (none of the patterns above can produce one)
          re.lastIndex = ms + (sub.codePointAt(ms)! > 0xffff ? 2 : 1);
          continue;
        }
        if (ms > prev) next.push(start + ms);
        next.push(start + me);
        prev = me;
      }
      if (prev < sub.length) next.push(end);
      start = end;
    }
    ends = next;
  }
  const words: string[] = new Array(ends.length);
  let s = 0;
  for (let i = 0; i < ends.length; i++) {
    const e = ends[i]!;
    words[i] = text.substring(s, e);
    s = e;
  }
  return words;
}
