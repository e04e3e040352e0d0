// Re-writing a parsed v3 file reproduces it byte for byte: every shared file, and synthetic ones.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type GGUFFile, parseGGUF, serializeGGUF, writeGGUF } from '@quant/gguf';
import { afterAll, describe, expect, it } from 'vitest';
import { hasShared, sharedGGUFFiles } from './helpers';
import { everyTypeMetadata, everyTypeTensors } from './synthetic';

const tmp = mkdtempSync(join(tmpdir(), 'gguf-rt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function rewriteToFile(f: GGUFFile, dest: string): Promise<Buffer> {
  await writeGGUF(dest, f); // a parsed file is a valid writer input (entries, types, tensors, readTensorData)
  return readFileSync(dest);
}

describe.skipIf(!hasShared)('byte-exact round trip of shared v3 files', () => {
  for (const path of sharedGGUFFiles()) {
    it(basename(path), async () => {
      const orig = readFileSync(path);
      const f = await parseGGUF(path);
      if (f.version !== 3) {
        expect(f.version).toBe(1); // the v1 file: rewritten as v3, same content
        const again = await parseGGUF(await rewriteToFile(f, join(tmp, basename(path))));
        expect(again.version).toBe(3);
        expect(again.metadata).toEqual(f.metadata);
        return;
      }
      const out = await rewriteToFile(f, join(tmp, basename(path)));
      expect(out.length).toBe(orig.length);
      expect(out.equals(orig)).toBe(true);
      await f.close();
    });
  }
});

describe('byte-exact round trip of synthetic files', () => {
  it('every metadata type and every tensor type', async () => {
    const bytes = serializeGGUF({ metadata: everyTypeMetadata(), tensors: everyTypeTensors() });
    const f = await parseGGUF(bytes);
    const tensors = await Promise.all(
      f.tensors.map(async (t) => ({ ...t, data: await f.readTensorData(t.name) })),
    );
    const again = serializeGGUF({ entries: f.entries, tensors });
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    // The record form works too: metadata plus the parallel record of declared types.
    const fromRecords = serializeGGUF({ metadata: f.metadata, metadataTypes: f.metadataTypes, tensors });
    expect(Buffer.from(fromRecords).equals(Buffer.from(bytes))).toBe(true);
    // The streaming file writer produces the same bytes.
    const dest = join(tmp, 'synthetic.gguf');
    await writeGGUF(dest, f);
    expect(readFileSync(dest).equals(Buffer.from(bytes))).toBe(true);
  });

  it('big-endian files round trip too', async () => {
    const bytes = serializeGGUF({
      metadata: everyTypeMetadata(),
      tensors: everyTypeTensors(3),
      littleEndian: false,
    });
    const f = await parseGGUF(bytes);
    expect(f.littleEndian).toBe(false);
    const again = serializeGGUF({
      ...f,
      tensors: await Promise.all(
        f.tensors.map(async (t) => ({ ...t, data: await f.readTensorData(t.name) })),
      ),
    });
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it('custom alignment and a version-2 file', async () => {
    const bytes = serializeGGUF({
      version: 2,
      metadata: { 'general.alignment': 64, 'general.architecture': 'x' },
      tensors: everyTypeTensors(5).slice(0, 6),
    });
    const f = await parseGGUF(bytes);
    expect(f.version).toBe(2);
    expect(f.alignment).toBe(64);
    expect(f.dataOffset % 64).toBe(0);
    for (const t of f.tensors) expect(t.offset % 64).toBe(0);
    const again = serializeGGUF({
      ...f,
      tensors: await Promise.all(
        f.tensors.map(async (t) => ({ ...t, data: await f.readTensorData(t.name) })),
      ),
    });
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });
});
