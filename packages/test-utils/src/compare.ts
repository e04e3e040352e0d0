import type { Comparison } from '@quant/plugin-kit';
import { expect } from 'vitest';

/**
 * Logit comparison metrics of the parity tests: KL divergence, max |Δ|, argmax mismatches. The
 * metrics live in @quant/plugin-kit (plugin authors compare with llama.cpp the same way); the
 * vitest assertion of quant's parity bounds is here.
 */
export {
  allFinite,
  argmaxOf,
  type Comparison,
  compareLogits,
  klDivergence,
  maxAbsDiff,
  meanKL,
} from '@quant/plugin-kit';

/**
 * The parity bounds of the acceptance criteria against llama.cpp: an unquantized (F32) model's
 * logits within 1e-3·max|logit| everywhere; a quantized model's argmax the same at every position
 * and mean KL(reference ‖ ours) ≤ 0.01.
 */
export function expectParity(c: Comparison, unquantized: boolean): void {
  if (unquantized) {
    expect(c.maxAbsDiff, `max|Δlogit| vs 1e-3·max|logit| = ${1e-3 * c.maxAbsRef}`).toBeLessThanOrEqual(
      1e-3 * c.maxAbsRef,
    );
  } else {
    expect(
      c.argmaxMismatches,
      `argmax differs (reference gaps ${c.mismatchGaps}, mean KL ${c.meanKL})`,
    ).toEqual([]);
    expect(c.meanKL).toBeLessThanOrEqual(0.01);
  }
}
