import { KernelError } from './errors';

/** Throws unless v is an integer in [min, max]. */
export function int(v: unknown, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new KernelError(
      'INVALID_ARGUMENT',
      `${name} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '2^53' : max}], got ${String(v)}`,
    );
  }
  return v;
}

/** Throws unless v is a finite number. */
export function finite(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new KernelError('INVALID_ARGUMENT', `${name} must be a finite number, got ${String(v)}`);
  }
  return v;
}

/** Throws OUT_OF_BOUNDS unless [offset, offset+count) fits in `length` elements. */
export function fits(length: number, offset: number, count: number, what: string): void {
  if (offset + count > length) {
    throw new KernelError(
      'OUT_OF_BOUNDS',
      `${what}: needs ${count} elements at offset ${offset} but the buffer holds ${length}; allocate a larger buffer or pass a smaller count`,
    );
  }
}
