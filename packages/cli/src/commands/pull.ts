/** `quant pull <model>`: download a model (a registry name, hf: reference or URL) into the cache. */
import { EXIT, type ExitCode } from '../exit-codes.js';
import { formatBytes, out } from '../terminal.js';
import { type HubFlags, resolveModelArg } from './hub.js';

export interface PullFlags extends HubFlags {
  json?: boolean;
}

export async function pullCommand(model: string, flags: PullFlags): Promise<ExitCode> {
  const r = await resolveModelArg(model, { ...flags, quiet: flags.quiet || flags.json }, { refresh: true });
  if (flags.json) {
    await out(`${JSON.stringify(r, null, 2)}\n`);
    return EXIT.OK;
  }
  const what = r.alias ? `${r.alias} → ${r.reference}` : r.reference;
  const how = r.downloadedBytes > 0 ? `downloaded ${formatBytes(r.downloadedBytes)}` : 'already in the cache';
  const parts = r.split ? ` (${r.split.count} parts)` : '';
  await out(`${what}${parts}: ${formatBytes(r.size)}, ${how}\n${r.path}\n`);
  return EXIT.OK;
}
