import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { minPCount, softmaxOf, sortedCandidates, topPCount } from './filters.js';
import { type ResolvedSampling, resolveSampling, type SamplingOptions } from './options.js';
import { applyPenalties } from './penalties.js';

/** Index of the largest value (first on ties). */
export function argmax(x: Float32Array): number {
  let best = 0;
  let bestV = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/**
 * Chooses next tokens from logits. The chain is llama.cpp's default order: penalties → top-k →
 * top-p → min-p → temperature → draw from the softmax with a seeded xoroshiro128+ generator.
 * Temperature ≤ 0 is greedy (argmax after penalties).
 */
export class Sampler {
  readonly options: ResolvedSampling;
  private readonly rng: RandomGenerator;

  constructor(options: SamplingOptions = {}) {
    this.options = resolveSampling(options);
    this.rng = xoroshiro128plus(this.options.seed | 0);
  }

  /** A uniform draw in [0, 1) from this sampler's generator. */
  random(): number {
    return uniformFloat64(this.rng);
  }

  /**
   * The distribution the next draw comes from after penalties and filters: candidate ids (most
   * likely first) and their probabilities. Greedy (temperature ≤ 0) gives one id with probability 1.
   */
  distribution(
    logits: Float32Array,
    history: ArrayLike<number> = [],
  ): { ids: Int32Array; probs: Float64Array } {
    const o = this.options;
    const l = Float32Array.from(logits);
    applyPenalties(l, history, o.penaltyLastN, o.repeatPenalty, o.frequencyPenalty, o.presencePenalty);
    if (o.temperature <= 0) return { ids: Int32Array.of(argmax(l)), probs: Float64Array.of(1) };
    const ids = sortedCandidates(l, o.topK);
    let count = ids.length;
    count = topPCount(l, ids, count, o.topP);
    count = minPCount(l, ids, count, o.minP);
    return { ids: ids.subarray(0, count), probs: softmaxOf(l, ids, count, o.temperature) };
  }

  /** Picks a token. `logits` is not modified; `history` (earlier tokens) feeds the penalties. */
  sample(logits: Float32Array, history: ArrayLike<number> = []): number {
    const { ids, probs } = this.distribution(logits, history);
    if (ids.length === 1) return ids[0] as number;
    const u = this.random();
    let cum = 0;
    for (let i = 0; i < ids.length; i++) {
      cum += probs[i] as number;
      if (u < cum) return ids[i] as number;
    }
    return ids[ids.length - 1] as number;
  }
}
