import { ggmlTypeInfo } from '@quant/gguf';
import { KernelError } from './errors';
import type { GGMLTypeId } from './types';

/** A ggml type the kernels support: its block geometry (from @quant/gguf's type table) and whether `quantize()` makes it. */
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

/** Types `dequantize`, `matmul`, `getRows` and `weight` accept (the C kernels' decoders and dot products). */
const SUPPORTED = [0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 30] as const;
/** Types the C `quantize` produces (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K). */
const QUANTIZABLE: ReadonlySet<number> = new Set([0, 1, 30, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14]);

/** The types `dequantize`, `matmul`, `getRows` and `weight` accept. */
export const KERNEL_TYPES: readonly KernelTypeInfo[] = SUPPORTED.map((id) => {
  const g = ggmlTypeInfo(id);
  return Object.freeze({
    id: id as GGMLTypeId,
    name: g.name,
    blockSize: g.blockSize,
    typeSize: g.typeSize,
    quantizable: QUANTIZABLE.has(id),
  });
});

const BY_ID = new Map(KERNEL_TYPES.map((t) => [t.id as number, t]));

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
