export { GGUFError, type GGUFErrorCode, type GGUFErrorOptions } from './errors.js';
export {
  GGMLType,
  GGML_TYPES,
  type GGMLTypeId,
  type GGMLTypeInfo,
  type GGMLTypeName,
  findGGMLType,
  ggmlTensorBytes,
  ggmlTypeInfo,
  resolveGGMLType,
} from './types-table.js';
export {
  GGUFValueType,
  GGUF_VALUE_TYPE_SHORT_NAMES,
  type GGUFArrayTypeInfo,
  type GGUFScalar,
  type GGUFTypeInfo,
  type GGUFValue,
  type GGUFValueTypeId,
  type GGUFValueTypeName,
  typeInfoName,
} from './value-types.js';
export type { GGUFTensorInfo } from './tensor-info.js';
export type { GGUFKeyValue, HeaderParseOptions } from './header-parser.js';
export { GGUFFile } from './gguf-file.js';
export { parseGGUF, type GGUFSource, type ParseGGUFOptions } from './parse.js';
export type { GGUFByteSource } from './sources/source.js';
export { type GGUFSummary, type GGUFTypeCount, summarize } from './summary.js';
export { type GGUFTypedValue, type GGUFWriteValue, typed, parseTypeInfo } from './metadata-encode.js';
export { knownKeyType } from './known-keys.js';
export {
  type GGUFEncodedHeader,
  type GGUFTensorData,
  type GGUFTensorLayout,
  type GGUFWriteEntry,
  type GGUFWriteInput,
  type GGUFWriteTensor,
  encodeGGUFHeader,
  ggufChunks,
  ggufStream,
  serializeGGUF,
} from './writer.js';
export { type GGUFWriteResult, writeGGUF } from './write-file.js';
export { type InspectOptions, describeType, f32Text, formatInspect, inspectJSON, valueText } from './inspect.js';
