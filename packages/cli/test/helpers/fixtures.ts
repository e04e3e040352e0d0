/** Temporary synthetic models and the shared models' paths (tests skip what ../shared lacks). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasShared, sharedModelsDir, sharedPath, warnSkipped } from '@quant/test-utils';
import { type SyntheticConfig, writeSyntheticModel } from './synthetic';

export const sharedModels = sharedModelsDir;
export const stories = sharedPath('models', 'stories260K.gguf');
export const storiesPhi3 = sharedPath('models', 'stories260K-phi3.gguf');
export const haveShared = hasShared('models/stories260K.gguf', 'models/stories260K-phi3.gguf');
if (!haveShared)
  warnSkipped(
    'cli tests',
    `${sharedModels} not found: tests on the shared models are skipped (synthetic models still run).`,
  );

/** A small model: runs in milliseconds. */
export const SMALL: SyntheticConfig = { nEmbd: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 128, seed: 7 };

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'quant-cli-'));
  file(name: string): string {
    return join(this.path, name);
  }
  async model(name: string, cfg: SyntheticConfig): Promise<string> {
    const p = this.file(name);
    await writeSyntheticModel(p, cfg);
    return p;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}
