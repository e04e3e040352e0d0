// The comparison math against values worked out by hand.
import { describe, expect, it } from 'vitest';
import { allFinite, argmaxOf, compareLogits, klDivergence, maxAbsDiff, meanKL } from '../src/index.js';

describe('klDivergence', () => {
  it('is 0 for equal distributions, also when the logits differ by a constant', () => {
    expect(klDivergence([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(klDivergence([1, 2, 3], [11, 12, 13])).toBeCloseTo(0, 12);
  });

  it('matches the hand-computed value for two tokens', () => {
    // p = softmax(0, 0) = (1/2, 1/2); q = softmax(0, ln 3) = (1/4, 3/4).
    // KL(p‖q) = ½·ln(½ / ¼) + ½·ln(½ / ¾) = ½·ln 2 + ½·ln(2/3) = ½·ln(4/3).
    expect(klDivergence([0, 0], [0, Math.log(3)])).toBeCloseTo(0.5 * Math.log(4 / 3), 12);
    // Reversed: KL(q‖p) = ¼·ln(½) + ¾·ln(3/2).
    expect(klDivergence([0, Math.log(3)], [0, 0])).toBeCloseTo(
      0.25 * Math.log(0.5) + 0.75 * Math.log(1.5),
      12,
    );
  });

  it('stays finite for large logits (log-sum-exp is shifted)', () => {
    expect(klDivergence([1000, 1000], [1000, 1000 + Math.log(3)])).toBeCloseTo(0.5 * Math.log(4 / 3), 9);
  });
});

describe('meanKL and allFinite', () => {
  it('averages over every position of every sequence', () => {
    const a = [
      [[0, 0]],
      [
        [0, 0],
        [1, 1],
      ],
    ];
    const b = [
      [[0, Math.log(3)]],
      [
        [0, 0],
        [1, 1],
      ],
    ];
    expect(meanKL(a, b)).toBeCloseTo((0.5 * Math.log(4 / 3)) / 3, 12);
  });
  it('throws when the candidate lacks a position', () => {
    expect(() =>
      meanKL(
        [
          [
            [0, 0],
            [0, 0],
          ],
        ],
        [[[0, 0]]],
      ),
    ).toThrow(/sequence 0, position 1/);
  });
  it('finds non-finite logits', () => {
    expect(allFinite([[new Float32Array([1, 2])]])).toBe(true);
    expect(allFinite([[new Float32Array([1, Number.NaN])]])).toBe(false);
    expect(allFinite([[[1]], [[Number.POSITIVE_INFINITY]]])).toBe(false);
  });
});

describe('maxAbsDiff and argmaxOf', () => {
  it('computes max |a − b|', () => {
    expect(maxAbsDiff([1, -2, 3], [1.5, 2, 3])).toBe(4);
    expect(maxAbsDiff([], [])).toBe(0);
    expect(() => maxAbsDiff([1], [1, 2])).toThrow(/lengths differ/);
  });
  it('returns the first index of the maximum', () => {
    expect(argmaxOf([0, 5, 5, -1])).toBe(1);
    expect(argmaxOf([-3, -2, -7])).toBe(1);
  });
});

describe('compareLogits', () => {
  const ref = [
    [1, 5, 2], // argmax 1
    [3, 0, 0], // argmax 0
    [10, 10.005, 0], // argmax 1, a tie with 0 within 1e-3·10.005
  ];
  const ours = new Float32Array([1, 5, 2.5, 0, 2, 0, 10, 9.9, 0]);
  const c = compareLogits(ref, ours, 3);

  it('reports max |Δ| and max |ref| over all positions', () => {
    expect(c.maxAbsDiff).toBeCloseTo(3, 6); // position 1, token 0: 3 vs 0
    expect(c.maxAbsRef).toBe(10.005);
  });
  it('separates argmax mismatches (with their reference gaps) from ties', () => {
    expect(c.argmaxMismatches).toEqual([1]); // ours picks token 1, ref's gap 3 − 0
    expect(c.mismatchGaps).toEqual([3]);
    expect(c.ties).toEqual([2]); // ours picks token 0, ref's gap 0.005 ≤ 0.010005
  });
  it('averages KL over positions', () => {
    const expected =
      (klDivergence(ref[0] as number[], ours.subarray(0, 3)) +
        klDivergence(ref[1] as number[], ours.subarray(3, 6)) +
        klDivergence(ref[2] as number[], ours.subarray(6, 9))) /
      3;
    expect(c.meanKL).toBeCloseTo(expected, 12);
    expect(c.meanKL).toBeGreaterThan(0);
  });
});
