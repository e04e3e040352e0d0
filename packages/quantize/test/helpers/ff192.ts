/**
 * Rebuilds the F32 source of ../shared's stories260K-llama-ff192-* files: stories260K.gguf with its
 * FFN zero-padded from 172 to 192 (gate/up get 20 zero rows, down 20 zero columns per row), which
 * leaves the function unchanged.
 */
import { parseGGUF, writeGGUF } from '@quant/gguf';

export async function writeFf192(src: string, dst: string): Promise<void> {
  const f = await parseGGUF(src);
  const ff = 172;
  const to = 192;
  try {
    await writeGGUF(dst, {
      entries: f.entries.map((e) => ({
        key: e.key,
        type: e.type,
        value: e.key === 'llama.feed_forward_length' ? to : e.value,
      })),
      tensors: f.tensors.map((t) => {
        const isUpGate = /ffn_(gate|up)\.weight$/.test(t.name);
        const isDown = /ffn_down\.weight$/.test(t.name);
        if (!isUpGate && !isDown)
          return { name: t.name, type: t.type, shape: t.shape, data: () => f.readTensorData(t.name) };
        const [c, r] = t.shape as [number, number];
        const shape = isUpGate ? [c, to] : [to, r];
        return {
          name: t.name,
          type: t.type,
          shape,
          data: async () => {
            const bytes = await f.readTensorData(t.name);
            const x = new Float32Array(
              bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
            );
            const out = new Float32Array(shape[0]! * shape[1]!);
            if (isUpGate) out.set(x);
            else for (let i = 0; i < r; i++) out.set(x.subarray(i * ff, (i + 1) * ff), i * to);
            return new Uint8Array(out.buffer);
          },
        };
      }),
    });
  } finally {
    await f.close();
  }
}
