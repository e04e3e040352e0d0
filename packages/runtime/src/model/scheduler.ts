import type { F32Buffer, KVCache, KVSegment } from '@quant/kernels';
import type { ForwardContext } from '@quant/plugin-api';
import { AbortError, QuantRuntimeError } from '../errors.js';
import { yieldToEventLoop } from '../yield.js';
import type { ModelCore } from './core.js';

/** What the scheduler needs of a session (internal; `Session` implements it). */
export interface Sequence {
  readonly cache: KVCache;
  readonly state: unknown;
  /** Sessions with the same key may share a forward pass. */
  readonly batchKey: string;
  readonly flashAttention: boolean;
  /** Most tokens of this sequence in one forward pass. */
  readonly batchSize: number;
  readonly contextSize: number;
  /** Tokens in the KV cache (the position of the next one). */
  readonly position: number;
  /** Appends tokens whose K/V the last step stored. */
  commit(tokens: Int32Array): void;
  readonly isDisposed: boolean;
}

interface Request {
  seq: Sequence;
  tokens: Int32Array;
  /** Tokens evaluated so far. */
  done: number;
  allLogits: boolean;
  out: Float32Array;
  signal: AbortSignal | undefined;
  resolve: (logits: Float32Array) => void;
  reject: (e: unknown) => void;
}

/** One request's share of a step. */
interface Part {
  req: Request;
  count: number;
}

/** Counters of a model's scheduler (`model.batchStats`). */
export interface BatchStats {
  /** Forward passes run. */
  forwardPasses: number;
  /** Rows (tokens) evaluated over all passes. */
  rows: number;
  /** Most sequences that shared one pass. */
  maxSequencesInPass: number;
  /** Evaluations waiting or running now (one per session at most). */
  pending: number;
  /** Context shifts done by rotating cached keys (`Session.discard` without re-evaluation). */
  kvShifts: number;
}

export interface SchedulerOptions {
  /** Most rows (tokens, over all sequences) in one forward pass. */
  batchSize: number;
  /** Most sequences in one forward pass; the others wait for a later step. */
  maxSequences: number;
  /** Most prompt tokens one sequence adds to a step while other sequences are generating. */
  promptChunk: number;
}

/**
 * Continuous batching: every `Session.evaluate` of a model becomes a request here, and each step
 * runs one forward pass over rows of several requests — each row with its own sequence, position
 * and KV cache — so every weight is read once per step for all of them.
 *
 * How a step is made (requests in arrival order, among those that may share a pass with the first —
 * same plugin `batchKey` and attention path — and at most `maxSequences` of them):
 * 1. every request gets one row, so generating sequences (one token per call) advance every step;
 * 2. the rows left (up to `batchSize`) go to prompts in arrival order, each taking at most its
 *    session's `batchSize` — and at most `promptChunk` while another sequence is generating, so a
 *    long prompt is split over several steps instead of stalling the others for its whole length.
 * Sequences join between steps and leave when their request is complete. The forward pass itself
 * runs through `kernels.run`, off the JavaScript thread on the native backend.
 */
export class Scheduler {
  private readonly queue: Request[] = [];
  private readonly counters = { forwardPasses: 0, rows: 0, maxSequencesInPass: 0, kvShifts: 0 };
  /** Kernel work on sessions' caches outside forward passes (context shifts), run between steps. */
  private readonly jobs: { record: () => void; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  private stepping = false;
  private idleWaiters: (() => void)[] = [];
  private readonly buffers = new Map<string, F32Buffer>();
  private readonly scratchBuffers = new Map<string, F32Buffer>();
  private readonly scratchFn = (name: string, length: number) => this.get(this.scratchBuffers, name, length);

  constructor(
    private readonly core: ModelCore,
    private readonly opts: SchedulerOptions,
  ) {}

  /** Queues `tokens` for `seq`; resolves with the logits asked for. */
  submit(
    seq: Sequence,
    tokens: Int32Array,
    allLogits: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Float32Array> {
    const nVocab = this.core.hparams.nVocab;
    return new Promise<Float32Array>((resolve, reject) => {
      this.queue.push({
        seq,
        tokens,
        done: 0,
        allLogits,
        out: new Float32Array((allLogits ? tokens.length : 1) * nVocab),
        signal,
        resolve,
        reject,
      });
      this.start();
    });
  }

  /**
   * Runs the kernel ops `record` issues (e.g. a context shift of one session's cache) as one
   * `kernels.run` between forward passes, so they never overlap a step or `whenIdle` callers.
   */
  runBetweenSteps(record: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ record, resolve, reject });
      this.start();
    });
  }

  /** @internal counts a context shift done by rotating keys. */
  countShift(): void {
    this.counters.kvShifts++;
  }

  get stats(): BatchStats {
    return { ...this.counters, pending: this.queue.length };
  }

  /** Whether a forward pass is running (its buffers and caches are in use). */
  get busy(): boolean {
    return this.stepping;
  }

  /** Calls `fn` now if no step runs, else when the current step has finished. */
  whenIdle(fn: () => void): void {
    if (!this.stepping) fn();
    else this.idleWaiters.push(fn);
  }

  /** Rejects the queued requests of `seq` (its session is going away). */
  cancel(seq: Sequence, error: Error): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const r = this.queue[i] as Request;
      if (r.seq === seq) {
        this.queue.splice(i, 1);
        r.reject(error);
      }
    }
  }

  /** Frees the scheduler's buffers (the model is being disposed; no step runs). */
  dispose(error: Error): void {
    for (const r of this.queue.splice(0)) r.reject(error);
    for (const j of this.jobs.splice(0)) j.reject(error);
    for (const b of [...this.buffers.values(), ...this.scratchBuffers.values()]) if (!b.disposed) b.dispose();
    this.buffers.clear();
    this.scratchBuffers.clear();
  }

  private get(map: Map<string, F32Buffer>, name: string, length: number): F32Buffer {
    let b = map.get(name);
    if (!b || b.length < length) {
      b?.dispose();
      b = this.core.kernels.f32(Math.max(1, length));
      map.set(name, b);
    }
    return b;
  }

  private start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      // Let every caller that is about to submit (e.g. other generations sampling their next token) join the first step.
      await yieldToEventLoop();
      while (this.queue.length > 0 || this.jobs.length > 0) {
        const job = this.jobs.shift();
        if (job) {
          this.stepping = true;
          try {
            await this.core.kernels.run(job.record);
            job.resolve();
          } catch (e) {
            job.reject(e);
          } finally {
            this.stepping = false;
            for (const fn of this.idleWaiters.splice(0)) fn();
          }
          continue;
        }
        this.dropFinished();
        const step = this.compose();
        if (step.length === 0) continue;
        this.stepping = true;
        try {
          await this.execute(step);
        } catch (e) {
          for (const p of step) {
            const i = this.queue.indexOf(p.req);
            if (i >= 0) this.queue.splice(i, 1);
            p.req.reject(e);
          }
        } finally {
          this.stepping = false;
          for (const fn of this.idleWaiters.splice(0)) fn();
        }
        // Resolved callers sample and submit their next token within a couple of macrotasks.
        await yieldToEventLoop();
        await yieldToEventLoop();
      }
    } finally {
      this.running = false;
      if (this.queue.length > 0 || this.jobs.length > 0) this.start();
    }
  }

  /** Rejects requests that were aborted or whose session was disposed. */
  private dropFinished(): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const r = this.queue[i] as Request;
      let err: Error | undefined;
      if (r.seq.isDisposed)
        err = new QuantRuntimeError('DISPOSED', 'The session was disposed while it was evaluating.');
      else if (r.signal?.aborted) err = new AbortError(r.signal.reason);
      if (err) {
        this.queue.splice(i, 1);
        r.reject(err);
      }
    }
  }

  private compose(): Part[] {
    const first = this.queue[0];
    if (!first) return [];
    const key = (r: Request) => `${r.seq.flashAttention ? 1 : 0}|${r.seq.batchKey}`;
    const batching = this.core.plugin.apiVersion === 2;
    const k0 = key(first);
    const members = batching
      ? this.queue.filter((r) => key(r) === k0).slice(0, this.opts.maxSequences)
      : [first];
    let budget = this.opts.batchSize;
    const parts: Part[] = [];
    for (const req of members) {
      if (budget === 0) break;
      parts.push({ req, count: 1 });
      budget--;
    }
    const generating = parts.some((p) => p.req.tokens.length - p.req.done === 1);
    for (const p of parts) {
      if (budget === 0) break;
      const left = p.req.tokens.length - p.req.done - p.count;
      if (left <= 0) continue;
      const cap = Math.min(
        p.req.seq.batchSize,
        generating ? this.opts.promptChunk : Number.POSITIVE_INFINITY,
      );
      const more = Math.min(left, budget, Math.max(0, cap - p.count));
      p.count += more;
      budget -= more;
    }
    return parts;
  }

  private async execute(parts: Part[]): Promise<void> {
    const { kernels, plugin, hparams, weights } = this.core;
    const { nEmbd, nVocab } = hparams;
    const n = parts.reduce((a, p) => a + p.count, 0);
    const tokens = new Int32Array(n);
    const segments: KVSegment[] = [];
    /** Rows whose logits are wanted, and where they go. */
    const outRows: { req: Request; row: number; at: number }[] = [];
    let row = 0;
    for (const { req, count } of parts) {
      tokens.set(req.tokens.subarray(req.done, req.done + count), row);
      segments.push({ cache: req.seq.cache, row, nTokens: count, pos: req.seq.position });
      if (req.allLogits) {
        for (let i = 0; i < count; i++) outRows.push({ req, row: row + i, at: (req.done + i) * nVocab });
      } else if (req.done + count === req.tokens.length) {
        outRows.push({ req, row: row + count - 1, at: 0 });
      }
      row += count;
    }
    const first = (parts[0] as Part).req.seq;
    const kv = kernels.kvBatch(segments, this.core.layerMap ? { layerMap: this.core.layerMap } : {});
    const hidden = this.get(this.buffers, 'hidden', this.opts.batchSize * nEmbd);
    const ctx: ForwardContext = {
      kernels,
      hparams,
      weights,
      state: first.state,
      nTokens: n,
      tokens,
      positions: kv.positions,
      kv,
      nSequences: parts.length,
      contextSize: first.contextSize,
      flashAttention: first.flashAttention,
      pos: first.position,
      cache: first.cache,
      hidden,
      scratch: this.scratchFn,
    };
    const nOut = outRows.length;
    const logits = nOut > 0 ? this.get(this.buffers, 'logits', nOut * nVocab) : undefined;
    const allRows = nOut === n && outRows.every((r, i) => r.row === i);
    const x = allRows || nOut === 0 ? hidden : this.get(this.buffers, 'gather', nOut * nEmbd);
    // A memory-mapped model file rewritten or truncated since load: MODEL_FILE_CHANGED, not garbage.
    kernels.checkMappedFiles?.();
    await kernels.run(() => {
      plugin.embed(ctx);
      for (let il = 0; il < hparams.nLayers; il++) plugin.layer(ctx, il);
      if (!logits) return;
      if (x !== hidden) {
        outRows.forEach((r, i) => {
          kernels.copyRows(x, i * nEmbd, nEmbd, hidden, r.row * nEmbd, nEmbd, 1, nEmbd);
        });
      }
      plugin.output(ctx, x, nOut, logits);
    });
    this.counters.forwardPasses++;
    this.counters.rows += n;
    this.counters.maxSequencesInPass = Math.max(this.counters.maxSequencesInPass, parts.length);
    if (logits) {
      const all = logits.view(); // copied straight into each request's logits (no intermediate copy)
      outRows.forEach((r, i) => {
        r.req.out.set(all.subarray(i * nVocab, (i + 1) * nVocab), r.at);
      });
    }
    row = 0;
    for (const { req, count } of parts) {
      req.seq.commit(tokens.subarray(row, row + count));
      req.done += count;
      row += count;
      if (req.done === req.tokens.length) {
        this.queue.splice(this.queue.indexOf(req), 1);
        if (req.seq.isDisposed)
          req.reject(new QuantRuntimeError('DISPOSED', 'The session was disposed while it was evaluating.'));
        else req.resolve(req.out);
      }
    }
  }
}
