/** Browser build of ./hub.ts: `hf:` references need the Hugging Face cache on a file system. */
import type { HubOptions } from '@quant/hub';
import { QuantRuntimeError } from './errors.js';

export async function resolveHubFiles(
  reference: string,
  _options: HubOptions | undefined,
): Promise<string[]> {
  throw new QuantRuntimeError(
    'INVALID_OPTION',
    `${reference}: hf: references are resolved through the Hugging Face cache on disk, which needs Node.js. In a browser pass the file's https URL (https://huggingface.co/<owner>/<repo>/resolve/main/<file>.gguf), a File/Blob or its bytes.`,
  );
}
