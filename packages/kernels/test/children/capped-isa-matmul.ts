/**
 * Child of fast-matmul-isa.test.ts: runs under QUANT_KERNELS_ISA (which caps the plan's ISA once per
 * process) and prints, as one JSON line, the ISA, each weight's layout and the fast-mode matmul
 * results for the quantized weights and activations the parent passes (a JSON file, argv[2]): for
 * each token count, and each token of the largest batch multiplied alone (`single`).
 */
import { readFileSync } from 'node:fs';
import { loadKernels } from '@quant/kernels';

interface Case {
  type: number;
  rows: number;
  cols: number;
  data: string; // base64 blocks
  tokens: number[];
  x: number[];
}

const cases = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as Case[];
const k = await loadKernels({ backend: 'native', threads: 2, mode: 'fast' });
const results: { layout: number; out: number[][]; single: number[][] }[] = [];
for (const c of cases) {
  const w = k.weight(c.type, c.rows, c.cols, new Uint8Array(Buffer.from(c.data, 'base64')));
  const out: number[][] = [];
  for (const nt of c.tokens) {
    const xb = k.f32(c.cols * nt);
    xb.write(Float32Array.from(c.x.slice(0, c.cols * nt)));
    const ob = k.f32(c.rows * nt);
    k.matmul(ob, w, xb, nt);
    out.push(Array.from(ob.read()));
    xb.dispose();
    ob.dispose();
  }
  const single: number[][] = [];
  for (let t = 0; t < Math.max(...c.tokens); t++) {
    const xb = k.f32(c.cols);
    xb.write(Float32Array.from(c.x.slice(t * c.cols, (t + 1) * c.cols)));
    const ob = k.f32(c.rows);
    k.matmul(ob, w, xb, 1);
    single.push(Array.from(ob.read()));
    xb.dispose();
    ob.dispose();
  }
  // internal: type code = ggml type | layout << 8
  results.push({ layout: ((w as unknown as { code: number }).code >> 8) & 255, out, single });
  w.dispose();
}
console.log(JSON.stringify({ isa: k.isa, results }));
k.dispose();
