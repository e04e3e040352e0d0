// Seeded fuzzing: real and synthetic files with bytes flipped, integer fields set to extreme
// values, bytes inserted or deleted, and truncated anywhere. Only GGUFError may ever escape, and
// files that still parse must still serve every tensor and a summary without other errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type GGUFByteSource, GGUFError, parseGGUF, serializeGGUF } from '@quant/gguf';
import { describe, expect, it } from 'vitest';
import { hasShared, modelsDir, rng, vocabDir } from './helpers';
import { everyTypeMetadata, everyTypeTensors } from './synthetic';

const SEED = 20261122;
const INTERESTING = [
  0, 1, 2, 3, 4, 8, 9, 12, 13, 31, 32, 63, 64, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff,
];

interface Base {
  name: string;
  bytes: Uint8Array;
  headerEnd: number;
  cases: number;
}

async function bases(): Promise<Base[]> {
  const out: Base[] = [];
  const add = async (name: string, bytes: Uint8Array, cases: number) => {
    const f = await parseGGUF(bytes);
    out.push({ name, bytes, headerEnd: f.dataOffset, cases });
  };
  await add(
    'synthetic-every-type',
    serializeGGUF({ metadata: everyTypeMetadata(), tensors: everyTypeTensors(1) }),
    5000,
  );
  await add(
    'synthetic-big-endian',
    serializeGGUF({ metadata: everyTypeMetadata(), tensors: everyTypeTensors(2), littleEndian: false }),
    1500,
  );
  if (hasShared) {
    await add('stories260K', new Uint8Array(readFileSync(join(modelsDir, 'stories260K.gguf'))), 3000);
    await add(
      'stories260K-v1',
      new Uint8Array(readFileSync(join(modelsDir, 'stories260K-gguf-v1.gguf'))),
      1000,
    );
    await add(
      'q4_k_m',
      new Uint8Array(readFileSync(join(modelsDir, 'stories260K-llama-pad256-q4_k_m.gguf'))),
      1000,
    );
    await add('phi-3-vocab', new Uint8Array(readFileSync(join(vocabDir, 'ggml-vocab-phi-3.gguf'))), 150);
  } else {
    console.warn('[gguf fuzz] ../shared absent: fuzzing synthetic files only');
    out[0] = { ...(out[0] as Base), cases: 10000 };
  }
  return out;
}

/** A source that hands out the bytes in small pieces, with or without telling the size. */
function trickle(bytes: Uint8Array, sized: boolean): GGUFByteSource {
  return {
    name: undefined,
    size: sized ? bytes.length : undefined,
    bytesRead: 0,
    read: async (offset, length) =>
      bytes.subarray(Math.min(offset, bytes.length), Math.min(bytes.length, offset + length)),
    close: async () => {},
  };
}

type Outcome = string | { metadata: unknown; tensors: unknown };

async function outcome(source: Uint8Array | GGUFByteSource, initialReadBytes?: number): Promise<Outcome> {
  try {
    const f = await parseGGUF(source, initialReadBytes ? { initialReadBytes } : {});
    for (const t of f.tensors) await f.readTensorData(t.name);
    f.summary();
    return { metadata: f.metadata, tensors: f.tensors };
  } catch (e) {
    if (!(e instanceof GGUFError))
      throw new Error(`non-GGUFError escaped: ${String(e)}\n${(e as Error).stack}`);
    return `${e.code}@${e.offset}`;
  }
}

// Without a known size, checks against the file size happen later or as plain truncation.
const SIZE_DEPENDENT =
  /^GGUF_(DATA_TRUNCATED|TENSOR_OFFSET_OUT_OF_BOUNDS|BAD_STRING_LENGTH|BAD_ARRAY_LENGTH|BAD_TENSOR_COUNT|BAD_KV_COUNT|TRUNCATED)@/;

let nth = 0;
async function check(bytes: Uint8Array, stats: Record<string, number>): Promise<void> {
  const r = await outcome(bytes);
  if (typeof r === 'string') {
    const [code, at] = r.split('@') as [string, string];
    if (!(Number(at) >= -1 && Number(at) <= bytes.length)) {
      throw new Error(`offset ${at} outside the ${bytes.length}-byte input (${code})`);
    }
    stats[code] = (stats[code] ?? 0) + 1;
  } else {
    stats.parsed = (stats.parsed ?? 0) + 1;
  }
  // Every 8th case again through the incremental reader (prefix fetched in growing pieces from
  // 16 bytes, parser resumed between pieces): the same result.
  if (nth++ % 8 === 0) {
    const sized = nth % 16 === 1;
    const again = await outcome(trickle(bytes, sized), 16);
    if (sized || typeof r !== 'string' || !SIZE_DEPENDENT.test(r)) expect(again, `sized=${sized}`).toEqual(r);
    stats.incremental = (stats.incremental ?? 0) + 1;
  }
}

describe('fuzz', () => {
  it('≥ 10,000 seeded mutations: only GGUFError escapes', async () => {
    const r = rng(SEED);
    const int = (n: number) => Math.floor(r() * n);
    const stats: Record<string, number> = {};
    let total = 0;
    for (const base of await bases()) {
      const buf = base.bytes.slice();
      for (let c = 0; c < base.cases; c++, total++) {
        // Mostly the header, sometimes anywhere.
        const span = r() < 0.9 ? base.headerEnd : buf.length;
        const kind = int(6);
        if (kind === 4) {
          // Insert or delete a few bytes (copies; header-sized bases only).
          const at = int(span);
          const n = 1 + int(8);
          const tail = buf.subarray(
            Math.min(at + n, buf.length),
            Math.min(buf.length, base.headerEnd + 4096),
          );
          const insert = r() < 0.5;
          const mutated = new Uint8Array(at + (insert ? n : 0) + tail.length);
          mutated.set(buf.subarray(0, at), 0);
          if (insert) for (let k = 0; k < n; k++) mutated[at + k] = int(256);
          mutated.set(tail, at + (insert ? n : 0));
          await check(mutated, stats);
          continue;
        }
        if (kind === 5) {
          await check(buf.subarray(0, int(buf.length + 1)), stats); // truncate anywhere
          continue;
        }
        const saved: [number, number][] = [];
        const set = (at: number, v: number) => {
          if (at < buf.length) {
            saved.push([at, buf[at] as number]);
            buf[at] = v;
          }
        };
        if (kind <= 1) {
          for (let k = 0, n = 1 + int(4); k < n; k++) set(int(span), int(256));
        } else if (kind === 2) {
          const at = int(Math.max(1, span - 4));
          const v = INTERESTING[int(INTERESTING.length)] as number;
          for (let k = 0; k < 4; k++) set(at + k, (v >>> (8 * (r() < 0.5 ? k : 3 - k))) & 255);
        } else {
          const at = int(Math.max(1, span - 8));
          for (let k = 0; k < 8; k++) set(at + k, r() < 0.5 ? 0xff : int(256));
        }
        const cut = r() < 0.2 ? int(buf.length + 1) : buf.length;
        await check(buf.subarray(0, cut), stats);
        for (let k = saved.length - 1; k >= 0; k--) {
          const [at, v] = saved[k] as [number, number];
          buf[at] = v;
        }
      }
    }
    console.log(`[gguf fuzz] seed ${SEED}: ${total} cases`, stats);
    expect(total).toBeGreaterThanOrEqual(10000);
    // The mutations reach many distinct error classes, and some files survive them.
    expect(Object.keys(stats).length).toBeGreaterThanOrEqual(12);
    expect(stats.parsed).toBeGreaterThan(0);
  });
});
