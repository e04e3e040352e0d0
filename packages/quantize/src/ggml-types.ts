/**
 * The ggml tensor types this package plans with and writes: ids as stored in GGUF files, with block
 * sizes (elements per block) and block byte sizes (facts from ggml's type table).
 */
export const T = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
} as const;

interface TypeFacts {
  name: string;
  blockSize: number;
  blockBytes: number;
  quantized: boolean;
}

const FACTS: Record<number, TypeFacts> = {
  [T.F32]: { name: 'F32', blockSize: 1, blockBytes: 4, quantized: false },
  [T.F16]: { name: 'F16', blockSize: 1, blockBytes: 2, quantized: false },
  [T.BF16]: { name: 'BF16', blockSize: 1, blockBytes: 2, quantized: false },
  [T.Q4_0]: { name: 'Q4_0', blockSize: 32, blockBytes: 18, quantized: true },
  [T.Q4_1]: { name: 'Q4_1', blockSize: 32, blockBytes: 20, quantized: true },
  [T.Q5_0]: { name: 'Q5_0', blockSize: 32, blockBytes: 22, quantized: true },
  [T.Q5_1]: { name: 'Q5_1', blockSize: 32, blockBytes: 24, quantized: true },
  [T.Q8_0]: { name: 'Q8_0', blockSize: 32, blockBytes: 34, quantized: true },
  [T.Q2_K]: { name: 'Q2_K', blockSize: 256, blockBytes: 84, quantized: true },
  [T.Q3_K]: { name: 'Q3_K', blockSize: 256, blockBytes: 110, quantized: true },
  [T.Q4_K]: { name: 'Q4_K', blockSize: 256, blockBytes: 144, quantized: true },
  [T.Q5_K]: { name: 'Q5_K', blockSize: 256, blockBytes: 176, quantized: true },
  [T.Q6_K]: { name: 'Q6_K', blockSize: 256, blockBytes: 210, quantized: true },
};

/** Facts about a type this package knows, or undefined for any other ggml type. */
export function typeFacts(id: number): TypeFacts | undefined {
  return FACTS[id];
}

export function typeName(id: number): string {
  return FACTS[id]?.name ?? `type ${id}`;
}

export function blockSize(id: number): number {
  const f = FACTS[id];
  if (!f) throw new RangeError(`unknown ggml type ${id}`);
  return f.blockSize;
}

export function isQuantizedType(id: number): boolean {
  return FACTS[id]?.quantized ?? true;
}

/** Bytes of one row of `cols` elements of `type` (cols a multiple of the block size). */
export function rowBytes(id: number, cols: number): number {
  const f = FACTS[id];
  if (!f) throw new RangeError(`unknown ggml type ${id}`);
  return (cols / f.blockSize) * f.blockBytes;
}
