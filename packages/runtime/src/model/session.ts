import type { KVCache, KVCacheTypes } from '@quant/kernels';
import type { ContextChange, KeyRope } from '@quant/plugin-api';
import { ContextFullError, invalidOption, QuantRuntimeError } from '../errors.js';
import type { ModelCore } from './core.js';
import { KvPool } from './kv-pool.js';
import { checkKvTypes, type KVTypeOption, parseKvType } from './kv-type.js';
import { checkContextMemory } from './memory.js';
import type { Sequence } from './scheduler.js';
import { snapshotSession, writeSessionFile } from './session-file.js';
import { tokenIdsOrError } from './token-ids.js';

export interface SessionOptions {
  /** KV cache length in tokens (default: the model's `contextSize`). */
  contextSize?: number;
  /** Most tokens of this session in one forward pass (default: the model's `batchSize`). */
  batchSize?: number;
  /**
   * KV cache element types (default: the model's `kvType`, f16 unless set): one type for K and V
   * ('f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl', as llama.cpp's
   * --cache-type-k/-v) or `{ k, v }`. A quantized V needs flashAttention (the default).
   */
  kvType?: KVTypeOption;
  /**
   * Follow llama.cpp's flash-attention path (true, default: the model's `flashAttention`; llama.cpp's CPU default and
   * node-llama-cpp's) or its standard mul_mat + softmax path (false: `llama-cli -fa off`). They
   * round an f16 KV cache at different points; with an f32 cache both give the same result.
   */
  flashAttention?: boolean;
  /** Merged over the model's `architectureOptions` and given to the plugin's `createSessionState`. */
  architectureOptions?: Record<string, unknown>;
}

export interface EvaluateOptions {
  /** Return the logits of every evaluated position, row after row (default: only the last). */
  allLogits?: boolean;
  /** Checked between forward passes: an aborted signal stops evaluation with AbortError (tokens evaluated so far stay in the context). */
  signal?: AbortSignal;
}

/**
 * One conversation state: a KV cache and the tokens in it. Sessions of one model are independent;
 * calls on one session run one after another, while calls on different sessions run together:
 * the model's scheduler merges them into shared forward passes (continuous batching).
 */
export class Session implements Sequence {
  readonly contextSize: number;
  readonly batchSize: number;
  /** Whether attention follows llama.cpp's flash path (see SessionOptions.flashAttention). */
  readonly flashAttention: boolean;
  /** The KV cache's K and V types. */
  readonly kvType: Readonly<KVCacheTypes>;
  /** @internal */
  readonly cache: KVCache;
  /** @internal the plugin's session state */
  readonly state: unknown;
  /** @internal */
  readonly batchKey: string;
  /**
   * What `discard` (and so a generation's context shift) does: 'rotate' — the plugin describes its
   * keys' RoPE (`keyRope`), so the kept keys are rotated in place by the position delta, as
   * llama.cpp's K-shift; 'evaluate' — the kept tokens are evaluated again at their new positions.
   */
  readonly keyShift: 'rotate' | 'evaluate';
  /** The plugin's per-layer key RoPE (when keyShift is 'rotate'). */
  private readonly keyRope: readonly (KeyRope | null)[] | undefined;
  private readonly core: ModelCore;
  private readonly history: number[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private readonly onDispose: (s: Session) => void;
  /** The KV pool's key for this session's cache shape. */
  private readonly poolKey: string;

  /** @internal use `model.createSession()` */
  constructor(
    core: ModelCore,
    o: Required<Omit<SessionOptions, 'architectureOptions'>> & {
      architectureOptions: Record<string, unknown>;
    },
    onDispose: (s: Session) => void,
  ) {
    const { hparams, kernels, plugin } = core;
    if (!Number.isInteger(o.contextSize) || o.contextSize < 1)
      throw invalidOption('contextSize', o.contextSize, 'a positive integer');
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
      throw invalidOption('batchSize', o.batchSize, 'a positive integer');
    const kvTypes = parseKvType(o.kvType);
    if (typeof o.flashAttention !== 'boolean')
      throw invalidOption('flashAttention', o.flashAttention, 'true or false');
    checkKvTypes(kvTypes, core.kv.headDim, o.flashAttention);
    this.poolKey = KvPool.key(o.contextSize, kvTypes);
    this.kvType = kvTypes;
    this.core = core;
    this.flashAttention = o.flashAttention;
    this.contextSize = o.contextSize;
    this.batchSize = Math.min(o.batchSize, o.contextSize);
    this.onDispose = onDispose;
    // a kept cache of this shape, else a new one (the memory check, then the allocation — the wasm
    // heap's own limit counts kept caches, the check only the weights)
    this.cache =
      core.kvPool.take(this.poolKey) ??
      core.kvPool.withRoom(() => {
        checkContextMemory(core, o.contextSize, kvTypes);
        return kernels.kvCache({
          layers: core.kv.layers,
          contextSize: o.contextSize,
          kvHeads: core.kv.kvHeads,
          headDim: core.kv.headDim,
          type: kvTypes,
        });
      });
    try {
      this.state = plugin.createSessionState?.({
        kernels,
        hparams,
        weights: core.weights,
        contextSize: this.contextSize,
        batchSize: this.batchSize,
        options: o.architectureOptions,
      });
      const key = plugin.batchKey ? plugin.batchKey(this.state) : '';
      if (typeof key !== 'string')
        throw new QuantRuntimeError(
          'INVALID_STATE',
          `Plugin "${plugin.name}": batchKey() must return a string, got ${typeof key}.`,
        );
      this.batchKey = key;
      this.keyRope = typeof kernels.kvShift === 'function' ? readKeyRope(core, this.state) : undefined;
      this.keyShift = this.keyRope ? 'rotate' : 'evaluate';
    } catch (e) {
      core.kvPool.give(this.poolKey, this.cache);
      throw e;
    }
  }

  /** Number of tokens in the KV cache (the position of the next token). */
  get position(): number {
    return this.history.length;
  }

  /** The tokens in the KV cache, oldest first. */
  get tokens(): readonly number[] {
    return this.history;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertAlive(): void {
    if (this.disposed)
      throw new QuantRuntimeError(
        'DISPOSED',
        'This session was disposed; create a new one with model.createSession().',
      );
    this.core.assertAlive();
  }

  /** Runs `fn` after every earlier call on this session finished. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Appends `tokens` to the context and returns logits: the last position's (nVocab floats), or
   * with `allLogits` every position's, row after row. The tokens go through the model in forward
   * passes of up to `batchSize` tokens, shared with other sessions' work. Throws ContextFullError
   * (nothing evaluated) when they do not fit.
   */
  evaluate(tokens: ArrayLike<number>, options: EvaluateOptions = {}): Promise<Float32Array> {
    const ids = tokenIdsOrError(tokens, this.core.hparams.nVocab, 'evaluate()');
    if (ids instanceof Error) return Promise.reject(ids);
    return this.serialize(() => this.run(ids, options.allLogits === true, options.signal));
  }

  /** Forgets every token from position `n` on (the KV entries beyond it are overwritten later). */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw invalidOption('truncate(n)', n, 'a non-negative integer');
    if (n < this.history.length) {
      this.history.length = n;
      this.notify({ kind: 'truncate', length: n });
    }
  }

  /** Empties the context. */
  reset(): void {
    this.history.length = 0;
    this.notify({ kind: 'reset' });
  }

  /**
   * Drops `count` tokens at `start` and moves the later ones down by `count` (a context shift:
   * llama.cpp's `llama_memory_seq_rm` + `llama_memory_seq_add`). With `keyShift === 'rotate'` the
   * cached K/V rows move and the keys are rotated by −count positions in place (every cache type; no
   * token is evaluated); otherwise the moved tokens are evaluated again at their new positions.
   * Runs after the evaluations already asked of this session; resolves with what was done.
   */
  discard(
    start: number,
    count: number,
    options: { signal?: AbortSignal } = {},
  ): Promise<'rotate' | 'evaluate'> {
    if (!Number.isInteger(start) || start < 0)
      return Promise.reject(invalidOption('discard(start)', start, 'a non-negative integer'));
    if (!Number.isInteger(count) || count < 0)
      return Promise.reject(invalidOption('discard(count)', count, 'a non-negative integer'));
    return this.serialize(async () => {
      this.assertAlive();
      const n = this.history.length;
      if (start + count > n)
        throw invalidOption(
          'discard(start, count)',
          `${start}, ${count}`,
          `a range inside the ${n} tokens of the context (start + count ≤ ${n})`,
        );
      if (count === 0) return this.keyShift;
      const moved = n - start - count;
      const rope = this.keyRope;
      if (!rope) {
        const tail = this.history.slice(start + count);
        this.truncate(start);
        if (tail.length > 0) await this.run(Int32Array.from(tail), false, options.signal);
        return 'evaluate';
      }
      const { kernels, layerMap, hparams, scheduler } = this.core;
      const cache = this.cache;
      const kvShift = kernels.kvShift as NonNullable<typeof kernels.kvShift>;
      await scheduler.runBetweenSteps(() => {
        for (let il = 0; il < hparams.nLayers; il++) {
          const layer = layerMap ? (layerMap[il] as number) : il;
          if (layer < 0) continue;
          const r = rope[il];
          kvShift.call(kernels, cache, layer, {
            from: start + count,
            to: start,
            count: moved,
            ...(r ? { rope: r } : {}),
          });
        }
      });
      scheduler.countShift();
      this.history.splice(start, count);
      this.notify({ kind: 'shift', from: start + count, to: start, count: moved });
      return 'rotate';
    });
  }

  private notify(change: ContextChange): void {
    this.core.plugin.onContextChange?.(this.state, change);
  }

  /** @internal called by the scheduler after a forward pass stored these tokens' K/V. */
  commit(tokens: Int32Array): void {
    for (let i = 0; i < tokens.length; i++) this.history.push(tokens[i] as number);
  }

  private async run(
    ids: Int32Array,
    allLogits: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Float32Array> {
    this.assertAlive();
    if (ids.length === 0)
      throw new QuantRuntimeError('INVALID_TOKEN', 'evaluate() needs at least one token.');
    if (this.position + ids.length > this.contextSize)
      throw new ContextFullError(this.contextSize, this.position, ids.length);
    return this.core.scheduler.submit(this, ids, allLogits, signal);
  }

  /**
   * Writes this session (its tokens and KV cache in the stored types) to `path`, after the
   * evaluations already asked of it: a temporary file in the same directory, renamed into place.
   * `model.restoreSession(path)` continues from it with identical logits. Node only.
   */
  save(path: string): Promise<void> {
    return this.serialize(async () => {
      this.assertAlive();
      const { file, architecture } = this.core;
      if (!file || !architecture)
        throw new QuantRuntimeError(
          'INVALID_STATE',
          'This session cannot be saved: its model has no GGUF identity.',
        );
      const tokens = this.history.slice();
      const snapshot = await new Promise<Uint8Array[]>((resolve, reject) =>
        this.core.scheduler.whenIdle(() => {
          try {
            resolve(snapshotSession(this.cache, this.core.kv.layers, tokens));
          } catch (e) {
            reject(e);
          }
        }),
      );
      await writeSessionFile(path, {
        file,
        architecture,
        kv: this.core.kv,
        nVocab: this.core.hparams.nVocab,
        contextSize: this.contextSize,
        cache: this.cache,
        snapshot,
        tokens,
      });
    });
  }

  /** Frees the KV cache (once any forward pass using it has finished). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.core.scheduler.cancel(
      this,
      new QuantRuntimeError('DISPOSED', 'The session was disposed while it was evaluating.'),
    );
    this.core.scheduler.whenIdle(() => {
      try {
        this.core.plugin.disposeSessionState?.(this.state);
      } finally {
        // kept for the model's next session of this shape (kv-pool.ts), or freed
        this.core.kvPool.give(this.poolKey, this.cache);
        this.onDispose(this);
      }
    });
  }
}

/** The plugin's `keyRope` for a session's state, checked (undefined: the plugin has none for it). */
function readKeyRope(core: ModelCore, state: unknown): readonly (KeyRope | null)[] | undefined {
  const { plugin, hparams } = core;
  const list = plugin.keyRope?.(hparams, state);
  if (list === undefined) return undefined;
  const bad = (what: string) =>
    new QuantRuntimeError('INVALID_STATE', `Plugin "${plugin.name}": keyRope() ${what}.`);
  if (!Array.isArray(list) || list.length !== hparams.nLayers)
    throw bad(
      `must return one entry per layer (${hparams.nLayers}; null for a layer without rotary keys) or undefined, got ${Array.isArray(list) ? `${list.length} entries` : typeof list}`,
    );
  list.forEach((r: KeyRope | null, il) => {
    if (r === null) return;
    if (!r || (r.mode !== 'normal' && r.mode !== 'neox') || !(r.freqBase > 0))
      throw bad(
        `layers[${il}] must be null or { mode: 'normal' | 'neox', freqBase > 0, nRot?, freqScale?, freqFactors? }`,
      );
  });
  return list;
}
