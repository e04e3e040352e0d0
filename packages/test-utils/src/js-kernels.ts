/**
 * A plain-JavaScript implementation of the @quant/kernels contract (F32/F16 weights only), written
 * from the op definitions in kernels/src/types.ts. Tests use it as an independent reference for the
 * runtime's graph plumbing; it is slow and not part of the package.
 */
import type {
  AttentionParams,
  F32Buffer,
  Kernels,
  KVBatch,
  KVCache,
  KVCacheType,
  KVCacheTypes,
  KVSegment,
  RopeParams,
  Weight,
} from '@quant/kernels';

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** erf by its Maclaurin series (|x| ≤ 4; ±(1 − 1.6e-8) beyond). */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a > 4) return Math.sign(x) * (1 - 1.541725790028002e-8);
  let term = a;
  let sum = a;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17; n++) {
    term *= (-a * a) / n;
    sum += term / (2 * n + 1);
  }
  return (Math.sign(x) * 2 * sum) / Math.sqrt(Math.PI);
}

class JsBuffer implements F32Buffer {
  data: Float32Array;
  disposed = false;
  constructor(n: number) {
    this.data = new Float32Array(n);
  }
  get length() {
    return this.data.length;
  }
  view() {
    return this.data;
  }
  write(src: ArrayLike<number>, offset = 0) {
    this.data.set(src, offset);
  }
  read(offset = 0, length = this.data.length - offset) {
    return this.data.slice(offset, offset + length);
  }
  dispose() {
    this.disposed = true;
  }
}

class JsWeight implements Weight {
  disposed = false;
  constructor(
    readonly type: number,
    readonly rows: number,
    readonly cols: number,
    readonly byteLength: number,
    readonly values: Float32Array,
  ) {}
  dispose() {
    this.disposed = true;
  }
}

class JsBatch implements KVBatch {
  readonly positions: Int32Array;
  constructor(
    readonly segments: readonly KVSegment[],
    readonly nTokens: number,
    readonly layerMap: Int32Array | undefined,
  ) {
    this.positions = new Int32Array(nTokens);
    for (const s of segments) for (let t = 0; t < s.nTokens; t++) this.positions[s.row + t] = s.pos + t;
  }
  cacheLayer(layer: number): number {
    return this.layerMap ? (this.layerMap[layer] as number) : layer;
  }
  store(layer: number, k: F32Buffer, v: F32Buffer) {
    for (const s of this.segments)
      (s.cache as JsKV).store(this.cacheLayer(layer), s.pos, s.nTokens, k, v, s.row);
  }
}

class JsKV implements KVCache {
  readonly type: 'f16' | 'f32';
  readonly types: { k: 'f16' | 'f32'; v: 'f16' | 'f32' };
  readonly rotation = { k: 0, v: 0 };
  readonly byteLength: number;
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  disposed = false;
  constructor(
    readonly layers: number,
    readonly contextSize: number,
    readonly kvHeads: number,
    readonly headDim: number,
    types: KVCacheType | KVCacheTypes,
  ) {
    const t = typeof types === 'string' ? { k: types, v: types } : types;
    if ((t.k !== 'f16' && t.k !== 'f32') || t.k !== t.v)
      throw new Error(`js-kernels: KV cache types ${t.k}/${t.v} not supported (f16 or f32 for both)`);
    this.type = t.k;
    this.types = { k: t.k, v: t.k };
    const n = contextSize * kvHeads * headDim;
    this.byteLength = 2 * layers * n * 4;
    this.k = Array.from({ length: layers }, () => new Float32Array(n));
    this.v = Array.from({ length: layers }, () => new Float32Array(n));
  }
  readRows(layer: number, part: 'k' | 'v', nTokens: number): Uint8Array {
    const a = (part === 'k' ? this.k : this.v)[layer] as Float32Array;
    return new Uint8Array(a.slice(0, nTokens * this.kvHeads * this.headDim).buffer);
  }
  writeRows(layer: number, part: 'k' | 'v', nTokens: number, bytes: Uint8Array): void {
    const a = (part === 'k' ? this.k : this.v)[layer] as Float32Array;
    a.set(new Float32Array(bytes.slice().buffer, 0, nTokens * this.kvHeads * this.headDim));
  }
  readState(): Uint8Array {
    return new Uint8Array(0);
  }
  writeState(bytes: Uint8Array): void {
    if (bytes.length) throw new Error('js-kernels: f16/f32 caches have no state');
  }
  store(layer: number, pos: number, nTokens: number, k: F32Buffer, v: F32Buffer, row = 0) {
    const w = this.kvHeads * this.headDim;
    (this.k[layer] as Float32Array).set(k.view().subarray(row * w, (row + nTokens) * w), pos * w);
    (this.v[layer] as Float32Array).set(v.view().subarray(row * w, (row + nTokens) * w), pos * w);
  }
  shift(from: number, to: number, count: number) {
    const w = this.kvHeads * this.headDim;
    for (const a of [...this.k, ...this.v]) a.copyWithin(to * w, from * w, (from + count) * w);
  }
  dispose() {
    this.disposed = true;
  }
}

const d = (b: F32Buffer) => (b as JsBuffer).data;

export function jsKernels(): Kernels {
  const dequantize = (type: number, data: Uint8Array, n: number): Float32Array => {
    if (type === 0) return new Float32Array(data.slice(0, n * 4).buffer);
    if (type === 1) {
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
      return out;
    }
    throw new Error(`js-kernels: type ${type} not supported`);
  };
  const k: Kernels = {
    backend: 'wasm',
    simd: 'scalar',
    threads: 1,
    maxMemoryBytes: 2 ** 31,
    canMapFiles: false,
    setThreads() {},
    f32: (n) => new JsBuffer(n),
    weight: (type, rows, cols, data) =>
      new JsWeight(type, rows, cols, data.byteLength, dequantize(type, data, rows * cols)),
    kvCache: (o) => new JsKV(o.layers, o.contextSize, o.kvHeads, o.headDim, o.type),
    dequantize,
    quantize: (type, src) => {
      if (type === 0) return new Uint8Array(Float32Array.from(src).buffer);
      throw new Error('js-kernels: quantize supports F32 only');
    },
    matmul(out, w, x, nTokens) {
      const W = (w as JsWeight).values;
      const { rows, cols } = w;
      const X = d(x);
      const O = d(out);
      for (let t = 0; t < nTokens; t++) {
        for (let r = 0; r < rows; r++) {
          let s = 0;
          const wo = r * cols;
          const xo = t * cols;
          for (let c = 0; c < cols; c++) s += (W[wo + c] as number) * (X[xo + c] as number);
          O[t * rows + r] = s;
        }
      }
    },
    getRows(out, w, ids) {
      const W = (w as JsWeight).values;
      for (let t = 0; t < ids.length; t++)
        d(out).set(W.subarray((ids[t] as number) * w.cols, ((ids[t] as number) + 1) * w.cols), t * w.cols);
    },
    rmsNorm(out, x, weight, rows, cols, eps) {
      const X = d(x);
      const O = d(out);
      const Wt = d(weight);
      for (let r = 0; r < rows; r++) {
        let ss = 0;
        for (let c = 0; c < cols; c++) ss += (X[r * cols + c] as number) ** 2;
        const scale = 1 / Math.sqrt(ss / cols + eps);
        for (let c = 0; c < cols; c++)
          O[r * cols + c] = (X[r * cols + c] as number) * scale * (Wt[c] as number);
      }
    },
    layerNorm(out, x, weight, bias, rows, cols, eps) {
      const X = d(x);
      const O = d(out);
      const Wt = weight && d(weight);
      const B = bias && d(bias);
      for (let r = 0; r < rows; r++) {
        let mean = 0;
        for (let c = 0; c < cols; c++) mean += X[r * cols + c] as number;
        mean /= cols;
        let v = 0;
        for (let c = 0; c < cols; c++) v += ((X[r * cols + c] as number) - mean) ** 2;
        const scale = 1 / Math.sqrt(v / cols + eps);
        for (let c = 0; c < cols; c++)
          O[r * cols + c] =
            ((X[r * cols + c] as number) - mean) * scale * ((Wt?.[c] as number) ?? 1) +
            ((B?.[c] as number) ?? 0);
      }
    },
    // The tanh GELU by its definition (the C op also rounds input and result through f16, as ggml).
    gelu(out, x, n) {
      const X = d(x);
      const O = d(out);
      for (let i = 0; i < n; i++) {
        const v = X[i] as number;
        O[i] =
          v <= -10
            ? 0
            : v >= 10
              ? v
              : 0.5 * v * (1 + Math.tanh(0.7978845608028654 * v * (1 + 0.044715 * v * v)));
      }
    },
    geluErf(out, x, n) {
      const X = d(x);
      const O = d(out);
      for (let i = 0; i < n; i++) O[i] = 0.5 * (X[i] as number) * (1 + erf((X[i] as number) * Math.SQRT1_2));
    },
    softcap(out, x, cap, n) {
      const X = d(x);
      const O = d(out);
      for (let i = 0; i < n; i++) O[i] = cap * Math.tanh((X[i] as number) / cap);
    },
    rope(x, p: RopeParams) {
      const X = d(x);
      const nRot = p.nRot ?? p.headDim;
      const fs = p.freqScale ?? 1;
      const af = p.attnFactor ?? 1;
      for (let t = 0; t < p.nTokens; t++) {
        const pos = typeof p.pos === 'number' ? p.pos + t : (p.pos[t] as number);
        for (let h = 0; h < p.nHeads; h++) {
          const base = (t * p.nHeads + h) * p.headDim;
          for (let i = 0; i < nRot / 2; i++) {
            let theta = pos * fs * p.freqBase ** ((-2 * i) / nRot);
            if (p.freqFactors) theta /= p.freqFactors[i] as number;
            const c = Math.cos(theta) * af;
            const s = Math.sin(theta) * af;
            const [a, b] =
              p.mode === 'normal' ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + nRot / 2];
            const x0 = X[a] as number;
            const x1 = X[b] as number;
            X[a] = x0 * c - x1 * s;
            X[b] = x0 * s + x1 * c;
          }
        }
      }
    },
    softmax(x, rows, cols) {
      const X = d(x);
      for (let r = 0; r < rows; r++) {
        let m = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < cols; c++) m = Math.max(m, X[r * cols + c] as number);
        let s = 0;
        for (let c = 0; c < cols; c++) s += X[r * cols + c] = Math.exp((X[r * cols + c] as number) - m);
        for (let c = 0; c < cols; c++) X[r * cols + c] = (X[r * cols + c] as number) / s;
      }
    },
    silu(x, n) {
      const X = d(x);
      for (let i = 0; i < n; i++) X[i] = (X[i] as number) / (1 + Math.exp(-(X[i] as number)));
    },
    swiglu(out, gate, up, n) {
      const G = d(gate);
      const U = d(up);
      const O = d(out);
      for (let i = 0; i < n; i++)
        O[i] = ((G[i] as number) / (1 + Math.exp(-(G[i] as number)))) * (U[i] as number);
    },
    swigluFused(out, gu, rows, ff) {
      const G = d(gu).slice();
      const O = d(out);
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < ff; i++) {
          const g = G[r * 2 * ff + i] as number;
          O[r * ff + i] = (g / (1 + Math.exp(-g))) * (G[r * 2 * ff + ff + i] as number);
        }
    },
    add(out, a, b, n) {
      const A = d(a);
      const B = d(b);
      const O = d(out);
      for (let i = 0; i < n; i++) O[i] = (A[i] as number) + (B[i] as number);
    },
    addBias(x, bias, rows, cols) {
      const X = d(x);
      const Bs = d(bias);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) X[r * cols + c] = (X[r * cols + c] as number) + (Bs[c] as number);
    },
    mul(out, a, b, n) {
      const A = d(a);
      const B = d(b);
      const O = d(out);
      for (let i = 0; i < n; i++) O[i] = (A[i] as number) * (B[i] as number);
    },
    scale(x, s, n) {
      const X = d(x);
      for (let i = 0; i < n; i++) X[i] = (X[i] as number) * s;
    },
    copyRows(dst, dOff, dStride, src, sOff, sStride, rows, cols) {
      const S = d(src);
      const D = d(dst);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) D[dOff + r * dStride + c] = S[sOff + r * sStride + c] as number;
    },
    kvBatch(segments, options) {
      return new JsBatch(
        segments,
        segments.reduce((a, s) => a + s.nTokens, 0),
        options?.layerMap,
      );
    },
    attention(out, q, cache, layer, p: AttentionParams) {
      if (cache instanceof JsBatch) {
        for (const s of cache.segments)
          attend(
            out,
            q,
            s.cache as JsKV,
            cache.cacheLayer(layer),
            { ...p, nTokens: s.nTokens, pos: s.pos },
            s.row,
          );
        return;
      }
      attend(out, q, cache as JsKV, layer, p, 0);
    },
    argmax(x, n, offset = 0) {
      const X = d(x);
      let best = 0;
      for (let i = 1; i < n; i++) if ((X[offset + i] as number) > (X[offset + best] as number)) best = i;
      return best;
    },
    busy: false,
    async run(record) {
      record();
      await new Promise<void>((r) => setImmediate(r));
    },
    dispose() {},
  };
  return k;
}

/** Attention of rows [row, row + p.nTokens) of q against `c` (the JS reference of kernels.attention). */
function attend(out: F32Buffer, q: F32Buffer, c: JsKV, layer: number, p: AttentionParams, row: number): void {
  const d = (b: F32Buffer) => b.view();
  const nTokens = p.nTokens as number;
  const p0 = p.pos as number;
  const K = c.k[layer] as Float32Array;
  const V = c.v[layer] as Float32Array;
  const Q = d(q);
  const O = d(out);
  const hd = p.headDim;
  const scale = p.scale ?? 1 / Math.sqrt(hd);
  const cap = p.softcap ?? 0;
  const group = p.nHeads / p.nKvHeads;
  const kvw = p.nKvHeads * hd;
  for (let t = 0; t < nTokens; t++) {
    const pos = p0 + t;
    const lo = p.window ? Math.max(0, pos - p.window + 1) : 0;
    for (let h = 0; h < p.nHeads; h++) {
      const kh = Math.floor(h / group);
      const qo = ((row + t) * p.nHeads + h) * hd;
      const scores: number[] = [];
      let m = Number.NEGATIVE_INFINITY;
      for (let j = lo; j <= pos; j++) {
        let s = 0;
        for (let i = 0; i < hd; i++) s += (Q[qo + i] as number) * (K[j * kvw + kh * hd + i] as number);
        // logit soft-capping where llama.cpp's flash / standard path applies it (kernels types.ts)
        if (cap)
          s = p.flash === false ? cap * Math.tanh(s / cap) * scale : cap * Math.tanh((s * scale) / cap);
        else s *= scale;
        scores.push(s);
        m = Math.max(m, s);
      }
      let z = 0;
      for (let j = 0; j < scores.length; j++) z += scores[j] = Math.exp((scores[j] as number) - m);
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let j = lo; j <= pos; j++)
          acc += (scores[j - lo] as number) * (V[j * kvw + kh * hd + i] as number);
        O[qo + i] = acc / z;
      }
    }
  }
}
