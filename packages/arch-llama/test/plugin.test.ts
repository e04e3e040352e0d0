import { getArchitecture, listArchitectures, type ModelWeights, type SessionInit } from '@quant/plugin-api';
import { describe, expect, it } from 'vitest';
import {
  createLlamaSessionState,
  type LlamaHyperparameters,
  llamaPlugin,
  paddedContext,
} from '../src/index.js';

describe('registration', () => {
  it('importing the package registers "llama" and its aliases', () => {
    expect(getArchitecture('llama')).toBe(llamaPlugin);
    expect(getArchitecture('mistral')).toBe(llamaPlugin);
    expect(listArchitectures().find((a) => a.name === 'llama')?.description).toMatch(/Llama/);
  });
});

describe('session state: rope factor tables', () => {
  const table = (v: number) => new Float32Array(4).fill(v);
  const weights = (names: Record<string, Float32Array>): ModelWeights =>
    ({ optHost: (n: string) => names[n] }) as unknown as ModelWeights;
  const init = (h: Partial<LlamaHyperparameters>, w: ModelWeights, contextSize: number) =>
    ({
      hparams: { ropeScalingType: 'linear', originalContextLength: 4096, ...h },
      weights: w,
      contextSize,
    }) as unknown as SessionInit<LlamaHyperparameters>;

  it('uses rope_freqs.weight (Llama 3) when present', () => {
    const f = table(2);
    expect(createLlamaSessionState(init({}, weights({ 'rope_freqs.weight': f }), 512)).ropeFactors).toBe(f);
    expect(createLlamaSessionState(init({}, weights({}), 512)).ropeFactors).toBeUndefined();
  });

  it('LongRoPE: long table only when the 256-padded context exceeds the original context', () => {
    const long = table(3);
    const short = table(1);
    const w = weights({ 'rope_factors_long.weight': long, 'rope_factors_short.weight': short });
    const h = { ropeScalingType: 'longrope' as const, originalContextLength: 4096 };
    expect(createLlamaSessionState(init(h, w, 4096)).ropeFactors).toBe(short);
    expect(createLlamaSessionState(init(h, w, 4000)).ropeFactors).toBe(short);
    expect(createLlamaSessionState(init(h, w, 4097)).ropeFactors).toBe(long);
    expect(paddedContext(4097)).toBe(4352);
  });
});
