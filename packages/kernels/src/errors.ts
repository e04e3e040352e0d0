/** Machine-readable reasons a kernel call was refused. */
export type KernelErrorCode =
  | 'INVALID_ARGUMENT'
  | 'OUT_OF_BOUNDS'
  | 'DISPOSED'
  | 'UNSUPPORTED_TYPE'
  | 'BLOCK_MISALIGNED'
  | 'FOREIGN_OBJECT'
  | 'ALIASING'
  | 'BACKEND_UNAVAILABLE'
  | 'OUT_OF_MEMORY'
  | 'MAP_FAILED'
  | 'MODEL_FILE_CHANGED'
  | 'NOT_SUPPORTED'
  | 'RECORDING'
  | 'BUSY'
  | 'INTERNAL';

/** Every error @quant/kernels throws on purpose. `code` says what kind; the message says what to do. */
export class KernelError extends Error {
  readonly code: KernelErrorCode;
  constructor(code: KernelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KernelError';
    this.code = code;
  }
}
