#!/usr/bin/env node
// What kernels.run() costs per token: one decode step of a tiny llama-shaped model (16 ops per
// layer: norm, fused QKV matmul, 3 copyRows, 2 rope, kvStore, attention, O matmul, residual add,
// norm, fused gate/up matmul, swigluFused, down matmul, residual add) issued synchronously vs
// recorded and executed by run(). The model is tiny (width 64, Q8_0), so the kernels take little
// time and the difference is the recording + Node-API async work + promise overhead.
// Needs a build: `pnpm --filter @quant/kernels build`.
//   node bench/run-overhead.mjs [--steps=400] [--layers=32,44]
import { loadKernels } from '../dist/index.js';

const arg = (name, def) => {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
const STEPS = Number(arg('steps', '400'));
const LAYERS = arg('layers', '32,44').split(',').map(Number);

const D = 64;
const H = 4;
const KVH = 2;
const HD = 16;
const KVD = KVH * HD;
const FF = 128;
const CTX = 64;
const Q8_0 = 8;

function rand(n, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 0.1;
  }
  return out;
}

function makeModel(k, layers) {
  const w = (rows, cols, seed) =>
    k.weight(Q8_0, rows, cols, k.quantize(Q8_0, rand(rows * cols, seed), rows, cols));
  const norm = k.f32(D);
  norm.write(new Float32Array(D).fill(1));
  const ls = [];
  for (let l = 0; l < layers; l++)
    ls.push({
      qkv: w(D + 2 * KVD, D, 10 * l + 1),
      o: w(D, D, 10 * l + 2),
      gu: w(2 * FF, D, 10 * l + 3),
      d: w(D, FF, 10 * l + 4),
    });
  const b = (n) => k.f32(n);
  return {
    ls,
    norm,
    cache: k.kvCache({ layers, contextSize: CTX, kvHeads: KVH, headDim: HD, type: 'f16' }),
    h: b(D),
    xn: b(D),
    qkv: b(D + 2 * KVD),
    q: b(D),
    kk: b(KVD),
    v: b(KVD),
    att: b(D),
    o: b(D),
    gu: b(2 * FF),
    act: b(FF),
    down: b(D),
  };
}

/** One decode token at `pos`; returns the number of ops issued. */
function step(k, m, pos) {
  let n = 0;
  const rope = { nTokens: 1, pos, nHeads: H, headDim: HD, mode: 'neox', freqBase: 10000 };
  for (let l = 0; l < m.ls.length; l++) {
    const L = m.ls[l];
    k.rmsNorm(m.xn, m.h, m.norm, 1, D, 1e-5);
    k.matmul(m.qkv, L.qkv, m.xn, 1);
    k.copyRows(m.q, 0, D, m.qkv, 0, D + 2 * KVD, 1, D);
    k.copyRows(m.kk, 0, KVD, m.qkv, D, D + 2 * KVD, 1, KVD);
    k.copyRows(m.v, 0, KVD, m.qkv, D + KVD, D + 2 * KVD, 1, KVD);
    k.rope(m.q, rope);
    k.rope(m.kk, { ...rope, nHeads: KVH });
    m.cache.store(l, pos, 1, m.kk, m.v);
    k.attention(m.att, m.q, m.cache, l, { nTokens: 1, pos, nHeads: H, nKvHeads: KVH, headDim: HD });
    k.matmul(m.o, L.o, m.att, 1);
    k.add(m.h, m.h, m.o, D);
    k.rmsNorm(m.xn, m.h, m.norm, 1, D, 1e-5);
    k.matmul(m.gu, L.gu, m.xn, 1);
    k.swigluFused(m.act, m.gu, 1, FF);
    k.matmul(m.down, L.d, m.act, 1);
    k.add(m.h, m.h, m.down, D);
    n += 16;
  }
  return n;
}

const pct = (a, q) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor((s.length - 1) * q)];
};

/** Blocks of sync steps, run() steps and empty runs, alternated so machine noise hits all three. */
async function measure(backend, threads, layers) {
  const k = await loadKernels({ backend, threads });
  const m = makeModel(k, layers);
  m.h.write(rand(D, 99));
  let ops = 0;
  const sync = [];
  const run = [];
  const rec = [];
  const empty = [];
  const BLOCK = 50;
  let pos = 0;
  for (let b = 0; b < Math.ceil(STEPS / BLOCK) + 1; b++) {
    const keep = b > 0; // the first block of each kind is warm-up
    for (let i = 0; i < BLOCK; i++) {
      const t0 = performance.now();
      ops = step(k, m, pos++ % CTX);
      if (keep) sync.push(performance.now() - t0);
    }
    for (let i = 0; i < BLOCK; i++) {
      const p0 = pos++ % CTX;
      const t0 = performance.now();
      const p = k.run(() => step(k, m, p0));
      const t1 = performance.now();
      await p;
      if (keep) {
        run.push(performance.now() - t0);
        rec.push(t1 - t0);
      }
    }
    for (let i = 0; i < BLOCK; i++) {
      const t0 = performance.now();
      await k.run(() => {});
      if (keep) empty.push(performance.now() - t0);
    }
  }
  k.dispose();
  return { ops, sync, run, rec, empty };
}

console.log(
  `kernels.run() overhead: one decode token of a tiny model (width ${D}, Q8_0); ${STEPS} steps of each kind, median (p10 in parentheses)`,
);
console.log(
  '| backend | threads | layers | ops | sync step | run() step | of which recording | overhead/step | overhead/op | empty run() round trip |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
const both = (a) => `${us(pct(a, 0.5))} (${us(pct(a, 0.1))})`;
for (const [backend, threads] of [
  ['native', 1],
  ['native', 2],
  ['wasm', 1],
]) {
  for (const layers of LAYERS) {
    let res;
    try {
      res = await measure(backend, threads, layers);
    } catch (e) {
      console.log(`| ${backend} | ${threads} | ${layers} | unavailable: ${e.message} |`);
      break;
    }
    const { ops, sync, run, rec, empty } = res;
    const over = pct(run, 0.5) - pct(sync, 0.5);
    const over10 = pct(run, 0.1) - pct(sync, 0.1);
    console.log(
      `| ${backend} | ${threads} | ${layers} | ${ops} | ${both(sync)} | ${both(run)} | ${both(rec)} | ${us(over)} (${us(over10)}) | ${((over * 1e6) / ops).toFixed(0)} ns | ${both(empty)} |`,
    );
  }
}
