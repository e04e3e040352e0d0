import type { GGUFFile, GGUFTensorInfo } from '@quant/gguf';
import type { Kernels } from '@quant/kernels';
import type { TensorSpec } from '@quant/plugin-api';
import { AbortError, QuantRuntimeError } from '../errors.js';
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
 * memory-mapped (`weightFromFile`) when the part file holding them has a path in `mapPaths` and the
 * backend can map files; everything else is read in a few large ranges (`readTensorsData`: one HTTP
 * request per range, not per tensor) and copied into the kernels' memory — no reference to the
 * source's bytes is kept on a backend that copies (wasm).
 */
export async function loadWeights(
  kernels: Kernels,
  file: GGUFFile,
  specs: readonly TensorSpec[],
  mapPaths: readonly (string | undefined)[] | undefined,
  where: string,
  onProgress?: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<LoadedWeights> {
  const weights = new LoadedWeights();
  const infos = specs.map((s) => file.tensor(s.name) as GGUFTensorInfo);
  const totalBytes = infos.reduce((a, t) => a + t.byteSize, 0);
  let loadedBytes = 0;
  let loaded = 0;
  const canMapFiles = kernels.canMapFiles && typeof kernels.weightFromFile === 'function';
  const mapPathOf = (name: string): string | undefined =>
    canMapFiles ? mapPaths?.[file.tensorPart(name)] : undefined;
  const done = (spec: TensorSpec, info: GGUFTensorInfo) => {
    loadedBytes += info.byteSize;
    loaded++;
    onProgress?.({ tensor: spec.name, loaded, total: specs.length, loadedBytes, totalBytes });
  };
  const checkAbort = () => {
    if (signal?.aborted) throw new AbortError(signal.reason);
  };
  const specByName = new Map(specs.map((s) => [s.name, s]));
  try {
    const toRead: string[] = [];
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i] as TensorSpec;
      const info = infos[i] as GGUFTensorInfo;
      const mapPath = spec.role === 'matrix' ? mapPathOf(spec.name) : undefined;
      if (mapPath === undefined) {
        toRead.push(spec.name);
        continue;
      }
      checkAbort();
      const cols = info.shape[0] ?? 1;
      try {
        weights.matrices.set(
          spec.name,
          (kernels.weightFromFile as NonNullable<Kernels['weightFromFile']>)(
            mapPath,
            info.absoluteOffset,
            info.type,
            info.nElements / cols,
            cols,
          ),
        );
      } catch (e) {
        throw wrap(e, info, where);
      }
      done(spec, info);
    }
    if (toRead.length > 0) {
      const tensors = file.readTensorsData(toRead);
      for (;;) {
        checkAbort();
        let next: IteratorResult<{ name: string; info: GGUFTensorInfo; data: Uint8Array }>;
        try {
          next = await tensors.next();
        } catch (e) {
          const info = file.tensor((e as { tensor?: string }).tensor ?? '') ?? (infos[0] as GGUFTensorInfo);
          throw wrap(e, info, where);
        }
        if (next.done) break;
        const { name, info, data } = next.value;
        const spec = specByName.get(name) as TensorSpec;
        try {
          if (spec.role === 'matrix') {
            const cols = info.shape[0] ?? 1;
            weights.matrices.set(spec.name, kernels.weight(info.type, info.nElements / cols, cols, data));
          } else {
            const values = toFloat32(kernels, info, data);
            if (spec.role === 'vector') {
              const buf = kernels.f32(values.length);
              buf.write(values);
              weights.vectors.set(spec.name, buf);
            } else {
              weights.hosts.set(spec.name, values);
            }
          }
        } catch (e) {
          await tensors.return(undefined).catch(() => {});
          throw wrap(e, info, where);
        }
        done(spec, info);
      }
    }
  } catch (e) {
    weights.dispose();
    throw e;
  }
  return weights;
}
