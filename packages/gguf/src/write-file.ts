import { GGUFError } from './errors.js';
import { loadFs } from './sources/file.js';
import { encodeGGUFHeader, type GGUFTensorLayout, type GGUFWriteInput, ggufChunks } from './writer.js';

export interface GGUFWriteResult {
  /** Bytes written. */
  size: number;
  dataOffset: number;
  tensors: GGUFTensorLayout[];
}

/**
 * Writes a GGUF v3 file to `destination` (Node.js), streaming tensor by tensor. If anything
 * fails, the partial file is removed.
 */
export async function writeGGUF(destination: string, input: GGUFWriteInput): Promise<GGUFWriteResult> {
  const layout = encodeGGUFHeader(input); // validates everything before the file is created
  const fs = await loadFs();
  let handle: Awaited<ReturnType<typeof fs.open>>;
  try {
    handle = await fs.open(destination, 'w');
  } catch (cause) {
    throw new GGUFError('GGUF_WRITE_ERROR', `cannot create: ${(cause as Error).message}`, {
      file: destination,
      cause,
    });
  }
  let size = 0;
  try {
    for await (const chunk of ggufChunks(input)) {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
        done += bytesWritten;
      }
      size += chunk.length;
    }
    await handle.close();
  } catch (e) {
    await handle.close().catch(() => {});
    await fs.rm(destination, { force: true }).catch(() => {});
    if (e instanceof GGUFError) throw e.withFile(destination);
    throw new GGUFError('GGUF_WRITE_ERROR', `writing failed: ${(e as Error).message}`, {
      file: destination,
      cause: e,
    });
  }
  return { size, dataOffset: layout.dataOffset, tensors: layout.tensors };
}
