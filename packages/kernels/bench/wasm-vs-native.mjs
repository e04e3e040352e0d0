#!/usr/bin/env node
// The wasm backend against the native one on the same GGUF, same thread count (issue 16's targets:
// decode ≥ 0.5×, prefill ≥ 0.3×, load ≤ 3 s from page cache). Each backend runs in its own child
// process (so both never hold the weights at once): load time (loadModel, file in page cache — the
// file is read once first), one prompt-processing run of -p tokens after a short warm-up, and -n
// decode tokens, in tokens/s and per CPU-second of the process (all its threads: steadier than wall
// time on a shared machine, but spinning pool threads count too). Needs built packages (`npx turbo run build --filter=@quant/runtime`) and the model
// (packages/arch-phi3/bench/phi35-mini-file.ts writes the Phi-3.5-mini-shaped Q4_K_M file).
//
//   node packages/kernels/bench/wasm-vs-native.mjs [--model=/tmp/quant-phi35-mini-synthetic-q4_k_m-v2.gguf]
//     [--threads=2] [-p 64] [-n 16] [--backends=native,wasm]
// Env passed through: QUANT_KERNELS_MODE, QUANT_KERNELS_WASM (another .wasm file), QUANT_KERNELS_WASM_RELAXED=0
// (keep the SIMD128 modules); node flags too (`node --experimental-wasm-relaxed-simd …`: Node 20 loads
// the relaxed-SIMD modules, as Node ≥ 22 and Chrome do by default).
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const arg = (name, def) => {
  const i = process.argv.findIndex((s) => s === `-${name}` || s.startsWith(`--${name}=`));
  if (i < 0) return def;
  const a = process.argv[i];
  return a.startsWith('--') ? a.slice(name.length + 3) : process.argv[i + 1];
};
const MODEL = arg('model', '/tmp/quant-phi35-mini-synthetic-q4_k_m-v2.gguf');
const THREADS = Number(arg('threads', 2));
const PP = Number(arg('p', 64));
const TG = Number(arg('n', 16));

function machine() {
  let cpu = cpus()[0]?.model ?? 'unknown CPU';
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const fam = /cpu family\s*:\s*(\d+)/.exec(info)?.[1];
    const model = /model\s*:\s*(\d+)/.exec(info)?.[1];
    cpu += fam ? ` (family ${fam}, model ${model})` : '';
    const f = new Set((/flags\s*:\s*(.*)/.exec(info)?.[1] ?? '').split(' '));
    flags = ['avx2', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'amx_int8']
      .filter((x) => f.has(x))
      .join(' ');
  } catch {}
  return `${cpu}, ${cpus().length} logical CPUs, ${flags}`;
}

async function child(backend) {
  const { loadModel } = await import(
    pathToFileURL(join(repo, 'packages', 'runtime', 'dist', 'index.js')).href
  );
  const t0 = performance.now();
  const model = await loadModel(MODEL, { backend, threads: THREADS, contextSize: Math.max(PP, TG) + 8 });
  const load = (performance.now() - t0) / 1000;
  const k = model.kernels;
  let s = 1234;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % model.hparams.nVocab;
  };
  const bos = model.tokenizer.bosId ?? next();
  // warm-up: 8 prompt tokens
  {
    const session = model.createSession({ contextSize: 16 });
    await session.evaluate([bos, ...Array.from({ length: 7 }, next)]);
    session.dispose();
  }
  const prompt = [bos, ...Array.from({ length: PP - 1 }, next)];
  const cpu = (c0) => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  };
  let session = model.createSession({ contextSize: PP + 8 });
  let t = performance.now();
  let c0 = process.cpuUsage();
  await session.evaluate(prompt);
  const pp = PP / ((performance.now() - t) / 1000);
  const ppCpu = PP / cpu(c0);
  session.dispose();
  session = model.createSession({ contextSize: TG + 8 });
  await session.evaluate([bos]);
  t = performance.now();
  c0 = process.cpuUsage();
  for (let i = 0; i < TG; i++) await session.evaluate([next()]);
  const tg = TG / ((performance.now() - t) / 1000);
  const tgCpu = TG / cpu(c0);
  session.dispose();
  const out = {
    backend: k.backend,
    simd: k.simd,
    isa: k.isa,
    threads: k.threads,
    mode: k.mode,
    load,
    pp,
    tg,
    ppCpu,
    tgCpu,
  };
  model.dispose();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function readOnce(path) {
  // bring the file into the page cache, as a second load would find it
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 24);
  while (readSync(fd, buf, 0, buf.length, null) > 0);
  closeSync(fd);
}

const childArg = arg('child', '');
if (childArg) {
  await child(childArg);
} else {
  statSync(MODEL);
  readOnce(MODEL);
  console.log(`machine: ${machine()}`);
  console.log(
    `model: ${MODEL}, threads ${THREADS}, pp${PP}, tg${TG}; node ${process.version} ${process.execArgv.join(' ')}`,
  );
  const res = {};
  for (const b of arg('backends', 'native,wasm').split(',')) {
    const la0 = loadavg()[0];
    const r = spawnSync(
      process.execPath,
      // node flags pass through (--experimental-wasm-relaxed-simd: Node 20 then loads the relaxed modules)
      [...process.execArgv, fileURLToPath(import.meta.url), `--child=${b}`, ...process.argv.slice(2)],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    if (r.status !== 0) {
      console.log(`${b}: failed (exit ${r.status})`);
      continue;
    }
    const line = r.stdout.trim().split('\n').pop();
    res[b] = JSON.parse(line);
    const x = res[b];
    console.log(
      `${b.padEnd(6)} ${x.simd}/${x.isa} ${x.mode} threads=${x.threads}: load ${x.load.toFixed(2)} s, pp${PP} ${x.pp.toFixed(2)} t/s, tg${TG} ${x.tg.toFixed(2)} t/s; per CPU-second: pp ${x.ppCpu.toFixed(2)}, tg ${x.tgCpu.toFixed(2)} (load avg ${la0.toFixed(2)} → ${loadavg()[0].toFixed(2)})`,
    );
  }
  if (res.native && res.wasm)
    console.log(
      `wasm/native: pp ${(res.wasm.pp / res.native.pp).toFixed(2)}×, tg ${(res.wasm.tg / res.native.tg).toFixed(2)}×, load ${res.wasm.load.toFixed(2)} s vs ${res.native.load.toFixed(2)} s; per CPU-second: pp ${(res.wasm.ppCpu / res.native.ppCpu).toFixed(2)}×, tg ${(res.wasm.tgCpu / res.native.tgCpu).toFixed(2)}×`,
    );
}
