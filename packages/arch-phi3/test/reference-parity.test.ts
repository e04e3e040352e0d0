/**
 * Parity with llama.cpp's recorded outputs in ../shared/reference for every phi3 model in
 * ../shared/models: logits at every prompt position and the greedy continuation, on every
 * available kernel backend. Also: the phi3 relayout of stories260K writes the same story as the
 * original Llama file does in llama.cpp.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Model } from '@quant/runtime';
import {
  availableBackends,
  haveReferences,
  readReference,
  referenceDir,
  referenceParitySuite,
  referenceSets,
  sharedModelsDir,
} from '@quant/test-utils';
import { describe, expect, it } from 'vitest';

const refDir = referenceDir;
const modelDir = sharedModelsDir;
const haveShared = haveReferences();
if (!haveShared)
  console.warn(
    `[arch-phi3 reference-parity] ${refDir} or ${modelDir} is absent: skipping the llama.cpp reference comparisons.`,
  );

const EXPECTED_STEMS = [
  'stories260K-phi3',
  'stories260K-phi3-ff192-q8_0',
  ...['f32', 'q8_0', 'q6_k', 'q4_k_m'].map((q) => `stories260K-phi3-pad256-${q}`),
];

const sets = referenceSets((stem) => stem.includes('phi3'));
const backends = haveShared
  ? await availableBackends('arch-phi3 reference-parity')
  : { native: false, wasm: false };
const isF32 = (stem: string) => stem === 'stories260K-phi3' || stem.endsWith('-f32');
const exactGreedy = (stem: string) => isF32(stem) || stem.endsWith('q8_0');

describe.skipIf(!haveShared)('phi3 reference parity (../shared/reference)', () => {
  it('covers every phi3 model in ../shared/models', () => {
    const onDisk = readdirSync(modelDir)
      .filter((f) => f.includes('phi3') && f.endsWith('.gguf'))
      .map((f) => f.slice(0, -5));
    expect([...sets.keys()].sort()).toEqual(onDisk.sort());
    expect(onDisk).toEqual(expect.arrayContaining(EXPECTED_STEMS));
  });

  referenceParitySuite<Model>({
    sets,
    backends,
    unquantized: isF32,
    exactGreedy,
    loadModel,
    modelDir,
    batchSize: 4,
    perModel: (model) => {
      it('runs on the phi3 plugin', () => {
        expect(model().architecture).toBe('phi3');
        expect(model().plugin.name).toBe('phi3');
      });
    },
    perBackend: (backend) => {
      const llamaRef = join(refDir, 'stories260K.once.json');
      it.skipIf(!existsSync(join(modelDir, 'stories260K-phi3.gguf')) || !existsSync(llamaRef))(
        'stories260K-phi3 writes the same story as stories260K (llama.cpp greedy of the Llama file)',
        async () => {
          const ref = readReference('stories260K.once.json');
          const model = await loadModel(join(modelDir, 'stories260K-phi3.gguf'), {
            backend,
            threads: 1,
            contextSize: 256,
            flashAttention: false, // the references' configuration (ReferenceLoadOptions)
          });
          try {
            const prompt = model.tokenize(ref.prompt);
            expect(prompt).toEqual(ref.prompt_tokens);
            const gen = model.generate(ref.prompt, {
              temperature: 0,
              maxTokens: ref.greedy.length,
              replaceEog: true,
            });
            const text = await gen.text();
            expect(gen.tokens).toEqual(ref.greedy.map((g) => g.token));
            expect(text).toBe(ref.greedy.map((g) => g.piece).join(''));
          } finally {
            model.dispose();
          }
        },
      );
    },
  });
});
