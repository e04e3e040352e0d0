// Quantization streams: each tensor is produced only after every earlier tensor is on disk, one
// tensor at a time, and large tensors are read in row slabs.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGGUFHeader, parseGGUF } from '@quant/gguf';
import { liveTemporaryOutputs, outputMetadata, quantizeModel } from '@quant/quantize';
import { afterAll, describe, expect, it } from 'vitest';
import { SMALL, syntheticModel } from './helpers/synthetic.js';
import { writeSynthetic } from './helpers/write-synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'quant-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('streaming', () => {
  it('writes tensor k only after tensors 0..k-1 are on disk, and holds one tensor at a time', async () => {
    const src = join(dir, 'f16.gguf');
    const out = join(dir, 'q4km.gguf');
    await writeSynthetic(src, syntheticModel('llama', { ...SMALL, nLayer: 6 }));
    const input = await parseGGUF(src);
    const sizeOnDisk: number[] = [];
    const names: string[] = [];
    const r = await quantizeModel(src, out, {
      type: 'Q4_K_M',
      threads: 2,
      // Small slabs: big tensors are read and converted in several steps.
      slabBytes: 64 * 256 * 4,
      onProgress(done, total, name) {
        expect(total).toBe(input.tensors.length);
        expect(done).toBe(names.length + 1);
        names.push(name);
        // The bytes go to a temporary file; the output path appears only when the file is complete.
        const temps = liveTemporaryOutputs();
        expect(temps).toHaveLength(1);
        expect(existsSync(out)).toBe(false);
        sizeOnDisk.push(statSync(temps[0] as string).size);
      },
    });
    // The layout the writer used (offsets of every tensor in the output).
    const layout = encodeGGUFHeader({
      entries: outputMetadata(input.entries, r.plan.ftype),
      alignment: input.alignment,
      tensors: r.plan.tensors.map((t) => ({ name: t.name, type: t.targetType, shape: t.shape })),
    });
    await input.close();
    expect(names).toEqual(r.plan.tensors.map((t) => t.name));
    for (let k = 0; k < names.length; k++) {
      const prev = layout.tensors[k - 1];
      const mustBeWritten =
        prev === undefined ? layout.dataOffset : layout.dataOffset + prev.offset + prev.byteSize;
      // When tensor k is ready, everything before it has already been written to the file.
      expect(sizeOnDisk[k], names[k]).toBeGreaterThanOrEqual(mustBeWritten);
      // …and nothing of tensor k itself yet (it is handed to the writer after this callback).
      expect(sizeOnDisk[k], names[k]).toBeLessThanOrEqual(
        layout.dataOffset + (layout.tensors[k]?.offset ?? 0),
      );
    }
    expect(r.peakTensorsInFlight).toBe(1);
    // The most bytes held at once stay near the largest single tensor, far below the model.
    const largestSource = Math.max(...r.plan.tensors.map((t) => t.sourceBytes));
    const largestTarget = Math.max(...r.plan.tensors.map((t) => t.targetBytes));
    expect(r.peakTensorBytes).toBeLessThanOrEqual(largestSource + largestTarget + 64 * 256 * 4 * 3);
    expect(r.peakTensorBytes).toBeLessThan(r.plan.sourceBytes / 5);
    expect(statSync(out).size).toBe(layout.totalSize);
  });

  it('slab size does not change the output', async () => {
    const src = join(dir, 'f16b.gguf');
    await writeSynthetic(src, syntheticModel('phi3'));
    const a = join(dir, 'a.gguf');
    const b = join(dir, 'b.gguf');
    const ra = await quantizeModel(src, a, { type: 'Q6_K', threads: 1, slabBytes: 1 });
    const rb = await quantizeModel(src, b, { type: 'Q6_K', threads: 2 });
    expect(ra.parallelism).toBe('single-thread');
    // Worker threads load @quant/kernels from its build (turbo builds it before the tests).
    // (on a one-CPU machine threads are clamped to 1).
    if (existsSync(join(__dirname, '../../kernels/dist/index.js')) && availableParallelism() >= 2) {
      expect(rb.parallelism, rb.note).toBe('worker_threads');
      expect(rb.threads).toBe(2);
    }
    const fa = await parseGGUF(a);
    const fb = await parseGGUF(b);
    for (const t of fa.tensors)
      expect(Buffer.compare(await fa.readTensorData(t.name), await fb.readTensorData(t.name)), t.name).toBe(
        0,
      );
    await fa.close();
    await fb.close();
  });
});
