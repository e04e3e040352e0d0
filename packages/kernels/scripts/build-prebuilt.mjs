#!/usr/bin/env node
// Builds the prebuilt native addon of one platform package (packages/kernels-prebuilt/<platform>,
// published as @quant/kernels-<platform>): the C sources listed in binding.gyp, compiled with the same
// flags node-gyp uses for build/Release, against Node's own Node-API headers, into
// <package>/quant_kernels.node. A Node-API addon is ABI-stable, so one file serves every Node >= 20.
//
//   node scripts/build-prebuilt.mjs <platform> [--out <dir>]     platform: linux-x64 | linux-arm64
//
// linux-x64 uses the host compiler (`cc`, or $CC) on an x86-64 host; linux-arm64 cross-compiles with
// aarch64-linux-gnu-gcc (Debian/Ubuntu: gcc-aarch64-linux-gnu) and is checked under qemu-user by
// test/prebuilt.test.ts. When the compiler is missing the script prints why and exits 0 without an
// addon (so a workstation without the cross compiler still builds), unless QUANT_PREBUILT_REQUIRE=1
// (CI and releases), where that is an error; the release dry run refuses a platform package without
// its addon either way.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Per platform: the compiler to use and the target-specific flags (matching node-gyp's for that arch). */
const PLATFORMS = {
  'linux-x64': { os: 'linux', arch: 'x64', cc: process.env.CC ?? 'cc', cross: 'gcc', flags: ['-m64'] },
  'linux-arm64': {
    os: 'linux',
    arch: 'arm64',
    cc: process.env.CC_ARM64 ?? 'aarch64-linux-gnu-gcc',
    cross: 'gcc-aarch64-linux-gnu',
    flags: [],
  },
};

/** The flags of binding.gyp's "cflags" plus what node-gyp adds for a shared module on Linux. */
export const PREBUILT_CFLAGS = [
  '-O3',
  '-std=c11',
  '-ffp-contract=off',
  '-fno-strict-aliasing',
  '-D_GNU_SOURCE',
  '-fPIC',
  '-pthread',
  '-DNODE_GYP_MODULE_NAME=quant_kernels',
  '-DBUILDING_NODE_EXTENSION',
];

/** The C sources of the addon, read from binding.gyp so this build and node-gyp's never drift. */
export function addonSources() {
  const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
  return [...new Set([...gyp.matchAll(/"(csrc\/[\w/-]+\.c)"/g)].map((m) => m[1]))].map((f) => join(root, f));
}

/** Directory holding node_api.h: the running Node's headers (e.g. /usr/include/node), else $NODE_API_HEADERS. */
function nodeApiIncludeDir() {
  const candidates = [
    process.env.NODE_API_HEADERS,
    join(dirname(process.execPath), '..', 'include', 'node'),
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  ].filter(Boolean);
  return candidates.find((d) => existsSync(join(d, 'node_api.h')));
}

function run(cmd, args) {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', (e) => resolveRun({ code: -1, err: e.message }));
    child.on('close', (code) => resolveRun({ code, err }));
  });
}

/** Runs `jobs` (functions returning promises) at most `n` at a time; resolves to their results in order. */
async function pool(jobs, n) {
  const out = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, worker));
  return out;
}

export async function buildPrebuilt(platform, outDir) {
  const p = PLATFORMS[platform];
  if (!p)
    throw new Error(
      `build-prebuilt: unknown platform ${platform}; known: ${Object.keys(PLATFORMS).join(', ')}`,
    );
  if (spawnSync(p.cc, ['--version'], { stdio: 'ignore' }).status !== 0)
    return { ok: false, why: `${p.cc} not found (install the ${p.cross} package)` };
  if (platform === 'linux-x64' && process.arch !== 'x64' && !process.env.CC)
    return { ok: false, why: `linux-x64 needs an x86-64 host or CC set to an x86-64 cross compiler` };
  const inc = nodeApiIncludeDir();
  if (!inc)
    return {
      ok: false,
      why: "Node's headers (node_api.h) not found next to this node; set NODE_API_HEADERS to their directory",
    };
  const tmp = mkdtempSync(join(tmpdir(), `quant-prebuilt-${platform}-`));
  try {
    const sources = addonSources();
    const jobs = sources.map((src) => () => {
      const obj = join(tmp, `${relative(root, src).replace(/[/\\]/g, '_')}.o`);
      return run(p.cc, [...PREBUILT_CFLAGS, ...p.flags, `-I${inc}`, '-c', src, '-o', obj]).then((r) => ({
        ...r,
        src,
        obj,
      }));
    });
    const results = await pool(jobs, Number(process.env.QUANT_PREBUILT_JOBS) || 2);
    const failed = results.find((r) => r.code !== 0);
    if (failed) return { ok: false, why: `${p.cc} failed on ${failed.src}:\n${failed.err.trim()}` };
    mkdirSync(outDir, { recursive: true });
    const partial = join(outDir, 'quant_kernels.node.partial');
    const link = await run(p.cc, [
      '-shared',
      ...p.flags,
      '-pthread',
      '-o',
      partial,
      ...results.map((r) => r.obj),
      '-lm',
    ]);
    if (link.code !== 0) return { ok: false, why: `${p.cc} failed to link:\n${link.err.trim()}` };
    renameSync(partial, join(outDir, 'quant_kernels.node'));
    return { ok: true, path: join(outDir, 'quant_kernels.node') };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const platform = args.find((a) => !a.startsWith('--'));
  const outIdx = args.indexOf('--out');
  const out = resolve(outIdx >= 0 ? args[outIdx + 1] : join(root, '..', 'kernels-prebuilt', platform ?? ''));
  if (!platform) {
    console.error(`usage: build-prebuilt.mjs <${Object.keys(PLATFORMS).join('|')}> [--out <dir>]`);
    process.exit(2);
  }
  const started = performance.now();
  const r = await buildPrebuilt(platform, out);
  if (r.ok) {
    console.log(`build-prebuilt: ${r.path} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } else {
    rmSync(join(out, 'quant_kernels.node'), { force: true });
    const msg = `build-prebuilt: no ${platform} addon built: ${r.why}`;
    if (process.env.QUANT_PREBUILT_REQUIRE === '1') {
      console.error(msg);
      process.exit(1);
    }
    console.warn(
      `${msg} (the @quant/kernels-${platform} package stays empty; set QUANT_PREBUILT_REQUIRE=1 to fail)`,
    );
  }
}
