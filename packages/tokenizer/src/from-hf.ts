// Hugging Face `tokenizer.json` → VocabSpec, laid out the way llama.cpp's convert_hf_to_gguf.py lays
// out a GGUF vocabulary (ids from the vocab and added_tokens, added special tokens as CONTROL, other
// added tokens as USER_DEFINED, holes as UNUSED "[PADn]", WordPiece "##" continuation handling).

import { TokenType } from './attributes.js';
import { TokenizerError } from './errors.js';
import type { SpecialTokenIds, VocabSpec } from './vocab.js';

export interface HuggingFaceOptions {
  /** `tokenizer_config.json` (bos_token, eos_token, add_bos_token, add_eos_token are read from it). */
  config?: unknown;
  /** Override the detected `tokenizer.ggml.pre` value (e.g. 'llama-bpe', 'qwen2', 'gpt-2'). */
  pre?: string;
  /** Override BOS / EOS token texts. */
  bosToken?: string;
  eosToken?: string;
  addBos?: boolean;
  addEos?: boolean;
  /** `general.name` equivalent (llama.cpp keys some per-model rules on it). */
  modelName?: string;
}

// Split regexes as they appear in tokenizer.json → the `tokenizer.ggml.pre` llama.cpp assigns.
const KNOWN_SPLITS: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    'llama-bpe',
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    'qwen2',
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+": 'gpt-2',
};

const BOS_GUESSES = ['<|begin_of_text|>', '<s>', '<|startoftext|>', '<｜begin▁of▁sentence｜>', '[CLS]'];
const EOS_GUESSES = ['<|end_of_text|>', '</s>', '<|endoftext|>', '<｜end▁of▁sentence｜>'];

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const o = obj(v);
  return o !== undefined && typeof o.content === 'string' ? o.content : undefined;
}

function collectSplitPatterns(pre: Json | undefined, out: string[]): boolean {
  if (pre === undefined) return false;
  let byteLevelRegex = false;
  if (pre.type === 'Sequence' && Array.isArray(pre.pretokenizers)) {
    for (const p of pre.pretokenizers) byteLevelRegex = collectSplitPatterns(obj(p), out) || byteLevelRegex;
  } else if (pre.type === 'Split') {
    const pat = obj(pre.pattern);
    if (pat !== undefined && typeof pat.Regex === 'string') out.push(pat.Regex);
    else if (pat !== undefined && typeof pat.String === 'string') out.push(pat.String);
  } else if (pre.type === 'ByteLevel' && pre.use_regex !== false) {
    byteLevelRegex = true;
  }
  return byteLevelRegex;
}

export function specFromHuggingFace(input: unknown, options: HuggingFaceOptions = {}): VocabSpec {
  let json: Json | undefined;
  try {
    json = obj(typeof input === 'string' ? JSON.parse(input) : input);
  } catch (cause) {
    throw new TokenizerError('TOKENIZER_BAD_METADATA', 'tokenizer.json is not valid JSON', { cause });
  }
  const model = json !== undefined ? obj(json.model) : undefined;
  if (json === undefined || model === undefined) {
    throw new TokenizerError('TOKENIZER_BAD_METADATA', 'tokenizer.json has no "model" object', {
      key: 'model',
    });
  }
  const vocab = obj(model.vocab);
  if (vocab === undefined) {
    throw new TokenizerError(
      'TOKENIZER_MISSING_KEY',
      'tokenizer.json model.vocab is missing or not an object',
      {
        key: 'model.vocab',
      },
    );
  }
  const mtype = model.type;
  let ggmlModel: string;
  if (mtype === 'BPE') ggmlModel = 'gpt2';
  else if (mtype === 'WordPiece') ggmlModel = 'bert';
  else {
    throw new TokenizerError(
      'TOKENIZER_UNSUPPORTED_MODEL',
      `tokenizer.json model type '${String(mtype)}' is not supported (BPE and WordPiece are)`,
      { key: 'model.type' },
    );
  }

  // id → text and type
  let n = 0;
  for (const id of Object.values(vocab)) if (typeof id === 'number' && id + 1 > n) n = id + 1;
  const added = Array.isArray(json.added_tokens)
    ? json.added_tokens.map(obj).filter((x) => x !== undefined)
    : [];
  for (const a of added) if (typeof a.id === 'number' && a.id + 1 > n) n = a.id + 1;
  const tokens: string[] = new Array(n).fill(undefined);
  const types = new Int32Array(n);
  for (const [text, id] of Object.entries(vocab)) {
    if (typeof id !== 'number') continue;
    tokens[id] = ggmlModel === 'bert' ? wordPiecePhantom(text) : text;
    types[id] = TokenType.NORMAL;
  }
  for (const a of added) {
    if (typeof a.id !== 'number' || typeof a.content !== 'string') continue;
    tokens[a.id] = a.content;
    types[a.id] = a.special === true ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  for (let i = 0; i < n; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TokenType.UNUSED;
    }
  }

  const spec: VocabSpec = { model: ggmlModel, tokens, tokenTypes: types };
  const ids: SpecialTokenIds = {};
  const idOf = new Map<string, number>();
  for (let i = 0; i < n; i++) if (!idOf.has(tokens[i]!)) idOf.set(tokens[i]!, i);
  const config = obj(options.config);

  if (ggmlModel === 'gpt2') {
    const merges = Array.isArray(model.merges) ? model.merges : [];
    spec.merges = merges.map((m) => (Array.isArray(m) ? m.join(' ') : String(m)));
    let pre = options.pre;
    if (pre === undefined) {
      const splits: string[] = [];
      const byteLevelRegex = collectSplitPatterns(obj(json.pre_tokenizer), splits);
      if (splits.length === 1 && KNOWN_SPLITS[splits[0]!] !== undefined) pre = KNOWN_SPLITS[splits[0]!];
      else if (splits.length === 0 && byteLevelRegex) pre = 'gpt-2';
      else {
        throw new TokenizerError(
          'TOKENIZER_UNSUPPORTED_PRE',
          `cannot tell which llama.cpp pre-tokenizer matches this tokenizer.json (split patterns: ${JSON.stringify(splits)}); pass options.pre`,
          { key: 'pre_tokenizer' },
        );
      }
    }
    spec.pre = pre;
  } else {
    const normalizer = obj(json.normalizer);
    if (normalizer !== undefined && typeof normalizer.lowercase === 'boolean') {
      spec.normalizerLowercase = normalizer.lowercase;
      if (typeof normalizer.strip_accents === 'boolean')
        spec.normalizerStripAccents = normalizer.strip_accents;
    }
    for (const [role, text] of [
      ['unk', '[UNK]'],
      ['sep', '[SEP]'],
      ['pad', '[PAD]'],
      ['mask', '[MASK]'],
      ['bos', '[CLS]'],
    ] as const) {
      const id = idOf.get(text);
      if (id !== undefined) ids[role] = id;
    }
  }

  const bosText = options.bosToken ?? tokenContent(config?.bos_token) ?? BOS_GUESSES.find((t) => idOf.has(t));
  const eosText = options.eosToken ?? tokenContent(config?.eos_token) ?? EOS_GUESSES.find((t) => idOf.has(t));
  if (bosText !== undefined && idOf.has(bosText)) ids.bos = idOf.get(bosText)!;
  if (eosText !== undefined && idOf.has(eosText)) ids.eos = idOf.get(eosText)!;
  spec.ids = ids;
  const addBos =
    options.addBos ?? (typeof config?.add_bos_token === 'boolean' ? config.add_bos_token : undefined);
  const addEos =
    options.addEos ?? (typeof config?.add_eos_token === 'boolean' ? config.add_eos_token : undefined);
  if (addBos !== undefined) spec.addBos = addBos;
  if (addEos !== undefined) spec.addEos = addEos;
  if (options.modelName !== undefined) spec.modelName = options.modelName;
  return spec;
}

/** convert_hf_to_gguf's WordPiece layout: "##x" → "x", "[X]" stays, anything else gets a "▁" prefix. */
function wordPiecePhantom(tok: string): string {
  if (tok.startsWith('[') && tok.endsWith(']')) return tok;
  if (tok.startsWith('##')) return tok.slice(2);
  return `▁${tok}`;
}
