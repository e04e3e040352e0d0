/**
 * Parallel slots and the bounded queue in front of them. A slot is one runtime Session (its own KV
 * cache), created on first use and kept, so a request whose prompt starts like the slot's previous
 * one reuses that cached prefix (the runtime truncates the session to the common prefix). Up to
 * `size` generations run at once, each on its own session — merging them into shared forward passes is
 * the runtime's business. Beyond that, up to `queueLimit` requests wait in arrival order; the next one
 * is refused with 503 and Retry-After.
 */
import type { Model, Session } from '@quant/runtime';
import { ApiError } from './errors.js';

export interface Slot {
  readonly id: number;
  /** The slot's session (created on first use). */
  session: Session;
}

interface Waiter {
  prompt: readonly number[];
  resolve: (slot: Slot) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export interface SlotPoolOptions {
  size: number;
  queueLimit: number;
  /** Seconds sent in Retry-After when the queue is full. */
  retryAfterSeconds: number;
  /** Keep each slot's KV cache between requests to reuse common prompt prefixes (default true). */
  prefixCache: boolean;
}

export class SlotPool {
  readonly size: number;
  readonly queueLimit: number;
  private readonly model: Model;
  private readonly options: SlotPoolOptions;
  /** Idle slots; a slot id not in here and not in `busySlots` has not been created yet. */
  private readonly idle: Slot[] = [];
  private readonly busySlots = new Set<Slot>();
  private created = 0;
  private readonly waiters: Waiter[] = [];
  private disposed = false;

  constructor(model: Model, options: SlotPoolOptions) {
    this.model = model;
    this.options = options;
    this.size = options.size;
    this.queueLimit = options.queueLimit;
  }

  /** Slots in use. */
  get busy(): number {
    return this.busySlots.size;
  }

  /** Requests waiting. */
  get queued(): number {
    return this.waiters.length;
  }

  /**
   * A free slot for `prompt` (the idle slot sharing the longest prefix with it), or a place in the
   * queue. Throws a 503 ApiError at once when the queue is full; rejects with the signal's reason if
   * it aborts while waiting.
   */
  acquire(prompt: readonly number[], signal: AbortSignal): Promise<Slot> {
    if (this.disposed)
      return Promise.reject(new ApiError(503, 'unavailable_error', 'The server is shutting down.'));
    if (signal.aborted) return Promise.reject(signal.reason);
    const free = this.take(prompt);
    if (free) return Promise.resolve(free);
    if (this.waiters.length >= this.queueLimit) {
      const s = this.options.retryAfterSeconds;
      return Promise.reject(
        new ApiError(
          503,
          'unavailable_error',
          `The server is busy: all ${this.size} slots are in use and ${this.waiters.length} requests are queued (the queue holds ${this.queueLimit}). Retry after ${s} s.`,
          { code: 'queue_full', headers: { 'Retry-After': String(s) } },
        ),
      );
    }
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = {
        prompt,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', w.onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  /** Gives the slot back: to the oldest waiter, else to the idle list. */
  release(slot: Slot): void {
    if (!this.busySlots.delete(slot)) return;
    if (this.disposed) {
      slot.session.dispose();
      return;
    }
    if (!this.options.prefixCache) slot.session.reset();
    this.idle.push(slot);
    const w = this.waiters.shift();
    if (w) {
      w.signal.removeEventListener('abort', w.onAbort);
      try {
        const s = this.take(w.prompt);
        if (s) w.resolve(s);
      } catch (e) {
        w.reject(e);
      }
    }
  }

  private take(prompt: readonly number[]): Slot | undefined {
    let slot: Slot | undefined;
    if (this.idle.length > 0) {
      let best = 0;
      let bestLen = -1;
      for (let i = 0; i < this.idle.length; i++) {
        const len = commonPrefix((this.idle[i] as Slot).session.tokens, prompt);
        if (len > bestLen) {
          bestLen = len;
          best = i;
        }
      }
      slot = this.idle.splice(best, 1)[0] as Slot;
    } else if (this.created < this.size) {
      // createSession may throw (e.g. the KV cache does not fit the free memory): count it only once made.
      const session = this.model.createSession();
      slot = { id: this.created++, session };
    }
    if (slot) this.busySlots.add(slot);
    return slot;
  }

  /** Rejects every waiter and frees idle sessions; busy ones are freed on release. */
  dispose(reason: unknown): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const w of this.waiters.splice(0)) {
      w.signal.removeEventListener('abort', w.onAbort);
      w.reject(reason);
    }
    for (const s of this.idle.splice(0)) s.session.dispose();
  }
}
