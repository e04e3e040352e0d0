// Worker thread of @quant/quantize: converts row chunks with @quant/kernels (plain JS so Node can
// start it straight from the source tree or from dist/).
import { parentPort } from 'node:worker_threads';
import { loadKernels } from '@quant/kernels';

const kernels = await loadKernels({ threads: 1 });
const port = parentPort;

port.on('message', (job) => {
  const { id, srcType, dstType, rows, cols, buf } = job;
  try {
    const src = new Uint8Array(buf);
    const n = rows * cols;
    const f32 = srcType === 0 ? new Float32Array(buf, 0, n) : kernels.dequantize(srcType, src, n);
    for (let i = 0; i < n; i++) {
      const v = f32[i];
      if (v - v !== 0) {
        port.postMessage({ id, error: { message: `non-finite value at element ${i}`, nonFinite: i } });
        return;
      }
    }
    const out = kernels.quantize(dstType, f32, rows, cols);
    const own = new Uint8Array(out.byteLength);
    own.set(out);
    port.postMessage({ id, buf: own.buffer }, [own.buffer]);
  } catch (e) {
    port.postMessage({ id, error: { message: e instanceof Error ? e.message : String(e), code: e?.code } });
  }
});
port.postMessage({ ready: true, backend: kernels.backend });
