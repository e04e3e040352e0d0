/**
 * Quantizes a GGUF file tensor by tensor: read a slab of rows, convert it (in worker threads),
 * hand the finished tensor to the GGUF writer, forget it. Memory stays near one tensor. The output
 * goes to a temporary file renamed into place when complete (safe-output.ts), or to a stream.
 */

import { availableParallelism } from 'node:os';
import {
  encodeGGUFHeader,
  GGUFError,
  type GGUFFile,
  type GGUFWriteInput,
  ggufChunks,
  parseGGUF,
} from '@quant/gguf';
import { QuantizeError } from './errors.js';
import { QUANTIZE_FILE_TYPES } from './file-type.js';
import { rowBytes, typeName } from './ggml-types.js';
import { outputMetadata } from './metadata.js';
import { type PlannedTensor, type PlanOptions, planQuantization, type QuantPlan } from './plan.js';
import { canProduce, NonFiniteError, type RowQuantizer, SOURCE_TYPES } from './row-quantizer.js';
import {
  checkOutputPath,
  checkStreamTarget,
  fileIdentity,
  removeStalePartials,
  TemporaryOutput,
} from './safe-output.js';
import { WorkerPoolRowQuantizer } from './worker-pool.js';

export interface QuantizeOptions extends PlanOptions {
  /**
   * Threads used to quantize (default: all CPUs). Clamped to the CPUs available
   * (`maxQuantizeThreads()`): more only cost memory. 1 = quantize in the calling thread.
   */
  threads?: number;
  /** Called after each tensor is ready to be written: tensors done, tensor count, its name. */
  onProgress?(done: number, total: number, tensorName: string): void;
  /** Aborts between row slabs and between writes; the temporary output is removed. */
  signal?: AbortSignal;
  /** Float32 working set per step (bytes of rows converted at once). Default 64 MiB. */
  slabBytes?: number;
  /**
   * Replace an existing regular file at the output path (default false: `OUTPUT_EXISTS`). The old
   * file stays untouched until the new one is complete, then the new one is renamed over it.
   */
  overwrite?: boolean;
}

/** What `quantizeToStream` returns. */
export interface QuantizeStreamResult {
  plan: QuantPlan;
  /** Bytes of the output. */
  outputBytes: number;
  seconds: number;
  /** Threads that quantized. */
  threads: number;
  parallelism: 'worker_threads' | 'single-thread';
  /** Why fewer threads than asked for were used, or why worker threads could not start. */
  note?: string;
  /** The most tensor bytes held at once (one tensor's output plus one slab's source, floats and result). */
  peakTensorBytes: number;
  /** The most tensors being produced at the same time (1 means strictly one after another). */
  peakTensorsInFlight: number;
}

export interface QuantizeResult extends QuantizeStreamResult {
  outPath: string;
  /** Temporary files of earlier, killed runs to the same output that were removed first. */
  removedPartials: string[];
}

/** Anything with a Node-style `write(chunk, callback)`, e.g. `process.stdout` or an `fs.WriteStream`. */
export interface QuantizeOutputStream {
  write(chunk: Uint8Array, callback: (error?: Error | null) => void): boolean;
  /** When present, the stream is refused if it is the input file itself. */
  fd?: number;
}

const DEFAULT_SLAB = 64 * 1024 * 1024;

/** The most threads `quantizeModel` uses: the CPUs available to this process. */
export function maxQuantizeThreads(): number {
  return Math.max(1, availableParallelism());
}

function checkAborted(signal: AbortSignal | undefined, outLabel: string): void {
  if (signal?.aborted)
    throw new QuantizeError('ABORTED', `quantization to ${outLabel} was aborted`, { path: outLabel });
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

/** Where the bytes go: opened once the plan is known to be writable, finished or discarded. */
interface OutputSide {
  label: string;
  open(): Promise<(chunk: Uint8Array) => Promise<void>>;
  finish(): Promise<void>;
  discard(): Promise<void>;
  /** Appended to the message of a failure after `open`. */
  failureNote: string;
}

/**
 * Quantizes `inPath` (an F32/F16/BF16 GGUF) to `outPath` with `options.type`'s mix, writing
 * llama-quantize's per-tensor types, `general.file_type` and `general.quantization_version`.
 *
 * Never destroys a file: `outPath` must not be the input (compared by device and inode), must be a
 * regular file or not exist, and is replaced only with `overwrite`. The output is written to a
 * temporary file in the same directory, fsynced, and renamed into place only when complete; every
 * failure and abort removes only that temporary file.
 */
export async function quantizeModel(
  inPath: string,
  outPath: string,
  options: QuantizeOptions,
): Promise<QuantizeResult> {
  const started = performance.now();
  checkAborted(options.signal, outPath);
  const overwrite = options.overwrite === true;
  const input = await fileIdentity(inPath);
  const target = await checkOutputPath(inPath, outPath, overwrite, input);
  let temp: TemporaryOutput | undefined;
  let removedPartials: string[] = [];
  const r = await quantizeCore(inPath, options, {
    label: outPath,
    open: async () => {
      removedPartials = await removeStalePartials(target.finalPath);
      const t = await TemporaryOutput.create(target);
      temp = t;
      return (chunk) => t.write(chunk);
    },
    finish: async () => {
      checkAborted(options.signal, outPath);
      await temp?.commit(overwrite, input, inPath);
    },
    discard: async () => {
      await temp?.discard();
    },
    failureNote: target.replaces
      ? `${outPath} was left as it was (only the temporary file was removed)`
      : `nothing was written to ${outPath}`,
  });
  return {
    ...r,
    outPath,
    outputBytes: temp?.size ?? 0,
    removedPartials,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Quantizes `inPath` into a writable stream (e.g. `process.stdout`), which is not ended. Nothing is
 * created or deleted; a failure leaves the stream with part of a file, so the consumer must check
 * for the error. A stream whose file descriptor is the input file is refused.
 */
export async function quantizeToStream(
  inPath: string,
  stream: QuantizeOutputStream,
  options: QuantizeOptions,
): Promise<QuantizeStreamResult> {
  const started = performance.now();
  const label = 'the output stream';
  checkAborted(options.signal, label);
  checkStreamTarget(
    inPath,
    typeof stream.fd === 'number' ? stream.fd : undefined,
    await fileIdentity(inPath),
  );
  let size = 0;
  const write = (chunk: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      stream.write(chunk, (e) => {
        if (e)
          reject(
            new QuantizeError('WRITE_FAILED', `writing the output stream failed: ${e.message}`, { cause: e }),
          );
        else resolve();
      });
    }).then(() => {
      size += chunk.length;
    });
  const r = await quantizeCore(inPath, options, {
    label,
    open: async () => write,
    finish: async () => {},
    discard: async () => {},
    failureNote: 'the output stream holds an incomplete file',
  });
  return { ...r, outputBytes: size, seconds: (performance.now() - started) / 1000 };
}

async function quantizeCore(
  inPath: string,
  options: QuantizeOptions,
  out: OutputSide,
): Promise<Omit<QuantizeStreamResult, 'outputBytes' | 'seconds'>> {
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
  let opened = false;
  try {
    const plan = planQuantization(file, options);
    checkWritable(plan, inPath);
    const cpus = maxQuantizeThreads();
    const asked =
      options.threads === undefined || !Number.isFinite(options.threads)
        ? cpus
        : Math.max(1, Math.floor(options.threads));
    const threads = Math.min(asked, cpus);
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
        checkAborted(options.signal, out.label);
        let bytes: Uint8Array;
        if (!p.convert) {
          bytes = await file.readTensorData(p.name);
          peakBytes = Math.max(peakBytes, bytes.byteLength);
        } else {
          bytes = await convertTensor(file, p, conv, slabBytes, options.signal, out.label, (b) => {
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

    const input: GGUFWriteInput = {
      entries: outputMetadata(file.entries, plan.ftype),
      alignment: file.alignment,
      tensors: plan.tensors.map((p) => ({
        name: p.name,
        type: p.targetType,
        shape: p.shape,
        data: () => produce(p),
      })),
    };
    try {
      encodeGGUFHeader(input); // validates everything before the output is created
      const write = await out.open();
      opened = true;
      for await (const chunk of ggufChunks(input)) {
        checkAborted(options.signal, out.label);
        await write(chunk);
      }
      await out.finish();
    } catch (e) {
      throw asQuantizeError(e, inPath, out.label);
    }
    const notes: string[] = [];
    if (asked > threads)
      notes.push(`${asked} threads asked for, ${threads} used (at most one per CPU: more only add memory)`);
    if (conv.note) notes.push(conv.note);
    const r: Omit<QuantizeStreamResult, 'outputBytes' | 'seconds'> = {
      plan,
      threads: conv.threads,
      parallelism: conv.mode,
      peakTensorBytes: peakBytes,
      peakTensorsInFlight: peakInFlight,
    };
    if (notes.length) r.note = notes.join('; ');
    return r;
  } catch (e) {
    if (opened) {
      await out.discard();
      if (e instanceof QuantizeError && e.code !== 'SAME_INPUT_OUTPUT')
        e.message = `${e.message}; ${out.failureNote}`;
    }
    throw e;
  } finally {
    await rq?.close();
    await file.close();
  }
}

/** Errors from reading, converting or writing, with the file and tensor named. */
function asQuantizeError(e: unknown, inPath: string, outLabel: string): QuantizeError {
  const cause = e instanceof GGUFError && e.cause instanceof QuantizeError ? e.cause : e;
  if (cause instanceof QuantizeError) return cause;
  const msg = (cause as Error)?.message ?? String(cause);
  if (
    cause instanceof GGUFError &&
    (cause.code === 'GGUF_WRITE_ERROR' || cause.code === 'GGUF_TENSOR_DATA_SIZE')
  ) {
    return new QuantizeError('WRITE_FAILED', `writing ${outLabel} failed: ${msg}`, { path: outLabel, cause });
  }
  return new QuantizeError('READ_FAILED', `quantizing ${inPath} failed: ${msg}`, { path: inPath, cause });
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
