export { GGUFError, type GGUFErrorCode, type GGUFErrorOptions } from './errors.js';
export { GGUFFile, type ReadTensorsOptions, type TensorData } from './gguf-file.js';
export type { GGUFKeyValue, HeaderParseOptions } from './header-parser.js';
export {
  describeType,
  f32Text,
  formatInspect,
  type InspectOptions,
  inspectJSON,
  valueText,
} from './inspect.js';
export { knownKeyType } from './known-keys.js';
export { type GGUFTypedValue, type GGUFWriteValue, parseTypeInfo, typed } from './metadata-encode.js';
export { type GGUFSource, type ParseGGUFOptions, parseGGUF } from './parse.js';
export type { HttpSourceOptions } from './sources/http.js';
export type { GGUFByteSource } from './sources/source.js';
export { assembleGGUFSplit, parseGGUFSplit, splitPartNames } from './split.js';
export { type GGUFSummary, type GGUFTypeCount, summarize } from './summary.js';
export type { GGUFTensorInfo } from './tensor-info.js';
export {
  findGGMLType,
  GGML_TYPES,
  GGMLType,
  type GGMLTypeId,
  type GGMLTypeInfo,
  type GGMLTypeName,
  ggmlTensorBytes,
  ggmlTypeInfo,
  resolveGGMLType,
} from './types-table.js';
export {
  GGUF_VALUE_TYPE_SHORT_NAMES,
  type GGUFArrayTypeInfo,
  type GGUFScalar,
  type GGUFTypeInfo,
  type GGUFValue,
  GGUFValueType,
  type GGUFValueTypeId,
  type GGUFValueTypeName,
  typeInfoName,
} from './value-types.js';
export { type GGUFWriteResult, writeGGUF } from './write-file.js';
export {
  encodeGGUFHeader,
  type GGUFEncodedHeader,
  type GGUFTensorData,
  type GGUFTensorLayout,
  type GGUFWriteEntry,
  type GGUFWriteInput,
  type GGUFWriteTensor,
  ggufChunks,
  ggufStream,
  serializeGGUF,
} from './writer.js';
