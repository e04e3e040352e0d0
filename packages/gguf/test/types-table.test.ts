// The ggml type table against independent sources: @huggingface/gguf's id enum, the bits per
// weight llama.cpp documents for its quant types, and (when present) llama.cpp's own headers.
import { existsSync, readFileSync } from 'node:fs';
import { GGMLQuantizationType } from '@huggingface/gguf';
import { GGML_TYPES, GGMLType, GGUFError, ggmlTensorBytes, ggmlTypeInfo, resolveGGMLType } from '@quant/gguf';
import { describe, expect, it } from 'vitest';

const LLAMA_CPP = '/tmp/llama.cpp';

describe('ggml type table', () => {
  it('ids and names agree with @huggingface/gguf', () => {
    const theirs = Object.entries(GGMLQuantizationType).filter(([k]) => Number.isNaN(Number(k)));
    expect(Object.fromEntries(theirs)).toEqual({ ...GGMLType });
  });

  it('bits per weight match llama.cpp documentation', () => {
    // From llama.cpp's k-quants PR (#1684) and the quantize tool's help text.
    const bpw: Record<string, number> = {
      F32: 32,
      F16: 16,
      BF16: 16,
      Q4_0: 4.5,
      Q4_1: 5,
      Q5_0: 5.5,
      Q5_1: 6,
      Q8_0: 8.5,
      Q2_K: 2.625,
      Q3_K: 3.4375,
      Q4_K: 4.5,
      Q5_K: 5.5,
      Q6_K: 6.5625,
      IQ2_XXS: 2.0625,
      IQ2_XS: 2.3125,
      IQ3_XXS: 3.0625,
      IQ1_S: 1.5625,
      IQ4_NL: 4.5,
      IQ3_S: 3.4375,
      IQ2_S: 2.5625,
      IQ4_XS: 4.25,
      IQ1_M: 1.75,
      TQ1_0: 1.6875,
      TQ2_0: 2.0625,
      MXFP4: 4.25,
    };
    for (const [name, expected] of Object.entries(bpw)) {
      const t = resolveGGMLType(name);
      expect((t.typeSize * 8) / t.blockSize, name).toBe(expected);
    }
  });

  it('unknown ids throw GGUFError naming the id', () => {
    for (const id of [4, 5, 31, 32, 33, 36, 37, 38, 43, -1, 1.5]) {
      expect(() => ggmlTypeInfo(id)).toThrow(GGUFError);
      expect(() => ggmlTypeInfo(id)).toThrow(String(id));
    }
    expect(() => resolveGGMLType('Q9_9')).toThrow(/Q9_9/);
  });

  it('ggmlTensorBytes', () => {
    expect(ggmlTensorBytes(GGMLType.F32, [4, 3])).toBe(48);
    expect(ggmlTensorBytes('q4_k', [256, 2])).toBe(288);
    expect(ggmlTensorBytes(GGMLType.Q8_0, [64, 2, 3, 1])).toBe(34 * 12);
    expect(ggmlTensorBytes(GGMLType.F32, [0, 5])).toBe(0);
    expect(() => ggmlTensorBytes(GGMLType.Q8_0, [16])).toThrow(
      expect.objectContaining({ code: 'GGUF_BAD_ROW_SIZE' }),
    );
    expect(() => ggmlTensorBytes(GGMLType.F32, [-1])).toThrow(
      expect.objectContaining({ code: 'GGUF_BAD_DIMENSION' }),
    );
    expect(() => ggmlTensorBytes(GGMLType.F64, [2 ** 30, 2 ** 30, 2 ** 10])).toThrow(
      expect.objectContaining({ code: 'GGUF_BYTE_SIZE_OVERFLOW' }),
    );
  });
});

if (!existsSync(LLAMA_CPP))
  console.warn(`[gguf types test] ${LLAMA_CPP} absent: skipping the check against ggml's headers`);
describe.skipIf(!existsSync(LLAMA_CPP))("against llama.cpp's ggml headers", () => {
  const header = existsSync(LLAMA_CPP) ? readFileSync(`${LLAMA_CPP}/ggml/include/ggml.h`, 'utf8') : '';
  const common = existsSync(LLAMA_CPP) ? readFileSync(`${LLAMA_CPP}/ggml/src/ggml-common.h`, 'utf8') : '';
  const ggmlC = existsSync(LLAMA_CPP) ? readFileSync(`${LLAMA_CPP}/ggml/src/ggml.c`, 'utf8') : '';

  it('every enum ggml_type id is in the table, and nothing else', () => {
    const ids: Record<string, number> = {};
    for (const m of header.matchAll(/^\s*GGML_TYPE_(\w+)\s*=\s*(\d+),/gm))
      if (m[1] !== 'COUNT') ids[m[1] as string] = Number(m[2]);
    expect(ids).toEqual({ ...GGMLType });
  });

  it("block sizes and bytes per block match ggml.c's type traits and the block structs", () => {
    const defs: Record<string, string> = {
      'sizeof(ggml_half)': '2',
      'sizeof(ggml_fp16_t)': '2',
      'sizeof(ggml_bf16_t)': '2',
      'sizeof(float)': '4',
      'sizeof(double)': '8',
    };
    for (const t of [
      'int8_t',
      'uint8_t',
      'int16_t',
      'uint16_t',
      'int32_t',
      'uint32_t',
      'int64_t',
      'uint64_t',
    ])
      defs[`sizeof(${t})`] = String(Number(/\d+/.exec(t)?.[0]) / 8);
    for (const m of common.matchAll(/^#define (QK\w*|K_SCALE_SIZE|IQ3S_N_SCALE)\s+(.+)$/gm))
      defs[m[1] as string] = `(${(m[2] as string).replace(/\/\/.*$/, '').trim()})`;
    const evaluate = (expr: string): number => {
      let e = expr;
      const keys = Object.keys(defs).sort((a, b) => b.length - a.length); // QK_NVFP4_SUB before QK_NVFP4
      for (let i = 0; i < 5; i++) for (const k of keys) e = e.split(k).join(defs[k] as string);
      expect(e).toMatch(/^[\d\s+*/()-]+$/);
      return Function(`return (${e});`)() as number;
    };
    for (const m of common.matchAll(/static_assert\(sizeof\((block_\w+)\) == (.+), "wrong/g))
      defs[`sizeof(${m[1]})`] = String(evaluate(m[2] as string));
    let checked = 0;
    for (const m of ggmlC.matchAll(
      /\[GGML_TYPE_(\w+)\] = \{\s*\.type_name[^}]*?\.blck_size\s*=\s*(\w+),\s*\.type_size\s*=\s*([^,]+),/gs,
    )) {
      const name = m[1] as string;
      if (!(name in GGMLType)) continue;
      const info = resolveGGMLType(name);
      expect([name, evaluate(m[2] as string), evaluate(m[3] as string)]).toEqual([
        name,
        info.blockSize,
        info.typeSize,
      ]);
      checked++;
    }
    expect(checked).toBe(GGML_TYPES.length);
  });
});
