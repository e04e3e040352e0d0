/**
 * llama.cpp's LongRoPE table choice (llama_model::get_rope_factors after llama_context pads n_ctx
 * with GGML_PAD(n_ctx, 256)) as a table of cases; the live check against llama.cpp is in
 * synthetic-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { chooseRopeFactors, paddedContextSize } from '../src/index.js';

describe('LongRoPE table choice', () => {
  it('pads context sizes up to a multiple of 256', () => {
    expect([1, 255, 256, 257, 4096, 4097, 131072].map(paddedContextSize)).toEqual([
      256, 256, 256, 512, 4096, 4352, 131072,
    ]);
  });

  const short = new Float32Array([1, 1.5]);
  const long = new Float32Array([2, 40]);
  const both = {
    optHost: (n: string) =>
      n === 'rope_factors_long.weight' ? long : n === 'rope_factors_short.weight' ? short : undefined,
  };

  // Phi-3.5-mini: original_context_length 4096.
  const cases: [number, 'short' | 'long'][] = [
    [512, 'short'],
    [4096, 'short'],
    [4000, 'short'], // pads to 4096, not above it
    [4097, 'long'], // pads to 4352
    [8192, 'long'],
    [131072, 'long'],
  ];
  for (const [ctx, table] of cases) {
    it(`context ${ctx} with original 4096 → ${table} table`, () => {
      const c = chooseRopeFactors({ originalContextLength: 4096 }, both, ctx);
      expect(c.table).toBe(table);
      expect(c.factors).toBe(table === 'long' ? long : short);
    });
  }

  it('a table the file lacks means no factors (as llama.cpp passes a null tensor)', () => {
    const onlyShort = { optHost: (n: string) => (n === 'rope_factors_short.weight' ? short : undefined) };
    expect(chooseRopeFactors({ originalContextLength: 4096 }, onlyShort, 8192)).toEqual({
      table: 'none',
      factors: undefined,
    });
    expect(chooseRopeFactors({ originalContextLength: 4096 }, onlyShort, 2048)).toEqual({
      table: 'short',
      factors: short,
    });
  });
});
