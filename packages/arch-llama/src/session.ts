import type { SessionInit } from '@quant/plugin-api';
import type { LlamaHyperparameters } from './hparams.js';

/** Per-session choices of the llama plugin. */
export interface LlamaSessionState {
  /** Per-pair frequency divisors for RoPE, or undefined. */
  ropeFactors: Float32Array | undefined;
  /** Which tensor `ropeFactors` came from. */
  ropeTable?: 'rope_freqs' | 'long' | 'short';
}

/** llama.cpp rounds context sizes up to a multiple of 256 before comparing with the original context. */
export function paddedContext(n: number): number {
  return Math.ceil(n / 256) * 256;
}

/**
 * `rope_freqs.weight` (Llama 3) when present; for LongRoPE files the long table when the session's
 * (256-padded) context exceeds `original_context_length`, else the short one — llama.cpp's rule.
 */
export function createLlamaSessionState(init: SessionInit<LlamaHyperparameters>): LlamaSessionState {
  const { weights, hparams } = init;
  const freqs = weights.optHost('rope_freqs.weight');
  if (freqs) return { ropeFactors: freqs, ropeTable: 'rope_freqs' };
  if (hparams.ropeScalingType === 'longrope') {
    const long = paddedContext(init.contextSize) > hparams.originalContextLength;
    return {
      ropeFactors: weights.optHost(long ? 'rope_factors_long.weight' : 'rope_factors_short.weight'),
      ropeTable: long ? 'long' : 'short',
    };
  }
  return { ropeFactors: undefined };
}
