/**
 * llama.cpp's recorded outputs in `../shared/reference` (one JSON per model and prompt; see the
 * shared README): discovery of the reference files of the models present, and reading them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir, sharedModelsDir } from './shared.js';

/** One `MODEL.PROMPT.json` file. */
export interface Reference {
  model?: string;
  prompt: string;
  n_vocab: number;
  /** Prompt tokens, BOS first. */
  prompt_tokens: number[];
  /** Full logits at every prompt position. */
  prompt_logits: number[][];
  /** The next greedy tokens after the prompt. */
  greedy: { token: number; piece: string; top5?: [number, number][] }[];
}

export const referenceDir = join(sharedDir, 'reference');

/** Whether both the reference files and the models are there. */
export function haveReferences(): boolean {
  return existsSync(referenceDir) && existsSync(sharedModelsDir);
}

/**
 * Model file stem → its reference file names (sorted), for every reference whose model file is in
 * `../shared/models` and whose stem `keep` accepts. Empty when the shared data is absent.
 */
export function referenceSets(keep: (stem: string) => boolean): Map<string, string[]> {
  const sets = new Map<string, string[]>();
  if (!haveReferences()) return sets;
  for (const f of readdirSync(referenceDir).sort()) {
    const m = /^(.*)\.([a-z]+)\.json$/.exec(f);
    if (!m) continue;
    const stem = m[1] as string;
    if (!keep(stem) || !existsSync(join(sharedModelsDir, `${stem}.gguf`))) continue;
    sets.set(stem, [...(sets.get(stem) ?? []), f]);
  }
  return sets;
}

/** Reads one reference file by name. */
export function readReference(file: string): Reference {
  return JSON.parse(readFileSync(join(referenceDir, file), 'utf8')) as Reference;
}
