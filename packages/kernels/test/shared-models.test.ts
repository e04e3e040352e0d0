/**
 * Dequantization of every non-F32 tensor in ../shared/models equals the TypeScript reference
 * decoder's output bit for bit, on every available backend. Files are parsed with @quant/gguf.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import type { Kernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, expectExact, load } from './helpers';
import { BLOCK, refDequantize, TYPE_NAMES } from './ref-quants';

const dir = join(__dirname, '..', '..', '..', '..', 'shared', 'models');
const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.gguf'))
      .sort()
  : [];
if (!files.length)
  console.warn(`[kernels tests] ${dir} absent: skipping dequantization of the shared models' tensors`);

describe.skipIf(!files.length)('dequantize every tensor of ../shared/models', () => {
  const kernels: { name: string; k: Kernels }[] = [];
  beforeAll(async () => {
    for (const b of BACKENDS) if (b.available) kernels.push({ name: b.name, k: await load(b) });
  });
  afterAll(() => {
    for (const { k } of kernels) k.dispose();
  });

  for (const file of files) {
    it(file, async () => {
      const g = await parseGGUF(join(dir, file));
      let checked = 0;
      try {
        for (const t of g.tensors) {
          if (t.type === 0) continue;
          if (!BLOCK[t.type])
            throw new Error(
              `${file}: tensor ${t.name} has type ${t.typeName} (${t.type}) that the kernels do not support`,
            );
          const data = await g.readTensorData(t.name);
          const ref = refDequantize(t.type, data, t.nElements);
          for (const { name, k } of kernels)
            expectExact(
              k.dequantize(t.type, data, t.nElements),
              ref,
              `${file} ${t.name} (${TYPE_NAMES[t.type]}) on ${name}`,
            );
          checked++;
        }
      } finally {
        await g.close();
      }
      if (!g.tensors.some((t) => t.type !== 0))
        console.warn(`[kernels tests] ${file}: all tensors are F32, nothing to dequantize`);
      expect(checked).toBe(g.tensors.filter((t) => t.type !== 0).length);
    });
  }
});
