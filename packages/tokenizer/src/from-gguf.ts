// GGUF metadata (`tokenizer.ggml.*`, `general.name`, `general.architecture`) → VocabSpec.

import { TokenizerError } from './errors.js';
import type { SpecialTokenIds, VocabSpec } from './vocab.js';

/** Metadata as @quant/gguf exposes it: a Map or a plain object of key → value. */
export type MetadataLike = ReadonlyMap<string, unknown> | Readonly<Record<string, unknown>>;

function getter(metadata: MetadataLike): (key: string) => unknown {
  if (metadata instanceof Map) return (key) => metadata.get(key);
  if (metadata === null || typeof metadata !== 'object') {
    throw new TokenizerError(
      'TOKENIZER_INVALID_ARGUMENT',
      'fromGGUF() needs a parsed GGUF file with a metadata map',
    );
  }
  const obj = metadata as Record<string, unknown>;
  return (key) => (Object.hasOwn(obj, key) ? obj[key] : undefined);
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || ArrayBuffer.isView(v);
}

export function specFromGGUF(metadata: MetadataLike): VocabSpec {
  const get = getter(metadata);
  const str = (key: string): string | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw bad(key, 'a string', v);
    return v;
  };
  const bool = (key: string): boolean | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw bad(key, 'a boolean', v);
    return v;
  };
  const int = (key: string): number | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(key, 'an integer', v);
    return v;
  };
  const arr = (key: string): ArrayLike<unknown> | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (!isArrayLike(v)) throw bad(key, 'an array', v);
    return v;
  };

  const model = str('tokenizer.ggml.model');
  if (model === undefined) {
    throw new TokenizerError(
      'TOKENIZER_MISSING_KEY',
      'tokenizer.ggml.model is missing: this GGUF has no tokenizer metadata (is it a vocab-less file?)',
      { key: 'tokenizer.ggml.model' },
    );
  }
  const tokens = arr('tokenizer.ggml.tokens');
  if (tokens === undefined) {
    throw new TokenizerError(
      'TOKENIZER_MISSING_KEY',
      'tokenizer.ggml.tokens is missing: cannot build a vocabulary',
      {
        key: 'tokenizer.ggml.tokens',
      },
    );
  }
  for (let i = 0; i < tokens.length; i++) {
    if (typeof tokens[i] !== 'string') {
      throw bad('tokenizer.ggml.tokens', 'an array of strings', tokens[i]);
    }
  }
  const merges = arr('tokenizer.ggml.merges');
  if (merges !== undefined) {
    for (let i = 0; i < merges.length; i++) {
      if (typeof merges[i] !== 'string') throw bad('tokenizer.ggml.merges', 'an array of strings', merges[i]);
    }
  }
  const numeric = (key: string): ArrayLike<number> | undefined => {
    const a = arr(key);
    if (a === undefined) return undefined;
    if (ArrayBuffer.isView(a)) return a as unknown as ArrayLike<number>;
    for (let i = 0; i < a.length; i++) {
      if (typeof a[i] !== 'number') throw bad(key, 'an array of numbers', a[i]);
    }
    return a as ArrayLike<number>;
  };

  const ids: SpecialTokenIds = {};
  const idKeys: [keyof SpecialTokenIds, string][] = [
    ['bos', 'bos_token_id'],
    ['eos', 'eos_token_id'],
    ['eot', 'eot_token_id'],
    ['eom', 'eom_token_id'],
    ['unk', 'unknown_token_id'],
    ['sep', 'seperator_token_id'],
    ['pad', 'padding_token_id'],
    ['mask', 'mask_token_id'],
    ['fimPre', 'fim_pre_token_id'],
    ['fimSuf', 'fim_suf_token_id'],
    ['fimMid', 'fim_mid_token_id'],
    ['fimPad', 'fim_pad_token_id'],
    ['fimRep', 'fim_rep_token_id'],
    ['fimSep', 'fim_sep_token_id'],
    // deprecated names, read after the new ones as llama.cpp does
    ['fimPre', 'prefix_token_id'],
    ['fimSuf', 'suffix_token_id'],
    ['fimMid', 'middle_token_id'],
  ];
  for (const [role, key] of idKeys) {
    const v = int(`tokenizer.ggml.${key}`);
    if (v !== undefined) ids[role] = v;
  }

  const spec: VocabSpec = { model, tokens: tokens as readonly string[], ids };
  const pre = str('tokenizer.ggml.pre');
  if (pre !== undefined) spec.pre = pre;
  const scores = numeric('tokenizer.ggml.scores');
  if (scores !== undefined) spec.scores = scores;
  const types = numeric('tokenizer.ggml.token_type');
  if (types !== undefined) spec.tokenTypes = types;
  if (merges !== undefined) spec.merges = merges as readonly string[];
  const flags: [keyof VocabSpec, string][] = [
    ['addBos', 'add_bos_token'],
    ['addEos', 'add_eos_token'],
    ['addSep', 'add_sep_token'],
    ['addSpacePrefix', 'add_space_prefix'],
    ['removeExtraWhitespaces', 'remove_extra_whitespaces'],
    ['normalizerLowercase', 'normalizer.lowercase'],
    ['normalizerStripAccents', 'normalizer.strip_accents'],
  ];
  for (const [field, key] of flags) {
    const v = bool(`tokenizer.ggml.${key}`);
    if (v !== undefined) (spec as unknown as Record<string, unknown>)[field] = v;
  }
  const name = get('general.name');
  if (typeof name === 'string') spec.modelName = name;
  const arch = get('general.architecture');
  if (typeof arch === 'string') spec.architecture = arch;
  return spec;
}

function bad(key: string, expected: string, got: unknown): TokenizerError {
  const what = got === null ? 'null' : Array.isArray(got) ? 'an array' : typeof got;
  return new TokenizerError('TOKENIZER_BAD_METADATA', `${key} should be ${expected}, got ${what}`, { key });
}
