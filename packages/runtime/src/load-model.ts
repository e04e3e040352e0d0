import { type GGUFFile, parseGGUF } from '@quant/gguf';
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
import { invalidOption, QuantRuntimeError } from './errors.js';
import { checkTensorTypes } from './model/check-types.js';
import { type LoadProgress, loadWeights } from './model/load-weights.js';
import { Model } from './model/model.js';
import { tensorDirectory } from './model/tensor-directory.js';
import './builtin-plugins.js';

export interface LoadModelOptions {
  /** Kernel backend: 'auto' (default: native, else wasm), 'native' or 'wasm'. */
  backend?: 'auto' | 'native' | 'wasm';
  /** Threads for the native backend (default: the kernels' default). */
  threads?: number;
  /** Use this kernels instance instead of loading one (it is not disposed with the model). */
  kernels?: Kernels;
  /** Default context size of sessions (default: the model's trained context, at most 4096). */
  contextSize?: number;
  /** Most tokens per forward pass (default 512). */
  batchSize?: number;
  /** KV cache element type (default 'f16', as llama.cpp). */
  kvType?: 'f16' | 'f32';
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

/**
 * A GGUF path (or file:/http(s): URL), its bytes, or a Hugging Face reference (`hf:owner/repo:Q4_K_M`,
 * `hf:owner/repo/file.gguf`), downloaded once into the Hugging Face cache by @quant/hub.
 */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer;

/**
 * Loads a GGUF model: parses it, finds the plugin registered for its `general.architecture`,
 * validates hyperparameters and tensors, builds the tokenizer and hands the weights to the kernels
 * once (memory-mapped from a path on the native backend).
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
  const where = typeof source === 'string' ? source : source instanceof URL ? source.href : '<bytes>';
  if (typeof source === 'string' && /^hf:/i.test(source)) {
    // Imported on demand: @quant/hub is Node-only (file system, cache) and only hf: references need it.
    const { resolveModel } = await import('@quant/hub');
    source = (await resolveModel(source, options.hub)).path;
  }
  if (options.kvType !== undefined && options.kvType !== 'f16' && options.kvType !== 'f32')
    throw invalidOption('kvType', options.kvType, '"f16" or "f32"');
  if (options.flashAttention !== undefined && typeof options.flashAttention !== 'boolean')
    throw invalidOption('flashAttention', options.flashAttention, 'true or false');
  for (const k of ['contextSize', 'batchSize', 'threads', 'maxSequences', 'promptChunk'] as const) {
    const v = options[k];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw invalidOption(k, v, 'a positive integer');
  }
  const file: GGUFFile = await parseGGUF(source);
  let kernels: Kernels | undefined;
  const ownsKernels = options.kernels === undefined;
  try {
    const splitCount = file.metadata['split.count'];
    if (typeof splitCount === 'number' && splitCount > 1) {
      throw new QuantRuntimeError(
        'LOAD_FAILED',
        `${where} is part ${Number(file.metadata['split.no'] ?? 0) + 1} of a ${splitCount}-part split GGUF; quant cannot load split GGUFs yet. ` +
          "Merge the parts into one file with llama.cpp's `llama-gguf-split --merge <first part> <output.gguf>` and load that.",
      );
    }
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
      }));
    const mapPath = typeof source === 'string' && !/^[a-z]+:\/\//i.test(source) ? source : undefined;
    const weights = await loadWeights(kernels, file, specs, mapPath, where, options.onProgress);
    return new Model({
      file,
      architecture,
      plugin,
      hparams,
      kernels,
      ownsKernels,
      weights,
      tokenizer,
      contextSize: options.contextSize ?? Math.min(hparams.contextLength || 4096, 4096),
      batchSize: options.batchSize ?? 512,
      kvType: options.kvType ?? 'f16',
      flashAttention: options.flashAttention ?? true,
      architectureOptions: { ...options.architectureOptions },
      maxSequences: options.maxSequences ?? 16,
      promptChunk: options.promptChunk ?? 64,
      where,
    });
  } catch (e) {
    if (ownsKernels) kernels?.dispose();
    await file.close().catch(() => {});
    throw e;
  }
}
