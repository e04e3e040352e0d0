/**
 * Writes a GGUF as a split set the way llama.cpp's `llama-gguf-split --split` does: part i is
 * `<base>-0000i-of-0000N.gguf`; the first part holds every metadata key of the original plus
 * `split.no` (u16), `split.count` (u16) and `split.tensors.count` (i32); the others hold only the
 * split keys; the tensors, in file order, are spread over the parts.
 */
import { join } from 'node:path';
import { parseGGUF, typed, writeGGUF } from '@quant/gguf';

export async function writeSplitGGUF(
  source: string,
  outDir: string,
  base: string,
  parts: number,
): Promise<string[]> {
  const file = await parseGGUF(source);
  try {
    const n = file.tensors.length;
    if (parts < 2 || parts > n) throw new Error(`writeSplitGGUF: ${parts} parts for ${n} tensors`);
    const pad = (i: number) => String(i).padStart(5, '0');
    const paths: string[] = [];
    for (let p = 0; p < parts; p++) {
      const tensors = file.tensors.slice(Math.floor((p * n) / parts), Math.floor(((p + 1) * n) / parts));
      const split = {
        'split.no': typed.u16(p),
        'split.count': typed.u16(parts),
        'split.tensors.count': typed.i32(n),
      };
      const path = join(outDir, `${base}-${pad(p + 1)}-of-${pad(parts)}.gguf`);
      await writeGGUF(path, {
        ...(p === 0
          ? {
              entries: [
                ...file.entries.map((e) => ({ key: e.key, type: e.type, value: e.value })),
                ...Object.entries(split).map(([key, value]) => ({ key, value })),
              ],
            }
          : { metadata: split }),
        alignment: file.alignment,
        tensors: await Promise.all(
          tensors.map(async (t) => ({
            name: t.name,
            type: t.type,
            shape: t.shape,
            data: await file.readTensorData(t.name),
          })),
        ),
      });
      paths.push(path);
    }
    return paths;
  } finally {
    await file.close();
  }
}
