import type { GGUFFile } from '@quant/gguf';
import type { HubOptions } from '@quant/hub';
import { type Kernels, loadKernels } from '@quant/kernels';
import {
  MetadataReader,
  type ModelDescription,
  PluginError,
  requireArchitecture,
  validateTensors,
} from '@quant/plugin-api';
import { Tokenizer } from '@quant/tokenizer';
import { AbortError, invalidOption, QuantRuntimeError } from './errors.js';
import { checkTensorTypes } from './model/check-types.js';
import { kvLayout } from './model/kv-layout.js';
import { type KVTypeOption, parseKvType } from './model/kv-type.js';
import { type LoadProgress, loadWeights } from './model/load-weights.js';
import { checkModelMemory, forwardScratchBytes } from './model/memory.js';
import { Model } from './model/model.js';
import { tensorDirectory } from './model/tensor-directory.js';
import type { DownloadProgress } from './model-cache.js';
import { type HttpOptions, type ModelSource, openModelSource } from './model-source.js';
import './builtin-plugins.js';

export interface LoadModelOptions extends HttpOptions {
  /** Kernel backend: 'auto' (default: native, else wasm), 'native' or 'wasm'. */
  backend?: 'auto' | 'native' | 'wasm';
  /**
   * Wasm backend: where the kernels' .wasm is (default: the file @quant/kernels ships, found with
   * `new URL(…, import.meta.url)` in browsers — Vite, webpack and Rollup emit it; esbuild needs this).
   */
  wasmUrl?: string | URL;
  /** Wasm backend: the kernels' .wasm bytes, when the app loads them itself. */
  wasmBinary?: ArrayBuffer | Uint8Array;
  /**
   * Wasm backend: the threaded kernels module (default: when more than one thread is used and
   * SharedArrayBuffer is usable — Node, or a cross-origin isolated page); see @quant/kernels.
   */
  wasmThreads?: boolean;
  /**
   * Browsers: keep downloaded models in the Cache API (cache `quant-models-v1`), so a reload reads
   * them from disk (default true where the Cache API exists; `clearModelCache()` empties it). Off, or
   * in Node.js, URLs are read with large Range requests.
   */
  cache?: boolean;
  /** Called while a URL is downloaded into the browser's model cache (and once per part found in it). */
  onDownloadProgress?: (progress: DownloadProgress) => void;
  /** Threads for the native backend (default: the kernels' default). */
  threads?: number;
  /** Use this kernels instance instead of loading one (it is not disposed with the model). */
  kernels?: Kernels;
  /** Default context size of sessions (default: the model's trained context, at most 4096). */
  contextSize?: number;
  /** Most tokens per forward pass (default 512). */
  batchSize?: number;
  /**
   * KV cache element types of new sessions (default 'f16', as llama.cpp): one type for K and V or
   * `{ k, v }`; 'f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'.
   */
  kvType?: KVTypeOption;
  /**
   * Follow llama.cpp's flash-attention path for new sessions (true, default: llama.cpp's CPU default and
   * node-llama-cpp's) or its standard mul_mat + softmax path (false: `llama-cli -fa off`). They
   * round an f16 KV cache at different points; with an f32 cache both give the same result.
   */
  flashAttention?: boolean;
  /**
   * Most sessions whose tokens share one forward pass (continuous batching; default 16). More
   * concurrent sessions wait for a later step.
   */
  maxSequences?: number;
  /**
   * Most KV caches of disposed sessions the model keeps to give to new sessions of the same context
   * size and KV type (default 8; 0 frees a disposed session's cache at once). A kept cache's memory is
   * already mapped, so a new session does not pay a page fault per page as it fills (5–20 µs each
   * under some hypervisors). Kept caches are freed when a new session's cache would not fit in the
   * available memory, by `model.trimKvPool()` and by `model.dispose()`; `model.kvPool` tells what is kept.
   */
  kvPool?: number;
  /**
   * Most prompt tokens one session adds to a forward pass while other sessions are generating
   * (default 64): long prompts are split so they do not stall the others. Alone, a prompt goes
   * through in batches of `batchSize`.
   */
  promptChunk?: number;
  /** Options for the architecture plugin (see the plugin's README). */
  architectureOptions?: Record<string, unknown>;
  /** Called after each tensor is loaded. */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * For `hf:` references: token, cache folder, offline mode, download progress and abort signal
   * (see @quant/hub; defaults from HF_TOKEN, HF_HUB_CACHE, HF_HUB_OFFLINE, HF_ENDPOINT).
   */
  hub?: HubOptions;
}

export type { ModelSource };

/**
 * Loads a GGUF model: parses it, finds the plugin registered for its `general.architecture`,
 * validates hyperparameters and tensors, builds the tokenizer and hands the weights to the kernels
 * once (memory-mapped from a path on the native backend).
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
  try {
    return await load(source, options);
  } catch (e) {
    // Whatever was interrupted (a fetch, a read, the weights), an aborted load is an AbortError.
    if (options.signal?.aborted && !(e instanceof AbortError)) throw new AbortError(options.signal.reason);
    throw e;
  }
}

async function load(source: ModelSource, options: LoadModelOptions): Promise<Model> {
  options.signal?.throwIfAborted();
  if (options.kvType !== undefined) parseKvType(options.kvType);
  if (options.flashAttention !== undefined && typeof options.flashAttention !== 'boolean')
    throw invalidOption('flashAttention', options.flashAttention, 'true or false');
  for (const k of ['contextSize', 'batchSize', 'threads', 'maxSequences', 'promptChunk'] as const) {
    const v = options[k];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw invalidOption(k, v, 'a positive integer');
  }
  if (options.kvPool !== undefined && !(Number.isInteger(options.kvPool) && options.kvPool >= 0))
    throw invalidOption('kvPool', options.kvPool, 'an integer ≥ 0');
  const opened = await openModelSource(source, options);
  let file: GGUFFile = opened.file;
  const where = opened.where;
  let kernels: Kernels | undefined;
  const ownsKernels = options.kernels === undefined;
  try {
    const architecture = file.architecture;
    if (architecture === undefined) {
      throw new PluginError(
        'INVALID_METADATA',
        `${where} has no general.architecture string, so no plugin can be chosen for it.`,
      );
    }
    const plugin = requireArchitecture(architecture);
    if (!file.littleEndian) {
      throw new QuantRuntimeError(
        'LOAD_FAILED',
        `${where} is a big-endian GGUF; quant runs little-endian files only.`,
      );
    }
    const dir = tensorDirectory(file);
    const desc: ModelDescription = {
      meta: new MetadataReader(architecture, file.metadata, where),
      tensors: dir,
      architecture,
    };
    const hparams = plugin.readHyperparameters(desc);
    const specs = validateTensors(plugin.tensors(hparams, desc), dir, where);
    checkTensorTypes(file, specs, where);
    const tokenizer = Tokenizer.fromGGUF(file);

    kernels =
      options.kernels ??
      (await loadKernels({
        ...(options.backend !== undefined ? { backend: options.backend } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        ...(options.wasmUrl !== undefined ? { wasmUrl: options.wasmUrl } : {}),
        ...(options.wasmBinary !== undefined ? { wasmBinary: options.wasmBinary } : {}),
        ...(options.wasmThreads !== undefined ? { wasmThreads: options.wasmThreads } : {}),
      }));
    const contextSize = options.contextSize ?? Math.min(hparams.contextLength || 4096, 4096);
    const batchSize = options.batchSize ?? 512;
    const maxSequences = options.maxSequences ?? 16;
    const kvType = options.kvType ?? 'f16';
    // Before any weight is downloaded or loaded: does the model fit (wasm32: 4 GiB)?
    const kv = kvLayout(plugin, hparams, where);
    let weightBytes = 0;
    let widest = hparams.nEmbd;
    for (const spec of specs) {
      const t = file.tensor(spec.name);
      if (!t) continue;
      if (spec.role === 'matrix') {
        weightBytes += t.byteSize;
        for (const d of t.shape) if (d !== hparams.nVocab) widest = Math.max(widest, d);
      } else if (spec.role === 'vector') weightBytes += t.nElements * 4;
    }
    const scratchBytes = forwardScratchBytes(
      { nEmbd: hparams.nEmbd, nVocab: hparams.nVocab, widest },
      batchSize,
      maxSequences,
    );
    checkModelMemory(kernels, { weightBytes, scratchBytes }, kv, contextSize, parseKvType(kvType), where);
    file = await opened.materialize();
    const weights = await loadWeights(
      kernels,
      file,
      specs,
      opened.mapPaths,
      where,
      options.onProgress,
      options.signal,
    );
    // The model keeps the header only: nothing holds the source's bytes or Blob any more on a backend
    // that copied the weights (wasm); mapped or native weights keep only what they use.
    await file.close().catch(() => {});
    return new Model({
      file,
      architecture,
      plugin,
      hparams,
      kernels,
      ownsKernels,
      weights,
      tokenizer,
      contextSize,
      batchSize,
      kvType,
      flashAttention: options.flashAttention ?? true,
      architectureOptions: { ...options.architectureOptions },
      maxSequences,
      kvPool: options.kvPool ?? 8,
      promptChunk: options.promptChunk ?? 64,
      where,
    });
  } catch (e) {
    if (ownsKernels) kernels?.dispose();
    await file.close().catch(() => {});
    throw e;
  }
}
