/** One tensor's entry in the GGUF header. */
export interface GGUFTensorInfo {
  name: string;
  /** ggml type id (see GGMLType). */
  type: number;
  /** GGMLType key, e.g. `Q4_K`. */
  typeName: string;
  /** Dimensions in ggml order: shape[0] = ne0 = the row length. Its length is the file's n_dims. */
  shape: number[];
  /** Byte offset of the data relative to the start of the data section. */
  offset: number;
  /** Byte offset of the data from the start of the file. */
  absoluteOffset: number;
  /** Bytes of data (without alignment padding). */
  byteSize: number;
  /** Number of elements (product of the shape). */
  nElements: number;
}
