// ../shared/reference holds llama.cpp's own prompt tokens (BOS added) and greedy pieces for the shared
// models: our encode() with the default BOS rule and tokenToPiece() must agree.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import { describe, expect, it } from 'vitest';
import { sharedDir } from '../../../vitest.shared';
import { Tokenizer } from '../src/index.js';
import { noShared } from './helpers.js';

const refDir = join(sharedDir, 'reference');
const modelDir = join(sharedDir, 'models');
const files = !noShared && existsSync(refDir) ? readdirSync(refDir).filter((f) => f.endsWith('.json')) : [];
if (files.length === 0) console.warn(`[tokenizer] ${refDir} is absent: skipping llama.cpp reference prompts`);

interface Ref {
  model: string;
  prompt: string;
  prompt_tokens: number[];
  greedy: { token: number; piece: string }[];
}

describe.skipIf(files.length === 0)('llama.cpp reference prompts (../shared/reference)', () => {
  const tokenizers = new Map<string, Promise<Tokenizer>>();
  for (const f of files) {
    it(f, async () => {
      const ref = JSON.parse(readFileSync(join(refDir, f), 'utf8')) as Ref;
      const path = join(modelDir, ref.model);
      if (!existsSync(path)) return;
      let p = tokenizers.get(ref.model);
      if (p === undefined) {
        p = parseGGUF(path).then((file) => Tokenizer.fromGGUF(file));
        tokenizers.set(ref.model, p);
      }
      const tok = await p;
      expect(tok.encode(ref.prompt)).toEqual(ref.prompt_tokens);
      for (const g of ref.greedy) expect(tok.tokenToPiece(g.token)).toBe(g.piece);
    });
  }
});
