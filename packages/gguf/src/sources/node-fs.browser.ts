/** Browser build of ./node-fs.ts: there is no file system to read paths from. */
type FsPromises = typeof import('node:fs/promises');

export function loadFs(): Promise<FsPromises> {
  return Promise.reject(new Error('there is no file system in a browser'));
}

export function fileUrlToPath(url: URL): Promise<string> {
  return Promise.reject(new Error(`file: URLs (${url.href}) cannot be read in a browser`));
}
