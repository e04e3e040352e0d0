import { describe, expect, it } from 'vitest';
import { applyPenalties } from '../src/sampling/penalties.js';
import { Sampler } from '../src/sampling/sampler.js';

/** Deterministic pseudo-random logits for the tests (independent of the sampler's RNG). */
function logitsFor(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 10 - 5;
  }
  return out;
}

/** Reference filter chain written from the definitions (full sort, float64). */
function referenceDistribution(
  logits: Float32Array,
  o: { topK: number; topP: number; minP: number; temperature: number },
): Map<number, number> {
  let c = [...logits].map((l, id) => ({ id, l })).sort((a, b) => b.l - a.l || a.id - b.id);
  if (o.topK > 0) c = c.slice(0, o.topK);
  const soft = (xs: { l: number }[], t: number) => {
    const m = Math.max(...xs.map((x) => x.l));
    const e = xs.map((x) => Math.exp((x.l - m) / t));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  if (o.topP < 1) {
    const p = soft(c, 1);
    let cum = 0;
    let keep = c.length;
    for (let i = 0; i < p.length; i++) {
      cum += p[i] as number;
      if (cum >= o.topP) {
        keep = i + 1;
        break;
      }
    }
    c = c.slice(0, keep);
  }
  if (o.minP > 0) {
    const p = soft(c, 1);
    const pmax = p[0] as number;
    c = c.filter((_, i) => (p[i] as number) >= o.minP * pmax || i === 0);
  }
  const p = soft(c, o.temperature);
  return new Map(c.map((x, i) => [x.id, p[i] as number]));
}

describe('Sampler filters match a reference chain', () => {
  const cases = [
    { topK: 0, topP: 1, minP: 0, temperature: 1 },
    { topK: 40, topP: 1, minP: 0, temperature: 1 },
    { topK: 0, topP: 0.9, minP: 0, temperature: 1 },
    { topK: 0, topP: 1, minP: 0.1, temperature: 0.7 },
    { topK: 50, topP: 0.95, minP: 0.05, temperature: 0.8 },
    { topK: 3, topP: 0.5, minP: 0.2, temperature: 1.5 },
  ];
  for (const [i, o] of cases.entries()) {
    it(`case ${i}: ${JSON.stringify(o)}`, () => {
      for (let seed = 1; seed <= 5; seed++) {
        const logits = logitsFor(500, seed * 977 + i);
        const ref = referenceDistribution(logits, o);
        const got = new Sampler({ ...o, seed: 1 }).distribution(logits);
        expect(new Set(got.ids)).toEqual(new Set(ref.keys()));
        for (let j = 0; j < got.ids.length; j++) {
          expect(got.probs[j]).toBeCloseTo(ref.get(got.ids[j] as number) as number, 9);
        }
      }
    });
  }

  it('top-k keeps exactly k tokens with ties broken towards lower ids', () => {
    const logits = Float32Array.from([1, 3, 3, 2, 3, 0]);
    const d = new Sampler({ topK: 2, topP: 1, minP: 0, temperature: 1 }).distribution(logits);
    expect([...d.ids]).toEqual([1, 2]);
  });
});

describe('Sampler draws', () => {
  it('follows softmax(logits / T) (chi-square test)', () => {
    const logits = Float32Array.from([2, 1, 0.5, 0, -1]);
    const T = 0.7;
    const expected = [...logits].map((l) => Math.exp(l / T));
    const z = expected.reduce((a, b) => a + b, 0);
    const s = new Sampler({ temperature: T, topK: 0, topP: 1, minP: 0, seed: 42 });
    const N = 40_000;
    const counts = new Array(logits.length).fill(0);
    for (let i = 0; i < N; i++) counts[s.sample(logits)]++;
    let chi2 = 0;
    for (let i = 0; i < logits.length; i++) {
      const e = (N * (expected[i] as number)) / z;
      chi2 += (counts[i] - e) ** 2 / e;
    }
    // 4 degrees of freedom: P(chi2 > 18.47) = 0.001
    expect(chi2).toBeLessThan(18.47);
  });

  it('never draws a filtered-out token', () => {
    const logits = logitsFor(200, 7);
    const s = new Sampler({ temperature: 1.2, topK: 10, topP: 0.8, minP: 0.05, seed: 3 });
    const allowed = new Set(s.distribution(logits).ids);
    for (let i = 0; i < 2000; i++) expect(allowed.has(s.sample(logits))).toBe(true);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const logits = logitsFor(100, 11);
    const run = (seed: number) => {
      const s = new Sampler({ temperature: 1, topK: 0, topP: 1, minP: 0, seed });
      return Array.from({ length: 50 }, () => s.sample(logits));
    };
    expect(run(123)).toEqual(run(123));
    expect(run(123)).not.toEqual(run(124));
  });

  it('temperature 0 is greedy (first max on ties)', () => {
    const s = new Sampler({ temperature: 0 });
    expect(s.sample(Float32Array.from([0, 5, 1, 5]))).toBe(1);
  });

  it('rejects bad options with INVALID_OPTION', () => {
    expect(() => new Sampler({ topP: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => new Sampler({ topK: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => new Sampler({ temperature: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});

describe('penalties', () => {
  it('apply llama.cpp semantics over the last N tokens', () => {
    const logits = Float32Array.from([2, -2, 1, 0.5, 3]);
    const history = [4, 0, 1, 1, 3]; // last 4: 0, 1, 1, 3
    applyPenalties(logits, history, 4, 2, 0.5, 0.25);
    // token 0: seen once, positive: 2/2 - 0.5 - 0.25
    expect(logits[0]).toBeCloseTo(0.25, 6);
    // token 1: seen twice, negative: -2*2 - 1 - 0.25
    expect(logits[1]).toBeCloseTo(-5.25, 6);
    expect(logits[2]).toBeCloseTo(1, 6);
    // token 3: 0.5/2 - 0.5 - 0.25
    expect(logits[3]).toBeCloseTo(-0.5, 6);
    // token 4 is outside the window
    expect(logits[4]).toBeCloseTo(3, 6);
  });

  it('repeat penalty changes the greedy choice', () => {
    const logits = Float32Array.from([3, 2.5, 0]);
    expect(new Sampler({ temperature: 0 }).sample(logits, [0])).toBe(0);
    expect(new Sampler({ temperature: 0, repeatPenalty: 1.5 }).sample(logits, [0])).toBe(1);
  });
});
