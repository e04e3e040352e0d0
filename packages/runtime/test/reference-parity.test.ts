/**
 * Parity with llama.cpp's recorded outputs in ../shared/reference: logits at every prompt position
 * and the greedy continuation, for every Llama-architecture model in ../shared/models, on every
 * available kernel backend.
 */
import {
  availableBackends,
  haveReferences,
  referenceDir,
  referenceParitySuite,
  referenceSets,
  sharedModelsDir,
} from '@quant/test-utils';
import { describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';

const modelDir = sharedModelsDir;
const haveShared = haveReferences();
if (!haveShared)
  console.warn(
    `[reference-parity] ${referenceDir} or ${modelDir} is absent: skipping the llama.cpp reference comparisons.`,
  );

/** Llama-architecture models only (the phi3 relayouts are arch-phi3's). */
const sets = referenceSets((stem) => !stem.includes('phi3'));
const backends = haveShared ? await availableBackends('reference-parity') : { native: false, wasm: false };
/** F32 files get the tight bound; they, Q8_0 files and the F16 llama-2-tiny-random get the greedy check. */
const isF32 = (stem: string) => stem === 'stories260K' || stem.endsWith('-f32');
const exactGreedy = (stem: string) => isF32(stem) || stem.endsWith('q8_0') || stem === 'llama-2-tiny-random';

describe.skipIf(!haveShared)('reference parity', () => {
  it('covers every llama model in ../shared/models', () => {
    expect([...sets.keys()]).toEqual(
      expect.arrayContaining([
        'stories260K',
        'llama-2-tiny-random',
        'stories260K-llama-ff192-q8_0',
        'stories260K-llama-ff192-q4_0',
        ...['f32', 'q8_0', 'q6_k', 'q5_k_m', 'q4_k_m', 'q3_k_m', 'q2_k'].map(
          (q) => `stories260K-llama-pad256-${q}`,
        ),
      ]),
    );
  });

  referenceParitySuite<Model>({
    sets,
    backends,
    unquantized: isF32,
    exactGreedy,
    loadModel,
    modelDir,
    batchSize: 3,
  });
});
