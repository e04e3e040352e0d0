/** The output file's metadata: the input's entries in order, minus split keys, plus the quantization keys. */
import { type GGUFKeyValue, GGUFValueType, type GGUFWriteEntry } from '@quant/gguf';
import { QUANTIZATION_VERSION } from './file-type.js';

/** Keys llama-quantize drops (the output is one file). */
const DROPPED = new Set(['split.no', 'split.count', 'split.tensors.count']);
const SET_KEYS = ['general.quantization_version', 'general.file_type'];

/**
 * Copies every metadata entry with its declared type, then (as llama-quantize does, replacing any
 * earlier value and moving the key to the end) `general.quantization_version` and `general.file_type`.
 */
export function outputMetadata(entries: readonly GGUFKeyValue[], ftype: number): GGUFWriteEntry[] {
  const out: GGUFWriteEntry[] = entries
    .filter((e) => !DROPPED.has(e.key) && !SET_KEYS.includes(e.key))
    .map((e) => ({ key: e.key, type: e.type, value: e.value }));
  out.push({ key: 'general.quantization_version', type: GGUFValueType.UINT32, value: QUANTIZATION_VERSION });
  out.push({ key: 'general.file_type', type: GGUFValueType.UINT32, value: ftype });
  return out;
}
