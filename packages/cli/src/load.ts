/**
 * Opening a model for run/chat/perplexity/bench: the file checks (exists, fits in memory) that give
 * one clear error before any work, then `loadModel` with a progress bar.
 */
import { statSync } from 'node:fs';
import { totalmem } from 'node:os';
import { type GGUFFile, parseGGUF } from '@quant/gguf';
import { type BaseHyperparameters, MetadataReader, type ModelDescription } from '@quant/plugin-api';
import { getArchitecture, loadModel, type Model } from '@quant/runtime';
import { resolveModelArg } from './commands/hub.js';
import { CliError } from './errors.js';
import type { CacheType } from './options.js';
import { loadPlugins } from './plugins.js';
import { createProgress } from './progress.js';
import { errColors, formatBytes, info } from './terminal.js';

export interface LoadFlags {
  ctx?: number;
  threads?: number;
  backend?: 'native' | 'wasm';
  /** No progress and no summary line. */
  quiet?: boolean;
  /** Hugging Face token for downloading gated models (default: HF_TOKEN). */
  token?: string;
  /** Architecture plugins to import before the model (`--plugin`; QUANT_PLUGINS adds more). */
  plugin?: string[];
  /** KV cache types (--cache-type-k / -ctk, --cache-type-v / -ctv; default f16). */
  cacheTypeK?: CacheType;
  cacheTypeV?: CacheType;
}

/** Bytes per cached value of each KV cache type (block bytes / block values). */
const CACHE_BYTES: Record<CacheType, number> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  q8_0: 34 / 32,
  q4_0: 18 / 32,
  q4_1: 20 / 32,
  q5_0: 22 / 32,
  q5_1: 24 / 32,
  iq4_nl: 18 / 32,
  iq4_nlr: 18 / 32,
};

/** The kvType option of --cache-type-k/-v, or undefined when neither is given. */
export function kvTypeOf(flags: LoadFlags): { k: CacheType; v: CacheType } | undefined {
  if (!flags.cacheTypeK && !flags.cacheTypeV) return undefined;
  return { k: flags.cacheTypeK ?? 'f16', v: flags.cacheTypeV ?? 'f16' };
}

/** The wasm backend addresses at most 4 GiB. */
const WASM_LIMIT = 4 * 1024 ** 3;

/** Fails with FILE_NOT_FOUND / NOT_A_FILE unless `path` is a readable regular file. */
export function checkInputFile(path: string, what = 'model'): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new CliError('FILE_NOT_FOUND', `${what} file not found: ${path}`);
    throw e;
  }
  if (!st.isFile()) throw new CliError('NOT_A_FILE', `${what} path is not a file: ${path}`);
}

/**
 * The file's hyperparameters as its architecture plugin reads them (the one reader and policy
 * loadModel uses), or undefined when no plugin is registered for the architecture or the plugin
 * refuses the metadata: loadModel then reports why, with the plugin's typed error.
 */
function readHyperparameters(file: GGUFFile): BaseHyperparameters | undefined {
  const architecture = file.architecture;
  const plugin = architecture === undefined ? undefined : getArchitecture(architecture);
  if (architecture === undefined || !plugin) return undefined;
  const desc: ModelDescription = {
    meta: new MetadataReader(architecture, file.metadata, 'the model'),
    tensors: {
      has: (name) => file.tensor(name) !== undefined,
      shape: (name) => file.tensor(name)?.shape,
      type: (name) => file.tensor(name)?.type,
      names: () => file.tensors.map((t) => t.name),
    },
    architecture,
  };
  try {
    return plugin.readHyperparameters(desc);
  } catch {
    // Deliberately not reported here: loadModel reads the same keys and throws the same error.
    return undefined;
  }
}

/** Number of distinct `blk.N.` blocks among the file's tensors. */
function blocksInFile(file: GGUFFile): number {
  const seen = new Set<string>();
  for (const t of file.tensors) {
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (m) seen.add(m[1] as string);
  }
  return seen.size;
}

/**
 * Bytes the model needs: its tensors plus an f16 KV cache of `ctx` tokens, with the layer count,
 * KV heads and head size its architecture plugin reads (never more layers than the blocks whose
 * tensors the file holds). Metadata the plugin refuses (or an architecture without a plugin)
 * counts no KV cache, so loadModel reports the real problem, not a model too large for memory.
 */
export function estimateModelBytes(
  file: GGUFFile,
  ctx: number,
  kvType: { k: CacheType; v: CacheType } = { k: 'f16', v: 'f16' },
): { weights: number; kv: number } {
  const weights = file.summary().tensorBytes;
  const h = readHyperparameters(file);
  if (!h) return { weights, kv: 0 };
  const layers = Math.min(h.nLayers, blocksInFile(file));
  const kv = layers * ctx * h.nKvHeads * h.headDim * (CACHE_BYTES[kvType.k] + CACHE_BYTES[kvType.v]);
  return { weights, kv: Number.isFinite(kv) ? kv : 0 };
}

/** Throws MODEL_TOO_LARGE when the model cannot fit in this machine's memory (or in wasm's 4 GiB). */
export function checkFits(
  path: string,
  file: GGUFFile,
  ctx: number,
  backend: LoadFlags['backend'],
  kvType?: { k: CacheType; v: CacheType },
): void {
  const { weights, kv } = estimateModelBytes(file, ctx, kvType);
  const need = weights + kv;
  const have = totalmem();
  if (need > have) {
    throw new CliError(
      'MODEL_TOO_LARGE',
      `${path} needs about ${formatBytes(need)} (weights ${formatBytes(weights)} + KV cache ${formatBytes(kv)}) but this machine has ${formatBytes(have)} of memory; use a smaller or more quantized model, or a smaller --ctx`,
    );
  }
  if (backend === 'wasm' && need > WASM_LIMIT) {
    throw new CliError(
      'MODEL_TOO_LARGE',
      `${path} needs about ${formatBytes(need)}, more than the wasm backend's 4 GiB; use --backend native or a more quantized model`,
    );
  }
}

/** The context size loadModel will use when --ctx is not given (the runtime's default rule). */
export function defaultContext(file: GGUFFile): number {
  return Math.min(readHyperparameters(file)?.contextLength || 4096, 4096);
}

export interface OpenedModel {
  model: Model;
  loadSeconds: number;
}

/** Checks the file, then loads it with a progress bar on stderr. */
export async function openModel(path: string, flags: LoadFlags): Promise<OpenedModel> {
  // Plugins first: a missing or broken plugin is reported before any download or file check.
  await loadPlugins(flags.plugin);
  // A model name, hf: reference or URL becomes a file in the Hugging Face cache (downloaded if missing).
  path = (await resolveModelArg(path, flags)).path;
  checkInputFile(path);
  const header = await parseGGUF(path);
  try {
    checkFits(path, header, flags.ctx ?? defaultContext(header), flags.backend, kvTypeOf(flags));
  } finally {
    await header.close();
  }
  const started = performance.now();
  const bar = createProgress({
    label: 'loading',
    total: 1,
    format: 'percent',
    enabled: flags.quiet ? false : undefined,
  });
  let model: Model;
  try {
    model = await loadModel(path, {
      ...(flags.backend ? { backend: flags.backend } : {}),
      ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      ...(flags.ctx !== undefined ? { contextSize: flags.ctx } : {}),
      ...(kvTypeOf(flags) ? { kvType: kvTypeOf(flags) } : {}),
      onProgress: (p) =>
        bar.update(p.totalBytes > 0 ? p.loadedBytes / p.totalBytes : p.loaded / p.total, p.tensor),
    });
  } finally {
    bar.stop();
  }
  const loadSeconds = (performance.now() - started) / 1000;
  if (!flags.quiet) {
    const k = model.kernels;
    // Which backend runs and why (@quant/kernels' loadKernels sets backendReason): "native: prebuilt
    // @quant/kernels-linux-x64@1.0.0", or "wasm: <why the native addon is unavailable; what to run>".
    const reason = (k as { backendReason?: unknown }).backendReason;
    const backend = typeof reason === 'string' ? reason : k.backend;
    info(
      errColors.dim(
        `loaded ${path}: ${model.architecture}, ${model.file.tensors.length} tensors, ${formatBytes(model.file.summary().tensorBytes)} ` +
          `in ${loadSeconds.toFixed(2)} s (${backend}; ${k.threads} thread${k.threads === 1 ? '' : 's'}, context ${model.contextSize})`,
      ),
    );
  }
  return { model, loadSeconds };
}
