// Every corruption class llama.cpp's tests/test-gguf.cpp handcrafts, plus truncation and invalid
// UTF-8: each raises a GGUFError with the right code and the byte offset of the problem.
import { GGMLType, GGUFError, type ParseGGUFOptions, parseGGUF } from '@quant/gguf';
import { describe, expect, it } from 'vitest';
import { Bytes, build, kvF32, kvI32, kvString, kvU32, type TensorSpec } from './handcrafted';

async function fails(bytes: Uint8Array, options?: ParseGGUFOptions): Promise<GGUFError> {
  try {
    await parseGGUF(bytes, options);
  } catch (e) {
    expect(e).toBeInstanceOf(GGUFError);
    const g = e as GGUFError;
    expect(g.message).toContain(g.code);
    return g;
  }
  throw new Error('expected a GGUFError, but the file parsed');
}

const KVS = [
  kvString('general.architecture', 'llama'),
  kvU32('llama.context_length', 128),
  kvF32('x.f', 0.5),
];
// Two F32 tensors and a Q8_0 one, laid out like llama.cpp does.
const TENSORS: TensorSpec[] = [
  { name: 'a', type: GGMLType.F32, dims: [4, 2], offset: 0 }, // 32 bytes
  { name: 'b', type: GGMLType.Q8_0, dims: [64], offset: 32 }, // 68 bytes → padded to 96
  { name: 'c', type: GGMLType.F32, dims: [3], offset: 128 }, // 12 bytes
];
const DATA = 128 + 32;
const good = (over: Partial<Parameters<typeof build>[0]> = {}) =>
  build({ kvs: KVS, tensors: TENSORS, dataBytes: DATA, ...over });

describe('valid handcrafted files parse', () => {
  it('header only, kvs only, kvs + tensors + data', async () => {
    expect((await parseGGUF(build({}).bytes)).tensors).toEqual([]);
    const f = await parseGGUF(good().bytes);
    expect(f.getString('general.architecture')).toBe('llama');
    expect(f.arch('context_length')).toBe(128);
    expect(f.tensors.map((t) => [t.name, t.byteSize, t.offset])).toEqual([
      ['a', 32, 0],
      ['b', 68, 32],
      ['c', 12, 128],
    ]);
  });
});

describe('header corruption (HANDCRAFTED_HEADER_*)', () => {
  it('bad magic', async () => {
    const e = await fails(build({ magic: 'FUGG' }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_MAGIC', 0]);
    expect((await fails(new TextEncoder().encode('PK\x03\x04 zip file'))).code).toBe('GGUF_BAD_MAGIC');
  });
  it('version 0', async () => {
    const e = await fails(build({ version: 0 }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_VERSION', 4]);
  });
  it('version 1 with the v2/v3 layout (empty, and with content)', async () => {
    let e = await fails(build({ version: 1 }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_VERSION_LAYOUT_MISMATCH', 4]);
    e = await fails(good({ version: 1 }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_VERSION_LAYOUT_MISMATCH', 4]);
  });
  it('future version', async () => {
    const e = await fails(build({ version: 4 }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_VERSION', 4]);
    expect(e.message).toMatch(/version 4/);
  });
  it('absurd tensor count', async () => {
    const e = await fails(build({ nTensors: -1n }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_TENSOR_COUNT', 8]);
    expect((await fails(good({ nTensors: 1000 }).bytes)).code).toBe('GGUF_BAD_TENSOR_COUNT');
  });
  it('absurd kv count', async () => {
    const e = await fails(build({ nKV: -1n }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_KV_COUNT', 16]);
  });
  it('empty input and a bare magic are truncated files', async () => {
    expect(await fails(new Uint8Array(0))).toMatchObject({ code: 'GGUF_TRUNCATED', offset: 0 });
    expect(await fails(new TextEncoder().encode('GGUF'))).toMatchObject({
      code: 'GGUF_TRUNCATED',
      offset: 4,
    });
  });
  it('v1 is refused on request', async () => {
    const b = new Bytes().raw(new TextEncoder().encode('GGUF')).u32(1).u32(0).u32(0);
    expect((await parseGGUF(b.bytes())).version).toBe(1);
    expect((await fails(b.bytes(), { allowV1: false })).code).toBe('GGUF_BAD_VERSION');
  });
});

describe('key/value corruption (HANDCRAFTED_KV_*)', () => {
  it('bad key size', async () => {
    const e = await fails(build({ kvs: [(b) => b.u64(-1n).u32(4).u32(1)] }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_STRING_LENGTH', 24]);
  });
  it('empty key', async () => {
    const e = await fails(build({ kvs: [KVS[0] as never, kvU32('', 1)] }).bytes);
    expect(e.code).toBe('GGUF_EMPTY_KEY');
    expect(e.offset).toBe(build({ kvs: KVS }).kvAt[1]);
  });
  it('bad value type', async () => {
    const built = build({ kvs: [(b) => b.str('my_key').u32(13).u32(0)] });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.key]).toEqual(['GGUF_BAD_VALUE_TYPE', 24 + 8 + 6, 'my_key']);
  });
  it('bad array element type and absurd array length', async () => {
    let e = await fails(build({ kvs: [(b) => b.str('arr').u32(9).u32(77).u64(1)] }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_VALUE_TYPE', 24 + 8 + 3 + 4]);
    e = await fails(
      build({
        kvs: [
          (b) =>
            b
              .str('arr')
              .u32(9)
              .u32(4)
              .u64(1n << 40n),
        ],
      }).bytes,
    );
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_ARRAY_LENGTH', 24 + 8 + 3 + 8]);
  });
  it('duplicate key', async () => {
    const kvs = [kvU32('my_key_0', 1), kvU32('my_key_0', 2)];
    const e = await fails(build({ kvs }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_DUPLICATE_KEY', build({ kvs }).kvAt[1]]);
  });
  it('bad alignment value (13 and 0)', async () => {
    for (const a of [13, 0]) {
      const kvs = [...KVS, kvU32('general.alignment', a)];
      const e = await fails(build({ kvs }).bytes);
      expect([e.code, e.offset]).toEqual(['GGUF_BAD_ALIGNMENT', build({ kvs }).kvAt[3]]);
    }
  });
  it('alignment of the wrong type', async () => {
    const kvs = [kvI32('general.alignment', 32)];
    const e = await fails(build({ kvs }).bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_ALIGNMENT_TYPE', 24]);
  });
});

describe('tensor info corruption (HANDCRAFTED_TENSORS_*)', () => {
  const withTensor = (i: number, t: Partial<TensorSpec>) => {
    const tensors = TENSORS.map((x, j) => (j === i ? { ...x, ...t } : x));
    return build({ kvs: KVS, tensors, dataBytes: DATA });
  };
  it('bad name size (≥ GGML_MAX_NAME = 64 bytes)', async () => {
    const built = withTensor(1, {
      name: `my_tensor_1_with_a_very_long_name_which_is_longer_than_what_is_allowed`,
    });
    const e = await fails(built.bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_TENSOR_NAME', built.tensorAt[1]]);
    expect((await parseGGUF(built.bytes, { maxTensorNameLength: 128 })).tensors[1]?.name).toMatch(
      /very_long/,
    );
  });
  it('bad n_dims', async () => {
    const built = withTensor(0, { dims: [4, 2, 1, 1, 1] });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_BAD_N_DIMS',
      (built.tensorAt[0] as number) + 8 + 1,
      'a',
    ]);
  });
  it('negative dimension', async () => {
    const built = withTensor(0, { dims: [4, -1] });
    const e = await fails(built.bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_DIMENSION', (built.tensorAt[0] as number) + 8 + 1 + 4 + 8]);
  });
  it('zero dimension: accepted as llama.cpp does, refused with rejectEmptyTensors', async () => {
    const built = build({ tensors: [{ name: 'z', type: GGMLType.F32, dims: [4, 0], offset: 0 }] });
    const f = await parseGGUF(built.bytes);
    expect(f.tensors[0]).toMatchObject({ nElements: 0, byteSize: 0 });
    expect(await fails(built.bytes, { rejectEmptyTensors: true })).toMatchObject({
      code: 'GGUF_BAD_DIMENSION',
      tensor: 'z',
    });
  });
  it('element count overflow', async () => {
    const big = 4n * 2147483647n;
    const built = withTensor(0, { dims: [big, big] });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_ELEMENT_COUNT_OVERFLOW',
      (built.tensorAt[0] as number) + 9,
      'a',
    ]);
  });
  it('byte size overflow', async () => {
    // As test-gguf.cpp: I64 elements, each dim ≈ 1.01·sqrt(SIZE_MAX/8): < 2^63 elements, > 2^64 bytes.
    const d = BigInt(Math.ceil(1.01 * Math.sqrt(Number(0xffffffffffffffffn / 8n)))) + 1n;
    const built = withTensor(0, { type: GGMLType.I64, dims: [d, d] });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_BYTE_SIZE_OVERFLOW',
      (built.tensorAt[0] as number) + 9 + 4 + 16,
      'a',
    ]);
  });
  it('total size overflow (HANDCRAFTED_DATA_MEM_SIZE_OVERFLOW: two I8 tensors of 0x7FFFFFFFFFFFFFC0 elements)', async () => {
    const n = 0x7fffffffffffffc0n;
    const built = build({
      tensors: [
        { name: 'x', type: GGMLType.I8, dims: [n], offset: 0 },
        { name: 'y', type: GGMLType.I8, dims: [n], offset: n },
      ],
      dataBytes: 32,
    });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_BYTE_SIZE_OVERFLOW',
      (built.tensorAt[0] as number) + 9 + 4 + 8,
      'x',
    ]);
    expect(e.message).toContain(String(n));
  });
  it('custom alignment 1 (HANDCRAFTED_TENSORS_CUSTOM_ALIGN) parses', async () => {
    const tensors = [
      { name: 'a', type: GGMLType.F32, dims: [3], offset: 0 },
      { name: 'b', type: GGMLType.Q8_0, dims: [32], offset: 12 },
    ];
    const f = await parseGGUF(
      build({ kvs: [kvU32('general.alignment', 1)], tensors, alignment: 1, dataBytes: 46 }).bytes,
    );
    expect(f.alignment).toBe(1);
    expect(f.tensors.map((t) => [t.offset, t.byteSize])).toEqual([
      [0, 12],
      [12, 34],
    ]);
  });
  it('bad tensor type (GGML_TYPE_COUNT, removed ids, negative)', async () => {
    for (const type of [43, 4, 31, 37, -1]) {
      const built = withTensor(2, { type });
      const e = await fails(built.bytes);
      expect([e.code, e.offset, e.tensor]).toEqual([
        'GGUF_UNKNOWN_TENSOR_TYPE',
        (built.tensorAt[2] as number) + 8 + 1 + 4 + 8,
        'c',
      ]);
      expect(e.message).toContain(String(type));
    }
  });
  it('row not a multiple of the block size', async () => {
    const built = withTensor(1, { dims: [48] });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_BAD_ROW_SIZE',
      (built.tensorAt[1] as number) + 9 + 4 + 8,
      'b',
    ]);
  });
  it('bad offset (u64 max, and beyond the data section)', async () => {
    const offsetField = (b: { tensorAt: number[] }) => (b.tensorAt[2] as number) + 9 + 4 + 8 + 4;
    let built = withTensor(2, { offset: -1n });
    let e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_TENSOR_OFFSET_OUT_OF_BOUNDS',
      offsetField(built),
      'c',
    ]);
    built = withTensor(2, { offset: 4096 });
    e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_TENSOR_OFFSET_OUT_OF_BOUNDS',
      offsetField(built),
      'c',
    ]);
  });
  it('duplicate tensor name', async () => {
    const built = withTensor(2, { name: 'a' });
    const e = await fails(built.bytes);
    expect([e.code, e.offset]).toEqual(['GGUF_DUPLICATE_TENSOR', built.tensorAt[2]]);
  });
  it('bad alignment with tensors', async () => {
    const e = await fails(
      build({ kvs: [kvU32('general.alignment', 13)], tensors: TENSORS, dataBytes: DATA }).bytes,
    );
    expect([e.code, e.offset]).toEqual(['GGUF_BAD_ALIGNMENT', 24]);
  });
  it('inconsistent alignment: offsets laid out with alignment 1', async () => {
    const tensors = [
      { name: 'a', type: GGMLType.F32, dims: [4, 2], offset: 0 },
      { name: 'b', type: GGMLType.Q8_0, dims: [64], offset: 32 },
      { name: 'c', type: GGMLType.F32, dims: [3], offset: 100 },
    ];
    const built = build({ tensors, dataBytes: 112 });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_TENSOR_MISALIGNED',
      (built.tensorAt[2] as number) + 8 + 1 + 4 + 8 + 4,
      'c',
    ]);
  });
  it('overlapping tensors', async () => {
    const built = withTensor(2, { offset: 64 });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual([
      'GGUF_TENSOR_OVERLAP',
      (built.tensorAt[2] as number) + 9 + 4 + 8 + 4,
      'c',
    ]);
    expect(e.message).toContain("'b'");
  });
});

describe('data corruption (HANDCRAFTED_DATA_*)', () => {
  it('not enough data', async () => {
    const built = build({ kvs: KVS, tensors: TENSORS, dataBytes: 128 + 11 });
    const e = await fails(built.bytes);
    expect([e.code, e.offset, e.tensor]).toEqual(['GGUF_DATA_TRUNCATED', built.bytes.length, 'c']);
  });
  it('data section missing entirely', async () => {
    const built = build({ kvs: KVS, tensors: TENSORS, dataBytes: 0 });
    const e = await fails(built.bytes.subarray(0, built.dataOffset - 3));
    expect(e.code).toBe('GGUF_DATA_TRUNCATED');
  });
});

describe('truncation and UTF-8', () => {
  it('cutting a valid file at every byte raises a GGUFError located at or before the cut', async () => {
    const built = good();
    const full = built.bytes;
    const end = built.dataOffset + 128 + 12; // the last tensor's data ends here; only padding follows
    for (let cut = end; cut <= full.length; cut++)
      expect((await parseGGUF(full.subarray(0, cut))).tensors.length).toBe(3);
    for (let cut = 0; cut < end; cut++) {
      const e = await fails(full.subarray(0, cut));
      expect([
        'GGUF_TRUNCATED',
        'GGUF_DATA_TRUNCATED',
        'GGUF_BAD_STRING_LENGTH',
        'GGUF_BAD_TENSOR_COUNT',
        'GGUF_BAD_KV_COUNT',
      ]).toContain(e.code);
      expect(e.offset).toBeLessThanOrEqual(cut);
      expect(e.offset).toBeGreaterThanOrEqual(0);
    }
  });
  it('invalid UTF-8 in a key, a value, an array element and a tensor name', async () => {
    const bad = Uint8Array.from([0x61, 0xc3, 0x28]); // 'a' + broken 2-byte sequence
    let built = build({ kvs: [(b) => b.str(bad).u32(4).u32(1)] });
    expect(await fails(built.bytes)).toMatchObject({ code: 'GGUF_INVALID_UTF8', offset: 24 });
    built = build({ kvs: [kvString('k', Uint8Array.from([0xff]))] });
    expect(await fails(built.bytes)).toMatchObject({
      code: 'GGUF_INVALID_UTF8',
      offset: 24 + 8 + 1 + 4,
      key: undefined,
    });
    built = build({
      kvs: [
        (b) =>
          b
            .str('arr')
            .u32(9)
            .u32(8)
            .u64(2)
            .str('ok')
            .str(Uint8Array.from([0xed, 0xa0, 0x80])),
      ],
    });
    expect((await fails(built.bytes)).code).toBe('GGUF_INVALID_UTF8');
    built = build({ tensors: [{ name: '\u00e9', type: 0, dims: [1], offset: 0 }], dataBytes: 32 });
    const raw = built.bytes.slice();
    raw[(built.tensorAt[0] as number) + 8 + 1] = 0x41; // break the second byte of 'é'
    expect(await fails(raw)).toMatchObject({ code: 'GGUF_INVALID_UTF8', offset: built.tensorAt[0] });
    // utf8: 'replace' reads it anyway
    expect((await parseGGUF(raw, { utf8: 'replace' })).tensors[0]?.name).toBe('\ufffdA');
  });
  it('arrays nested too deep are refused, not a stack overflow', async () => {
    const b = new Bytes();
    b.str('deep').u32(9);
    for (let i = 0; i < 5000; i++) b.u32(9).u64(1);
    b.u32(4).u64(0);
    const built = build({ kvs: [(x) => x.raw(b.bytes())] });
    expect((await fails(built.bytes)).code).toBe('GGUF_BAD_VALUE_TYPE');
  });
});
