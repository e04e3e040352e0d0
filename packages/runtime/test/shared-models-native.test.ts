/**
 * Every model in ../shared/models runs end to end on the native backend: load (memory-mapped),
 * the prompt's logits at every position — llama.cpp's within the acceptance bounds where
 * ../shared/reference has them, else finite — on llama.cpp's standard attention path, then a
 * greedy generation on the flash path. @quant/kernels' ASan run (scripts/test-asan.mjs) reruns this
 * file against the AddressSanitizer build of the addon, so every shared model's full forward pass
 * is checked for out-of-bounds access.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  availableBackends,
  expectReferenceLogits,
  readReference,
  referenceDir,
  sharedModelsDir,
  warnSkipped,
} from '@quant/test-utils';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';

const models = existsSync(sharedModelsDir)
  ? readdirSync(sharedModelsDir)
      .filter((f) => f.endsWith('.gguf'))
      .sort()
  : [];
if (models.length === 0)
  warnSkipped(
    'shared-models-native',
    `${sharedModelsDir} is absent: skipping the full runs of the shared models.`,
  );
const { native } = models.length ? await availableBackends('shared-models-native') : { native: false };

const isF32 = (stem: string) =>
  stem === 'stories260K' || stem === 'stories260K-phi3' || stem.endsWith('-f32');

describe.skipIf(models.length === 0 || !native)('every shared model, full run on native', () => {
  for (const file of models) {
    const stem = file.replace(/\.gguf$/, '');
    it(`${stem}: prompt logits (llama.cpp's where recorded, else finite) and a greedy generation`, async () => {
      const refFile = `${stem}.once.json`;
      const model = await loadModel(join(sharedModelsDir, file), {
        backend: 'native',
        threads: 2,
        contextSize: 512,
        batchSize: 3,
        flashAttention: false,
      });
      try {
        const nVocab = model.hparams.nVocab;
        if (existsSync(join(referenceDir, refFile))) {
          await expectReferenceLogits(model, readReference(refFile), isF32(stem));
        } else {
          const s = model.createSession();
          const ids = model.tokenize('Once upon a time', { addBos: true });
          const logits = await s.evaluate(ids, { allLogits: true });
          s.dispose();
          expect(logits.length).toBe(ids.length * nVocab);
          expect(logits.every(Number.isFinite), 'every logit finite').toBe(true);
        }
        const g = model.generate('Once upon a time', {
          temperature: 0,
          maxTokens: 12,
          replaceEog: true,
          session: model.createSession({ flashAttention: true }),
        });
        await g.text();
        expect(g.tokens.length).toBe(12);
        for (const t of g.tokens) expect(t >= 0 && t < nVocab).toBe(true);
      } finally {
        model.dispose();
      }
    });
  }
});
