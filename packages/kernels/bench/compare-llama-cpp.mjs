#!/usr/bin/env node
// quant against llama.cpp built natively on this machine, same GGUF files, same tests (pp512 and
// tg128 by default), same thread count: `quant bench` (packages/cli) and `llama-bench` run
// alternately, --rounds times each (best-of and spread are reported, with the load average, since
// the machine may be shared). Builds llama.cpp from the source bundle shipped in node-llama-cpp if
// the build is missing (cmake, a C++ compiler and ~15-20 min on 2 cores; cached outside the repo).
//
//   node packages/kernels/bench/compare-llama-cpp.mjs [--models=a.gguf,b.gguf] [--rounds=2] [--reps=2]
//     [--threads=2] [-p 512] [-n 128] [--llama-build=/tmp/llama.cpp-build] [--llama-src=/tmp/llama.cpp-src]
//     [--cmake-flags="-DGGML_NATIVE=ON"]   (e.g. "-DGGML_NATIVE=OFF -DGGML_AVX2=ON ..." for an AVX2-only build)
// Env passed to quant: QUANT_KERNELS_MODE (fast|parity), QUANT_KERNELS_ISA (avx2: cap the plan's ISA).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const arg = (name, def) => {
  const i = process.argv.findIndex((s) => s === `-${name}` || s.startsWith(`--${name}=`));
  if (i < 0) return def;
  const a = process.argv[i];
  return a.startsWith('--') ? a.slice(name.length + 3) : process.argv[i + 1];
};
const MODELS = arg(
  'models',
  '/tmp/quant-phi35-mini-synthetic-q4_k_m-v2.gguf,/tmp/quant-phi35-mini-synthetic-q8_0.gguf',
)
  .split(',')
  .filter((m) => {
    if (existsSync(m)) return true;
    console.warn(`compare: skipping ${m} (missing)`);
    return false;
  });
const ROUNDS = Number(arg('rounds', 2));
const REPS = Number(arg('reps', 2));
const THREADS = Number(arg('threads', 2));
const PP = Number(arg('p', 512));
const TG = Number(arg('n', 128));
const BUILD = arg('llama-build', '/tmp/llama.cpp-build');
const SRC = arg('llama-src', '/tmp/llama.cpp-src');
const CMAKE_FLAGS = arg('cmake-flags', '-DGGML_NATIVE=ON').split(/\s+/).filter(Boolean);
const LLAMA_BENCH = join(BUILD, 'bin', 'llama-bench');
const QUANT_BIN = join(repo, 'packages', 'cli', 'dist', 'bin.js');

function machine() {
  let cpu = cpus()[0]?.model ?? 'unknown CPU';
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const fam = /cpu family\s*:\s*(\d+)/.exec(info)?.[1];
    const model = /model\s*:\s*(\d+)/.exec(info)?.[1];
    cpu += fam ? ` (family ${fam}, model ${model})` : '';
    const f = new Set((/flags\s*:\s*(.*)/.exec(info)?.[1] ?? '').split(' '));
    flags = ['avx2', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512vbmi', 'avx_vnni', 'amx_int8']
      .filter((x) => f.has(x))
      .join(' ');
  } catch {}
  return `${cpu}, ${cpus().length} logical CPUs, ${flags}`;
}

function ensureLlamaBench() {
  if (existsSync(LLAMA_BENCH)) return;
  if (!existsSync(join(SRC, 'CMakeLists.txt'))) {
    const require = createRequire(join(repo, 'packages', 'test-utils', 'package.json'));
    const bundle = join(
      dirname(require.resolve('node-llama-cpp/package.json')),
      'llama',
      'gitRelease.bundle',
    );
    console.log(`compare: cloning llama.cpp from ${bundle} into ${SRC}`);
    execFileSync('git', ['clone', '-q', bundle, SRC], { stdio: 'inherit' });
  }
  console.log(`compare: building llama-bench into ${BUILD} (${CMAKE_FLAGS.join(' ')}); this takes a while`);
  execFileSync(
    'cmake',
    ['-S', SRC, '-B', BUILD, ...CMAKE_FLAGS, '-DLLAMA_CURL=OFF', '-DCMAKE_BUILD_TYPE=Release'],
    {
      stdio: 'inherit',
    },
  );
  execFileSync('cmake', ['--build', BUILD, '--target', 'llama-bench', 'llama-quantize', '-j2'], {
    stdio: 'inherit',
  });
}

function runQuant(model) {
  const r = spawnSync(
    process.execPath,
    [
      QUANT_BIN,
      'bench',
      model,
      '-p',
      String(PP),
      '-n',
      String(TG),
      '-r',
      String(REPS),
      '--threads',
      String(THREADS),
      '--json',
      '-q',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) throw new Error(`quant bench failed (${r.status}): ${r.stderr}`);
  const rows = JSON.parse(r.stdout);
  return Object.fromEntries(rows.map((x) => [x.test, x.avgTs]));
}

function runLlama(model) {
  const r = spawnSync(
    LLAMA_BENCH,
    [
      '-m',
      model,
      '-p',
      String(PP),
      '-n',
      String(TG),
      '-t',
      String(THREADS),
      '-r',
      String(REPS),
      '-o',
      'json',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) throw new Error(`llama-bench failed (${r.status}): ${r.stderr}`);
  const rows = JSON.parse(r.stdout);
  return Object.fromEntries(rows.map((x) => [x.n_prompt > 0 ? `pp${x.n_prompt}` : `tg${x.n_gen}`, x.avg_ts]));
}

ensureLlamaBench();
console.log(`machine: ${machine()}`);
console.log(`threads ${THREADS}, ${ROUNDS} alternating rounds, ${REPS} repetitions per run (+1 warm-up)`);
const env = ['QUANT_KERNELS_MODE', 'QUANT_KERNELS_ISA']
  .filter((e) => process.env[e])
  .map((e) => `${e}=${process.env[e]}`);
if (env.length) console.log(`quant env: ${env.join(' ')}`);

const results = [];
for (const model of MODELS) {
  const q = { [`pp${PP}`]: [], [`tg${TG}`]: [] };
  const l = { [`pp${PP}`]: [], [`tg${TG}`]: [] };
  const loads = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['llama', 'quant'] : ['quant', 'llama'];
    for (const side of order) {
      loads.push(loadavg()[0]);
      const r = side === 'quant' ? runQuant(model) : runLlama(model);
      for (const [test, ts] of Object.entries(r)) (side === 'quant' ? q : l)[test]?.push(ts);
      console.log(
        `  ${basename(model)} round ${round + 1} ${side.padEnd(5)}: ${Object.entries(r)
          .map(([t, v]) => `${t} ${v.toFixed(2)}`)
          .join(', ')} t/s (load ${loads.at(-1).toFixed(1)})`,
      );
    }
  }
  results.push({ model, q, l, loads });
}

const fmt = (xs) =>
  `${Math.max(...xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
console.log(
  '\n| model | size | test | llama.cpp t/s best (range) | quant t/s best (range) | ratio of bests | ratio range | load avg |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const { model, q, l, loads } of results) {
  for (const test of Object.keys(q)) {
    if (!q[test].length || !l[test].length) continue;
    const rb = Math.max(...q[test]) / Math.max(...l[test]);
    const lo = Math.min(...q[test]) / Math.max(...l[test]);
    const hi = Math.max(...q[test]) / Math.min(...l[test]);
    console.log(
      `| ${basename(model)} | ${(statSync(model).size / 1e9).toFixed(2)} GB | ${test} | ${fmt(l[test])} | ${fmt(q[test])} | ${rb.toFixed(2)}× | ${lo.toFixed(2)}–${hi.toFixed(2)}× | ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} |`,
    );
  }
}
