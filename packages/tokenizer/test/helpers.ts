import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import { sharedDir } from '../../../vitest.shared';
import { Tokenizer } from '../src/index.js';

export const vocabDir = join(sharedDir, 'vocab');
/** TOKENIZER_SIMULATE_NO_SHARED=1 runs the suite as a fresh clone without ../shared would. */
export const noShared = process.env.TOKENIZER_SIMULATE_NO_SHARED === '1';
export const hasVocab = !noShared && existsSync(vocabDir);

export function vocabPath(name: string): string {
  return join(vocabDir, `ggml-vocab-${name}.gguf`);
}

const cache = new Map<string, Promise<Tokenizer>>();

/** Tokenizer for one of llama.cpp's test vocabularies in ../shared/vocab. */
export function loadVocab(name: string): Promise<Tokenizer> {
  let p = cache.get(name);
  if (p === undefined) {
    p = parseGGUF(vocabPath(name)).then((file) => Tokenizer.fromGGUF(file));
    cache.set(name, p);
  }
  return p;
}

/** The `.inp` / `.out` test vectors, split exactly as llama.cpp's test-tokenizer-0 reads them. */
export function readVectors(name: string): { input: string; expected: number[] }[] {
  const raw = readFileSync(join(vocabDir, `ggml-vocab-${name}.gguf.inp`), 'utf8');
  const outLines = readFileSync(join(vocabDir, `ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  if (outLines.at(-1) === '') outLines.pop();
  const sep = '\n__ggml_vocab_test__\n';
  const inputs: string[] = [];
  let pos = 0;
  while (pos < raw.length) {
    const next = raw.indexOf(sep, pos);
    if (next < 0) {
      inputs.push(raw.substring(pos));
      break;
    }
    inputs.push(raw.substring(pos, next));
    pos = next + sep.length;
  }
  if (inputs.length !== outLines.length)
    throw new Error(`${name}: ${inputs.length} inputs vs ${outLines.length} outputs`);
  return inputs.map((input, i) => ({
    input,
    expected: outLines[i]!.trim().length === 0 ? [] : outLines[i]!.trim().split(/\s+/).map(Number),
  }));
}

export function hasVectors(name: string): boolean {
  return hasVocab && existsSync(join(vocabDir, `ggml-vocab-${name}.gguf.inp`));
}

export const llama3TokenizerJsonPath = join(
  __dirname,
  '..',
  'node_modules',
  '@lenml',
  'tokenizer-llama3',
  'models',
  'tokenizer.json',
);
