/**
 * The Node modules the file source needs, imported on first use only, with specifiers bundlers leave
 * alone. The package's browser build (dist/browser.js, the "browser" export condition) uses
 * ./node-fs.browser.ts instead, which has no Node import at all.
 */
type FsPromises = typeof import('node:fs/promises');

let fsPromise: Promise<FsPromises> | undefined;

/** node:fs/promises. */
export function loadFs(): Promise<FsPromises> {
  if (fsPromise === undefined) {
    const specifier = 'node:fs/promises';
    fsPromise = import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<FsPromises>;
  }
  return fsPromise;
}

/** A file: URL as a path. */
export async function fileUrlToPath(url: URL): Promise<string> {
  const specifier = 'node:url';
  const mod = (await import(
    /* @vite-ignore */ /* webpackIgnore: true */ specifier
  )) as typeof import('node:url');
  return mod.fileURLToPath(url);
}
