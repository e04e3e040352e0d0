/** Browser build of ./native-host.ts: there is no native addon in a browser; the wasm backend runs. */
import { KernelError } from './errors';
import type { Host, RawBinding } from './raw-binding';

const unavailable = () =>
  new KernelError(
    'BACKEND_UNAVAILABLE',
    "the native addon needs Node.js; in a browser the wasm backend runs (backend: 'auto' or 'wasm')",
  );

export function loadNativeBinding(): RawBinding {
  throw unavailable();
}

export function fileChangedError(path: string, _bits: number, where: string): KernelError {
  return new KernelError('MODEL_FILE_CHANGED', `${where}: the model file ${path} changed`);
}

export function createNativeHost(_binding: RawBinding): Host {
  throw unavailable();
}
