// GGUFFile's typed access: getters, architecture-scoped keys, tensor lookup, lazy bounds-checked
// tensor reads, summaries.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { GGMLType, GGUFError, parseGGUF, serializeGGUF, typed } from '@quant/gguf';
import { afterAll, describe, expect, it } from 'vitest';
import { hasShared, modelsDir, sharedGGUFFiles } from './helpers';
import { everyTypeMetadata, everyTypeTensors } from './synthetic';

const tmp = mkdtempSync(join(tmpdir(), 'gguf-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const tensors = everyTypeTensors(3);
const bytes = serializeGGUF({
  metadata: { ...everyTypeMetadata(), 'llama.head_counts': [8, 8, 4], 'general.big': typed.u64(2n ** 50n) },
  tensors,
});

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GGUFError);
    return (e as GGUFError).code;
  }
  return 'none';
};

describe('GGUFFile getters', () => {
  it('typed getters accept the right types and refuse others', async () => {
    const f = await parseGGUF(bytes);
    expect(f.architecture).toBe('llama');
    expect(f.getString('general.name')).toContain('synthetic');
    expect(f.getU32('llama.context_length')).toBe(128);
    expect(f.getU32('t.u8')).toBe(255);
    expect(code(() => f.getU32('t.u64', 0))).toBe('GGUF_WRONG_VALUE_TYPE'); // present but too big: an error, not the fallback
    expect(f.getI32('t.i32')).toBe(-2147483648);
    expect(code(() => f.getU32('t.i8'))).toBe('GGUF_WRONG_VALUE_TYPE');
    expect(f.getBigInt('t.u64')).toBe(18446744073709551615n);
    expect(f.getBigInt('t.u16')).toBe(65535n);
    expect(f.getInt('general.big')).toBe(2 ** 50);
    expect(f.getNumber('t.f64')).toBe(Math.PI);
    expect(f.getFloat('llama.attention.layer_norm_rms_epsilon')).toBe(Math.fround(1e-5));
    expect(code(() => f.getNumber('t.u64'))).toBe('GGUF_WRONG_VALUE_TYPE');
    expect(f.getBool('t.bool.true')).toBe(true);
    expect(code(() => f.getBool('t.u8'))).toBe('GGUF_WRONG_VALUE_TYPE');
    expect(code(() => f.getString('t.u8'))).toBe('GGUF_WRONG_VALUE_TYPE');
    expect(code(() => f.getString('missing.key'))).toBe('GGUF_KEY_NOT_FOUND');
    expect(f.getString('missing.key', 'dflt')).toBe('dflt');
    expect(f.getU32('missing.key', 7)).toBe(7);
    expect(f.getStringArray('t.arr.str')).toEqual(['a', '', 'ü', '🦙']);
    expect(f.getNumberArray('t.arr.f32')).toEqual([0.5, -1.25, Math.fround(1e-5)]);
    expect(code(() => f.getNumberArray('t.arr.str'))).toBe('GGUF_WRONG_VALUE_TYPE');
    expect(code(() => f.getStringArray('t.arr.u32'))).toBe('GGUF_WRONG_VALUE_TYPE');
    expect(f.getArray('t.arr.nested')).toEqual([
      [1, 2, 3],
      ['x', 'y'],
      [[true], [false, true]],
    ]);
    expect(code(() => f.getArray('t.u8'))).toBe('GGUF_WRONG_VALUE_TYPE');
    expect(f.get('nope')).toBeUndefined();
    expect(f.has('t.u8')).toBe(true);
  });

  it('arch() scopes keys by general.architecture', async () => {
    const f = await parseGGUF(bytes);
    expect(f.arch('context_length')).toBe(128);
    expect(f.archKey('context_length')).toBe('llama.context_length');
    expect(f.arch('head_counts')).toEqual([8, 8, 4]);
    expect(f.arch('nope')).toBeUndefined();
    const noArch = await parseGGUF(serializeGGUF({ metadata: { x: 1 } }));
    expect(noArch.arch('context_length')).toBeUndefined();
    expect(code(() => noArch.archKey('context_length'))).toBe('GGUF_KEY_NOT_FOUND');
  });

  it('a key named __proto__ is an ordinary key', async () => {
    const f = await parseGGUF(
      serializeGGUF({
        entries: [
          { key: '__proto__', value: 'x' },
          { key: 'a', value: 1 },
        ],
      }),
    );
    expect(f.getString('__proto__')).toBe('x');
    expect(Object.keys(f.metadata)).toEqual(['__proto__', 'a']);
  });
});

describe('tensors', () => {
  it('lookup by name, and data exactly where the writer put it', async () => {
    const f = await parseGGUF(bytes);
    for (const t of tensors) {
      const info = f.tensor(t.name);
      expect(info?.shape).toEqual(t.shape);
      expect(info?.type).toBe(t.type);
      expect(info?.nElements).toBe(t.shape.reduce((a, b) => a * b, 1));
      expect(await f.readTensorData(t.name)).toEqual(t.data);
    }
    expect(f.tensor('nope')).toBeUndefined();
    await expect(f.readTensorData('nope')).rejects.toMatchObject({
      code: 'GGUF_TENSOR_NOT_FOUND',
      tensor: 'nope',
    });
  });

  it('readTensorData is bounds-checked against the file as it is when read', async () => {
    const path = join(tmp, 'shrinks.gguf');
    const b = serializeGGUF({
      tensors: [
        { name: 'a', type: GGMLType.F32, shape: [64], data: new Uint8Array(256) },
        { name: 'b', type: GGMLType.F32, shape: [64], data: new Uint8Array(256) },
      ],
    });
    writeFileSync(path, b);
    const f = await parseGGUF(path);
    truncateSync(path, f.requireTensor('b').absoluteOffset + 10);
    expect((await f.readTensorData('a')).length).toBe(256);
    await expect(f.readTensorData('b')).rejects.toMatchObject({
      code: 'GGUF_DATA_TRUNCATED',
      tensor: 'b',
      file: path,
    });
    await f.close();
  });
});

describe('summary', () => {
  it('synthetic: parameters, bytes, bits per weight, counts by type', async () => {
    const f = await parseGGUF(bytes);
    const s = f.summary();
    const params = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    const total = tensors.reduce((a, t) => a + (t.data as Uint8Array).length, 0);
    expect(s.parameterCount).toBe(params);
    expect(s.tensorBytes).toBe(total);
    expect(s.bitsPerWeight).toBeCloseTo((8 * total) / params, 10);
    expect(s.byType.length).toBe(tensors.length);
    expect(s.byType.reduce((a, t) => a + t.tensors, 0)).toBe(tensors.length);
  });

  it.skipIf(!hasShared)('shared files: parameter counts agree with @huggingface/gguf', async () => {
    for (const path of sharedGGUFFiles().filter((p) => p.startsWith(modelsDir))) {
      const f = await parseGGUF(path);
      const hf = await gguf(path, { allowLocalFile: true, computeParametersCount: true });
      const s = f.summary();
      expect(s.parameterCount, basename(path)).toBe(hf.parameterCount);
      const counts: Record<string, number> = {};
      for (const t of hf.tensorInfos) counts[t.dtype] = (counts[t.dtype] ?? 0) + 1;
      expect(Object.fromEntries(s.byType.map((t) => [String(t.type), t.tensors]))).toEqual(counts);
      if (basename(path) === 'stories260K-llama-pad256-q8_0.gguf') expect(s.byType[0]?.typeName).toBe('Q8_0');
      await f.close();
    }
  });
});
