import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { type Kernels, type LoadKernelsOptions, loadKernels } from '@quant/kernels';
import { relaxedSimdProbe } from '../src/wasm-host';

const pkg = join(__dirname, '..');
const wasmFile = (name: string) => join(pkg, 'wasm', name);
export const nativeBuilt = existsSync(join(pkg, 'build', 'Release', 'quant_kernels.node'));
export const wasmBuilt = existsSync(wasmFile('quant-kernels.wasm'));
export const wasmMtBuilt = existsSync(wasmFile('quant-kernels-mt.wasm'));

/**
 * Relaxed SIMD (the *-relaxed.wasm modules): on by default in Node ≥ 22; Node 20 has it behind
 * --experimental-wasm-relaxed-simd, which V8 accepts at run time, so the suite turns it on and runs the
 * relaxed modules too. The plain cases name their SIMD128 module, so both kinds are tested either way.
 */
function relaxedEngine(): boolean {
  const bytes = relaxedSimdProbe();
  if (WebAssembly.validate(bytes)) return true;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(bytes);
}

export const relaxedSimd = relaxedEngine();
export const wasmRelaxedBuilt = existsSync(wasmFile('quant-kernels-relaxed.wasm'));
export const wasmMtRelaxedBuilt = existsSync(wasmFile('quant-kernels-mt-relaxed.wasm'));
const plain = (name: string) => pathToFileURL(wasmFile(name));
/** Under scripts/test-asan.mjs only the native addon is instrumented: wasm cases would check nothing more. */
const asanRun = !!process.env.QUANT_KERNELS_ASAN_RUN;

export interface BackendCase {
  name: string;
  available: boolean;
  why: string;
  opts: LoadKernelsOptions;
}

/** Every backend the suite runs against: native and wasm, each with SIMD and forced scalar; wasm-mt = the threaded module, 2 threads. */
export const BACKENDS: BackendCase[] = [
  {
    name: 'native',
    available: nativeBuilt,
    why: 'build/Release/quant_kernels.node missing: run `pnpm --filter @quant/kernels build`',
    opts: { backend: 'native', threads: 2 },
  },
  {
    name: 'native-scalar',
    available: nativeBuilt,
    why: 'native addon not built',
    opts: { backend: 'native', threads: 2, forceScalar: true },
  },
  {
    name: 'wasm',
    available: wasmBuilt && !asanRun,
    why: asanRun
      ? 'the ASan run checks the native addon only'
      : 'wasm/quant-kernels.wasm missing: run `node scripts/build-wasm.mjs`',
    opts: { backend: 'wasm', wasmUrl: plain('quant-kernels.wasm') },
  },
  {
    name: 'wasm-mt',
    available: wasmMtBuilt && !asanRun,
    why: asanRun
      ? 'the ASan run checks the native addon only'
      : 'wasm/quant-kernels-mt.wasm missing: run `node scripts/build-wasm.mjs`',
    opts: { backend: 'wasm', threads: 2, wasmUrl: plain('quant-kernels-mt.wasm') },
  },
  {
    name: 'wasm-relaxed',
    available: wasmRelaxedBuilt && relaxedSimd && !asanRun,
    why: asanRun
      ? 'the ASan run checks the native addon only'
      : !relaxedSimd
        ? 'this engine cannot run relaxed SIMD'
        : 'wasm/quant-kernels-relaxed.wasm missing: run `node scripts/build-wasm.mjs`',
    opts: { backend: 'wasm', wasmUrl: plain('quant-kernels-relaxed.wasm') },
  },
  {
    name: 'wasm-mt-relaxed',
    available: wasmMtRelaxedBuilt && relaxedSimd && !asanRun,
    why: asanRun
      ? 'the ASan run checks the native addon only'
      : !relaxedSimd
        ? 'this engine cannot run relaxed SIMD'
        : 'wasm/quant-kernels-mt-relaxed.wasm missing: run `node scripts/build-wasm.mjs`',
    opts: { backend: 'wasm', threads: 2, wasmUrl: plain('quant-kernels-mt-relaxed.wasm') },
  },
  {
    name: 'wasm-scalar',
    available: wasmBuilt && !asanRun,
    why: asanRun ? 'the ASan run checks the native addon only' : 'wasm module not built',
    opts: { backend: 'wasm', wasmUrl: plain('quant-kernels.wasm'), forceScalar: true },
  },
];

for (const b of BACKENDS)
  if (!b.available) console.warn(`[kernels tests] skipping backend ${b.name}: ${b.why}`);

export async function load(b: BackendCase): Promise<Kernels> {
  return loadKernels(b.opts);
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n floats, roughly normal(0, scale), with a few outliers like real weights. */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    let x = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v) * scale;
    if (r() < 0.01) x *= 6;
    out[i] = x;
  }
  return out;
}

export function randBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

/** Asserts |a-b| <= atol + rtol*|b| elementwise, reporting the first failure. */
export function expectClose(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  atol: number,
  rtol = 0,
  what = '',
): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} != ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) {
      throw new Error(`${what}: element ${i}: got ${x}, expected ${y} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

export function expectExact(a: ArrayLike<number>, b: ArrayLike<number>, what = ''): void {
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} != ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) {
      throw new Error(`${what}: element ${i}: got ${a[i]}, expected ${b[i]}`);
    }
  }
}
