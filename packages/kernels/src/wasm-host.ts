import { KernelError } from './errors';
import type { Host } from './raw-binding';

export async function createWasmHost(): Promise<Host> {
  throw new KernelError('BACKEND_UNAVAILABLE', 'wasm backend not built yet');
}
