import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableBackends, BACKENDS, sharedDir } from '@quant/test-utils';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';

const path = join(sharedDir, 'models', 'stories260K.gguf');
const have = existsSync(path);
if (!have) console.warn(`[stories] ${path} is absent: skipping the stories260K generation test.`);
const backends = have ? await availableBackends('stories') : { native: false, wasm: false };

describe.skipIf(!have)('stories260K', () => {
  for (const backend of BACKENDS) {
    it.skipIf(!backends[backend])(
      `${backend}: greedy from "Once upon a time" writes the known story`,
      async () => {
        const model = await loadModel(path, { backend, threads: 1, contextSize: 256 });
        try {
          let text = '';
          const pieces: string[] = [];
          for await (const piece of model.generate('Once upon a time', { temperature: 0, maxTokens: 32 })) {
            pieces.push(piece);
            text += piece;
          }
          expect(pieces.length).toBeGreaterThan(10); // streamed piece by piece
          const story = ', there was a little girl named Lily. She loved to play outside in the park.';
          expect(text.slice(0, story.length)).toBe(story);
        } finally {
          model.dispose();
        }
      },
    );
  }
});
