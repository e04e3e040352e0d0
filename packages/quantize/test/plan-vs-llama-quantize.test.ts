// Our tensor → type plan must equal the types llama-quantize wrote into the shared model files.
import { existsSync } from 'node:fs';
import { parseGGUF } from '@quant/gguf';
import { LLAMA_FTYPE, type PlanFileType, planQuantization } from '@quant/quantize';
import { describe, expect, it } from 'vitest';
import { haveShared, model } from './helpers/shared.js';

const MIXES: [string, PlanFileType][] = [
  ['q8_0', 'Q8_0'],
  ['q6_k', 'Q6_K'],
  ['q5_k_m', 'Q5_K_M'],
  ['q4_k_m', 'Q4_K_M'],
  ['q3_k_m', 'Q3_K_M'],
  ['q2_k', 'Q2_K'],
];

async function storedTypes(
  path: string,
): Promise<{ order: string[]; types: Map<string, string>; fileType: unknown; qv: unknown }> {
  const f = await parseGGUF(path);
  try {
    return {
      order: f.tensors.map((t) => t.name),
      types: new Map(f.tensors.map((t) => [t.name, t.typeName])),
      fileType: f.metadata['general.file_type'],
      qv: f.metadata['general.quantization_version'],
    };
  } finally {
    await f.close();
  }
}

describe.skipIf(!haveShared)('plan equals llama-quantize (pad256 F32 sources)', () => {
  for (const arch of ['llama', 'phi3']) {
    for (const [suffix, type] of MIXES) {
      const out = model(`stories260K-${arch}-pad256-${suffix}.gguf`);
      it.skipIf(!existsSync(out))(`${arch} ${type}`, async () => {
        const src = await parseGGUF(model(`stories260K-${arch}-pad256-f32.gguf`));
        const plan = planQuantization(src, { type });
        await src.close();
        const want = await storedTypes(out);
        expect(Object.fromEntries(plan.tensors.map((t) => [t.name, t.targetTypeName]))).toEqual(
          Object.fromEntries(want.types),
        );
        // Same order as llama-quantize writes, same general.file_type.
        expect(plan.tensors.map((t) => t.name)).toEqual(want.order);
        expect(plan.ftype).toBe(want.fileType);
        expect(LLAMA_FTYPE[type]).toBe(want.fileType);
        expect(want.qv).toBe(2);
      });
    }
  }
});

describe.skipIf(!haveShared)('plan equals llama-quantize (ff192 files: 64-wide rows, fallbacks)', () => {
  // No F32 source of these is shipped; the plan depends only on names, shapes and metadata, so we
  // plan from the quantized file's own table with every 2-D tensor presented as F32.
  for (const [name, type] of [
    ['stories260K-llama-ff192-q4_0.gguf', 'Q4_0'],
    ['stories260K-llama-ff192-q8_0.gguf', 'Q8_0'],
    ['stories260K-phi3-ff192-q8_0.gguf', 'Q8_0'],
  ] as const) {
    it(`${name}`, async () => {
      const f = await parseGGUF(model(name));
      const asF32 = {
        metadata: f.metadata,
        tensors: f.tensors.map((t) => ({ name: t.name, type: 0, shape: t.shape })),
      };
      const plan = planQuantization(asF32, { type });
      expect(Object.fromEntries(plan.tensors.map((t) => [t.name, t.targetTypeName]))).toEqual(
        Object.fromEntries(f.tensors.map((t) => [t.name, t.typeName])),
      );
      expect(plan.tensors.map((t) => t.name)).toEqual(f.tensors.map((t) => t.name));
      // output.weight has 64 columns: Q6_K does not fit, so it falls back to Q8_0.
      if (type === 'Q4_0')
        expect(plan.tensors.find((t) => t.name === 'output.weight')?.fallbackFrom).toBe(14);
      await f.close();
    });
  }
});
