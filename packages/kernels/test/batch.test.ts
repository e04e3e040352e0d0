/**
 * Continuous batching: rows of several sequences in one batch (kvBatch, per-row RoPE positions)
 * must give exactly what running each sequence's rows alone gives — bit for bit, since every
 * segment runs the same C code on the same data.
 */
import type { Kernels, KVCache } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, load, randn } from './helpers';

const nHeads = 4;
const nKv = 2;
const hd = 16;
const layers = 2;

for (const b of BACKENDS) {
  describe.skipIf(!b.available)(`batched sequences [${b.name}]`, () => {
    let k: Kernels;
    beforeAll(async () => {
      k = await load(b);
    });
    afterAll(() => k?.dispose());

    /** One segment per sequence, rows in order: sequence i's n rows at positions pos.. of caches[i]. */
    const segmentsOf = (list: readonly { n: number; pos: number }[], caches: readonly KVCache[]) => {
      let row = 0;
      return list.map((s, i) => {
        const seg = { cache: caches[i] as KVCache, row, nTokens: s.n, pos: s.pos };
        row += s.n;
        return seg;
      });
    };

    const buf = (data: Float32Array) => {
      const x = k.f32(data.length);
      x.write(data);
      return x;
    };

    /** Three sequences with different history lengths, fed rows of different counts. */
    const seqs = [
      { pos: 0, n: 5 },
      { pos: 9, n: 1 },
      { pos: 3, n: 3 },
    ];
    const nTokens = seqs.reduce((a, s) => a + s.n, 0);

    for (const type of ['f32', 'f16'] as const) {
      for (const flash of [true, false]) {
        it(`rope + store + attention over a ${type} cache (flash ${flash}) equal per-sequence calls`, () => {
          const q = randn(nTokens * nHeads * hd, 11);
          const kv = randn(nTokens * nKv * hd, 12);
          const vv = randn(nTokens * nKv * hd, 13);
          const mk = () =>
            seqs.map((s, i) => {
              const c = k.kvCache({ layers, contextSize: 32, kvHeads: nKv, headDim: hd, type });
              // an older history for each sequence
              if (s.pos > 0) {
                const hk = randn(s.pos * nKv * hd, 100 + i);
                const hv = randn(s.pos * nKv * hd, 200 + i);
                c.store(1, 0, s.pos, buf(hk), buf(hv));
              }
              return c;
            });
          const rope = { headDim: hd, mode: 'neox' as const, freqBase: 10000 };

          // batched
          const caches = mk();
          const batch = k.kvBatch(segmentsOf(seqs, caches));
          let row = 0;
          expect(Array.from(batch.positions)).toEqual([0, 1, 2, 3, 4, 9, 3, 4, 5]);
          const qb = buf(q);
          const kb = buf(kv);
          k.rope(qb, { ...rope, nTokens, pos: batch.positions, nHeads });
          k.rope(kb, { ...rope, nTokens, pos: batch.positions, nHeads: nKv });
          batch.store(1, kb, buf(vv));
          const out = k.f32(nTokens * nHeads * hd);
          k.attention(out, qb, batch, 1, { nHeads, nKvHeads: nKv, headDim: hd, flash });
          const got = out.read();

          // one sequence at a time
          const alone = mk();
          row = 0;
          for (const [i, s] of seqs.entries()) {
            const w = nHeads * hd;
            const kw = nKv * hd;
            const qs = buf(q.slice(row * w, (row + s.n) * w));
            const ks = buf(kv.slice(row * kw, (row + s.n) * kw));
            k.rope(qs, { ...rope, nTokens: s.n, pos: s.pos, nHeads });
            k.rope(ks, { ...rope, nTokens: s.n, pos: s.pos, nHeads: nKv });
            alone[i]?.store(1, s.pos, s.n, ks, buf(vv.slice(row * kw, (row + s.n) * kw)));
            const o = k.f32(s.n * w);
            k.attention(o, qs, alone[i] as KVCache, 1, {
              nTokens: s.n,
              pos: s.pos,
              nHeads,
              nKvHeads: nKv,
              headDim: hd,
              flash,
            });
            const ref = o.read();
            const part = got.subarray(row * w, (row + s.n) * w);
            expect(
              part.every((x, j) => Object.is(x, ref[j])),
              `sequence ${i}`,
            ).toBe(true);
            row += s.n;
          }
          for (const c of [...caches, ...alone]) c.dispose();
        });
      }
    }

    // Decoding rows of many sequences share one thread-pool dispatch in C (attentionSegments);
    // a prompt chunk (16+ rows) runs on its own. Shapes large enough that the pool splits the work,
    // caches of different types and lengths, a sliding window, recorded by run() and run directly.
    for (const window of [0, 24]) {
      it(`one attention call for many sequences (threads, a prompt chunk, f16/q8_0/f32 caches, window ${window}) equals per-sequence calls`, async () => {
        const H = 8;
        const KVH = 4;
        const D = 64;
        const w = H * D;
        const kw = KVH * D;
        const segs = [
          { pos: 40, n: 1, type: 'f16' as const },
          { pos: 0, n: 20, type: 'f16' as const },
          { pos: 100, n: 1, type: 'q8_0' as const },
          { pos: 7, n: 2, type: 'f16' as const },
          { pos: 63, n: 1, type: 'f32' as const },
          { pos: 150, n: 1, type: 'f16' as const },
        ];
        const total = segs.reduce((a, s) => a + s.n, 0);
        const caches = segs.map((s, i) => {
          const c = k.kvCache({ layers: 1, contextSize: 160, kvHeads: KVH, headDim: D, type: s.type });
          if (s.pos + s.n > 0)
            c.store(
              0,
              0,
              s.pos + s.n,
              buf(randn((s.pos + s.n) * kw, 300 + i)),
              buf(randn((s.pos + s.n) * kw, 400 + i)),
            );
          return c;
        });
        const q = buf(randn(total * w, 21));
        const batch = k.kvBatch(segmentsOf(segs, caches));
        let row = 0;
        const p = { nHeads: H, nKvHeads: KVH, headDim: D, flash: true, ...(window ? { window } : {}) };
        const direct = k.f32(total * w);
        k.attention(direct, q, batch, 0, p);
        const recorded = k.f32(total * w);
        await k.run(() => k.attention(recorded, q, batch, 0, p));
        const a = direct.read();
        const r = recorded.read();
        row = 0;
        for (const [i, s] of segs.entries()) {
          const o = k.f32(s.n * w);
          const qs = buf(q.read(row * w, s.n * w));
          k.attention(o, qs, caches[i] as KVCache, 0, { ...p, nTokens: s.n, pos: s.pos });
          const ref = o.read();
          for (const got of [a, r]) {
            const part = got.subarray(row * w, (row + s.n) * w);
            expect(
              part.every((x, j) => Object.is(x, ref[j])),
              `sequence ${i} (${s.type}, ${s.n} rows at ${s.pos})`,
            ).toBe(true);
          }
          row += s.n;
        }
        for (const c of caches) c.dispose();
      });
    }

    // KVBatch.store of a prompt-sized segment (C splits it into items of 32 rows over the threads;
    // a smoothing cache's first store stays one item) writes the bytes KVCache.store writes.
    for (const type of ['f16', 'q8_0', 'iq4_nl', 'iq4_nlr'] as const) {
      it(`batched store of 70 + 1 rows writes a plain store's ${type} bytes`, () => {
        const hd2 = 64;
        const rows = [
          { pos: 0, n: 70 },
          { pos: 5, n: 1 },
        ];
        const total = 71;
        const kx = buf(randn(total * nKv * hd2, 31));
        const vx = buf(randn(total * nKv * hd2, 32));
        const mk = () =>
          rows.map(() => k.kvCache({ layers, contextSize: 96, kvHeads: nKv, headDim: hd2, type }));
        const batched = mk();
        const plain = mk();
        for (const solo of [true, false]) {
          // one segment alone (70 rows), then both in one batch
          const list = solo ? rows.slice(0, 1) : rows;
          const n = solo ? 70 : total;
          const kb = buf(kx.read(0, n * nKv * hd2));
          const vb = buf(vx.read(0, n * nKv * hd2));
          k.kvBatch(segmentsOf(list, batched)).store(1, kb, vb);
          let row = 0;
          for (const [i, s] of list.entries()) {
            const w = nKv * hd2;
            (plain[i] as KVCache).store(
              1,
              s.pos,
              s.n,
              buf(kx.read(row * w, s.n * w)),
              buf(vx.read(row * w, s.n * w)),
            );
            row += s.n;
          }
          for (const [i, s] of list.entries())
            for (const part of ['k', 'v'] as const) {
              // the segment's rows (rows before pos were never written: a cache's memory starts undefined)
              const end = s.pos + s.n;
              const rowsOf = (c: KVCache) => {
                const all = c.readRows(1, part, end);
                return Buffer.from(all.subarray((all.length / end) * s.pos));
              };
              expect(
                rowsOf(batched[i] as KVCache).equals(rowsOf(plain[i] as KVCache)),
                `${solo ? 'alone' : 'batched'} segment ${i} ${part}`,
              ).toBe(true);
            }
        }
        for (const c of [...batched, ...plain]) c.dispose();
      });
    }

    it('refuses malformed batches with typed errors', () => {
      const c1 = k.kvCache({ layers, contextSize: 8, kvHeads: nKv, headDim: hd, type: 'f32' });
      const c2 = k.kvCache({ layers, contextSize: 8, kvHeads: 1, headDim: hd, type: 'f32' });
      expect(() => k.kvBatch([])).toThrow(/non-empty/);
      expect(() => k.kvBatch([{ cache: c1, row: 1, nTokens: 1, pos: 0 }])).toThrow(/in order/);
      expect(() => k.kvBatch([{ cache: c1, row: 0, nTokens: 2, pos: 7 }])).toThrow(/context size/);
      expect(() =>
        k.kvBatch([
          { cache: c1, row: 0, nTokens: 1, pos: 0 },
          { cache: c2, row: 1, nTokens: 1, pos: 0 },
        ]),
      ).toThrow(/differ/);
      expect(() =>
        k.kvBatch([
          { cache: c1, row: 0, nTokens: 1, pos: 0 },
          { cache: c1, row: 1, nTokens: 1, pos: 1 },
        ]),
      ).toThrow(/one segment/);
      const batch = k.kvBatch([{ cache: c1, row: 0, nTokens: 1, pos: 0 }]);
      const x = k.f32(nHeads * hd);
      expect(() =>
        k.attention(x, x, batch, 0, { nTokens: 1, pos: 0, nHeads, nKvHeads: nKv, headDim: hd }),
      ).toThrow(/leave nTokens and pos out/);
      expect(() =>
        k.rope(x, {
          nTokens: 2,
          pos: new Int32Array(1),
          nHeads: 1,
          headDim: hd,
          mode: 'normal',
          freqBase: 1e4,
        }),
      ).toThrow(/1 positions for 2 tokens/);
      // a later segment's V type is checked against the standard path, and a disposed cache is
      // refused by every batched op (the segment list is built once per batch)
      const hd2 = 32; // q8_0 blocks
      const c3 = k.kvCache({ layers, contextSize: 8, kvHeads: nKv, headDim: hd2, type: 'f16' });
      const c4 = k.kvCache({ layers, contextSize: 8, kvHeads: nKv, headDim: hd2, type: 'q8_0' });
      const two = k.kvBatch([
        { cache: c3, row: 0, nTokens: 1, pos: 0 },
        { cache: c4, row: 1, nTokens: 1, pos: 0 },
      ]);
      const x2 = k.f32(2 * nHeads * hd2);
      const kv2 = k.f32(2 * nKv * hd2);
      const attn = { nHeads, nKvHeads: nKv, headDim: hd2 };
      two.store(0, kv2, kv2);
      k.attention(x2, x2, two, 0, attn);
      expect(() => k.attention(x2, x2, two, 0, { ...attn, flash: false })).toThrow(/flash-attention path/);
      expect(() => two.store(layers, kv2, kv2)).toThrow(/KVBatch.store\(layer\)/);
      c4.dispose();
      expect(() => two.store(0, kv2, kv2)).toThrow(/KVCache was disposed/);
      expect(() => k.attention(x2, x2, two, 0, attn)).toThrow(/KVCache was disposed/);
      c1.dispose();
      c2.dispose();
      c3.dispose();
    });
  });
}
