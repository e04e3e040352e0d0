// Every shared GGUF parses, and its metadata and tensor table agree with @huggingface/gguf.
import { basename } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { parseGGUF } from '@quant/gguf';
import { describe, expect, it } from 'vitest';
import { hasShared, sharedGGUFFiles } from './helpers';

function stripBOM(v: unknown): unknown {
  if (typeof v === 'string') return v.startsWith('\uFEFF') ? v.slice(1) : v;
  return Array.isArray(v) ? v.map(stripBOM) : v;
}

describe.skipIf(!hasShared)('shared files agree with @huggingface/gguf', () => {
  for (const path of sharedGGUFFiles()) {
    it(basename(path), async () => {
      const ours = await parseGGUF(path);
      const hf = await gguf(path, { allowLocalFile: true, typedMetadata: true });
      expect(ours.version).toBe(hf.metadata.version);
      expect(Object.keys(ours.metadata).length).toBe(Number(hf.metadata.kv_count));
      expect(ours.tensors.length).toBe(Number(hf.metadata.tensor_count));
      expect(ours.littleEndian).toBe(hf.littleEndian);
      for (const [key, value] of Object.entries(ours.metadata)) {
        const theirs = hf.typedMetadata[key];
        expect(theirs, key).toBeDefined();
        // @huggingface/gguf decodes strings with a BOM-stripping TextDecoder, so a token that is
        // exactly U+FEFF (phi-3, llama-spm) comes back empty there; we keep the file's bytes.
        expect(stripBOM(value), key).toEqual(theirs?.value);
        const t = ours.metadataTypes[key];
        if (typeof t === 'number') expect(t, key).toBe(theirs?.type);
        else {
          expect(theirs?.type, key).toBe(9);
          expect(t?.elementType, key).toBe((theirs as { subType?: number }).subType);
        }
      }
      hf.tensorInfos.forEach((ti, i) => {
        const t = ours.tensors[i];
        expect(t?.name).toBe(ti.name);
        expect(t?.shape).toEqual(ti.shape.map(Number));
        expect(t?.type).toBe(ti.dtype);
        expect(t?.offset).toBe(Number(ti.offset));
        expect(t?.absoluteOffset).toBe(Number(hf.tensorDataOffset + ti.offset));
      });
      if (ours.tensors.length > 0) expect(ours.dataOffset).toBe(Number(hf.tensorDataOffset));
      await ours.close();
    });
  }
});

describe.skipIf(!hasShared)('real quantized files confirm the type table', () => {
  // llama.cpp lays tensors out back to back, each padded to the alignment: the gap between
  // consecutive offsets is the padded byte size, which checks blockSize/typeSize for every type used.
  it('offset gaps equal padded byte sizes', async () => {
    const seen = new Set<string>();
    for (const path of sharedGGUFFiles()) {
      const f = await parseGGUF(path);
      const ts = [...f.tensors].sort((a, b) => a.offset - b.offset);
      ts.forEach((t, i) => {
        const next = ts[i + 1];
        const end = next ? next.offset : (f.fileSize as number) - f.dataOffset;
        expect(end - t.offset, `${basename(path)} ${t.name}`).toBe(
          Math.ceil(t.byteSize / f.alignment) * f.alignment,
        );
        seen.add(t.typeName);
      });
      await f.close();
    }
    expect([...seen].sort()).toEqual(
      expect.arrayContaining(['F16', 'F32', 'Q2_K', 'Q3_K', 'Q4_0', 'Q4_K', 'Q5_K', 'Q6_K', 'Q8_0']),
    );
  });

  it('the v1 file parses with the same content as the v3 original', async () => {
    const v1 = await parseGGUF(
      sharedGGUFFiles().find((p) => p.endsWith('stories260K-gguf-v1.gguf')) as string,
    );
    const v3 = await parseGGUF(sharedGGUFFiles().find((p) => p.endsWith('/stories260K.gguf')) as string);
    expect(v1.version).toBe(1);
    const table = (f: typeof v1) => f.tensors.map((t) => [t.name, t.type, t.shape, t.byteSize]).sort();
    expect(table(v1)).toEqual(table(v3));
    expect(v1.getStringArray('tokenizer.ggml.tokens')).toEqual(v3.getStringArray('tokenizer.ggml.tokens'));
    for (const t of v3.tensors)
      expect(await v1.readTensorData(t.name), t.name).toEqual(await v3.readTensorData(t.name));
  });
});
