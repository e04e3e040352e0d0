// Issue 16: the HTTP source calls fetch as browsers require (no "Illegal invocation"), passes
// headers given as Headers or pairs, reads many tensors in few large ranges (readTensorsData), and
// split GGUF sets (llama-gguf-split layout) parse into one file whose tensors read from their part.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assembleGGUFSplit,
  GGMLType,
  GGUFError,
  type GGUFFile,
  parseGGUF,
  parseGGUFSplit,
  serializeGGUF,
  splitPartNames,
  typed,
} from '@quant/gguf';
import { afterAll, describe, expect, it } from 'vitest';

const tmp = mkdtempSync(join(tmpdir(), 'gguf-ranges-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 40 tensors of 1000 floats (t_i[k] = i·1000 + k) and a 3 MiB one. */
function tensors() {
  const list = Array.from({ length: 40 }, (_, i) => ({
    name: `t${i}`,
    type: GGMLType.F32,
    shape: [1000],
    data: new Uint8Array(Float32Array.from({ length: 1000 }, (_, k) => i * 1000 + k).buffer),
  }));
  list.push({
    name: 'big',
    type: GGMLType.F32,
    shape: [768 * 1024],
    data: new Uint8Array(3 * 2 ** 20).fill(7),
  });
  return list;
}
const bytes = serializeGGUF({
  metadata: { 'general.architecture': 'test', 'test.n': 40 },
  tensors: tensors(),
});

/** A fetch that behaves like a browser's: it throws unless called as a plain function (or on globalThis). */
function browserLikeFetch(log: { range: string | null; auth: string | null }[]): typeof fetch {
  return function fetchLike(this: unknown, _input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    if (this !== undefined && this !== globalThis)
      return Promise.reject(new TypeError("Failed to execute 'fetch' on 'Window': Illegal invocation"));
    const h = new Headers(init?.headers);
    log.push({ range: h.get('range'), auth: h.get('authorization') });
    const m = /^bytes=(\d+)-(\d+)$/.exec(h.get('range') ?? '');
    if (!m) return Promise.resolve(new Response(bytes.slice(), { status: 200 }));
    const start = Number(m[1]);
    const end = Math.min(Number(m[2]), bytes.length - 1);
    return Promise.resolve(
      new Response(bytes.slice(start, end + 1), {
        status: 206,
        headers: { 'content-range': `bytes ${start}-${end}/${bytes.length}` },
      }),
    );
  } as typeof fetch;
}

describe('http source in a browser-like environment', () => {
  it('the global fetch is called as a plain function (a browser throws "Illegal invocation" otherwise)', async () => {
    const log: { range: string | null; auth: string | null }[] = [];
    const saved = globalThis.fetch;
    globalThis.fetch = browserLikeFetch(log);
    try {
      const f = await parseGGUF('http://127.0.0.1:9/model.gguf', {
        headers: new Headers({ Authorization: 'Bearer x' }),
      });
      expect(f.tensors.length).toBe(41);
      expect(Array.from(new Float32Array((await f.readTensorData('t3')).slice().buffer).slice(0, 2))).toEqual(
        [3000, 3001],
      );
      expect(log.every((l) => l.auth === 'Bearer x')).toBe(true);
    } finally {
      globalThis.fetch = saved;
    }
  });

  it('readTensorsData reads all tensors in one range request per 32 MiB, each tensor exact', async () => {
    const log: { range: string | null; auth: string | null }[] = [];
    const f = await parseGGUF('http://127.0.0.1:9/model.gguf', {
      fetch: browserLikeFetch(log),
      headers: [['authorization', 'y']],
    });
    const headerRequests = log.length;
    const local = await parseGGUF(bytes);
    const seen: string[] = [];
    for await (const { name, data } of f.readTensorsData()) {
      seen.push(name);
      expect(Buffer.compare(data, await local.readTensorData(name)), name).toBe(0);
    }
    expect(seen.sort()).toEqual(local.tensors.map((t) => t.name).sort());
    // 41 tensors, 3.2 MiB: one request (one per tensor before readTensorsData existed).
    expect(log.length - headerRequests).toBe(1);
    expect(log.every((l) => l.auth === 'y')).toBe(true);
    // A smaller range size splits the reads, never a tensor.
    const before = log.length;
    const some = ['t39', 't0', 't1', 'big'];
    const got: string[] = [];
    for await (const { name, data, info } of f.readTensorsData(some, { maxRangeBytes: 8000 })) {
      got.push(name);
      expect(data.length).toBe(info.byteSize);
    }
    expect(got).toEqual(['t0', 't1', 't39', 'big']);
    expect(log.length - before).toBe(3); // t0+t1 (8000 bytes), t39, big (alone, larger than the range)
  });
});

/** A split set written as llama-gguf-split does: metadata in part 1, split.* keys in every part. */
function splitSet(count: number): Uint8Array[] {
  const all = tensors();
  return Array.from({ length: count }, (_, p) => {
    const mine = all.slice(Math.floor((p * all.length) / count), Math.floor(((p + 1) * all.length) / count));
    const split = {
      'split.no': typed.u16(p),
      'split.count': typed.u16(count),
      'split.tensors.count': typed.i32(all.length),
    };
    return serializeGGUF({
      metadata: p === 0 ? { 'general.architecture': 'test', 'test.n': 40, ...split } : split,
      tensors: mine,
    });
  });
}

describe('split GGUF sets', () => {
  it('split names: every part from any one of them, query strings kept', () => {
    expect(splitPartNames('/m/x-Q4_K_M-00002-of-00003.gguf')).toEqual([
      '/m/x-Q4_K_M-00001-of-00003.gguf',
      '/m/x-Q4_K_M-00002-of-00003.gguf',
      '/m/x-Q4_K_M-00003-of-00003.gguf',
    ]);
    expect(splitPartNames('https://h/x-00001-of-00002.gguf?download=1')).toEqual([
      'https://h/x-00001-of-00002.gguf?download=1',
      'https://h/x-00002-of-00002.gguf?download=1',
    ]);
    expect(splitPartNames('x.gguf')).toBeUndefined();
    expect(splitPartNames('x-00004-of-00003.gguf')).toBeUndefined();
  });

  it('parts in any order (bytes, Blobs, paths) read as the unsplit file', async () => {
    const parts = splitSet(3);
    const paths = parts.map((p, i) => {
      const path = join(tmp, `s-0000${i + 1}-of-00003.gguf`);
      writeFileSync(path, p);
      return path;
    });
    const local = await parseGGUF(bytes);
    const inputs: [string, Parameters<typeof parseGGUFSplit>[0]][] = [
      ['bytes', parts],
      ['reversed blobs', [...parts].reverse().map((p) => new Blob([p as Uint8Array<ArrayBuffer>]))],
      ['paths', [paths[1], paths[2], paths[0]] as string[]],
    ];
    for (const [what, input] of inputs) {
      const f = await parseGGUFSplit(input);
      expect(f.parts.length, what).toBe(3);
      expect(f.metadata['test.n'], what).toBe(40);
      expect(f.tensors.map((t) => t.name).sort(), what).toEqual(local.tensors.map((t) => t.name).sort());
      for (const t of ['t0', 't20', 'big']) {
        expect(Buffer.compare(await f.readTensorData(t), await local.readTensorData(t)), `${what} ${t}`).toBe(
          0,
        );
      }
      let n = 0;
      for await (const { name, data } of f.readTensorsData()) {
        expect(Buffer.compare(data, await local.readTensorData(name)), `${what} ${name}`).toBe(0);
        n++;
      }
      expect(n).toBe(41);
      expect(f.fileSize).toBe(parts.reduce((a, p) => a + p.length, 0));
      await f.close();
    }
  });

  it('missing, repeated or foreign parts are GGUF_SPLIT_INVALID saying what to pass', async () => {
    const parts = splitSet(3);
    const fail = async (input: Parameters<typeof parseGGUFSplit>[0]) => {
      const e = await parseGGUFSplit(input).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(GGUFError);
      expect((e as GGUFError).code).toBe('GGUF_SPLIT_INVALID');
      return (e as GGUFError).message;
    };
    expect(await fail([parts[0] as Uint8Array])).toMatch(
      /part 1 of a 3-part split GGUF, but 1 part was given/,
    );
    expect(await fail([parts[0], parts[0], parts[1]] as Uint8Array[])).toMatch(
      /pass each part of the set once/,
    );
    expect(await fail([parts[0], parts[1], bytes] as Uint8Array[])).toMatch(/not part of a split GGUF set/);
    const other = splitSet(3);
    const files: GGUFFile[] = await Promise.all(
      [parts[0], other[0], parts[2]].map((p) => parseGGUF(p as Uint8Array)),
    );
    expect(() => assembleGGUFSplit(files)).toThrow(/part 1 of 3, as does/);
  });
});
