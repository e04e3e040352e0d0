/** Seeded random numbers for synthetic test data (same seed → same bytes on every machine). */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** mulberry32: a small deterministic PRNG; uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform floats in [-a, a) drawn from mulberry32. */
export function signedMulberry32(seed: number): (a: number) => number {
  const next = mulberry32(seed);
  return (a) => (next() * 2 - 1) * a;
}

/** Uniform floats in [-a, a) drawn from pure-rand's xoroshiro128+. */
export function signedXoroshiro(seed: number): (a: number) => number {
  const g = xoroshiro128plus(seed);
  return (a) => (uniformFloat64(g) * 2 - 1) * a;
}

/** `n` normal samples of standard deviation `std` (Box–Muller over a [0, 1) generator). */
export function gaussian(next: () => number, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const m = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}
