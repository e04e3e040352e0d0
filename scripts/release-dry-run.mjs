#!/usr/bin/env node
// A release, minus the publishing, checked as an npm user would meet it:
//
//  1. copy the workspace's manifests and built files to a temp dir and run `changeset version` there
//     (the repository's files are never modified);
//  2. `pnpm pack` every public package (packages/*/package.json and packages/*/*/package.json that are
//     not private — new packages are included as they appear) from that copy;
//  3. `npm install` the tarballs in an empty folder outside the repository — our packages only from
//     the tarballs (npm `overrides`; the @quant scope's registry is pointed at a closed port so a
//     missed one fails instead of being fetched), third-party packages from the npm registry — and
//     fail on npm warnings about our packages or on the pnpm-only config npm does not know;
//  4. check the kernels load the prebuilt addon for this platform and that every package loads
//     with require() as well as import;
//  5. run each package README's example: the code block right after `<!-- release-dry-run: FILE -->`
//     is written to FILE in that folder and run (.mjs/.js with node, .ts stripped of types by esbuild
//     first, .sh with bash and node_modules/.bin on PATH). ../shared (the test models) is linked
//     beside the folder and stories260K*.gguf copied into it, so examples can name them.
//
// Usage: node scripts/release-dry-run.mjs [--keep]   (needs `pnpm build` first; ~1–3 min)
// Exits 1 on the first failing step, printing what failed.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPlatformPackage, packAll, pool, publicPackages, run } from './lib/workspace.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const started = performance.now();
const t = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const log = (msg) => console.log(`release-dry-run [${t()}]: ${msg}`);
const tmp = mkdtempSync(join(tmpdir(), 'quant-release-'));
let failed = false;

function die(msg) {
  console.error(`release-dry-run: FAILED after ${t()}: ${msg}`);
  if (!keep) rmSync(tmp, { recursive: true, force: true });
  else console.error(`release-dry-run: kept ${tmp}`);
  process.exit(1);
}

/** Everything a pack needs, without dependencies, tests or intermediate build files. */
const SKIP = new Set(['node_modules', '.turbo', 'build', 'build-asan', 'test', 'bench', 'coverage']);

// ---- 1. changeset version in a copy ----
const copy = join(tmp, 'repo');
mkdirSync(copy);
for (const f of ['package.json', 'pnpm-workspace.yaml', 'LICENSE', '.changeset'])
  if (existsSync(join(root, f))) cpSync(join(root, f), join(copy, f), { recursive: true });
const all = [];
for (const base of ['packages', ...readdirSync(join(root, 'packages')).map((d) => join('packages', d))]) {
  for (const d of readdirSync(join(root, base), { withFileTypes: true })) {
    if (d.isDirectory() && existsSync(join(root, base, d.name, 'package.json'))) all.push(join(base, d.name));
  }
}
for (const rel of new Set(all))
  cpSync(join(root, rel), join(copy, rel), {
    recursive: true,
    filter: (src) => !SKIP.has(relative(join(root, rel), src).split(/[/\\]/)[0]),
  });
const changeset = join(root, 'node_modules', '.bin', 'changeset');
const cv = await run(changeset, ['version'], { cwd: copy, timeout: 120_000 });
if (cv.code !== 0) die(`changeset version failed (exit ${cv.code}):\n${cv.stdout}${cv.stderr}`);
const pkgs = publicPackages(copy);
// What `pnpm pack`/`publish` does to workspace: ranges, done here because the copy has no
// node_modules for pnpm to resolve them from: workspace:* → 1.2.3, workspace:^ → ^1.2.3, workspace:~ → ~1.2.3.
const versions = new Map();
for (const rel of new Set(all)) {
  const j = JSON.parse(readFileSync(join(copy, rel, 'package.json'), 'utf8'));
  versions.set(j.name, j.version);
}
for (const rel of new Set(all)) {
  const file = join(copy, rel, 'package.json');
  const j = JSON.parse(readFileSync(file, 'utf8'));
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'])
    for (const [name, range] of Object.entries(j[field] ?? {})) {
      if (!range.startsWith('workspace:')) continue;
      const v = versions.get(name);
      if (!v) die(`${j.name}: ${field}.${name} is ${range} but ${name} is not in the workspace`);
      const spec = range.slice('workspace:'.length);
      j[field][name] = spec === '*' ? v : spec === '^' || spec === '~' ? `${spec}${v}` : spec;
    }
  writeFileSync(file, `${JSON.stringify(j, null, 2)}\n`);
}
log(`changeset version: ${pkgs.map((p) => `${p.name}@${p.version}`).join(', ')}`);

// ---- 2. pnpm pack ----
const tarDir = join(tmp, 'tarballs');
mkdirSync(tarDir);
let tarballs;
try {
  tarballs = await packAll(pkgs, tarDir);
} catch (e) {
  die(e.message);
}
const listing = async (tgz) => (await run('tar', ['-tzf', tgz])).stdout.split('\n').filter(Boolean);
for (const p of pkgs) {
  const files = await listing(tarballs.get(p.name));
  const manifest = JSON.parse(
    (await run('tar', ['-xzOf', tarballs.get(p.name), 'package/package.json'])).stdout,
  );
  if (/"workspace:/.test(JSON.stringify(manifest)))
    die(`${p.name}: the packed package.json still has workspace: ranges`);
  if (isPlatformPackage(p) && !files.includes('package/quant_kernels.node'))
    die(
      `${p.name}: the tarball has no quant_kernels.node (build it: pnpm build; linux-arm64 needs gcc-aarch64-linux-gnu)`,
    );
  const bins = typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {});
  for (const b of bins)
    if (!files.includes(`package/${b.replace(/^\.\//, '')}`))
      die(`${p.name}: bin ${b} is not in the tarball`);
  if (!files.includes('package/README.md')) die(`${p.name}: no README.md in the tarball`);
}
log(`packed ${pkgs.length} packages`);

// ---- 3. npm install in an empty folder ----
const app = join(tmp, 'app');
mkdirSync(app);
const shared = join(root, '..', 'shared');
if (existsSync(shared)) {
  symlinkSync(shared, join(tmp, 'shared'), 'dir');
  for (const m of ['stories260K.gguf', 'stories260K-phi3.gguf'])
    if (existsSync(join(shared, 'models', m))) cpSync(join(shared, 'models', m), join(app, m));
}
const fileSpec = (name) => `file:${relative(app, tarballs.get(name))}`;
const usable = pkgs.filter((p) => !isPlatformPackage(p));
writeFileSync(
  join(app, 'package.json'),
  `${JSON.stringify(
    {
      name: 'quant-release-dry-run',
      private: true,
      type: 'module',
      dependencies: Object.fromEntries(usable.map((p) => [p.name, fileSpec(p.name)])),
      // Our packages reached as dependencies of dependencies (and the platform packages) come from
      // the tarballs too.
      overrides: Object.fromEntries(pkgs.map((p) => [p.name, fileSpec(p.name)])),
    },
    null,
    2,
  )}\n`,
);
const npmEnv = {
  ...process.env,
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};
for (const k of Object.keys(npmEnv)) if (/^(npm_package_|npm_lifecycle_|pnpm_)/i.test(k)) delete npmEnv[k];
delete npmEnv.npm_config_user_agent;
const install = await run(
  'npm',
  ['install', '--foreground-scripts', '--no-audit', '--no-fund', '--@quant:registry=http://127.0.0.1:9/'],
  { cwd: app, env: npmEnv, timeout: 600_000 },
);
const npmOut = `${install.stdout}\n${install.stderr}`;
if (install.code !== 0) die(`npm install failed (exit ${install.code}):\n${npmOut}`);
const badWarnings = npmOut
  .split('\n')
  .filter(
    (l) => /Unknown (project|user|env) config|Failed to create bin|@quant\//i.test(l) && /warn|ERR/i.test(l),
  )
  // npm ≥ 11.x lists every dependency with an install script until the user approves it (allowScripts):
  // a notice about npm's policy, expected for @quant/kernels' fallback build script.
  .filter((l) => !/^npm warn install-scripts\b/.test(l));
if (badWarnings.length) die(`npm install warned about our packages:\n${badWarnings.join('\n')}`);
if (/native addon not built|build failed/.test(npmOut))
  die(`@quant/kernels fell back at install:\n${npmOut}`);
log('npm install of the tarballs: no warnings about our packages');

// ---- 4. kernels backend, CommonJS ----
const nodeIn = (code, type = 'module') =>
  run(process.execPath, [`--input-type=${type}`, '-e', code], { cwd: app, timeout: 120_000 });
const platformPkg = pkgs.find((p) => p.name === `@quant/kernels-${process.platform}-${process.arch}`);
const kr = await nodeIn(
  "import { loadKernels } from '@quant/kernels'; const k = await loadKernels(); console.log(JSON.stringify({ backend: k.backend, backendReason: k.backendReason })); k.dispose();",
);
if (kr.code !== 0) die(`loadKernels() failed in the install:\n${kr.stderr}`);
const kinfo = JSON.parse(kr.stdout.trim().split('\n').at(-1));
if (
  platformPkg &&
  !kinfo.backendReason.startsWith(`native: prebuilt ${platformPkg.name}@${platformPkg.version}`)
)
  die(`expected the kernels to load the prebuilt ${platformPkg.name}, got: ${kinfo.backendReason}`);
for (const p of pkgs.filter((x) => isPlatformPackage(x) && x !== platformPkg))
  if (existsSync(join(app, 'node_modules', p.name)))
    die(`${p.name} was installed on ${process.platform}-${process.arch}`);
log(`kernels: ${kinfo.backendReason}`);
const cjs = await nodeIn(
  `for (const p of ${JSON.stringify(usable.map((p) => p.name))}) { const m = require(p); if (Object.keys(m).length === 0) throw new Error(p + ': require() gave no exports'); }`,
  'commonjs',
);
if (cjs.code !== 0) die(`require() of our packages failed:\n${cjs.stderr}`);
log(`require() and import of ${usable.length} packages`);

// ---- 5. README examples ----
const MARKER = /<!--\s*release-dry-run:\s*([\w.-]+)\s*-->\s*\n```(\w+)\n([\s\S]*?)\n```/g;
const esbuild = await import(
  createRequire(createRequire(join(root, 'package.json')).resolve('tsup/package.json')).resolve('esbuild')
);
const examples = [];
for (const p of usable) {
  const readme = readFileSync(join(p.dir, 'README.md'), 'utf8');
  const found = [...readme.matchAll(MARKER)];
  if (found.length === 0) die(`${p.name}: README.md has no <!-- release-dry-run: FILE --> example`);
  for (const [, file, lang, code] of found) examples.push({ p, file, lang, code });
}
const pathEnv = { ...npmEnv, PATH: `${join(app, 'node_modules', '.bin')}${delimiter}${process.env.PATH}` };
const results = await pool(
  examples.map((ex) => async () => {
    const needs = [...ex.code.matchAll(/([\w./-]+\.gguf)\b/g)]
      .map((m) => m[1])
      .filter((f) => !/^https?:/.test(f));
    const missing = needs.filter((f) => !existsSync(join(app, f)) && !f.includes('*'));
    // Output files the example writes (e.g. a quantized model) are not inputs.
    const inputs = missing.filter(
      (f) => !new RegExp(`(writeGGUF|quantizeModel\\([^,]+,)\\s*['"]${f}`).test(ex.code),
    );
    if (inputs.length && !existsSync(shared))
      return { ex, skipped: `needs ${inputs.join(', ')} from ../shared, which is absent` };
    let file = join(app, ex.file);
    if (ex.lang === 'ts' || ex.file.endsWith('.ts')) {
      const out = await esbuild.transform(ex.code, { loader: 'ts', format: 'esm', target: 'node20' });
      file = file.replace(/\.ts$/, '.mjs');
      writeFileSync(file, out.code);
    } else writeFileSync(file, ex.code);
    const r =
      ex.lang === 'sh' || ex.lang === 'bash'
        ? await run('bash', ['-euo', 'pipefail', file], { cwd: app, env: pathEnv, timeout: 180_000 })
        : await run(process.execPath, [file], { cwd: app, env: pathEnv, timeout: 180_000 });
    return { ex, r };
  }),
  2,
);
for (const { ex, r, skipped } of results) {
  if (skipped) {
    console.warn(`release-dry-run: SKIPPED ${ex.p.name} README example ${ex.file}: ${skipped}`);
    continue;
  }
  if (r.code !== 0) {
    failed = true;
    console.error(
      `release-dry-run: ${ex.p.name} README example ${ex.file} failed (exit ${r.code}):\n--- code ---\n${ex.code}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`,
    );
  } else log(`${ex.p.name}: README example ${ex.file} ran`);
}
if (failed) die('a README example failed (above)');
if (!keep) rmSync(tmp, { recursive: true, force: true });
else log(`kept ${tmp}`);
log(
  `OK: ${pkgs.length} packages packed, installed with npm and their ${examples.length} README examples run`,
);
