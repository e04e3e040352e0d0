/**
 * The prebuilt native addons (packages/kernels-prebuilt/<platform>, published as
 * @quant/kernels-<platform>) and the order loadKernels() finds an addon in.
 *
 * - Each built platform addon is checked with binutils' `readelf` (an independent reader): an ELF64
 *   little-endian shared object for the right machine, exporting `napi_register_module_v1` (what
 *   Node's dlopen looks up), needing only libc/libm, and no glibc symbol newer than 2.34.
 * - The arm64 addon cannot be loaded here (no arm64 Node), so its C code is tested as shipped: the
 *   NEON driver of neon.test.ts is linked against the .node file itself and run under qemu-aarch64.
 * - The loading order (prebuilt package → build/Release → wasm) and the install script's fallback
 *   message run in a node_modules layout made in a temp dir from the built dist/ and wasm/.
 *
 * Needs `pnpm build` (the prebuilt packages are built by their own `build`); skipped with a note
 * for whatever is missing.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const prebuiltDir = join(root, '..', 'kernels-prebuilt');
const addonOf = (platform: string) => join(prebuiltDir, platform, 'quant_kernels.node');
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;
const hasReadelf = has('readelf', ['--version']);
const canQemu = has('aarch64-linux-gnu-gcc', ['--version']) && has('qemu-aarch64', ['--version']);
const distBuilt =
  existsSync(join(root, 'dist', 'index.js')) && existsSync(join(root, 'wasm', 'quant-kernels.wasm'));
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';

for (const [what, ok] of [
  ['readelf (binutils)', hasReadelf],
  ['the linux-x64 prebuilt (pnpm build)', existsSync(addonOf('linux-x64'))],
  ['the linux-arm64 prebuilt (pnpm build with gcc-aarch64-linux-gnu)', existsSync(addonOf('linux-arm64'))],
  ['aarch64-linux-gnu-gcc and qemu-aarch64 (gcc-aarch64-linux-gnu, qemu-user)', canQemu],
  ['the kernels build (dist/ and wasm/)', distBuilt],
] as const)
  if (!ok) console.warn(`[kernels tests] prebuilt.test.ts: ${what} missing, some tests skip`);

const MACHINE = { 'linux-x64': 'Advanced Micro Devices X86-64', 'linux-arm64': 'AArch64' } as const;

/** "2.34" → [2, 34], for comparing symbol versions. */
const ver = (v: string) => v.split('.').map(Number) as [number, number];

describe.each(Object.keys(MACHINE) as (keyof typeof MACHINE)[])('%s prebuilt addon file', (platform) => {
  const file = addonOf(platform);
  const ready = hasReadelf && existsSync(file);
  const readelf = (args: string[]) => {
    const r = spawnSync('readelf', ['-W', ...args, file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  it.skipIf(!ready)('is an ELF64 little-endian shared object for the platform’s machine', () => {
    const h = readelf(['-h']);
    expect(h).toMatch(/Class:\s+ELF64/);
    expect(h).toMatch(/Data:\s+2's complement, little endian/);
    expect(h).toMatch(/Type:\s+DYN/);
    expect(h).toMatch(new RegExp(`Machine:\\s+${MACHINE[platform]}`));
  });

  it.skipIf(!ready)('exports napi_register_module_v1, needs only libc/libm and glibc ≤ 2.34', () => {
    const syms = readelf(['--dyn-syms']);
    expect(syms).toMatch(/FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+napi_register_module_v1$/m);
    const needed = [...readelf(['-d']).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map(
      (m) => m[1],
    );
    for (const lib of needed) expect(lib).toMatch(/^(libc|libm|libpthread)\.so\.\d$/);
    const versions = [...new Set([...syms.matchAll(/@GLIBC_(\d+\.\d+)/g)].map((m) => m[1] as string))];
    expect(versions.length).toBeGreaterThan(0);
    // Debian 12, Ubuntu 22.04 and RHEL 9 have glibc 2.34+; a newer requirement would drop them.
    const newest = versions
      .map(ver)
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .at(-1)!;
    expect(newest[0] * 1000 + newest[1], `needs GLIBC_${newest.join('.')}`).toBeLessThanOrEqual(2034);
  });
});

describe.skipIf(!canQemu || !existsSync(addonOf('linux-arm64')))(
  'linux-arm64 prebuilt addon: its kernels, run under qemu-aarch64',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'quant-prebuilt-arm64-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('passes the NEON driver’s checks (linked against the shipped .node, not a rebuild)', () => {
      cpSync(addonOf('linux-arm64'), join(dir, 'quant_kernels.node'));
      const bin = join(dir, 'neon-check');
      const cc = spawnSync(
        'aarch64-linux-gnu-gcc',
        [
          '-O2',
          '-std=c11',
          '-D_GNU_SOURCE',
          '-o',
          bin,
          join(root, 'test', 'neon', 'neon-check.c'),
          join(dir, 'quant_kernels.node'),
          // The addon's napi_* imports are Node's; the driver never calls them (lazy binding).
          '-Wl,--allow-shlib-undefined',
          '-Wl,-rpath,$ORIGIN',
          '-lm',
        ],
        { encoding: 'utf8' },
      );
      expect(cc.status, cc.stderr).toBe(0);
      const r = spawnSync('qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', bin], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      const lines = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { ok?: boolean; simd?: string; check?: string; summary?: unknown });
      expect(
        lines.filter((l) => l.ok === false),
        r.stdout,
      ).toEqual([]);
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(lines[0]?.simd).toBe('neon');
      expect(lines.filter((l) => l.check).length).toBeGreaterThan(20);
      expect(lines.at(-1)?.summary).toEqual({ simd: 'neon', failures: 0 });
    }, 180_000);
  },
);

/**
 * A consumer's node_modules in a temp dir: @quant/kernels (built dist/, wasm/, scripts/), its
 * dependencies linked from the workspace, and — per case — the platform package and build/Release.
 */
function consumerLayout(opts: { prebuilt?: 'good' | 'broken'; built?: boolean }): {
  dir: string;
  pkg: string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'quant-kernels-layout-'));
  const nm = join(dir, 'node_modules');
  const pkg = join(nm, '@quant', 'kernels');
  mkdirSync(pkg, { recursive: true });
  for (const f of ['package.json', 'dist', 'wasm', 'scripts', 'binding.gyp', 'csrc'])
    cpSync(join(root, f), join(pkg, f), { recursive: true });
  for (const dep of ['@emnapi/core', '@emnapi/runtime', '@quant/gguf']) {
    const target = realpathSync(join(root, 'node_modules', dep));
    mkdirSync(dirname(join(nm, dep)), { recursive: true });
    symlinkSync(target, join(nm, dep), 'dir');
  }
  if (opts.prebuilt) {
    const p = join(nm, '@quant', `kernels-${process.platform}-${process.arch}`);
    mkdirSync(p, { recursive: true });
    cpSync(join(prebuiltDir, 'linux-x64', 'package.json'), join(p, 'package.json'));
    if (opts.prebuilt === 'good') cpSync(addonOf('linux-x64'), join(p, 'quant_kernels.node'));
    else writeFileSync(join(p, 'quant_kernels.node'), 'not an ELF file');
  }
  if (opts.built) {
    mkdirSync(join(pkg, 'build', 'Release'), { recursive: true });
    cpSync(addonOf('linux-x64'), join(pkg, 'build', 'Release', 'quant_kernels.node'));
  }
  return { dir, pkg };
}

/** loadKernels() in a child Node in `dir` (no env override of the addon path). */
function loadIn(dir: string): { backend: string; backendReason: string; fallbackReason?: string } {
  const env = { ...process.env };
  delete env.QUANT_KERNELS_ADDON;
  // pnpm sets NODE_PATH to its hoisted store, where the workspace's platform package is visible:
  // a consumer's install has no such path.
  delete env.NODE_PATH;
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import { loadKernels } from '@quant/kernels'; const k = await loadKernels(); " +
        'console.log(JSON.stringify({ backend: k.backend, backendReason: k.backendReason, fallbackReason: k.fallbackReason })); k.dispose();',
    ],
    { cwd: dir, env, encoding: 'utf8', timeout: 60_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
}

describe.skipIf(!onLinuxX64 || !distBuilt || !existsSync(addonOf('linux-x64')))(
  'loadKernels order: prebuilt package → build/Release → wasm',
  () => {
    const dirs: string[] = [];
    afterAll(() => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    const layout = (o: Parameters<typeof consumerLayout>[0]) => {
      const l = consumerLayout(o);
      dirs.push(l.dir);
      return l;
    };

    it('uses the prebuilt platform package first, and says so', () => {
      const { dir } = layout({ prebuilt: 'good', built: true });
      const r = loadIn(dir);
      expect(r.backend).toBe('native');
      expect(r.backendReason).toMatch(/^native: prebuilt @quant\/kernels-linux-x64@\d+\.\d+\.\d+/);
      expect(r.fallbackReason).toBeUndefined();
    });

    it('uses build/Release when the prebuilt is absent or does not load', () => {
      const a = loadIn(layout({ built: true }).dir);
      expect(a.backend).toBe('native');
      expect(a.backendReason).toMatch(/^native: built on install \(.*build\/Release\/quant_kernels\.node\)/);
      const b = loadIn(layout({ prebuilt: 'broken', built: true }).dir);
      expect(b.backend).toBe('native');
      expect(b.backendReason).toMatch(/^native: built on install/);
    });

    it('falls back to wasm naming each step and what to run, without pnpm-only advice', () => {
      const r = loadIn(layout({ prebuilt: 'broken' }).dir);
      expect(r.backend).toBe('wasm');
      expect(r.fallbackReason).toMatch(/prebuilt addon .*quant_kernels\.node failed to load/);
      expect(r.fallbackReason).toMatch(/no addon was built/);
      expect(r.fallbackReason).toMatch(/npm rebuild @quant\/kernels/);
      expect(r.fallbackReason).not.toMatch(/pnpm --filter/);
      expect(r.backendReason).toBe(`wasm: ${r.fallbackReason}`);
    });

    it('the install script never fails the install, prints why the build failed, and loadKernels quotes it', () => {
      const { dir, pkg } = layout({});
      const gyp = join(
        dirname(createRequire(join(root, 'package.json')).resolve('node-gyp/package.json')),
        'bin',
      );
      const r = spawnSync(process.execPath, [join(pkg, 'scripts', 'install-native.mjs')], {
        cwd: pkg,
        // A compiler that always fails: the build must fail, the install must not.
        env: {
          ...process.env,
          NODE_PATH: '',
          CC: 'false',
          CXX: 'false',
          npm_config_node_gyp: join(gyp, 'node-gyp.js'),
          QUANT_KERNELS_NO_TTY: '1',
        },
        encoding: 'utf8',
        timeout: 300_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(
        /@quant\/kernels: no usable prebuilt native addon for linux-x64 and the build failed \(node-gyp exit \d+: .+\); loadKernels\(\) will use the WebAssembly backend.*npm rebuild @quant\/kernels/s,
      );
      const recorded = JSON.parse(readFileSync(join(pkg, 'build', 'install-native.json'), 'utf8')) as {
        ok: boolean;
        error: string;
      };
      expect(recorded.ok).toBe(false);
      const k = loadIn(dir);
      expect(k.backend).toBe('wasm');
      expect(k.backendReason).toMatch(/^wasm: the prebuilt addon @quant\/kernels-linux-x64 is not installed/);
      expect(k.backendReason).toContain(`the build failed: ${recorded.error}`);
      expect(k.backendReason).toMatch(/run `npm rebuild @quant\/kernels`/);
    }, 300_000);
  },
);
