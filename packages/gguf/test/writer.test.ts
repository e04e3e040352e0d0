// The writer against independent readers: a by-hand encoding of the GGUF spec, and @huggingface/gguf.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import {
  encodeGGUFHeader,
  GGMLType,
  GGUFError,
  GGUFValueType,
  ggufChunks,
  ggufStream,
  parseGGUF,
  serializeGGUF,
  typed,
  writeGGUF,
} from '@quant/gguf';
import { afterAll, describe, expect, it } from 'vitest';
import { EXPECTED_TYPES, everyTypeMetadata, everyTypeTensors } from './synthetic';

const tmp = mkdtempSync(join(tmpdir(), 'gguf-writer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The GGUF v3 layout written out by hand from the spec (ggml/docs/gguf.md), little-endian. */
function referenceBytes(): Uint8Array {
  const parts: number[] = [];
  const u32 = (v: number) => parts.push(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
  const u64 = (v: number) => {
    u32(v);
    u32(0);
  };
  const str = (s: string) => {
    const b = [...Buffer.from(s, 'utf8')];
    u64(b.length);
    parts.push(...b);
  };
  parts.push(...Buffer.from('GGUF'));
  u32(3); // version
  u64(2); // tensors
  u64(3); // kv
  str('general.architecture');
  u32(8);
  str('llama');
  str('a.f32');
  u32(6);
  parts.push(...Buffer.from(new Float32Array([0.5]).buffer));
  str('a.arr');
  u32(9);
  u32(5); // i32 elements
  u64(2);
  u32(-1 >>> 0);
  u32(7);
  // tensor infos
  str('w');
  u32(2);
  u64(32);
  u64(2);
  u32(GGMLType.Q8_0);
  u64(0);
  str('b');
  u32(1);
  u64(3);
  u32(GGMLType.F32);
  u64(96); // 2 blocks × 34 bytes = 68 → padded to 96
  while (parts.length % 32 !== 0) parts.push(0);
  for (let i = 0; i < 68; i++) parts.push(i);
  while (parts.length % 32 !== 0) parts.push(0);
  for (let i = 0; i < 12; i++) parts.push(200 + i);
  while (parts.length % 32 !== 0) parts.push(0);
  return new Uint8Array(parts);
}

describe('serializeGGUF', () => {
  it('matches a by-hand encoding of the spec', () => {
    const out = serializeGGUF({
      metadata: { 'general.architecture': 'llama', 'a.f32': 0.5, 'a.arr': [-1, 7] },
      tensors: [
        { name: 'w', type: 'Q8_0', shape: [32, 2], data: Uint8Array.from({ length: 68 }, (_, i) => i) },
        {
          name: 'b',
          type: GGMLType.F32,
          shape: [3],
          data: () => Uint8Array.from({ length: 12 }, (_, i) => 200 + i),
        },
      ],
    });
    expect(Buffer.from(out).toString('hex')).toBe(Buffer.from(referenceBytes()).toString('hex'));
  });

  it('writes files @huggingface/gguf reads back with the same values and types', async () => {
    const md = everyTypeMetadata();
    const tensors = everyTypeTensors(7);
    const path = join(tmp, 'every-type.gguf');
    writeFileSync(path, serializeGGUF({ metadata: md, tensors }));
    const hf = await gguf(path, { allowLocalFile: true, typedMetadata: true });
    for (const [key, type] of Object.entries(EXPECTED_TYPES))
      expect(hf.typedMetadata[key]?.type, key).toBe(type);
    expect((hf.metadata as Record<string, unknown>)['general.name']).toBe('synthetic ✓ — ünïcödé 🦙');
    expect((hf.metadata as Record<string, unknown>)['t.u64']).toBe(18446744073709551615n);
    expect((hf.metadata as Record<string, unknown>)['t.i64']).toBe(-9223372036854775808n);
    expect((hf.metadata as Record<string, unknown>)['t.f32']).toBe(Math.fround(1.2345));
    expect((hf.metadata as Record<string, unknown>)['t.arr.str']).toEqual(['a', '', 'ü', '🦙']);
    expect((hf.metadata as Record<string, unknown>)['t.arr.nested']).toEqual([
      [1, 2, 3],
      ['x', 'y'],
      [[true], [false, true]],
    ]);
    expect(hf.typedMetadata['t.arr.f32']).toMatchObject({ type: 9, subType: GGUFValueType.FLOAT32 });
    expect(hf.typedMetadata['t.arr.i8']).toMatchObject({ type: 9, subType: GGUFValueType.INT8 });
    expect(hf.typedMetadata['t.arr.u64']).toMatchObject({ type: 9, subType: GGUFValueType.UINT64 });
    expect(hf.tensorInfos.map((t) => [t.name, t.dtype, t.shape.map(Number)])).toEqual(
      tensors.map((t) => [t.name, t.type, t.shape]),
    );
    // Data lands where the header says.
    const file = readFileSync(path);
    for (const [i, ti] of hf.tensorInfos.entries()) {
      const at = Number(hf.tensorDataOffset + ti.offset);
      const data = tensors[i]?.data as Uint8Array;
      expect(file.subarray(at, at + data.length).equals(Buffer.from(data)), ti.name).toBe(true);
    }
  });

  it('infers types: integers u32/i32 by sign, floats f32, bigints 64-bit, known llama.cpp keys', async () => {
    const f = await parseGGUF(
      serializeGGUF({
        metadata: {
          pos: 7,
          neg: -7,
          big: 2 ** 40,
          float: 0.25,
          bn: 5n,
          bneg: -5n,
          'llama.rope.freq_base': 10000,
          'llama.attention.head_count': 8,
          'tokenizer.ggml.scores': [0, -1, 2],
          'tokenizer.ggml.token_type': [1, 3, 6],
          explicit: typed.u16(9),
          explicitArr: typed.array('f64', [1, 2]),
          byName: { type: 'arr[i16]', value: [1, -2] },
        },
      }),
    );
    const t = f.metadataTypes;
    expect(t.pos).toBe(GGUFValueType.UINT32);
    expect(t.neg).toBe(GGUFValueType.INT32);
    expect(t.big).toBe(GGUFValueType.UINT64);
    expect(f.metadata.big).toBe(2n ** 40n);
    expect(t.float).toBe(GGUFValueType.FLOAT32);
    expect(t.bn).toBe(GGUFValueType.UINT64);
    expect(t.bneg).toBe(GGUFValueType.INT64);
    expect(t['llama.rope.freq_base']).toBe(GGUFValueType.FLOAT32);
    expect(t['llama.attention.head_count']).toBe(GGUFValueType.UINT32);
    expect(t['tokenizer.ggml.scores']).toEqual({ type: 9, elementType: GGUFValueType.FLOAT32 });
    expect(t['tokenizer.ggml.token_type']).toEqual({ type: 9, elementType: GGUFValueType.INT32 });
    expect(t.explicit).toBe(GGUFValueType.UINT16);
    expect(t.explicitArr).toEqual({ type: 9, elementType: GGUFValueType.FLOAT64 });
    expect(t.byName).toEqual({ type: 9, elementType: GGUFValueType.INT16 });
    expect(f.metadata.byName).toEqual([1, -2]);
  });

  it('refuses invalid input with GGUFError codes', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(GGUFError);
        return (e as GGUFError).code;
      }
      return 'no error';
    };
    const t = (o: object) => ({ name: 'w', type: 'F32', shape: [4], data: new Uint8Array(16), ...o });
    expect(code(() => serializeGGUF({ tensors: [t({ data: new Uint8Array(15) })] }))).toBe(
      'GGUF_TENSOR_DATA_SIZE',
    );
    expect(code(() => serializeGGUF({ tensors: [t({}), t({})] }))).toBe('GGUF_INVALID_ARGUMENT');
    expect(code(() => serializeGGUF({ tensors: [t({ type: 'Q8_0', shape: [16] })] }))).toBe(
      'GGUF_BAD_ROW_SIZE',
    );
    expect(code(() => serializeGGUF({ tensors: [t({ type: 99 })] }))).toBe('GGUF_UNKNOWN_TENSOR_TYPE');
    expect(code(() => serializeGGUF({ tensors: [t({ shape: [1, 1, 1, 1, 4] })] }))).toBe('GGUF_BAD_N_DIMS');
    expect(code(() => serializeGGUF({ tensors: [t({ name: 'x'.repeat(64) })] }))).toBe(
      'GGUF_BAD_TENSOR_NAME',
    );
    expect(code(() => serializeGGUF({ metadata: { 'general.alignment': 48 } }))).toBe('GGUF_BAD_ALIGNMENT');
    expect(code(() => serializeGGUF({ metadata: { 'general.alignment': typed.u64(64) } }))).toBe(
      'GGUF_BAD_ALIGNMENT_TYPE',
    );
    expect(code(() => serializeGGUF({ metadata: { x: typed.u8(256) } }))).toBe('GGUF_INVALID_ARGUMENT');
    expect(code(() => serializeGGUF({ metadata: { x: typed.u32(1.5) } }))).toBe('GGUF_INVALID_ARGUMENT');
    expect(code(() => serializeGGUF({ metadata: { x: [1, 'a'] } }))).toBe('GGUF_INVALID_ARGUMENT');
    expect(code(() => serializeGGUF({ metadata: { '': 1 } }))).toBe('GGUF_INVALID_ARGUMENT');
    expect(code(() => serializeGGUF({ metadata: { x: 'lone \ud800 surrogate' } }))).toBe(
      'GGUF_INVALID_ARGUMENT',
    );
    expect(code(() => serializeGGUF({ metadata: { x: null as never } }))).toBe('GGUF_INVALID_ARGUMENT');
    expect(code(() => serializeGGUF({ tensors: [t({ data: async () => new Uint8Array(16) })] }))).toBe(
      'GGUF_INVALID_ARGUMENT',
    );
  });
});

describe('writeGGUF', () => {
  it('streams tensor by tensor: each data function runs alone, after the previous tensor is written', async () => {
    const tensors = everyTypeTensors(11);
    let inFlight = 0;
    let maxInFlight = 0;
    const calls: string[] = [];
    const lazy = tensors.map((t) => ({
      ...t,
      data: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        calls.push(t.name);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        return t.data as Uint8Array;
      },
    }));
    const dest = join(tmp, 'lazy.gguf');
    const res = await writeGGUF(dest, { metadata: everyTypeMetadata(), tensors: lazy });
    expect(maxInFlight).toBe(1);
    expect(calls).toEqual(tensors.map((t) => t.name));
    const expected = serializeGGUF({ metadata: everyTypeMetadata(), tensors });
    const written = readFileSync(dest);
    expect(res.size).toBe(expected.length);
    expect(written.equals(Buffer.from(expected))).toBe(true);
  });

  it('removes the partial file when tensor data is wrong', async () => {
    const dest = join(tmp, 'partial.gguf');
    await expect(
      writeGGUF(dest, {
        tensors: [{ name: 'w', type: 'F32', shape: [4], data: async () => new Uint8Array(3) }],
      }),
    ).rejects.toMatchObject({ code: 'GGUF_TENSOR_DATA_SIZE', tensor: 'w' });
    expect(existsSync(dest)).toBe(false);
  });

  it('ggufChunks and ggufStream yield the same bytes as serializeGGUF', async () => {
    const input = { metadata: everyTypeMetadata(), tensors: everyTypeTensors(13) };
    const expected = Buffer.from(serializeGGUF(input));
    const chunks: Uint8Array[] = [];
    for await (const c of ggufChunks(input)) chunks.push(c);
    expect(Buffer.concat(chunks).equals(expected)).toBe(true);
    const streamed = Buffer.from(await new Response(ggufStream(input)).arrayBuffer());
    expect(streamed.equals(expected)).toBe(true);
    expect(encodeGGUFHeader(input).totalSize).toBe(expected.length);
  });
});
