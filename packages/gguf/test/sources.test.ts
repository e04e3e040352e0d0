// Sources: path (positioned reads, offsets past 4 GiB), file: URL, bytes, ArrayBuffer, Blob and
// http(s) with Range requests against a local server.
import {
  closeSync,
  createReadStream,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gguf } from '@huggingface/gguf';
import { encodeGGUFHeader, GGMLType, GGUFError, parseGGUF, serializeGGUF } from '@quant/gguf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasShared, rng, vocabDir } from './helpers';
import { everyTypeMetadata, everyTypeTensors } from './synthetic';

const tmp = mkdtempSync(join(tmpdir(), 'gguf-src-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A synthetic model: a vocab-sized header and 4 MiB of tensor data. */
function syntheticModel(): Uint8Array {
  const r = rng(42);
  const tokens = Array.from({ length: 5000 }, (_, i) => `tok_${i}_${Math.floor(r() * 1e6)}`);
  const big = new Uint8Array(4 << 20);
  for (let i = 0; i < big.length; i += 4093) big[i] = i & 255;
  return serializeGGUF({
    metadata: { ...everyTypeMetadata(), 'tokenizer.ggml.tokens': tokens },
    tensors: [...everyTypeTensors(9), { name: 'big', type: GGMLType.F32, shape: [1024, 1024], data: big }],
  });
}

const model = syntheticModel();
const modelPath = join(tmp, 'model.gguf');
writeFileSync(modelPath, model);

interface Served {
  url: string;
  bytes: () => number;
  requests: () => number;
  close: () => Promise<void>;
}

/** Serves one file on 127.0.0.1, with or without Range support, counting bytes sent. */
async function serve(path: string, mode: 'range' | 'plain' | 'capped' | 'unknown-size'): Promise<Served> {
  const ranges = mode !== 'plain';
  let sent = 0;
  let requests = 0;
  const size = statSync(path).size;
  const server: Server = createServer((req, res) => {
    requests++;
    if (req.url !== '/model.gguf') {
      res.writeHead(404).end('not found');
      return;
    }
    const m = ranges ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
    let start = 0;
    let end = size - 1;
    if (m) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (mode === 'capped') end = Math.min(end, start + 32767); // at most 32 KiB per response
      if (start >= size) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, {
        'Content-Range': `bytes ${start}-${end}/${mode === 'unknown-size' ? '*' : size}`,
        'Content-Length': end - start + 1,
        'Accept-Ranges': 'bytes',
      });
    } else {
      res.writeHead(200, { 'Content-Length': size });
    }
    const stream = createReadStream(path, { start, end, highWaterMark: 16384 });
    stream.on('data', (c) => {
      sent += (c as Buffer).length;
    });
    stream.pipe(res);
    res.on('close', () => stream.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/model.gguf`,
    bytes: () => sent,
    requests: () => requests,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

describe('in-memory sources', () => {
  it('Uint8Array, ArrayBuffer, a Buffer view with an offset, and Blob agree', async () => {
    const a = await parseGGUF(model);
    const ab = await parseGGUF(model.slice().buffer);
    const padded = Buffer.alloc(model.length + 7);
    padded.set(model, 7);
    const view = await parseGGUF(padded.subarray(7));
    const blob = await parseGGUF(new Blob([model as Uint8Array<ArrayBuffer>]));
    for (const f of [ab, view, blob]) {
      expect(f.metadata).toEqual(a.metadata);
      expect(f.tensors).toEqual(a.tensors);
      const big = await f.readTensorData('big');
      expect(big.constructor).toBe(Uint8Array);
      expect(Buffer.compare(big, await a.readTensorData('big'))).toBe(0);
    }
    // The Blob source read the header only, plus the one tensor asked for.
    expect(blob.bytesRead).toBeLessThanOrEqual(Math.max(1 << 20, blob.dataOffset * 2) + (4 << 20));
  });
});

describe('path source', () => {
  it('reads only the header, then single tensors on demand; file: URLs work too', async () => {
    const f = await parseGGUF(modelPath, { initialReadBytes: 4096 });
    expect(f.bytesRead).toBeLessThanOrEqual(Math.max(4096, 2 * f.dataOffset));
    expect(f.bytesRead).toBeLessThan(model.length / 4);
    const t = f.requireTensor('t.q4_k.10');
    const before = f.bytesRead;
    const data = await f.readTensorData(t.name);
    expect(f.bytesRead - before).toBe(t.byteSize);
    expect(
      Buffer.from(data).equals(Buffer.from(model.subarray(t.absoluteOffset, t.absoluteOffset + t.byteSize))),
    ).toBe(true);
    await f.close();
    await expect(f.readTensorData(t.name)).rejects.toMatchObject({ code: 'GGUF_CLOSED' });
    const u = await parseGGUF(pathToFileURL(modelPath));
    expect(u.tensors.length).toBe(f.tensors.length);
    await u.close();
  });

  it('offsets beyond 4 GiB (sparse 5 GiB file)', async () => {
    const path = join(tmp, 'sparse.gguf');
    const fourGiB = 2 ** 32;
    const tensors = [
      { name: 'pad', type: GGMLType.I8, shape: [fourGiB + 1024] },
      { name: 'far', type: GGMLType.F32, shape: [8] },
    ];
    const {
      header,
      tensors: layout,
      totalSize,
    } = encodeGGUFHeader({ metadata: { 'general.architecture': 'test' }, tensors });
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, header, 0, header.length, 0);
      ftruncateSync(fd, totalSize);
      const far = layout[1] as { offset: number };
      const payload = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8.5]).buffer);
      writeSync(fd, payload, 0, payload.length, header.length + far.offset);
    } finally {
      closeSync(fd);
    }
    const f = await parseGGUF(path);
    const t = f.requireTensor('far');
    expect(t.absoluteOffset).toBeGreaterThan(fourGiB);
    expect(f.fileSize).toBe(totalSize);
    expect(f.bytesRead).toBeLessThan(1 << 21);
    expect(Array.from(new Float32Array((await f.readTensorData('far')).slice().buffer))).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8.5,
    ]);
    await f.close();
    rmSync(path);
  });

  it('missing files and directories are GGUF_SOURCE_ERROR naming the path', async () => {
    await expect(parseGGUF(join(tmp, 'nope.gguf'))).rejects.toMatchObject({
      code: 'GGUF_SOURCE_ERROR',
      file: join(tmp, 'nope.gguf'),
    });
    await expect(parseGGUF(tmp)).rejects.toBeInstanceOf(GGUFError);
  });
});

describe('http source', () => {
  let ranged: Served;
  let plain: Served;
  beforeAll(async () => {
    ranged = await serve(modelPath, 'range');
    plain = await serve(modelPath, 'plain');
  });
  afterAll(async () => {
    await ranged.close();
    await plain.close();
  });

  it('fetches only as many bytes as the header needs, then exactly one tensor', async () => {
    const f = await parseGGUF(ranged.url);
    const local = await parseGGUF(model);
    expect(f.metadata).toEqual(local.metadata);
    expect(f.tensors).toEqual(local.tensors);
    expect(f.fileSize).toBe(model.length);
    // Prefix doubling from 64 KiB: never more than twice the header (or the first 64 KiB).
    expect(ranged.bytes()).toBe(f.bytesRead);
    expect(ranged.bytes()).toBeLessThanOrEqual(Math.max(65536, 2 * f.dataOffset));
    expect(ranged.bytes()).toBeGreaterThanOrEqual(f.headerSize);
    const before = ranged.bytes();
    const big = await f.readTensorData('big');
    expect(ranged.bytes() - before).toBe(4 << 20);
    expect(Buffer.from(big).equals(Buffer.from(await local.readTensorData('big')))).toBe(true);
  });

  it('a server that ignores Range still works (body cancelled after the prefix)', async () => {
    const f = await parseGGUF(plain.url);
    expect(f.tensors.length).toBe(everyTypeTensors(9).length + 1);
    expect(Buffer.from(await f.readTensorData('t.q8_0.6')).length).toBe(f.requireTensor('t.q8_0.6').byteSize);
  });

  it('servers that cap range sizes or hide the total size', async () => {
    const local = await parseGGUF(model);
    for (const mode of ['capped', 'unknown-size'] as const) {
      const s = await serve(modelPath, mode);
      try {
        const f = await parseGGUF(s.url);
        expect(f.tensors, mode).toEqual(local.tensors);
        expect(f.fileSize, mode).toBe(mode === 'capped' ? model.length : undefined);
        const t = f.requireTensor('t.q6_k.12');
        expect(Buffer.compare(await f.readTensorData(t.name), await local.readTensorData(t.name)), mode).toBe(
          0,
        );
        expect((await f.readTensorData('big')).length, mode).toBe(4 << 20);
      } finally {
        await s.close();
      }
    }
  });

  it('HTTP errors are GGUF_SOURCE_ERROR with the URL', async () => {
    const url = ranged.url.replace('model.gguf', 'missing.gguf');
    await expect(parseGGUF(url)).rejects.toMatchObject({ code: 'GGUF_SOURCE_ERROR', file: url });
    await expect(parseGGUF('http://127.0.0.1:1/x.gguf')).rejects.toMatchObject({ code: 'GGUF_SOURCE_ERROR' });
  });

  it.skipIf(!hasShared)('the phi-3 vocab over HTTP equals the local parse', async () => {
    const s = await serve(join(vocabDir, 'ggml-vocab-phi-3.gguf'), 'range');
    try {
      const remote = await parseGGUF(s.url);
      const local = await parseGGUF(join(vocabDir, 'ggml-vocab-phi-3.gguf'));
      expect(remote.metadata).toEqual(local.metadata);
      expect(s.bytes()).toBeLessThanOrEqual(2 * local.dataOffset);
    } finally {
      await s.close();
    }
  });
});

describe('big-endian files', () => {
  it('are read, and @huggingface/gguf reads our big-endian output the same way', async () => {
    const bytes = serializeGGUF({
      metadata: everyTypeMetadata(),
      tensors: everyTypeTensors(4),
      littleEndian: false,
    });
    const path = join(tmp, 'be.gguf');
    writeFileSync(path, bytes);
    const f = await parseGGUF(path);
    const hf = await gguf(path, { allowLocalFile: true });
    expect(f.littleEndian).toBe(false);
    expect(hf.littleEndian).toBe(false);
    for (const [k, v] of Object.entries(f.metadata)) {
      if (k === 't.string.bom') continue; // @huggingface/gguf strips a leading BOM when decoding
      expect(v, k).toEqual((hf.metadata as Record<string, unknown>)[k]);
    }
    expect(f.tensors.map((t) => t.offset)).toEqual(hf.tensorInfos.map((t) => Number(t.offset)));
    expect(readFileSync(path).subarray(4, 8)).toEqual(Buffer.from([0, 0, 0, 3]));
    await f.close();
  });
});
