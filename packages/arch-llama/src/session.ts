import { chooseRopeFactors, paddedContextSize, type RopeTable, type SessionInit } from '@quant/plugin-api';
import type { LlamaHyperparameters } from './hparams.js';

/** Per-session choices of the llama plugin. */
export interface LlamaSessionState {
  /** Per-pair frequency divisors for RoPE, or undefined. */
  ropeFactors: Float32Array | undefined;
  /** Which tensor `ropeFactors` came from. */
  ropeTable?: 'rope_freqs' | RopeTable;
}

/**
 * llama.cpp rounds context sizes up to a multiple of 256 before comparing with the original context.
 * @deprecated Use `paddedContextSize` from `@quant/plugin-api` (the shared rule); kept as an alias.
 */
export const paddedContext: (n: number) => number = paddedContextSize;

/**
 * `rope_freqs.weight` (Llama 3) when present; for LongRoPE files the table llama.cpp's rule picks
 * for the session's context size (`chooseRopeFactors`).
 */
export function createLlamaSessionState(init: SessionInit<LlamaHyperparameters>): LlamaSessionState {
  const { weights, hparams } = init;
  const freqs = weights.optHost('rope_freqs.weight');
  if (freqs) return { ropeFactors: freqs, ropeTable: 'rope_freqs' };
  if (hparams.ropeScalingType === 'longrope') {
    const { table, factors } = chooseRopeFactors(hparams, weights, init.contextSize);
    return { ropeFactors: factors, ropeTable: table };
  }
  return { ropeFactors: undefined };
}
