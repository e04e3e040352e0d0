import { describe, expect, it } from 'vitest';
import { roundToF16InPlace } from '../src/model/f16-round.js';

/** Reference: IEEE half rounding by exhaustive search over the neighbouring representable halves. */
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -24 * f;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
const ALL_HALVES = Array.from({ length: 0x7c00 }, (_, h) => halfValue(h)); // finite non-negative halves, ascending

function referenceRound(x: number): number {
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Number.POSITIVE_INFINITY;
  let lo = 0;
  let hi = ALL_HALVES.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((ALL_HALVES[mid] as number) <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - (ALL_HALVES[lo] as number);
  const dh = (ALL_HALVES[hi] as number) - a;
  const pick = dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi;
  const r = ALL_HALVES[pick] as number;
  return x < 0 ? -r : r;
}

describe('roundToF16InPlace', () => {
  it('matches IEEE round-to-nearest-even half precision on random and edge values', () => {
    const values: number[] = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      -70000,
      6.1e-5,
      5.96e-8,
      2.98e-8,
      2.99e-8,
      1e-9,
      0.1,
      1 / 3,
      2049,
      2051,
      1025.5,
    ];
    let s = 12345;
    for (let i = 0; i < 20000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const e = (s % 40) - 26;
      values.push((s / 2 ** 32 - 0.5) * 2 ** e);
    }
    const x = Float32Array.from(values);
    const want = Array.from(x, (v) => referenceRound(v));
    roundToF16InPlace(x);
    for (let i = 0; i < x.length; i++) {
      if (x[i] !== want[i]) throw new Error(`value ${values[i]}: got ${x[i]}, want ${want[i]}`);
    }
    const special = Float32Array.of(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
    roundToF16InPlace(special);
    expect(Number.isNaN(special[0] as number)).toBe(true);
    expect([special[1], special[2]]).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
  });
});
