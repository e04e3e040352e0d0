// Where the wasm module comes from (issue 16): the package's file by default, `wasmBinary`, a file:
// URL, an http(s) URL; a URL that does not serve a wasm module (a dev server's HTML fallback page,
// a 404) is BACKEND_UNAVAILABLE naming the URL.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StaticServer, startStaticServer } from '../../test-utils/src/static-server';
import { KernelError, loadKernels } from '../src/index';

const wasmDir = join(__dirname, '..', 'wasm');
const wasmPath = join(wasmDir, 'quant-kernels.wasm');
let server: StaticServer;
beforeAll(async () => {
  server = await startStaticServer({ '/wasm/': wasmDir, '/pages/': __dirname });
});
afterAll(() => server?.close());

/** A dot product of two 4-float rows: the module runs. */
async function works(k: Awaited<ReturnType<typeof loadKernels>>): Promise<void> {
  try {
    expect(k.backend).toBe('wasm');
    const w = k.weight(0, 1, 4, new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer));
    const x = k.f32(4);
    x.write(Float32Array.from([1, 1, 1, 1]));
    const y = k.f32(1);
    k.matmul(y, w, x, 1);
    expect(Array.from(y.read())).toEqual([10]);
  } finally {
    k.dispose();
  }
}

describe('the wasm module', () => {
  it('is found with no option, and from wasmBinary, a file: URL and an http URL', async () => {
    await works(await loadKernels({ backend: 'wasm' }));
    await works(await loadKernels({ backend: 'wasm', wasmBinary: new Uint8Array(readFileSync(wasmPath)) }));
    await works(await loadKernels({ backend: 'wasm', wasmUrl: pathToFileURL(wasmPath) }));
    const before = server.requests('/wasm/quant-kernels.wasm').length;
    await works(await loadKernels({ backend: 'wasm', wasmUrl: `${server.origin}/wasm/quant-kernels.wasm` }));
    expect(server.requests('/wasm/quant-kernels.wasm').length - before).toBe(1);
  });

  it('a URL that serves something else or nothing is BACKEND_UNAVAILABLE naming it', async () => {
    for (const [path, why] of [
      ['/pages/wasm-loading.test.ts', /is not a wasm module/],
      ['/wasm/missing.wasm', /HTTP 404/],
    ] as const) {
      const e = await loadKernels({ backend: 'wasm', wasmUrl: `${server.origin}${path}` }).catch(
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(KernelError);
      expect((e as KernelError).code).toBe('BACKEND_UNAVAILABLE');
      expect((e as Error).message).toContain(path);
      expect((e as Error).message).toMatch(why);
    }
  });
});
