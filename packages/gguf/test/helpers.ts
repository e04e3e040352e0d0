import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '../../../vitest.shared';

export const modelsDir = join(sharedDir, 'models');
export const vocabDir = join(sharedDir, 'vocab');
// GGUF_TEST_WITHOUT_SHARED=1 simulates a fresh clone without ../shared.
export const hasShared =
  !process.env.GGUF_TEST_WITHOUT_SHARED && existsSync(modelsDir) && existsSync(vocabDir);
if (!hasShared) console.warn(`[gguf tests] ${sharedDir} is absent: tests on the shared models are skipped`);

/** Every .gguf file in ../shared/models and ../shared/vocab. */
export function sharedGGUFFiles(): string[] {
  if (!hasShared) return [];
  const out: string[] = [];
  for (const d of [modelsDir, vocabDir]) {
    for (const f of readdirSync(d).sort()) if (f.endsWith('.gguf')) out.push(join(d, f));
  }
  return out;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
