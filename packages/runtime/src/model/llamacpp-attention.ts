import type { F32Buffer, Kernels } from '@quant/kernels';
import { roundToF16InPlace } from './f16-round.js';

/**
 * The kernels as plugins see them, with llama.cpp's attention numerics: with an F16 KV cache,
 * llama.cpp multiplies K by the query converted to F16, so the query is rounded to F16 here (on a
 * copy; the plugin's buffer is untouched) before `kernels.attention`. Everything else passes through.
 * Owns one scratch buffer; `dispose()` frees it.
 */
export function llamaCppAttentionKernels(kernels: Kernels): { kernels: Kernels; dispose(): void } {
  let tmp: F32Buffer | undefined;
  const attention: Kernels['attention'] = (out, q, cache, layer, p) => {
    if (cache.type !== 'f16') return kernels.attention(out, q, cache, layer, p);
    const n = p.nTokens * p.nHeads * p.headDim;
    if (!tmp || tmp.length < n) {
      tmp?.dispose();
      tmp = kernels.f32(n);
    }
    kernels.copyRows(tmp, 0, n, q, 0, n, 1, n);
    roundToF16InPlace(tmp.view(), n);
    kernels.attention(out, tmp, cache, layer, p);
  };
  const proxy = new Proxy(kernels, {
    get(target, prop) {
      if (prop === 'attention') return attention;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return {
    kernels: proxy,
    dispose() {
      if (tmp && !tmp.disposed) tmp.dispose();
      tmp = undefined;
    },
  };
}
