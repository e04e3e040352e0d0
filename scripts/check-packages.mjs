#!/usr/bin/env node
// Checks every publishable package (packages/*/package.json and packages/*/*/package.json that are
// not private) as npm users will get it. Run after the build (CI: .ci/run); exits 1 on any error.
//
//  1. publint (package.json vs the files: exports, main/module/types, bin, files list).
//  2. @arethetypeswrong/cli on the packed tarball: types for `import` and `require` under node16
//     (ESM and CJS callers) and bundler resolution — e.g. a `require` condition typed by the ESM
//     index.d.ts makes a .cts consumer fail with TS1479.
//  3. Our own rules, which neither tool knows:
//     - exports["."] has nested `import` / `require` conditions, each with its own `types`;
//     - `engines.node`, `repository` (with `directory`), `homepage`, `bugs`, `keywords`, `license`;
//     - every `bin` target is a file committed in the package (not a build output: pnpm warns
//       "Failed to create bin" when installing before a build), and no dist/*.cjs copy of a bin;
//     - README links are absolute (relative links are dead on the npm page) and — except platform
//       packages — the README has the runnable example scripts/release-dry-run.mjs runs;
//     - every package imported by the built JS at run time is a dependency (an optional peer such as
//       plugin-api's @quant/kernels is types-only, so it must not be imported).
//
// Usage: node scripts/check-packages.mjs [--no-attw]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isPlatformPackage, pool, publicPackages, run } from './lib/workspace.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const noAttw = process.argv.includes('--no-attw');
const started = performance.now();
const errors = [];
const fail = (p, msg) => errors.push(`${p.name} (${p.rel}): ${msg}`);

export const EXAMPLE_MARKER = /<!--\s*release-dry-run:\s*([\w.-]+)\s*-->\s*\n```(\w+)\n([\s\S]*?)\n```/g;

function checkManifest(p) {
  const j = p.json;
  for (const k of ['description', 'license', 'homepage', 'keywords'])
    if (!j[k] || j[k].length === 0) fail(p, `no "${k}"`);
  if (!j.engines?.node) fail(p, 'no "engines.node"');
  if (!j.repository?.url || !j.repository?.directory) fail(p, '"repository" needs "url" and "directory"');
  if (!j.bugs?.url && typeof j.bugs !== 'string') fail(p, 'no "bugs"');
  for (const [field, value] of [
    ['homepage', j.homepage],
    ['repository.url', j.repository?.url],
    ['bugs', j.bugs?.url ?? j.bugs],
  ])
    if (value && !/^(git\+)?https:\/\//.test(value))
      fail(p, `"${field}" is not an absolute https URL: ${value}`);
  if (isPlatformPackage(p)) return;
  const dot = j.exports?.['.'];
  for (const cond of ['import', 'require']) {
    const c = dot?.[cond];
    if (!c || typeof c !== 'object' || typeof c.types !== 'string' || typeof c.default !== 'string')
      fail(p, `exports["."].${cond} must be { types, default } (nested conditions, each with its own types)`);
  }
  if (dot?.require?.types && !/\.d\.cts$/.test(dot.require.types))
    fail(p, `exports["."].require.types should be a .d.cts file, is ${dot.require.types}`);
  if (typeof dot?.types === 'string')
    fail(p, 'exports["."] has a top-level "types" shared by import and require');
  const bins = typeof j.bin === 'string' ? { [j.name]: j.bin } : (j.bin ?? {});
  for (const [name, target] of Object.entries(bins)) {
    if (/^(\.\/)?(dist|build)\//.test(target))
      fail(
        p,
        `bin "${name}" points into a build output (${target}): installs before a build warn "Failed to create bin"`,
      );
    if (!existsSync(join(p.dir, target))) fail(p, `bin "${name}" target ${target} does not exist`);
    const ignored = run('git', ['check-ignore', '-q', target], { cwd: p.dir });
    ignored.then((r) => {
      if (r.code === 0) fail(p, `bin "${name}" target ${target} is git-ignored (a build output?)`);
    });
    pending.push(ignored);
  }
  let dist = [];
  try {
    dist = readdirSync(join(p.dir, 'dist'));
  } catch {
    fail(p, 'no dist/ (run the build first)');
  }
  for (const target of Object.values(bins)) {
    const src = readFileSync(join(p.dir, target), 'utf8');
    for (const m of src.matchAll(
      /from\s+['"]\.\.\/dist\/([\w.-]+)\.js['"]|import\s+['"]\.\.\/dist\/([\w.-]+)\.js['"]/g,
    )) {
      const base = m[1] ?? m[2];
      if (dist.includes(`${base}.cjs`))
        fail(p, `dist/${base}.cjs: a CommonJS copy of the bin that nothing uses`);
    }
  }
}

const pending = [];

function checkReadme(p) {
  let text;
  try {
    text = readFileSync(join(p.dir, 'README.md'), 'utf8');
  } catch {
    fail(p, 'no README.md');
    return;
  }
  // Markdown links and images: [text](target) — relative targets are dead on npmjs.com.
  const withoutCode = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  for (const m of withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1];
    if (/^(https?:|mailto:|#)/.test(target)) continue;
    fail(p, `README link "${target}" is relative (dead on the npm page): use an absolute URL`);
  }
  if (!isPlatformPackage(p) && [...text.matchAll(EXAMPLE_MARKER)].length === 0)
    fail(p, 'README has no runnable example (a code block preceded by <!-- release-dry-run: <file> -->)');
}

/** Bare specifiers the built JS imports at run time (static, dynamic and require). */
/**
 * Every bare specifier the built JS imports, mapped to whether some ESM file imports it statically
 * (`import … from` / `export … from`). Optional peers may be imported lazily (`await import()` in
 * ESM, which the CJS build turns into a `require` inside a function) but never statically.
 */
function runtimeImports(dir) {
  const specs = new Map();
  const walk = (d) => {
    for (const f of readdirSync(d)) {
      const path = join(d, f);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(c|m)?js$/.test(f)) {
        const src = readFileSync(path, 'utf8');
        for (const m of src.matchAll(
          /(?:^|[;\s}])(?:import|export)\s*(?:[\w*{}\s,$]+\s*from\s*)?["']([^"'./][^"']*)["']|\bimport\(\s*["']([^"'./][^"']*)["']\s*\)|\brequire\(\s*["']([^"'./][^"']*)["']\s*\)/g,
        )) {
          const spec = m[1] ?? m[2] ?? m[3];
          const isStatic = m[1] !== undefined && !f.endsWith('.cjs');
          specs.set(spec, (specs.get(spec) ?? false) || isStatic);
        }
      }
    }
  };
  walk(dir);
  return specs;
}

function checkRuntimeImports(p) {
  const j = p.json;
  let specs;
  try {
    specs = runtimeImports(join(p.dir, 'dist'));
  } catch {
    return; // no dist: reported by checkManifest
  }
  const optionalPeers = new Set(
    Object.entries(j.peerDependenciesMeta ?? {})
      .filter(([, m]) => m?.optional)
      .map(([n]) => n),
  );
  const allowed = new Set([
    j.name,
    ...Object.keys(j.dependencies ?? {}),
    ...Object.keys(j.optionalDependencies ?? {}),
    ...Object.keys(j.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n)),
  ]);
  const builtins = new Set(builtinModules);
  for (const [spec, isStatic] of specs) {
    if (spec.startsWith('node:') || builtins.has(spec)) continue;
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (allowed.has(name)) continue;
    if (optionalPeers.has(name) && !isStatic) continue; // loaded on demand, only when used
    fail(
      p,
      optionalPeers.has(name)
        ? `the built JS imports ${spec} statically, but ${name} is an optional peer dependency (import it on demand with await import())`
        : `the built JS imports ${spec}, which is not in dependencies`,
    );
  }
}

async function runPublint(p) {
  const { publint } = await import('publint');
  const { messages } = await publint({ pkgDir: p.dir, level: 'warning', strict: false });
  const { formatMessage } = await import('publint/utils');
  for (const m of messages) fail(p, `publint ${m.type}: ${formatMessage(m, p.json) ?? m.code}`);
}

/** @arethetypeswrong/core, the engine of @arethetypeswrong/cli, loaded once (TypeScript is the slow part). */
async function attwCore() {
  const cli = createRequire(join(root, 'package.json')).resolve('@arethetypeswrong/cli/package.json');
  const core = createRequire(cli).resolve('@arethetypeswrong/core');
  return import(pathToFileURL(core).href);
}

/** What npm packs: package.json and the `files` entries (files or directories), as attw's virtual file system. */
function packedFiles(p) {
  const files = {};
  const base = `/node_modules/${p.name}`;
  const add = (rel) => {
    const abs = join(p.dir, rel);
    if (!existsSync(abs)) return;
    if (statSync(abs).isDirectory()) for (const f of readdirSync(abs)) add(`${rel}/${f}`);
    else files[`${base}/${rel}`] = new Uint8Array(readFileSync(abs));
  };
  add('package.json');
  for (const f of p.json.files ?? []) add(f.replace(/^\.\//, '').replace(/\/$/, ''));
  return files;
}

/**
 * attw as `attw --profile node16` (@arethetypeswrong/cli) would judge the package: every problem
 * under node16 (ESM and CJS callers) and bundler resolution fails; Node 10-style resolution is
 * not supported (engines >= 20).
 */
async function runAttw(core, p) {
  // Subpaths exporting assets (a .wasm module, package.json) have no types by nature: not entrypoints.
  // Worker scripts (`./worker`) are ESM by design — `new Worker(url, { type: 'module' })` loads them,
  // never require() — so attw's CJS view of them does not apply.
  const assets = Object.keys(p.json.exports ?? {}).filter(
    (k) => /\.(wasm|json|node|css)$/.test(k) || /(^|\/)worker$/.test(k),
  );
  const analysis = await core.checkPackage(new core.Package(packedFiles(p), p.name, p.version), {
    excludeEntrypoints: assets,
  });
  if (!analysis.types) {
    fail(p, 'attw: the package ships no types');
    return;
  }
  for (const pr of analysis.problems) {
    if (pr.resolutionKind === 'node10') continue;
    fail(
      p,
      `attw ${pr.kind}${pr.entrypoint ? ` at "${pr.entrypoint}"` : ''}${pr.resolutionKind ? ` (${pr.resolutionKind})` : ''}`,
    );
  }
}

const pkgs = publicPackages(root);
for (const p of pkgs) {
  checkManifest(p);
  checkReadme(p);
  if (!isPlatformPackage(p)) checkRuntimeImports(p);
}
await Promise.all(pending);
await pool(
  pkgs.filter((p) => !isPlatformPackage(p)).map((p) => () => runPublint(p)),
  4,
);
if (!noAttw) {
  const core = await attwCore();
  for (const p of pkgs.filter((x) => !isPlatformPackage(x))) await runAttw(core, p);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (errors.length) {
  console.error(`check-packages: ${errors.length} problem(s) in ${pkgs.length} packages (${seconds} s):`);
  for (const e of errors) console.error(`  - ${e}`);
  process.exit(1);
}
console.log(
  `check-packages: ${pkgs.length} packages pass publint${noAttw ? '' : ', attw'} and the packaging rules (${seconds} s)`,
);
