import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kernels } from '@quant/kernels';
import { type SyntheticLlamaConfig, writeSyntheticLlama } from '@quant/test-utils';

/** A temp directory of synthetic models for one test file. */
export class Fixtures {
  readonly dir = mkdtempSync(join(tmpdir(), 'quant-runtime-'));
  constructor(private readonly kernels: Kernels) {}

  async model(name: string, cfg: SyntheticLlamaConfig): Promise<string> {
    const p = join(this.dir, `${name}.gguf`);
    await writeSyntheticLlama(p, cfg, (t, src, rows, cols) => this.kernels.quantize(t, src, rows, cols));
    return p;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A small F32 Llama for behaviour tests. */
export const TINY: SyntheticLlamaConfig = {
  nEmbd: 64,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  nFF: 128,
  weightType: 'F32',
  seed: 11,
};
