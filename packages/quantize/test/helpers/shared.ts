import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '../../../../vitest.shared';

export const modelsDir = join(sharedDir, 'models');
export const haveShared = existsSync(join(modelsDir, 'stories260K-llama-pad256-f32.gguf'));
if (!haveShared)
  console.warn(`[quantize] ${modelsDir} is absent: tests comparing with llama-quantize's files are skipped`);

export const model = (name: string): string => join(modelsDir, name);
