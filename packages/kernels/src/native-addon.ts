/**
 * Finding the native addon, in order:
 *  1. `QUANT_KERNELS_ADDON` (an explicit path: tests, ASan builds) — nothing else is tried;
 *  2. the prebuilt platform package `@quant/kernels-<platform>-<arch>` (an optional dependency, so
 *     npm/pnpm/yarn install only the one matching the machine — the esbuild pattern);
 *  3. `build/Release/quant_kernels.node` in this package (the install script's node-gyp build).
 * Each failed step leaves a sentence; when all fail they become the BACKEND_UNAVAILABLE message that
 * `loadKernels()` reports in `fallbackReason` / `backendReason`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REBUILD_ADVICE } from './advice';
import { KernelError } from './errors';
import type { RawBinding } from './raw-binding';

/** The platform packages published with this version (see packages/kernels-prebuilt). */
export const PREBUILT_PLATFORMS = ['linux-x64', 'linux-arm64'] as const;

/** The package root (this file is in src/ or dist/, one level below it). */
function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..');
}

/** `@quant/kernels-linux-x64` for this process (`…-linux-x64-musl` on musl, where no package is published). */
export function prebuiltPackageName(): string {
  const report = (process as { report?: { getReport(): unknown } }).report?.getReport() as
    | { header?: { glibcVersionRuntime?: string } }
    | undefined;
  const musl = process.platform === 'linux' && report !== undefined && !report.header?.glibcVersionRuntime;
  return `@quant/kernels-${process.platform}-${process.arch}${musl ? '-musl' : ''}`;
}

export interface NativeAddon {
  binding: RawBinding;
  path: string;
  /** How it was found, for `backendReason`: e.g. "prebuilt @quant/kernels-linux-x64@1.2.0". */
  source: string;
}

let lastLoaded: string | undefined;

function loadFrom(path: string): RawBinding {
  const require = createRequire(import.meta.url);
  const binding = require(path) as RawBinding;
  lastLoaded = path;
  return binding;
}

/** The addon file last loaded (for messages), else where QUANT_KERNELS_ADDON or the local build would be. */
export function nativeAddonPath(): string {
  return (
    lastLoaded ??
    process.env.QUANT_KERNELS_ADDON ??
    join(packageRoot(), 'build', 'Release', 'quant_kernels.node')
  );
}

/** The install script's record of a failed node-gyp build (scripts/install-native.mjs), if any. */
function installBuildFailure(root: string): string | undefined {
  try {
    const r = JSON.parse(readFileSync(join(root, 'build', 'install-native.json'), 'utf8')) as {
      ok?: boolean;
      error?: string;
    };
    return r.ok === false && typeof r.error === 'string' ? r.error : undefined;
  } catch {
    return undefined;
  }
}

/** Loads the native addon or throws KernelError('BACKEND_UNAVAILABLE') saying what was tried and what to do. */
export function loadNativeAddon(): NativeAddon {
  const explicit = process.env.QUANT_KERNELS_ADDON;
  if (explicit) {
    if (!existsSync(explicit))
      throw new KernelError(
        'BACKEND_UNAVAILABLE',
        `native addon not found at ${explicit} (QUANT_KERNELS_ADDON); unset it to use the installed addon, or use backend 'wasm'`,
      );
    try {
      return { binding: loadFrom(explicit), path: explicit, source: `QUANT_KERNELS_ADDON=${explicit}` };
    } catch (e) {
      throw new KernelError(
        'BACKEND_UNAVAILABLE',
        `native addon at ${explicit} (QUANT_KERNELS_ADDON) failed to load: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  const why: string[] = [];
  let lastError: unknown;
  // 1. The prebuilt platform package.
  const pkg = prebuiltPackageName();
  const require = createRequire(import.meta.url);
  let pkgDir: string | undefined;
  try {
    pkgDir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    why.push(
      (PREBUILT_PLATFORMS as readonly string[]).includes(pkg.slice('@quant/kernels-'.length))
        ? `the prebuilt addon ${pkg} is not installed (optional dependencies omitted?)`
        : `no prebuilt addon for this platform (${process.platform}-${process.arch}; published: ${PREBUILT_PLATFORMS.join(', ')})`,
    );
  }
  if (pkgDir !== undefined) {
    const path = join(pkgDir, 'quant_kernels.node');
    let version = '';
    try {
      version = `@${(JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version}`;
    } catch {
      /* the version only decorates the message */
    }
    if (!existsSync(path)) why.push(`the prebuilt package ${pkg} has no addon at ${path}`);
    else {
      try {
        return { binding: loadFrom(path), path, source: `prebuilt ${pkg}${version}` };
      } catch (e) {
        lastError = e;
        why.push(`the prebuilt addon ${path} failed to load (${(e as Error).message.split('\n')[0]})`);
      }
    }
  }
  // 2. The addon node-gyp built in this package on install.
  const root = packageRoot();
  const built = join(root, 'build', 'Release', 'quant_kernels.node');
  if (existsSync(built)) {
    try {
      return { binding: loadFrom(built), path: built, source: `built on install (${built})` };
    } catch (e) {
      lastError = e;
      why.push(`the built addon ${built} failed to load (${(e as Error).message.split('\n')[0]})`);
    }
  } else {
    const failure = installBuildFailure(root);
    why.push(
      failure !== undefined
        ? `the build failed: ${failure}`
        : `no addon was built (native addon not found at ${built}; install scripts skipped or not approved — pnpm: \`pnpm approve-builds\`)`,
    );
  }
  throw new KernelError('BACKEND_UNAVAILABLE', `${why.join(' and ')}; ${REBUILD_ADVICE}`, {
    ...(lastError !== undefined ? { cause: lastError } : {}),
  });
}
