#!/usr/bin/env node
// `install` lifecycle script of the published package. The native addon normally comes prebuilt, in
// the optional dependency @quant/kernels-<platform>-<arch> (linux-x64, linux-arm64); this script is
// the fallback for other platforms (or installs without optional dependencies): it builds
// build/Release/quant_kernels.node with node-gyp when a C compiler is present. It NEVER fails the
// install: when the build fails it prints why — on the terminal even under npm, which hides install
// scripts' output (the message is also written to /dev/tty) — and records the error in
// build/install-native.json, which loadKernels() quotes in `fallbackReason` / `backendReason`;
// loadKernels() then uses the bundled wasm module.
//
// Skipped (exit 0 at once) when:
//  - the prebuilt addon for this platform is installed and loads, or the addon is already built;
//  - we are not installed as a dependency (no `node_modules` in our path), or the directory two
//    levels up has a pnpm-workspace.yaml: i.e. inside the quant monorepo, where `turbo build` builds
//    the addon (so `pnpm install` there stays fast);
//  - QUANT_KERNELS_SKIP_NATIVE=1 (wasm only) is set.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'quant_kernels.node');
const record = join(root, 'build', 'install-native.json');
const require = createRequire(import.meta.url);

/** The prebuilt platform package, when it is installed and its addon loads in this Node. */
function prebuiltLoads() {
  const pkg = `@quant/kernels-${process.platform}-${process.arch}`;
  try {
    require(join(dirname(require.resolve(`${pkg}/package.json`)), 'quant_kernels.node'));
    return true;
  } catch {
    return false;
  }
}

function skipReason() {
  if (process.env.QUANT_KERNELS_SKIP_NATIVE === '1') return 'QUANT_KERNELS_SKIP_NATIVE=1';
  if (existsSync(addon)) return 'addon already built';
  if (!root.split(sep).includes('node_modules')) return 'not installed as a dependency (workspace checkout)';
  if (existsSync(join(root, '..', '..', 'pnpm-workspace.yaml'))) return 'inside the quant workspace';
  if (prebuiltLoads()) return 'prebuilt addon installed';
  return undefined;
}

/** node-gyp: our own copy if installed, else the one npm/pnpm/yarn provide to lifecycle scripts. */
function nodeGyp() {
  try {
    return [process.execPath, join(dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js')];
  } catch {
    /* not installed next to us */
  }
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  return ['node-gyp'];
}

/**
 * Prints a message the user sees: stderr (shown by pnpm, yarn and `npm --foreground-scripts`), and
 * the terminal itself when there is one, because npm ≥ 7 hides dependencies' install output.
 */
function tell(message) {
  console.warn(message);
  if (process.platform === 'win32' || process.env.QUANT_KERNELS_NO_TTY === '1') return;
  try {
    const fd = openSync('/dev/tty', 'w');
    try {
      writeSync(fd, `${message}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* no controlling terminal (CI): stderr is all there is */
  }
}

/** The most telling line of node-gyp's output: the compiler's error, else gyp's first ERR! line. */
function firstError(stderr) {
  const lines = String(stderr ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const pick =
    lines.find((l) => /\berror\b/i.test(l) && !l.startsWith('gyp ERR!')) ??
    lines.find(
      (l) =>
        l.startsWith('gyp ERR!') && !/ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l),
    ) ??
    lines.at(-1);
  return pick ? pick.slice(0, 300) : '';
}

function main() {
  const why = skipReason();
  if (why !== undefined) return;
  const [cmd, ...pre] = nodeGyp();
  const args = [...pre, 'rebuild'];
  // Use the running Node's headers when installed (no download), as scripts/build-native.mjs does.
  const prefix = join(dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h')))
    args.push(`--nodedir=${prefix}`);
  let r;
  try {
    r = spawnSync(cmd, args, {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: process.env,
      timeout: 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    r = { status: null, error: e };
  }
  if (r.status === 0 && existsSync(addon)) {
    rmSync(record, { force: true });
    console.log('@quant/kernels: built the native addon (no prebuilt addon for this platform)');
    return;
  }
  const detail = r.error
    ? `node-gyp could not run: ${r.error.message}`
    : `node-gyp exit ${r.status ?? r.signal}: ${firstError(r.stderr)}`;
  try {
    mkdirSync(dirname(record), { recursive: true });
    writeFileSync(
      record,
      `${JSON.stringify({ ok: false, error: detail, node: process.version }, null, 2)}\n`,
    );
  } catch {
    /* read-only install: the message below is all */
  }
  tell(
    `@quant/kernels: no usable prebuilt native addon for ${process.platform}-${process.arch} and the build failed (${detail}); ` +
      'loadKernels() will use the WebAssembly backend, several times slower. For the native backend install a C compiler, ' +
      'make and Python 3, then run `npm rebuild @quant/kernels`.',
  );
}

try {
  main();
} catch (e) {
  tell(`@quant/kernels: skipped the native build (${e instanceof Error ? e.message : String(e)})`);
}
process.exit(0);
