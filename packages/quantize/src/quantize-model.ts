/**
 * Quantizes a GGUF file tensor by tensor: read a slab of rows, convert it (in worker threads),
 * hand the finished tensor to the GGUF writer, forget it. Memory stays near one tensor.
 */

import { realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { GGUFError, type GGUFFile, parseGGUF, writeGGUF } from '@quant/gguf';
import { QuantizeError } from './errors.js';
import { QUANTIZE_FILE_TYPES } from './file-type.js';
import { rowBytes, typeName } from './ggml-types.js';
import { outputMetadata } from './metadata.js';
import { type PlannedTensor, type PlanOptions, planQuantization, type QuantPlan } from './plan.js';
import { canProduce, NonFiniteError, type RowQuantizer, SOURCE_TYPES } from './row-quantizer.js';
import { WorkerPoolRowQuantizer } from './worker-pool.js';

export interface QuantizeOptions extends PlanOptions {
  /** Threads used to quantize (default: all cores). 1 = quantize in the calling thread. */
  threads?: number;
  /** Called after each tensor is ready to be written: tensors done, tensor count, its name. */
  onProgress?(done: number, total: number, tensorName: string): void;
  /** Aborts between row slabs; the partial output file is removed. */
  signal?: AbortSignal;
  /** Float32 working set per step (bytes of rows converted at once). Default 64 MiB. */
  slabBytes?: number;
}

export interface QuantizeResult {
  plan: QuantPlan;
  outPath: string;
  /** Bytes of the output file. */
  outputBytes: number;
  seconds: number;
  /** Threads that quantized. */
  threads: number;
  parallelism: 'worker_threads' | 'single-thread';
  /** Why worker threads were not used, if they were asked for and could not start. */
  note?: string;
  /** The most tensor bytes held at once (one tensor's output plus one slab's source, floats and result). */
  peakTensorBytes: number;
  /** The most tensors being produced at the same time (1 means strictly one after another). */
  peakTensorsInFlight: number;
}

const DEFAULT_SLAB = 64 * 1024 * 1024;

function checkAborted(signal: AbortSignal | undefined, outPath: string): void {
  if (signal?.aborted)
    throw new QuantizeError(
      'ABORTED',
      `quantization to ${outPath} was aborted; the partial file was removed`,
      { path: outPath },
    );
}

/** True when both paths name the same file (also through symlinks). */
function samePath(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false; // one of them does not exist yet
  }
}

/**
 * Refuses plans we cannot write, before any file is created. (Every current mix's types have a
 * quantizer; the type check guards mix rules added later.)
 */
function checkWritable(plan: QuantPlan, inPath: string): void {
  for (const t of plan.tensors) {
    if (!t.convert) continue;
    if (!SOURCE_TYPES.has(t.sourceType)) {
      throw new QuantizeError(
        'REQUANTIZE_NOT_ALLOWED',
        `tensor ${t.name} in ${inPath} is already ${t.sourceTypeName}; quantize from an F32, F16 or BF16 model instead (requantizing loses quality)`,
        { tensor: t.name, path: inPath },
      );
    }
    if (!canProduce(t.targetType)) {
      throw new QuantizeError(
        'UNSUPPORTED_TARGET_TYPE',
        `the ${plan.fileType} mix needs ${t.targetTypeName} for tensor ${t.name}, which this package cannot write yet; use one of ${QUANTIZE_FILE_TYPES.join(', ')}`,
        { tensor: t.name },
      );
    }
  }
}

/**
 * Quantizes `inPath` (an F32/F16/BF16 GGUF) to `outPath` with `options.type`'s mix, writing
 * llama-quantize's per-tensor types, `general.file_type` and `general.quantization_version`.
 */
export async function quantizeModel(
  inPath: string,
  outPath: string,
  options: QuantizeOptions,
): Promise<QuantizeResult> {
  const started = performance.now();
  checkAborted(options.signal, outPath);
  if (samePath(inPath, outPath)) {
    throw new QuantizeError(
      'SAME_INPUT_OUTPUT',
      `the output path ${outPath} is the input file; choose another output path`,
      { path: outPath },
    );
  }
  let file: GGUFFile;
  try {
    file = await parseGGUF(inPath);
  } catch (e) {
    throw new QuantizeError('READ_FAILED', `cannot read ${inPath}: ${(e as Error).message}`, {
      path: inPath,
      cause: e,
    });
  }
  let rq: RowQuantizer | undefined;
  try {
    const plan = planQuantization(file, options);
    checkWritable(plan, inPath);
    const threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
    rq = await WorkerPoolRowQuantizer.create(threads);
    const conv = rq;
    const slabBytes = Math.max(1, options.slabBytes ?? DEFAULT_SLAB);
    let inFlight = 0;
    let peakInFlight = 0;
    let peakBytes = 0;
    let done = 0;

    const produce = async (p: PlannedTensor): Promise<Uint8Array> => {
      inFlight++;
      peakInFlight = Math.max(peakInFlight, inFlight);
      try {
        checkAborted(options.signal, outPath);
        let bytes: Uint8Array;
        if (!p.convert) {
          bytes = await file.readTensorData(p.name);
          peakBytes = Math.max(peakBytes, bytes.byteLength);
        } else {
          bytes = await convertTensor(file, p, conv, slabBytes, options.signal, outPath, (b) => {
            peakBytes = Math.max(peakBytes, b);
          });
        }
        done++;
        options.onProgress?.(done, plan.tensors.length, p.name);
        return bytes;
      } finally {
        inFlight--;
      }
    };

    let written: { size: number };
    try {
      written = await writeGGUF(outPath, {
        entries: outputMetadata(file.entries, plan.ftype),
        alignment: file.alignment,
        tensors: plan.tensors.map((p) => ({
          name: p.name,
          type: p.targetType,
          shape: p.shape,
          data: () => produce(p),
        })),
      });
    } catch (e) {
      throw asQuantizeError(e, inPath, outPath);
    }
    const r: QuantizeResult = {
      plan,
      outPath,
      outputBytes: written.size,
      seconds: (performance.now() - started) / 1000,
      threads: conv.threads,
      parallelism: conv.mode,
      peakTensorBytes: peakBytes,
      peakTensorsInFlight: peakInFlight,
    };
    if (conv.note) r.note = conv.note;
    return r;
  } finally {
    await rq?.close();
    await file.close();
  }
}

/** Errors from reading, converting or writing, with the file and tensor named. */
function asQuantizeError(e: unknown, inPath: string, outPath: string): QuantizeError {
  const cause = e instanceof GGUFError && e.cause instanceof QuantizeError ? e.cause : e;
  if (cause instanceof QuantizeError) return cause;
  const msg = (cause as Error)?.message ?? String(cause);
  if (
    cause instanceof GGUFError &&
    (cause.code === 'GGUF_WRITE_ERROR' || cause.code === 'GGUF_TENSOR_DATA_SIZE')
  ) {
    return new QuantizeError(
      'WRITE_FAILED',
      `writing ${outPath} failed: ${msg}; the partial file was removed`,
      { path: outPath, cause },
    );
  }
  return new QuantizeError(
    'READ_FAILED',
    `quantizing ${inPath} failed: ${msg}; the partial output ${outPath} was removed`,
    { path: inPath, cause },
  );
}

/** Reads `p` slab by slab and converts it to its target type. */
async function convertTensor(
  file: GGUFFile,
  p: PlannedTensor,
  conv: RowQuantizer,
  slabBytes: number,
  signal: AbortSignal | undefined,
  outPath: string,
  held: (bytes: number) => void,
): Promise<Uint8Array> {
  const info = file.tensor(p.name);
  if (!info)
    throw new QuantizeError('READ_FAILED', `tensor ${p.name} vanished from ${file.source ?? 'the input'}`, {
      tensor: p.name,
    });
  const cols = p.shape[0] ?? 1;
  const rows = info.nElements / cols;
  const srcRow = rowBytes(p.sourceType, cols);
  const dstRow = rowBytes(p.targetType, cols);
  const out = new Uint8Array(rows * dstRow);
  const slabRows = Math.max(1, Math.min(rows, Math.floor(slabBytes / (cols * 4))));
  for (let r = 0; r < rows; r += slabRows) {
    checkAborted(signal, outPath);
    const n = Math.min(slabRows, rows - r);
    const at = info.absoluteOffset + r * srcRow;
    const src = await file.readBytes(at, n * srcRow);
    if (src.byteLength !== n * srcRow) {
      throw new QuantizeError(
        'READ_FAILED',
        `tensor ${p.name}: expected ${n * srcRow} bytes at byte offset ${at} of ${file.source ?? 'the input'}, got ${src.byteLength}; the file is truncated`,
        { tensor: p.name, path: file.source },
      );
    }
    let part: Uint8Array;
    try {
      part = await conv.convert(p.sourceType, p.targetType, src, n, cols);
    } catch (e) {
      if (e instanceof NonFiniteError) {
        const row = r + Math.floor(e.index / cols);
        throw new QuantizeError(
          'NON_FINITE_VALUES',
          `tensor ${p.name} has a NaN or infinite value at row ${row}, column ${e.index % cols} (${file.source ?? 'input'}); llama-quantize refuses such weights too — fix or re-convert the source model`,
          { tensor: p.name, path: file.source, cause: e },
        );
      }
      throw new QuantizeError(
        'QUANTIZE_FAILED',
        `tensor ${p.name}: converting rows ${r}..${r + n - 1} from ${p.sourceTypeName} to ${typeName(p.targetType)} failed: ${(e as Error).message}`,
        { tensor: p.name, cause: e },
      );
    }
    if (part.byteLength !== n * dstRow) {
      throw new QuantizeError(
        'WRITE_FAILED',
        `tensor ${p.name}: the quantizer returned ${part.byteLength} bytes for ${n} rows, expected ${n * dstRow}`,
        {
          tensor: p.name,
        },
      );
    }
    out.set(part, r * dstRow);
    held(out.byteLength + src.byteLength + n * cols * 4 + part.byteLength);
  }
  return out;
}
