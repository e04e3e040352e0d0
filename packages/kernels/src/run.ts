/**
 * The machinery behind `kernels.run()`: the command list ops are recorded into, and the Host
 * wrapper through which the facade reaches the C library. Every op the facade issues goes through
 * `host.raw.<op>(...)`; while a run is active, the wrapper records it (native), lets it run inline
 * (wasm) or refuses it (BUSY), and defers every release of memory the run may be using (`free`,
 * `unmap`, `destroyContext`, pinned bytes) until the run settles.
 */
import { REBUILD_ADVICE } from './advice';
import { KernelError } from './errors';
import { type Host, OP_STATUS, OP_VALUE, type PinnedBytes, type RawBinding } from './raw-binding';

/** One run from the start of its recording until it settles. */
export interface ActiveRun {
  /** Distinct per run (stamps objects already kept by this run). */
  readonly id: number;
  /** 'recording' while `record` runs; 'executing' until the run settles. */
  phase: 'recording' | 'executing';
  /** Objects whose memory recorded commands point into (kept reachable until the run settles). */
  readonly keep: unknown[];
  /** Releases postponed until the run settles, in call order. */
  readonly deferred: (() => void)[];
}

/** A growable Float64Array of commands, each [op index, ...args]. Reused by every run of an instance. */
export class CommandList {
  /** Grown on first use (doubling), so idle and disposed instances hold none. */
  f64 = new Float64Array(0);
  /** Doubles used. */
  len = 0;
  /** Commands recorded. */
  count = 0;
  /** Op index of every command (error messages). */
  codes: number[] = [];

  reset(): void {
    this.len = 0;
    this.count = 0;
  }

  /** Drops the buffers (the instance is disposed; C copied any list it still runs). */
  release(): void {
    this.reset();
    this.f64 = new Float64Array(0);
    this.codes = [];
  }

  push(op: number, args: readonly unknown[], nargs: number): void {
    let at = this.len;
    if (at + 1 + nargs > this.f64.length) {
      const bigger = new Float64Array(Math.max(this.f64.length * 2, at + 1 + nargs, 1024));
      bigger.set(this.f64.subarray(0, at));
      this.f64 = bigger;
    }
    const f = this.f64;
    f[at++] = op;
    // Same conversion as the Node-API functions: a non-number argument is 0.
    for (let i = 0; i < nargs; i++) {
      const v = args[i];
      f[at++] = typeof v === 'number' ? v : 0;
    }
    this.len = at;
    this.codes[this.count++] = op;
  }
}

export interface OpInfo {
  readonly index: number;
  readonly name: string;
  readonly nargs: number;
  readonly flags: number;
}

/** The KernelError a failed status op turns into (the same code and text as the synchronous op). */
export function statusError(op: string, rc: number, where = ''): KernelError {
  return new KernelError(rc === -2 ? 'OUT_OF_MEMORY' : 'INTERNAL', `${op}: C returned ${rc}${where}`);
}

export function recordingError(what: string): KernelError {
  return new KernelError(
    'RECORDING',
    `${what}: not available while kernels.run() is recording: recorded ops have not run yet, so their results are not available until run() settles; call this after awaiting run() (or before starting it)`,
  );
}

export function busyError(what: string): KernelError {
  return new KernelError(
    'BUSY',
    `${what}: a kernels.run() is executing and may be using this memory; await the run (kernels.busy tells whether one is active) before calling ops or reading its buffers`,
  );
}

/**
 * Wraps a backend Host so that `raw` and the memory releases follow the active run (see the file
 * comment). `active()` returns the run in progress, if any; `native` = ops are recorded (else they
 * run inline while recording). Returns the wrapped host and the op table by name.
 */
export function wrapHost(
  host: Host,
  active: () => ActiveRun | undefined,
  record: (op: OpInfo, args: readonly unknown[]) => void,
  native: boolean,
): { host: Host; ops: Map<string, OpInfo> } {
  const raw = host.raw;
  if (typeof raw.opTable !== 'function') {
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `the ${host.kind} kernel module is out of date (it has no op table); ${host.kind === 'native' ? REBUILD_ADVICE : 'reinstall @quant/kernels'} (in the quant repository: \`pnpm --filter @quant/kernels build\`)`,
    );
  }
  const ops = new Map<string, OpInfo>();
  const table = raw.opTable();
  const d = Object.create(raw) as Record<string, unknown>;
  const fns = raw as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (let index = 0; index < table.length; index++) {
    const [name, nargs, flags] = table[index] as [string, number, number];
    const op: OpInfo = { index, name, nargs, flags };
    ops.set(name, op);
    const real = fns[name];
    if (typeof real !== 'function') continue;
    const ret = flags & OP_STATUS ? 0 : undefined;
    d[name] = (...args: unknown[]) => {
      const r = active();
      if (r === undefined) return real(...args);
      if (r.phase === 'executing') throw busyError(name);
      if (flags & OP_VALUE) throw recordingError(name);
      if (!native) return real(...args);
      record(op, args);
      return ret;
    };
  }
  const later =
    (name: 'free' | 'unmap' | 'destroyContext') =>
    (...args: unknown[]) => {
      const r = active();
      const f = fns[name] as (...a: unknown[]) => unknown;
      if (r === undefined) return f(...args);
      r.deferred.push(() => f(...args));
      return undefined;
    };
  d.free = later('free');
  d.unmap = later('unmap');
  d.destroyContext = later('destroyContext');

  const wrapped = Object.create(host) as Host & Record<string, unknown>;
  Object.defineProperty(wrapped, 'raw', { value: d as unknown as RawBinding, enumerable: true });
  wrapped.pin = (bytes: ArrayBufferView, persistent: boolean): PinnedBytes => {
    const p = host.pin(bytes, persistent);
    return {
      ptr: p.ptr,
      release: () => {
        // The pin (and through it the bytes, on native) stays reachable from the deferred list.
        const r = active();
        if (r === undefined) p.release();
        else r.deferred.push(() => p.release());
      },
    };
  };
  wrapped.free = (ptr: number) => {
    const r = active();
    if (r === undefined) host.free(ptr);
    else r.deferred.push(() => host.free(ptr));
  };
  return { host: wrapped, ops };
}

/** Calls `fn` after one macrotask (setImmediate in Node; a MessageChannel message in browsers). */
export function afterMacrotask(fn: () => void): void {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (typeof g.setImmediate === 'function') {
    g.setImmediate(fn);
    return;
  }
  if (typeof MessageChannel === 'function') {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      fn();
    };
    ch.port2.postMessage(0);
    return;
  }
  setTimeout(fn, 0);
}
