import type { F32Buffer, GGMLTypeId, Kernels, KVBatch, KVCache, KVShiftRope, Weight } from '@quant/kernels';
import type { MetadataReader } from './metadata.js';

/**
 * What the runtime needs to know about every model's shape. A plugin's hyperparameter object
 * extends this with whatever its graph needs (eps, rope settings, window…).
 */
export interface BaseHyperparameters {
  /** Transformer blocks; `layer(ctx, il)` is called for il = 0 … nLayers-1. Also the KV cache depth. */
  nLayers: number;
  /** Width of the residual stream (`ctx.hidden` rows). */
  nEmbd: number;
  /** Logits per position (`output` writes rows of this width). */
  nVocab: number;
  /** KV heads per layer stored in the cache. */
  nKvHeads: number;
  /** Head size of the cached keys and values. */
  headDim: number;
  /** Context length the model was trained with (`<arch>.context_length`); the default session size. */
  contextLength: number;
}

/** A tensor's shape, GGUF order: ne0 (the contiguous dimension) first. `[cols, rows]` for a matrix. */
export type TensorShape = readonly number[];

/**
 * How the runtime hands a tensor to the plugin:
 * - `matrix`: a 2-D tensor given to the kernels once as a `Weight` (any ggml type the kernels
 *   support; memory-mapped on the native backend). rows = shape[1], cols = shape[0]. Use with
 *   `matmul` and `getRows`.
 * - `vector`: dequantized to float32 into a backend `F32Buffer` (norm weights, biases, anything an
 *   elementwise op reads). Any dimensionality; the buffer holds every element.
 * - `host`: dequantized to a JavaScript `Float32Array` (e.g. rope frequency factors passed in
 *   `RopeParams.freqFactors`).
 */
export type TensorRole = 'matrix' | 'vector' | 'host';

/** One tensor a plugin needs. The runtime checks presence and shape before loading anything. */
export interface TensorSpec {
  name: string;
  /** Expected shape, ne0 first. Trailing 1s are ignored when comparing. */
  shape: TensorShape;
  role: TensorRole;
  /** Absent is fine (e.g. biases, `output.weight` with tied embeddings). Present → shape still checked. */
  optional?: boolean;
}

/** Read-only view of the tensors a file holds, for `readHyperparameters` and `tensors`. */
export interface TensorDirectory {
  has(name: string): boolean;
  /** Shape (ne0 first) or undefined when absent. */
  shape(name: string): TensorShape | undefined;
  /** ggml type id or undefined when absent. */
  type(name: string): GGMLTypeId | undefined;
  names(): readonly string[];
}

/** What `readHyperparameters` and `tensors` see of a file. */
export interface ModelDescription {
  /** Metadata, with `arch*` helpers bound to the file's `general.architecture`. */
  meta: MetadataReader;
  tensors: TensorDirectory;
  /** The file's `general.architecture` (may be one of the plugin's aliases). */
  architecture: string;
}

/** The loaded tensors, by GGUF name, in the role their spec asked for. */
export interface ModelWeights {
  has(name: string): boolean;
  /** The `Weight` of a `matrix` tensor; throws `MISSING_TENSOR` if absent or loaded in another role. */
  matrix(name: string): Weight;
  /** The `F32Buffer` of a `vector` tensor; throws likewise. */
  vector(name: string): F32Buffer;
  /** The `Float32Array` of a `host` tensor; throws likewise. */
  host(name: string): Float32Array;
  optMatrix(name: string): Weight | undefined;
  optVector(name: string): F32Buffer | undefined;
  optHost(name: string): Float32Array | undefined;
}

/** Given to `createSessionState` when a session is created. */
export interface SessionInit<H extends BaseHyperparameters> {
  kernels: Kernels;
  hparams: H;
  weights: ModelWeights;
  /** This session's context size in tokens (KV cache length). Positions never reach it. */
  contextSize: number;
  /** Largest number of tokens one forward pass (`ctx.nTokens`) will have. */
  batchSize: number;
  /** Plugin options the user passed (`loadModel(…, { architectureOptions })`, overridable per session). */
  options: Readonly<Record<string, unknown>>;
}

/**
 * Everything a forward pass over one batch can touch. The runtime creates one per batch and calls
 * `embed(ctx)`, then `layer(ctx, il)` for every layer, then `output(ctx, …)`. Kernel ops are
 * recorded while these run and executed afterwards off the JavaScript thread (`kernels.run`), so a
 * plugin must not read buffers (`view()`, `read()`) inside them; do not keep `view()`s across calls.
 *
 * A batch may hold rows of several sequences (continuous batching, plugin `apiVersion: 2`): row t
 * is at position `positions[t]` of its own sequence. Write a layer once, for any batch: matmuls and
 * elementwise ops over `nTokens` rows, RoPE with `pos: ctx.positions`, `ctx.kv.store(il, k, v)`, and
 * `kernels.attention(out, q, ctx.kv, il, { nHeads, nKvHeads, headDim, … })`.
 */
export interface ForwardContext<H extends BaseHyperparameters = BaseHyperparameters, S = unknown> {
  kernels: Kernels;
  hparams: H;
  weights: ModelWeights;
  /**
   * What `createSessionState` returned for the batch's sessions (undefined if the plugin has none).
   * Sessions share a batch only when `batchKey` gives them the same key, so any one's state applies.
   */
  state: S;
  /** Tokens in this batch (1 … batchSize), over all its sequences. */
  nTokens: number;
  /** The batch's token ids. */
  tokens: Int32Array;
  /** Position of every row in its own sequence; pass it as `RopeParams.pos`. */
  positions: Int32Array;
  /** The rows grouped by sequence, each with its own KV cache: `store` and `kernels.attention` take it. */
  kv: KVBatch;
  /** Sequences in this batch (always 1 for plugins of `apiVersion` 1). */
  nSequences: number;
  /** Context size (KV length) of the batch's first sequence. */
  contextSize: number;
  /**
   * Which of llama.cpp's two CPU attention paths to follow; pass it as `flash` to
   * `kernels.attention`. true (the runtime's default, like llama.cpp on CPU and node-llama-cpp):
   * flash attention. false: llama.cpp's standard mul_mat + softmax path (`llama-cli -fa off`). They
   * differ only in where an f16 KV cache rounds, which can flip near-tied logits on quantized models.
   */
  flashAttention: boolean;
  /**
   * @deprecated plugin API 1 (one sequence per batch): position of the batch's first token (token t
   * is at `pos + t`). With several sequences it is the first row's position; use `positions`.
   */
  pos: number;
  /**
   * @deprecated plugin API 1: the KV cache of the batch's (first) sequence; use `kv`.
   */
  cache: KVCache;
  /**
   * The residual stream: `nTokens` rows of `nEmbd` floats. `embed` fills it, every `layer`
   * updates it in place. The buffer may be longer than nTokens·nEmbd (it is sized for batchSize).
   */
  hidden: F32Buffer;
  /**
   * A scratch buffer of at least `length` floats, reused across layers, batches and calls with the
   * same `name` (grown when a larger length is asked for). Contents are undefined on return.
   * Owned and freed by the runtime; the runtime's own buffers live elsewhere, so any name is free.
   */
  scratch(name: string, length: number): F32Buffer;
}

/** What one layer keeps per position of a session: its KV heads and head size (and window, if any). */
export interface LayerMemory {
  kvHeads: number;
  headDim: number;
  /** Sliding window in tokens, if the layer only ever attends to the last `window` positions. */
  window?: number;
}

/**
 * A plugin's per-session memory: one entry per layer, `null` for a layer that keeps no KV cache
 * (e.g. a recurrent or cross-layer-sharing block). Layers with memory must share kvHeads/headDim.
 */
export interface ModelMemory {
  layers: readonly (LayerMemory | null)[];
}

/**
 * How one layer's cached keys were rotated by RoPE when they were stored (what `kernels.rope` was
 * given for K, without positions, heads and attention factor), for `keyRope`: `mode`, `nRot`,
 * `freqBase`, `freqScale`, `freqFactors` (the session's LongRoPE table, if any).
 */
export type KeyRope = KVShiftRope;

/** A change the runtime made to a session's context, reported to `onContextChange`. */
export type ContextChange =
  /** Tokens from `length` on were dropped (`session.truncate`). */
  | { kind: 'truncate'; length: number }
  /** The context was emptied (`session.reset`). */
  | { kind: 'reset' }
  /** Cached positions [from, from+count) moved to [to, to+count) (context shift). */
  | { kind: 'shift'; from: number; to: number; count: number };

/**
 * An architecture plugin: how to read a GGUF of one architecture and run it on the kernels.
 * `H` is the plugin's hyperparameter type, `S` its per-session state.
 */
export interface ArchitecturePlugin<H extends BaseHyperparameters = BaseHyperparameters, S = unknown> {
  /**
   * The plugin API the plugin is written for. 2 (current): `layer` reads `ctx.positions`/`ctx.kv`
   * and may see rows of several sequences in one batch. 1 or absent: `ctx.pos`/`ctx.cache`; the
   * runtime then gives every batch one sequence only (it still runs, without batching across sessions).
   */
  readonly apiVersion?: 1 | 2;
  /** The `general.architecture` value this plugin runs, e.g. "llama". */
  readonly name: string;
  /** Other `general.architecture` values with the same graph and metadata keys. */
  readonly aliases?: readonly string[];
  /** One line for listings and errors. */
  readonly description?: string;

  /** Reads and checks hyperparameters. Throw `MetadataError`/`PluginError` with the key on bad input. */
  readHyperparameters(model: ModelDescription): H;

  /**
   * The tensors to load, with expected shapes. The runtime validates them all (missing required
   * tensor or mismatched shape → `TensorSpecError` naming the tensor, expected and found shape)
   * before loading any weight. Tensors not listed are not loaded.
   */
  tensors(hparams: H, model: ModelDescription): TensorSpec[];

  /**
   * Per-session choices (e.g. which rope factor table fits `init.contextSize`). Called once per
   * session; the result is `ctx.state` in every forward pass of that session.
   */
  createSessionState?(init: SessionInit<H>): S;
  /** Frees whatever `createSessionState` allocated. */
  disposeSessionState?(state: S): void;
  /**
   * Sessions whose states give the same key may share a forward pass (their rows get one `ctx.state`).
   * Default: every session of a model may. Return e.g. the rope table a state chose.
   */
  batchKey?(state: S): string;
  /** Per-session memory by layer. Default: every layer caches `nKvHeads` × `headDim` per position. */
  memory?(hparams: H): ModelMemory;
  /**
   * How each layer's cached keys were rotated in a session with this state: one entry per layer
   * (`null`: its keys carry no rotary position and only move; layers without KV are ignored), or
   * undefined when this session's keys cannot be shifted. With it, a context shift rotates the kept
   * keys in place by the position delta (llama.cpp's K-shift) instead of evaluating the kept tokens
   * again; without it the runtime re-evaluates them. `keyRopeLayers` of the shared core builds it.
   */
  keyRope?(hparams: H, state: S): readonly (KeyRope | null)[] | undefined;
  /** Called after the runtime truncates, resets or shifts a session's context. */
  onContextChange?(state: S, change: ContextChange): void;

  /** Writes the embeddings of `ctx.tokens` into `ctx.hidden` (see `embedTokens`). */
  embed(ctx: ForwardContext<H, S>): void;
  /** One transformer block over the batch, updating `ctx.hidden` in place and storing K/V in `ctx.cache`. */
  layer(ctx: ForwardContext<H, S>, layer: number): void;
  /**
   * Final norm and LM head: `x` holds `rows` rows of `nEmbd` floats (the positions whose logits are
   * wanted; may be `ctx.hidden` itself and may be overwritten); write `rows` rows of `nVocab` logits.
   */
  output(ctx: ForwardContext<H, S>, x: F32Buffer, rows: number, logits: F32Buffer): void;

  /** Jinja chat template to use when the GGUF has no `tokenizer.chat_template`. */
  readonly chatTemplate?: string;
  /**
   * Token texts that end generation in addition to the tokenizer's end-of-generation set (which
   * already follows llama.cpp's rules), e.g. a turn delimiter the vocabulary does not mark as EOG.
   * Texts absent from the vocabulary are ignored.
   */
  readonly endOfGenerationTokens?: readonly string[];
}

/** A plugin with its type parameters erased, as the registry stores it. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds plugins of any hyperparameter type
export type AnyArchitecturePlugin = ArchitecturePlugin<any, any>;
