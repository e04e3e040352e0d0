/**
 * Up-front checks of generate()/chat() arguments, so every bad value is a typed error naming the
 * option (INVALID_OPTION), the prompt (INVALID_PROMPT) or the token (INVALID_TOKEN) — never a plain
 * TypeError from deep inside, and never a value silently converted into something else.
 */
import { describeValue, invalidOption, invalidPrompt } from '../errors.js';
import { toTokenIds } from '../model/token-ids.js';
import { resolveSampling } from '../sampling/options.js';
import type { GenerateOptions } from './options.js';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalBoolean(o: Record<string, unknown>, name: string): void {
  const v = o[name];
  if (v !== undefined && typeof v !== 'boolean') throw invalidOption(name, v, 'true or false');
}

/** Checks every generation option's type and range (sampling options included). */
export function validateGenerateOptions(options: unknown): asserts options is GenerateOptions {
  if (options === undefined) return;
  if (!isPlainObject(options)) {
    throw invalidOption('options', options, 'an options object (or nothing)');
  }
  const o = options;
  const m = o.maxTokens;
  if (
    m !== undefined &&
    !(m === Number.POSITIVE_INFINITY || (typeof m === 'number' && Number.isInteger(m) && m >= 0))
  ) {
    throw invalidOption('maxTokens', m, 'a non-negative integer');
  }
  const stop = o.stop;
  if (stop !== undefined) {
    if (!Array.isArray(stop)) throw invalidOption('stop', stop, 'an array of strings');
    stop.forEach((s, i) => {
      if (typeof s !== 'string') throw invalidOption(`stop[${i}]`, s, 'a string');
    });
  }
  const signal = o.signal;
  if (
    signal !== undefined &&
    !(
      isPlainObjectLike(signal) &&
      typeof (signal as { aborted?: unknown }).aborted === 'boolean' &&
      typeof (signal as { addEventListener?: unknown }).addEventListener === 'function'
    )
  ) {
    throw invalidOption('signal', signal, 'an AbortSignal');
  }
  validateContextShift(o.contextShift);
  for (const name of ['replaceEog', 'addBos', 'parseSpecial'] as const) optionalBoolean(o, name);
  const cs = o.contextSize;
  if (cs !== undefined && !(typeof cs === 'number' && Number.isInteger(cs) && cs > 0))
    throw invalidOption('contextSize', cs, 'a positive integer');
  const eog = o.eogTokens;
  if (eog !== undefined && !Array.isArray(eog) && !ArrayBuffer.isView(eog))
    throw invalidOption('eogTokens', eog, 'an array of token ids');
  resolveSampling({ ...(o as GenerateOptions), seed: (o.seed as number | undefined) ?? 0 });
}

function isPlainObjectLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null;
}

/** `contextShift`: a boolean or `{ keep }` with keep a non-negative integer. */
export function validateContextShift(v: unknown): void {
  if (v === undefined || typeof v === 'boolean') return;
  if (!isPlainObject(v)) throw invalidOption('contextShift', v, 'true, false or { keep }');
  const keep = v.keep;
  if (keep !== undefined && !(typeof keep === 'number' && Number.isInteger(keep) && keep >= 0)) {
    throw invalidOption(
      'contextShift.keep',
      keep,
      'a non-negative integer (the number of tokens at the start of the context that a shift keeps)',
    );
  }
}

/**
 * Checks generate()'s arguments: the prompt is a string or an array of token ids in [0, nVocab),
 * `eogTokens` are token ids, and every option is valid.
 */
export function validateGenerateArguments(prompt: unknown, options: unknown, nVocab: number): void {
  if (typeof prompt !== 'string') {
    if (!Array.isArray(prompt) && !(ArrayBuffer.isView(prompt) && !(prompt instanceof DataView))) {
      throw invalidPrompt(
        `generate() needs a prompt string or an array of token ids, got ${describeValue(prompt)}.`,
      );
    }
    toTokenIds(prompt, nVocab, 'generate() prompt');
  }
  validateGenerateOptions(options);
  const eog = (options as GenerateOptions | undefined)?.eogTokens;
  if (eog !== undefined) toTokenIds(eog, nVocab, 'generate() option eogTokens');
}
