// Synthetic GGUF inputs the tests generate, so a clone without ../shared covers every type.
import {
  GGML_TYPES,
  GGUFValueType,
  type GGUFWriteInput,
  type GGUFWriteTensor,
  ggmlTensorBytes,
  typed,
} from '@quant/gguf';
import { rng } from './helpers';

/** One key per metadata value type, arrays of every element type, nested arrays, odd strings. */
export function everyTypeMetadata(): GGUFWriteInput['metadata'] {
  return {
    'general.architecture': 'llama',
    'general.name': 'synthetic ✓ — ünïcödé 🦙',
    't.u8': typed.u8(255),
    't.i8': typed.i8(-128),
    't.u16': typed.u16(65535),
    't.i16': typed.i16(-32768),
    't.u32': typed.u32(4294967295),
    't.i32': typed.i32(-2147483648),
    't.f32': typed.f32(Math.fround(1.2345)),
    't.f64': typed.f64(Math.PI),
    't.bool.true': true,
    't.bool.false': false,
    't.string.empty': '',
    't.string.bom': '\uFEFFstarts with a BOM',
    't.string.nul': 'a\u0000b',
    't.u64': typed.u64(18446744073709551615n),
    't.i64': typed.i64(-9223372036854775808n),
    't.arr.u8': new Uint8Array([0, 1, 255]),
    't.arr.i8': new Int8Array([-128, 0, 127]),
    't.arr.u16': new Uint16Array([0, 65535]),
    't.arr.i16': new Int16Array([-32768, 32767]),
    't.arr.u32': [0, 1, 4294967295],
    't.arr.i32': [-1, 0, 2147483647],
    't.arr.f32': new Float32Array([0.5, -1.25, 1e-5]),
    't.arr.f64': new Float64Array([Math.E, -0]),
    't.arr.bool': [true, false, true],
    't.arr.str': ['a', '', 'ü', '🦙'],
    't.arr.u64': new BigUint64Array([0n, 18446744073709551615n]),
    't.arr.i64': new BigInt64Array([-1n, 9223372036854775807n]),
    't.arr.empty': typed.array('str', []),
    't.arr.nested': [
      [1, 2, 3],
      ['x', 'y'],
      [[true], [false, true]],
    ],
    'llama.context_length': 128,
    'llama.rope.freq_base': 10000,
    'llama.attention.layer_norm_rms_epsilon': 1e-5,
  };
}

/** One small tensor of every ggml type (random bytes), 1–4 dimensions. */
export function everyTypeTensors(seed = 1): GGUFWriteTensor[] {
  const r = rng(seed);
  return GGML_TYPES.map((t, i) => {
    const dims = 1 + (i % 4);
    const shape = [t.blockSize * (1 + Math.floor(r() * 3))];
    while (shape.length < dims) shape.push(1 + Math.floor(r() * 3));
    const data = new Uint8Array(ggmlTensorBytes(t.id, shape));
    for (let j = 0; j < data.length; j++) data[j] = Math.floor(r() * 256);
    return { name: `t.${t.name.toLowerCase()}.${i}`, type: t.id, shape, data };
  });
}

export const EXPECTED_TYPES: Record<string, number> = {
  't.u8': GGUFValueType.UINT8,
  't.i8': GGUFValueType.INT8,
  't.u16': GGUFValueType.UINT16,
  't.i16': GGUFValueType.INT16,
  't.u32': GGUFValueType.UINT32,
  't.i32': GGUFValueType.INT32,
  't.f32': GGUFValueType.FLOAT32,
  't.f64': GGUFValueType.FLOAT64,
  't.bool.true': GGUFValueType.BOOL,
  't.string.empty': GGUFValueType.STRING,
  't.u64': GGUFValueType.UINT64,
  't.i64': GGUFValueType.INT64,
  'llama.context_length': GGUFValueType.UINT32,
  'llama.rope.freq_base': GGUFValueType.FLOAT32,
  'llama.attention.layer_norm_rms_epsilon': GGUFValueType.FLOAT32,
};
