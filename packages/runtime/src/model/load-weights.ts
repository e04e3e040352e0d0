import type { GGUFFile, GGUFTensorInfo } from '@quant/gguf';
import type { Kernels } from '@quant/kernels';
import type { TensorSpec } from '@quant/plugin-api';
import { QuantRuntimeError } from '../errors.js';
import { LoadedWeights } from './weights.js';

/** Progress of `loadModel`, reported after each tensor. */
export interface LoadProgress {
  /** The tensor just loaded. */
  tensor: string;
  /** Tensors loaded so far / to load. */
  loaded: number;
  total: number;
  /** Bytes of tensor data loaded so far / to load. */
  loadedBytes: number;
  totalBytes: number;
}

const F32 = 0;

/** Float32 values of a tensor: a view for aligned F32 data, else a copy / the kernels' dequantization. */
function toFloat32(kernels: Kernels, info: GGUFTensorInfo, data: Uint8Array): Float32Array {
  if (info.type === F32) {
    if (data.byteOffset % 4 === 0)
      return new Float32Array(data.buffer, data.byteOffset, info.nElements).slice();
    return new Float32Array(data.slice().buffer, 0, info.nElements);
  }
  return kernels.dequantize(info.type, data, info.nElements);
}

function wrap(e: unknown, info: GGUFTensorInfo, where: string): QuantRuntimeError {
  const msg = e instanceof Error ? e.message : String(e);
  const kernelCode = (e as { code?: unknown } | null)?.code;
  return new QuantRuntimeError(
    kernelCode === 'UNSUPPORTED_TYPE' ? 'UNSUPPORTED_TENSOR_TYPE' : 'LOAD_FAILED',
    `Could not load tensor "${info.name}" (${info.typeName}, shape [${info.shape.join(', ')}]) from ${where}: ${msg}`,
    { cause: e },
  );
}

/**
 * Hands every tensor in `specs` to the kernels once, in the role its spec asks for. Matrices are
 * memory-mapped (`weightFromFile`) when `mapPath` is given and the backend can map files.
 */
export async function loadWeights(
  kernels: Kernels,
  file: GGUFFile,
  specs: readonly TensorSpec[],
  mapPath: string | undefined,
  where: string,
  onProgress?: (p: LoadProgress) => void,
): Promise<LoadedWeights> {
  const weights = new LoadedWeights();
  const infos = specs.map((s) => file.tensor(s.name) as GGUFTensorInfo);
  const totalBytes = infos.reduce((a, t) => a + t.byteSize, 0);
  let loadedBytes = 0;
  const canMap = mapPath !== undefined && kernels.canMapFiles && typeof kernels.weightFromFile === 'function';
  try {
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i] as TensorSpec;
      const info = infos[i] as GGUFTensorInfo;
      try {
        if (spec.role === 'matrix') {
          const cols = info.shape[0] ?? 1;
          const rows = info.nElements / cols;
          if (canMap) {
            weights.matrices.set(
              spec.name,
              (kernels.weightFromFile as NonNullable<Kernels['weightFromFile']>)(
                mapPath as string,
                info.absoluteOffset,
                info.type,
                rows,
                cols,
              ),
            );
          } else {
            weights.matrices.set(
              spec.name,
              kernels.weight(info.type, rows, cols, await file.readTensorData(spec.name)),
            );
          }
        } else {
          const values = toFloat32(kernels, info, await file.readTensorData(spec.name));
          if (spec.role === 'vector') {
            const buf = kernels.f32(values.length);
            buf.write(values);
            weights.vectors.set(spec.name, buf);
          } else {
            weights.hosts.set(spec.name, values);
          }
        }
      } catch (e) {
        throw wrap(e, info, where);
      }
      loadedBytes += info.byteSize;
      onProgress?.({ tensor: spec.name, loaded: i + 1, total: specs.length, loadedBytes, totalBytes });
    }
  } catch (e) {
    weights.dispose();
    throw e;
  }
  return weights;
}
