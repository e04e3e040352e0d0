/**
 * Yielding to the host's event loop with a macrotask, so timers, I/O, AbortSignal.timeout() and
 * other callbacks run between tokens. A microtask (`await Promise.resolve()`) is not enough: the
 * event loop only turns once the microtask queue is empty.
 *
 * - Node (and Bun): `setImmediate`, which runs right after pending I/O callbacks.
 * - Browsers, Deno, workers: a `MessageChannel` message, which (unlike `setTimeout(0)`) is not clamped
 *   to 4 ms after a few nested calls.
 * - Anything else: `setTimeout(0)`.
 */

type Resolve = () => void;

let channel: { post: (r: Resolve) => void } | undefined;

function messageChannelYield(): { post: (r: Resolve) => void } {
  if (channel) return channel;
  const queue: Resolve[] = [];
  const mc = new MessageChannel();
  mc.port1.onmessage = () => queue.shift()?.();
  // Node's ports keep the process alive while they listen; a yield must never do that.
  (mc.port1 as { unref?: () => void }).unref?.();
  (mc.port2 as { unref?: () => void }).unref?.();
  channel = {
    post: (r) => {
      queue.push(r);
      mc.port2.postMessage(0);
    },
  };
  return channel;
}

/** Resolves after one turn of the event loop (a macrotask). The mechanism is chosen at each call. */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  if (typeof g.setImmediate === 'function') {
    const setImmediateFn = g.setImmediate;
    return new Promise<void>((r) => {
      setImmediateFn(r);
    });
  }
  if (typeof MessageChannel === 'function') {
    const c = messageChannelYield();
    return new Promise<void>((r) => c.post(r));
  }
  return new Promise<void>((r) => setTimeout(r, 0));
}
