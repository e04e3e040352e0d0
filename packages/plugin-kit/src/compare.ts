/** Logit comparison metrics of the parity tests: KL divergence, max |Δ|, argmax mismatches. */

export function argmaxOf(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if ((x[i] as number) > (x[b] as number)) b = i;
  return b;
}

function logSoftmax(x: ArrayLike<number>): Float64Array {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i] as number);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp((x[i] as number) - m);
  const lse = m + Math.log(s);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i] as number) - lse;
  return out;
}

/** KL(ref ‖ ours) of the softmax distributions. */
export function klDivergence(ref: ArrayLike<number>, ours: ArrayLike<number>): number {
  const lp = logSoftmax(ref);
  const lq = logSoftmax(ours);
  let kl = 0;
  for (let i = 0; i < lp.length; i++) {
    const p = Math.exp(lp[i] as number);
    kl += p * ((lp[i] as number) - (lq[i] as number));
  }
  return kl;
}

export interface Comparison {
  maxAbsDiff: number;
  maxAbsRef: number;
  /**
   * Positions where our argmax is not the reference's. At a position where the reference's best
   * logits tie within 1e-3·max|logit| (the F32 equality tolerance), picking any of the tied
   * tokens counts as the same argmax: no implementation short of bit-exact llama.cpp can order them.
   */
  argmaxMismatches: number[];
  /** For each mismatch: the reference's logit gap between its argmax and ours. */
  mismatchGaps: number[];
  /** Positions where the reference's argmax is a tie (and ours picked a tied token). */
  ties: number[];
  meanKL: number;
}

/** Compares per-position logits (ref rows vs ours flattened row after row). */
export function compareLogits(ref: ArrayLike<number>[], ours: Float32Array, nVocab: number): Comparison {
  let maxAbsDiff = 0;
  let maxAbsRef = 0;
  let kl = 0;
  const argmaxMismatches: number[] = [];
  const mismatchGaps: number[] = [];
  const ties: number[] = [];
  ref.forEach((r, p) => {
    const o = ours.subarray(p * nVocab, (p + 1) * nVocab);
    for (let i = 0; i < nVocab; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs((r[i] as number) - (o[i] as number)));
      maxAbsRef = Math.max(maxAbsRef, Math.abs(r[i] as number));
    }
    kl += klDivergence(r, o);
  });
  const tieTolerance = 1e-3 * maxAbsRef;
  ref.forEach((r, p) => {
    const o = ours.subarray(p * nVocab, (p + 1) * nVocab);
    const a = argmaxOf(r);
    const b = argmaxOf(o);
    if (a === b) return;
    const gap = (r[a] as number) - (r[b] as number);
    if (gap <= tieTolerance) ties.push(p);
    else {
      argmaxMismatches.push(p);
      mismatchGaps.push(gap);
    }
  });
  return { maxAbsDiff, maxAbsRef, argmaxMismatches, mismatchGaps, ties, meanKL: kl / ref.length };
}

/** max |a[i] − b[i]|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

/** Mean KL(reference ‖ candidate) over every position of every sequence. */
export function meanKL(ref: ArrayLike<number>[][], cand: ArrayLike<number>[][]): number {
  let s = 0;
  let n = 0;
  for (const [i, seq] of ref.entries()) {
    for (const [j, p] of seq.entries()) {
      const q = cand[i]?.[j];
      if (!q) throw new Error(`meanKL: candidate has no logits at sequence ${i}, position ${j}`);
      s += klDivergence(p, q);
      n++;
    }
  }
  return s / n;
}

/** Whether every logit of every position is finite. */
export function allFinite(ls: ArrayLike<number>[][]): boolean {
  return ls.every((seq) => seq.every((v) => Array.prototype.every.call(v, Number.isFinite)));
}
