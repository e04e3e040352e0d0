import { invalidOption } from '../errors.js';

/** How the next token is chosen. Defaults follow llama.cpp's `common_params_sampling`. */
export interface SamplingOptions {
  /** 0 (or below) → greedy (argmax after penalties). Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = off. Default 40. */
  topK?: number;
  /** Keep the smallest set whose probability reaches p; 1 = off. Default 0.95. */
  topP?: number;
  /** Drop tokens less likely than minP × the most likely one; 0 = off. Default 0.05. */
  minP?: number;
  /** Divide positive / multiply negative logits of recently seen tokens; 1 = off (default). */
  repeatPenalty?: number;
  /** Subtract count × frequencyPenalty from seen tokens' logits; 0 = off (default). */
  frequencyPenalty?: number;
  /** Subtract presencePenalty from every seen token's logit; 0 = off (default). */
  presencePenalty?: number;
  /** How many of the latest tokens the penalties look at (default 64; -1 = the whole context). */
  penaltyLastN?: number;
  /** RNG seed: the same seed gives the same tokens on the same backend. Default: random. */
  seed?: number;
}

export type ResolvedSampling = Required<SamplingOptions>;

function num(name: string, v: unknown, fallback: number, ok: (n: number) => boolean, want: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || !ok(v)) throw invalidOption(name, v, want);
  return v;
}

/** Fills defaults and checks ranges (`INVALID_OPTION` on a bad value). */
export function resolveSampling(o: SamplingOptions = {}): ResolvedSampling {
  return {
    temperature: num('temperature', o.temperature, 0.8, (n) => Number.isFinite(n), 'a finite number'),
    topK: num('topK', o.topK, 40, (n) => Number.isInteger(n) && n >= 0, 'an integer ≥ 0'),
    topP: num('topP', o.topP, 0.95, (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    minP: num('minP', o.minP, 0.05, (n) => n >= 0 && n <= 1, 'a number in [0, 1]'),
    repeatPenalty: num(
      'repeatPenalty',
      o.repeatPenalty,
      1,
      (n) => n > 0 && Number.isFinite(n),
      'a number > 0',
    ),
    frequencyPenalty: num('frequencyPenalty', o.frequencyPenalty, 0, Number.isFinite, 'a finite number'),
    presencePenalty: num('presencePenalty', o.presencePenalty, 0, Number.isFinite, 'a finite number'),
    penaltyLastN: num(
      'penaltyLastN',
      o.penaltyLastN,
      64,
      (n) => Number.isInteger(n) && n >= -1,
      'an integer ≥ -1',
    ),
    seed: num(
      'seed',
      o.seed,
      Math.floor(Math.random() * 0x7fffffff),
      (n) => Number.isInteger(n),
      'an integer',
    ),
  };
}
