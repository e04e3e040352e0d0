import { chooseRopeFactors, type RopeTable, type SessionInit } from '@quant/plugin-api';
import type { Phi3Hyperparameters } from './hparams.js';
import { resolveSlidingWindow } from './options.js';

/** Per-session choices of the phi3 plugin. */
export interface Phi3SessionState {
  /** LongRoPE per-pair frequency divisors for this session, or undefined. */
  ropeFactors: Float32Array | undefined;
  /** Which table `ropeFactors` is. */
  ropeTable: RopeTable;
  /** Sliding attention window in tokens (0 = full causal attention). */
  window: number;
}

/** Reads the options and picks the LongRoPE table for the session's context size. */
export function createPhi3SessionState(init: SessionInit<Phi3Hyperparameters>): Phi3SessionState {
  const { hparams, weights, contextSize, options } = init;
  const window = resolveSlidingWindow(options, hparams.slidingWindow);
  const { table, factors } = chooseRopeFactors(hparams, weights, contextSize);
  // A window at least as long as the context never masks anything.
  return { ropeFactors: factors, ropeTable: table, window: window >= contextSize ? 0 : window };
}
