/** Browser build of ./native-addon.ts: there is no native addon in a browser; the wasm backend runs. */
import { KernelError } from './errors';
import type { RawBinding } from './raw-binding';

export const PREBUILT_PLATFORMS = ['linux-x64', 'linux-arm64'] as const;

export interface NativeAddon {
  binding: RawBinding;
  path: string;
  source: string;
}

const unavailable = () =>
  new KernelError(
    'BACKEND_UNAVAILABLE',
    "the native addon needs Node.js; in a browser the wasm backend runs (backend: 'auto' or 'wasm')",
  );

export function prebuiltPackageName(): string {
  throw unavailable();
}

export function nativeAddonPath(): string {
  return '(no native addon in a browser)';
}

export function loadNativeAddon(): NativeAddon {
  throw unavailable();
}
