import { GGUFError } from './errors.js';
import type { GGUFTensorInfo } from './tensor-info.js';

/**
 * Checks the tensors against the data section (as llama.cpp's loader does): each offset aligned,
 * each tensor's bytes inside the file, no two tensors overlapping. Fills in absoluteOffset.
 *
 * @param infoAt byte offset of each tensor's info in the header (for error locations)
 * @param size file size, when known
 */
export function placeTensors(
  tensors: readonly GGUFTensorInfo[],
  infoAt: readonly number[],
  alignment: number,
  dataOffset: number,
  size: number | undefined,
): void {
  if (size !== undefined && tensors.length > 0 && dataOffset > size) {
    throw new GGUFError(
      'GGUF_DATA_TRUNCATED',
      `the file ends at byte ${size}, before the data section, which starts at ${dataOffset}`,
      { offset: size },
    );
  }
  const dataSize = size === undefined ? Number.POSITIVE_INFINITY : size - dataOffset;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i] as GGUFTensorInfo;
    const at = infoAt[i] as number;
    if (t.offset % alignment !== 0) {
      throw new GGUFError(
        'GGUF_TENSOR_MISALIGNED',
        `tensor '${t.name}' data offset ${t.offset} is not a multiple of the alignment ${alignment}`,
        { offset: at, tensor: t.name },
      );
    }
    if (t.offset > dataSize && !contiguous(tensors, i, alignment)) {
      throw new GGUFError(
        'GGUF_TENSOR_OFFSET_OUT_OF_BOUNDS',
        `tensor '${t.name}' data offset ${t.offset} is beyond the ${dataSize}-byte data section`,
        { offset: at, tensor: t.name },
      );
    }
    if (t.offset + t.byteSize > dataSize) {
      throw new GGUFError(
        'GGUF_DATA_TRUNCATED',
        `tensor '${t.name}' needs bytes ${dataOffset + t.offset}–${dataOffset + t.offset + t.byteSize} but the file has only ${size} bytes; the file is truncated`,
        { offset: size ?? 0, tensor: t.name },
      );
    }
    t.absoluteOffset = dataOffset + t.offset;
  }
  checkOverlaps(tensors, infoAt);
}

/**
 * Whether tensor i starts right where the tensors before it (by offset) end, padded: then a file
 * too short for it is truncated rather than corrupt.
 */
function contiguous(tensors: readonly GGUFTensorInfo[], i: number, alignment: number): boolean {
  const t = tensors[i] as GGUFTensorInfo;
  let prevEnd = 0;
  for (const u of tensors) {
    if (u.offset < t.offset)
      prevEnd = Math.max(prevEnd, Math.ceil((u.offset + u.byteSize) / alignment) * alignment);
  }
  return prevEnd === t.offset;
}

function checkOverlaps(ts: readonly GGUFTensorInfo[], infoAt: readonly number[]): void {
  let sorted = true;
  for (let i = 1; i < ts.length; i++) {
    if ((ts[i] as GGUFTensorInfo).offset < (ts[i - 1] as GGUFTensorInfo).offset) {
      sorted = false;
      break;
    }
  }
  const order = ts.map((_, i) => i);
  if (!sorted) order.sort((x, y) => (ts[x] as GGUFTensorInfo).offset - (ts[y] as GGUFTensorInfo).offset);
  let prev: GGUFTensorInfo | undefined;
  for (const i of order) {
    const t = ts[i] as GGUFTensorInfo;
    if (t.byteSize === 0) continue;
    if (prev !== undefined && t.offset < prev.offset + prev.byteSize) {
      throw new GGUFError(
        'GGUF_TENSOR_OVERLAP',
        `tensor '${t.name}' (bytes ${t.offset}–${t.offset + t.byteSize}) overlaps tensor '${prev.name}' (bytes ${prev.offset}–${prev.offset + prev.byteSize}) in the data section`,
        { offset: infoAt[i] as number, tensor: t.name },
      );
    }
    prev = t;
  }
}
