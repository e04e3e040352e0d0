/** Synthetic GGUFs (from @quant/test-utils) as bytes, and temporary cache folders. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticLlama } from '@quant/test-utils';

export const tempDir = (prefix = 'quant-hub-'): string => mkdtempSync(join(tmpdir(), prefix));

/** A small random-weight Llama GGUF (architecture `llama`, or `arch`), as bytes. */
export async function syntheticGGUF(seed: number, arch?: string): Promise<Uint8Array> {
  const dir = tempDir('quant-hub-model-');
  try {
    const p = join(dir, 'm.gguf');
    await writeSyntheticLlama(p, {
      nEmbd: 32,
      nLayers: 1,
      nHeads: 2,
      nKvHeads: 2,
      nFF: 64,
      seed,
      rng: 'mulberry32',
      ...(arch ? { arch } : {}),
    });
    return new Uint8Array(readFileSync(p));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Cache and environment for one test: nothing from the real machine leaks in (no token file, no HF_*). */
export function isolatedEnv(extra: Record<string, string> = {}): {
  env: NodeJS.ProcessEnv;
  root: string;
  cache: string;
} {
  const root = tempDir();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: root,
    HF_HOME: join(root, 'hf'),
    XDG_CACHE_HOME: join(root, 'xdg'),
    ...extra,
  };
  return { env, root, cache: join(root, 'hf', 'hub') };
}
