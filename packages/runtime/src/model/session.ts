import type { F32Buffer, KVCache } from '@quant/kernels';
import type { ForwardContext } from '@quant/plugin-api';
import { AbortError, ContextFullError, invalidOption, QuantRuntimeError } from '../errors.js';
import type { ModelCore } from './core.js';

export interface SessionOptions {
  /** KV cache length in tokens (default: the model's `contextSize`). */
  contextSize?: number;
  /** Most tokens per forward pass (default: the model's `batchSize`). */
  batchSize?: number;
  /** KV cache element type (default: the model's `kvType`, f16 unless set). */
  kvType?: 'f16' | 'f32';
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
  /** Checked between batches: an aborted signal stops evaluation with AbortError (batches done so far stay in the context). */
  signal?: AbortSignal;
}

/** Yields to the event loop between batches so long prompts do not block timers and I/O. */
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * One conversation state: a KV cache and the tokens in it. Sessions of one model are independent;
 * calls on one session run one after another.
 */
export class Session {
  readonly contextSize: number;
  readonly batchSize: number;
  /** Whether attention follows llama.cpp's flash path (see SessionOptions.flashAttention). */
  readonly flashAttention: boolean;
  private readonly core: ModelCore;
  private readonly cache: KVCache;
  private readonly state: unknown;
  private readonly scratchBuffers = new Map<string, F32Buffer>();
  private readonly history: number[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private readonly onDispose: (s: Session) => void;

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
    if (o.kvType !== 'f16' && o.kvType !== 'f32') throw invalidOption('kvType', o.kvType, '"f16" or "f32"');
    if (typeof o.flashAttention !== 'boolean')
      throw invalidOption('flashAttention', o.flashAttention, 'true or false');
    this.core = core;
    this.flashAttention = o.flashAttention;
    this.contextSize = o.contextSize;
    this.batchSize = Math.min(o.batchSize, o.contextSize);
    this.onDispose = onDispose;
    this.cache = kernels.kvCache({
      layers: hparams.nLayers,
      contextSize: this.contextSize,
      kvHeads: hparams.nKvHeads,
      headDim: hparams.headDim,
      type: o.kvType,
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
    } catch (e) {
      this.cache.dispose();
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
   * with `allLogits` every position's, row after row. The prompt goes through the model in batches
   * of up to `batchSize` tokens. Throws ContextFullError (nothing evaluated) when it does not fit.
   */
  evaluate(tokens: ArrayLike<number>, options: EvaluateOptions = {}): Promise<Float32Array> {
    const ids = Int32Array.from(tokens as ArrayLike<number>);
    return this.serialize(() => this.run(ids, options.allLogits === true, options.signal));
  }

  /** Forgets every token from position `n` on (the KV entries beyond it are overwritten later). */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw invalidOption('truncate(n)', n, 'a non-negative integer');
    if (n < this.history.length) this.history.length = n;
  }

  /** Empties the context. */
  reset(): void {
    this.history.length = 0;
  }

  private scratch(name: string, length: number): F32Buffer {
    let b = this.scratchBuffers.get(name);
    if (!b || b.length < length) {
      b?.dispose();
      b = this.core.kernels.f32(Math.max(1, length));
      this.scratchBuffers.set(name, b);
    }
    return b;
  }

  private async run(
    ids: Int32Array,
    allLogits: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Float32Array> {
    this.assertAlive();
    const { hparams, plugin, kernels } = this.core;
    if (ids.length === 0)
      throw new QuantRuntimeError('INVALID_TOKEN', 'evaluate() needs at least one token.');
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i] as number;
      if (!(t >= 0 && t < hparams.nVocab)) {
        throw new QuantRuntimeError(
          'INVALID_TOKEN',
          `Token id ${t} at index ${i} is outside the vocabulary [0, ${hparams.nVocab}).`,
        );
      }
    }
    if (this.position + ids.length > this.contextSize)
      throw new ContextFullError(this.contextSize, this.position, ids.length);

    const nVocab = hparams.nVocab;
    const out = new Float32Array((allLogits ? ids.length : 1) * nVocab);
    const start = this.position;
    // History grows only after a batch completes, so a failing batch leaves the session consistent.
    for (let b = 0; b < ids.length; b += this.batchSize) {
      if (b > 0) {
        await yieldToLoop();
        this.assertAlive();
      }
      if (signal?.aborted) throw new AbortError(signal.reason);
      const batch = ids.subarray(b, Math.min(ids.length, b + this.batchSize));
      const n = batch.length;
      const ctx: ForwardContext = {
        kernels,
        hparams,
        weights: this.core.weights,
        state: this.state,
        cache: this.cache,
        contextSize: this.contextSize,
        flashAttention: this.flashAttention,
        nTokens: n,
        pos: start + b,
        tokens: batch,
        hidden: this.scratch('@hidden', this.batchSize * hparams.nEmbd),
        scratch: (name, length) => this.scratch(name, length),
      };
      plugin.embed(ctx);
      for (let il = 0; il < hparams.nLayers; il++) plugin.layer(ctx, il);
      const last = b + n >= ids.length;
      if (allLogits) {
        const logits = this.scratch('@logits', n * nVocab);
        plugin.output(ctx, ctx.hidden, n, logits);
        out.set(logits.read(0, n * nVocab), b * nVocab);
      } else if (last) {
        const x = this.scratch('@last', hparams.nEmbd);
        kernels.copyRows(
          x,
          0,
          hparams.nEmbd,
          ctx.hidden,
          (n - 1) * hparams.nEmbd,
          hparams.nEmbd,
          1,
          hparams.nEmbd,
        );
        const logits = this.scratch('@logits', nVocab);
        plugin.output(ctx, x, 1, logits);
        out.set(logits.read(0, nVocab));
      }
      for (let i = 0; i < n; i++) this.history.push(batch[i] as number);
    }
    return out;
  }

  /** Frees the KV cache and scratch memory. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      this.core.plugin.disposeSessionState?.(this.state);
    } finally {
      for (const b of this.scratchBuffers.values()) if (!b.disposed) b.dispose();
      this.scratchBuffers.clear();
      if (!this.cache.disposed) this.cache.dispose();
      this.onDispose(this);
    }
  }
}
