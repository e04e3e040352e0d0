/**
 * Node modules used by session files (./session-file.ts), imported on first use. The browser build
 * uses ./node-modules.browser.ts, which imports nothing: saved sessions are files on disk (Node.js).
 */
export async function nodeModules(): Promise<{
  crypto: typeof import('node:crypto');
  fs: typeof import('node:fs/promises');
  path: typeof import('node:path');
}> {
  const [crypto, fs, path] = await Promise.all([
    import('node:crypto'),
    import('node:fs/promises'),
    import('node:path'),
  ]);
  return { crypto, fs, path };
}
