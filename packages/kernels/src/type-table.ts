import { KernelError } from './errors';
import type { GGMLTypeId } from './types';

/** Block geometry of the ggml types the kernels support (same ids and sizes as GGUF / @quant/gguf). */
export interface KernelTypeInfo {
  readonly id: GGMLTypeId;
  readonly name: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
  /** `quantize()` can produce this type. */
  readonly quantizable: boolean;
}

const T = (
  id: number,
  name: string,
  blockSize: number,
  typeSize: number,
  quantizable: boolean,
): KernelTypeInfo => ({
  id,
  name,
  blockSize,
  typeSize,
  quantizable,
});

/** The types `dequantize`, `matmul`, `getRows` and `weight` accept. */
export const KERNEL_TYPES: readonly KernelTypeInfo[] = [
  T(0, 'F32', 1, 4, true),
  T(1, 'F16', 1, 2, true),
  T(2, 'Q4_0', 32, 18, true),
  T(3, 'Q4_1', 32, 20, false),
  T(6, 'Q5_0', 32, 22, false),
  T(7, 'Q5_1', 32, 24, false),
  T(8, 'Q8_0', 32, 34, true),
  T(10, 'Q2_K', 256, 84, false),
  T(11, 'Q3_K', 256, 110, false),
  T(12, 'Q4_K', 256, 144, true),
  T(13, 'Q5_K', 256, 176, true),
  T(14, 'Q6_K', 256, 210, true),
  T(30, 'BF16', 1, 2, true),
];

const BY_ID = new Map(KERNEL_TYPES.map((t) => [t.id, t]));

/** The kernel type info for `type`, or a KernelError('UNSUPPORTED_TYPE'). */
export function kernelType(type: number, what = 'type'): KernelTypeInfo {
  const info = Number.isInteger(type) ? BY_ID.get(type) : undefined;
  if (!info) {
    throw new KernelError(
      'UNSUPPORTED_TYPE',
      `${what}: ggml type ${String(type)} is not supported by @quant/kernels (supported: ${KERNEL_TYPES.map((t) => `${t.name}=${t.id}`).join(', ')})`,
    );
  }
  return info;
}

/** Bytes taken by `n` elements of `info` (n must be a multiple of the block size). */
export function typeBytes(info: KernelTypeInfo, n: number): number {
  return (n / info.blockSize) * info.typeSize;
}
