/**
 * The AVX2 kernels for the 16-row repacked layouts (csrc/arch/x86/avx2.c: Q4_K, Q5_K, Q6_K, Q8_0), which AVX2-only CPUs and
 * AVX-512 CPUs without VNNI run in fast mode. On an AVX-512 VNNI host they are reached by capping the
 * plan's ISA (QUANT_KERNELS_ISA=avx2 / avx512 is read once per process, so each cap runs in a child
 * process). Expected values: the double-precision product of the dequantized weights with the
 * activations (the activation-quantization bound of ref-matmul.ts); every token of every batch equal
 * to its single-token result (one token runs another tile shape: both 8-row halves in one pass); and agreement with this process' (VNNI) kernels within a few float ulps
 * (the integer sums are exact, only the float steps may round differently).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Kernels, loadKernels } from '@quant/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleScript, childEnv, runScript } from '../../test-utils/src/child';
import { expectExact, nativeBuilt, randn, rng } from './helpers';
import { refMatmul } from './ref-matmul';
import { randomBlocks, refDequantize, T } from './ref-quants';

const canRun = nativeBuilt && process.arch === 'x64';
if (!canRun) console.warn('[kernels tests] fast-matmul-isa: needs the native addon on x86-64, skipped');

const ROWS = 48;
const COLS = 512;
// 9 and 14 run Q8_0's 8-token tile and its tails (8 + 1, 8 + 4 + 2); 3 and 4 the K-quants' 4-token tiles
const TOKENS = [1, 3, 4, 9, 14];

describe.skipIf(!canRun)('fast mode with the ISA capped: AVX2 kernels for repacked K-quants and Q8_0', () => {
  let k: Kernels;
  let script: string;
  let dir: string;
  const cases = [T.Q4_K, T.Q5_K, T.Q6_K, T.Q8_0].map((type) => {
    const data = randomBlocks(type, ROWS * COLS, rng(type * 17 + 5));
    return {
      type,
      rows: ROWS,
      cols: COLS,
      data: Buffer.from(data).toString('base64'),
      W: refDequantize(type, data, ROWS * COLS),
      bytes: data,
      tokens: TOKENS,
      x: Array.from(randn(COLS * Math.max(...TOKENS), type + 3)),
    };
  });
  beforeAll(async () => {
    k = await loadKernels({ backend: 'native', threads: 2, mode: 'fast' });
    script = await bundleScript(join(__dirname, 'children', 'capped-isa-matmul.ts'));
    dir = mkdtempSync(join(tmpdir(), 'quant-isa-'));
    writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases.map(({ W: _w, bytes: _b, ...c }) => c)));
  });
  afterAll(() => {
    k?.dispose();
    rmSync(dir, { recursive: true, force: true });
    if (script) rmSync(dirname(script), { recursive: true, force: true });
  });

  for (const cap of ['avx2', 'avx512']) {
    it(`QUANT_KERNELS_ISA=${cap}`, async () => {
      if (!k.isa?.startsWith('avx')) return; // an x86-64 CPU without AVX2 has only the scalar kernels
      const r = await runScript(script, [join(dir, 'cases.json')], {
        env: childEnv({ QUANT_KERNELS_ISA: cap }),
        timeoutMs: 120_000,
      });
      expect(r.code, r.stderr).toBe(0);
      const msg = r.messages[0] as {
        isa: string;
        results: { layout: number; out: number[][]; single: number[][] }[];
      };
      // the cap only lowers the ISA: an AVX2-only host reports avx2 under both caps
      expect(msg.isa).toBe(k.isa === 'avx2' ? 'avx2' : cap);
      cases.forEach((c, ci) => {
        const res = msg.results[ci] as { layout: number; out: number[][]; single: number[][] };
        expect(res.layout, `type ${c.type} is repacked under ${cap}`).toBe(1);
        const w = k.weight(c.type, c.rows, c.cols, c.bytes);
        TOKENS.forEach((nt, ti) => {
          const got = Float32Array.from(res.out[ti] as number[]);
          const x = Float32Array.from(c.x.slice(0, c.cols * nt));
          const { out: ref, tol } = refMatmul(c.W, c.rows, c.cols, x, nt, c.type);
          for (let i = 0; i < got.length; i++) {
            const err = Math.abs((got[i] as number) - (ref[i] as number));
            if (!(err <= (tol[i] as number)))
              throw new Error(
                `type ${c.type} nTok=${nt} out[${i}]: got ${got[i]}, ref ${ref[i]}, err ${err}`,
              );
          }
          // every token of the batch gets its single-token result
          for (let t = 0; t < nt; t++)
            expectExact(
              got.subarray(t * c.rows, (t + 1) * c.rows),
              Float32Array.from(res.single[t] as number[]),
              `type ${c.type} token ${t} of ${nt}`,
            );
          const xb = k.f32(x.length);
          xb.write(x);
          const ob = k.f32(c.rows * nt);
          k.matmul(ob, w, xb, nt);
          const mine = ob.read();
          xb.dispose();
          ob.dispose();
          for (let i = 0; i < got.length; i++) {
            const a = got[i] as number;
            const b = mine[i] as number;
            expect(Math.abs(a - b), `type ${c.type} nTok=${nt} [${i}] vs ${k.isa}`).toBeLessThanOrEqual(
              2 ** -20 * Math.max(1, Math.abs(b)),
            );
          }
        });
        w.dispose();
      });
    }, 180_000);
  }
});
