import type { GGUFTensorInfo } from './tensor-info.js';

export interface GGUFTypeCount {
  typeName: string;
  type: number;
  tensors: number;
  elements: number;
  bytes: number;
}

export interface GGUFSummary {
  architecture: string | undefined;
  tensorCount: number;
  /** Sum of all tensors' element counts. */
  parameterCount: number;
  /** Sum of all tensors' data bytes (without padding). */
  tensorBytes: number;
  /** 8 × tensorBytes / parameterCount (0 without tensors). */
  bitsPerWeight: number;
  /** Tensor counts, elements and bytes by ggml type, most bytes first. */
  byType: GGUFTypeCount[];
  metadataCount: number;
  /** Header size including the padding before the data section. */
  headerBytes: number;
  fileSize: number | undefined;
}

export interface SummarizableFile {
  architecture: string | undefined;
  tensors: readonly GGUFTensorInfo[];
  metadata: Record<string, unknown>;
  dataOffset: number;
  fileSize: number | undefined;
}

export function summarize(f: SummarizableFile): GGUFSummary {
  let params = 0;
  let bytes = 0;
  const by = new Map<number, GGUFTypeCount>();
  for (const t of f.tensors) {
    params += t.nElements;
    bytes += t.byteSize;
    let c = by.get(t.type);
    if (c === undefined) {
      c = { typeName: t.typeName, type: t.type, tensors: 0, elements: 0, bytes: 0 };
      by.set(t.type, c);
    }
    c.tensors++;
    c.elements += t.nElements;
    c.bytes += t.byteSize;
  }
  return {
    architecture: f.architecture,
    tensorCount: f.tensors.length,
    parameterCount: params,
    tensorBytes: bytes,
    bitsPerWeight: params > 0 ? (bytes * 8) / params : 0,
    byType: [...by.values()].sort((a, b) => b.bytes - a.bytes || a.type - b.type),
    metadataCount: Object.keys(f.metadata).length,
    headerBytes: f.dataOffset,
    fileSize: f.fileSize,
  };
}
