import { NonFiniteLogitsError } from '../errors.js';

/**
 * Throws NonFiniteLogitsError when any of the `rows` rows of `nVocab` logits holds NaN or ±Infinity
 * (`firstPosition` is the context position of the first row, for the message). One pass over the
 * floats: negligible next to the forward pass that produced them.
 */
export function assertFiniteLogits(logits: Float32Array, nVocab: number, firstPosition: number): void {
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] as number;
    // v - v is NaN exactly for NaN and ±Infinity.
    if (v - v !== 0) {
      const row = Math.floor(i / nVocab);
      let nan = 0;
      let inf = 0;
      for (let j = row * nVocab; j < (row + 1) * nVocab && j < logits.length; j++) {
        const x = logits[j] as number;
        if (Number.isNaN(x)) nan++;
        else if (!Number.isFinite(x)) inf++;
      }
      throw new NonFiniteLogitsError(firstPosition + row, nan, inf, nVocab);
    }
  }
}
