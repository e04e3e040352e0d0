/** Fetching the wasm module (browsers, and http(s) `wasmUrl`s in Node). No Node imports. */
import { KernelError } from './errors';

export interface WasmLocation {
  /** What the compiled module is cached under (a path or URL). */
  key: string;
  load(): Promise<Uint8Array>;
}

export async function fetchWasmBytes(url: string | URL, hint = ''): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `could not fetch the wasm module from ${String(url)}: ${(e as Error).message}${hint}`,
      { cause: e },
    );
  }
  if (!res.ok)
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `could not fetch the wasm module from ${String(url)}: HTTP ${res.status}${hint}`,
    );
  const bytes = new Uint8Array(await res.arrayBuffer());
  // "\0asm": anything else (an HTML page a dev server answers for unknown paths) is not the module.
  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d)
    throw new KernelError(
      'BACKEND_UNAVAILABLE',
      `${String(url)} is not a wasm module (it does not start with \\0asm; ${res.headers.get('content-type') ?? 'no content type'})${hint}`,
    );
  return bytes;
}
