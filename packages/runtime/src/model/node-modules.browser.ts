/** Browser build of ./node-modules.ts: session files are files on disk, which needs Node.js. */
import { QuantRuntimeError } from '../errors.js';

export async function nodeModules(): Promise<{
  crypto: typeof import('node:crypto');
  fs: typeof import('node:fs/promises');
  path: typeof import('node:path');
}> {
  throw new QuantRuntimeError(
    'INVALID_OPTION',
    'Saving and loading session files needs Node.js (a file system); it is not available in a browser.',
  );
}
