/** SlotPool on a stand-in model (only createSession is used): order, limits, prefix affinity, failures. */
import type { Model, Session } from '@quant/runtime';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/errors';
import { SlotPool } from '../src/slots';

interface FakeSession {
  tokens: number[];
  reset(): void;
  dispose(): void;
  disposed: boolean;
}

function fakeModel(failFirst = 0): { model: Model; created: FakeSession[] } {
  const created: FakeSession[] = [];
  let fails = failFirst;
  const model = {
    createSession: () => {
      if (fails > 0) {
        fails--;
        throw new Error('the KV cache does not fit');
      }
      const s: FakeSession = {
        tokens: [],
        disposed: false,
        reset() {
          this.tokens = [];
        },
        dispose() {
          this.disposed = true;
        },
      };
      created.push(s);
      return s as unknown as Session;
    },
  } as unknown as Model;
  return { model, created };
}

const opts = { size: 2, queueLimit: 1, retryAfterSeconds: 3, prefixCache: true };
const never = new AbortController().signal;

describe('SlotPool', () => {
  it('hands out up to `size` slots, queues `queueLimit` more in order, then refuses with 503 + Retry-After', async () => {
    const { model } = fakeModel();
    const pool = new SlotPool(model, opts);
    const a = await pool.acquire([1], never);
    const b = await pool.acquire([2], never);
    expect(a.id).not.toBe(b.id);
    const waiting = pool.acquire([3], never);
    expect(pool.queued).toBe(1);
    const refused = await pool.acquire([4], never).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(503);
    expect((refused as ApiError).headers['Retry-After']).toBe('3');
    pool.release(b);
    expect((await waiting).id).toBe(b.id);
    expect(pool.busy).toBe(2);
  });

  it('an aborted waiter leaves the queue and rejects with the reason', async () => {
    const { model } = fakeModel();
    const pool = new SlotPool(model, { ...opts, size: 1 });
    const a = await pool.acquire([1], never);
    const ac = new AbortController();
    const w = pool.acquire([1], ac.signal);
    expect(pool.queued).toBe(1);
    ac.abort(new Error('gone'));
    await expect(w).rejects.toThrow('gone');
    expect(pool.queued).toBe(0);
    pool.release(a);
    expect(pool.busy).toBe(0);
  });

  it('gives the idle slot sharing the longest prefix with the prompt', async () => {
    const { model, created } = fakeModel();
    const pool = new SlotPool(model, opts);
    const a = await pool.acquire([1], never);
    const b = await pool.acquire([1], never);
    (created[0] as FakeSession).tokens = [5, 6, 7];
    (created[1] as FakeSession).tokens = [9, 9, 9, 9];
    pool.release(a);
    pool.release(b);
    expect((await pool.acquire([9, 9, 1], never)).id).toBe(b.id);
    expect((await pool.acquire([5, 6, 7, 8], never)).id).toBe(a.id);
  });

  it('without prefixCache a released slot is reset', async () => {
    const { model, created } = fakeModel();
    const pool = new SlotPool(model, { ...opts, prefixCache: false });
    const a = await pool.acquire([1], never);
    (created[0] as FakeSession).tokens = [1, 2];
    pool.release(a);
    expect((created[0] as FakeSession).tokens).toEqual([]);
  });

  it('a session that cannot be created fails that request only; the slot is still there for the next', async () => {
    const { model } = fakeModel(1);
    const pool = new SlotPool(model, { ...opts, size: 1 });
    expect(() => pool.acquire([1], never)).toThrow('does not fit');
    const s = await pool.acquire([1], never);
    expect(s.id).toBe(0);
  });

  it('dispose rejects waiters and frees idle sessions', async () => {
    const { model, created } = fakeModel();
    const pool = new SlotPool(model, { ...opts, size: 1 });
    const a = await pool.acquire([1], never);
    const w = pool.acquire([1], never);
    pool.dispose(new Error('closing'));
    await expect(w).rejects.toThrow('closing');
    pool.release(a);
    expect((created[0] as FakeSession).disposed).toBe(true);
  });
});
