/** `quant inspect <file|url>`: @quant/gguf's inspector (the same report as its `gguf inspect`). */
import { formatInspect, inspectJSON, parseGGUF } from '@quant/gguf';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { checkInputFile } from '../load.js';
import { out } from '../terminal.js';

export interface InspectFlags {
  json?: boolean;
  tensors?: boolean;
  full?: boolean;
}

export async function inspectCommand(target: string, flags: InspectFlags): Promise<ExitCode> {
  const isUrl = /^https?:\/\//i.test(target);
  if (!isUrl) checkInputFile(target, 'GGUF');
  const file = await parseGGUF(target);
  try {
    const text = flags.json
      ? JSON.stringify(
          inspectJSON(file, { tensors: flags.tensors ?? false, maxArrayItems: flags.full ? 0 : 16 }),
          null,
          2,
        )
      : formatInspect(file, { tensors: flags.tensors ?? false });
    await out(`${text}\n`);
  } finally {
    await file.close();
  }
  return EXIT.OK;
}
