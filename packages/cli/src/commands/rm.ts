/** `quant rm <model>`: remove a model from the cache (blobs another snapshot uses are kept). */
import { removeCachedModel } from '@quant/hub';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { formatBytes, out } from '../terminal.js';

export interface RmFlags {
  json?: boolean;
}

export async function rmCommand(model: string, flags: RmFlags): Promise<ExitCode> {
  const r = await removeCachedModel(model);
  if (flags.json) {
    await out(`${JSON.stringify(r, null, 2)}\n`);
    return EXIT.OK;
  }
  await out(`${r.removed.map((x) => `removed ${x}`).join('\n')}\nfreed ${formatBytes(r.freedBytes)}\n`);
  return EXIT.OK;
}
