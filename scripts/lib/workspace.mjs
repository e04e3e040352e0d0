// Helpers shared by scripts/check-packages.mjs and scripts/release-dry-run.mjs: the workspace's
// publishable packages (found, never listed by hand, so new packages are checked as they appear) and
// packing them the way a release does.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Globs of pnpm-workspace.yaml's `packages:` list (only the `dir/*` form this repository uses). */
function workspaceGlobs(root) {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const block = /^packages:\s*\n((?:\s+-\s*.+\n?)+)/m.exec(yaml);
  if (!block) throw new Error(`no "packages:" list in ${join(root, 'pnpm-workspace.yaml')}`);
  return [...block[1].matchAll(/-\s*["']?([^"'\n]+)["']?/g)].map((m) => m[1].trim());
}

/**
 * Every package of the workspace that is not private: { name, version, dir (absolute), rel
 * (repository path), json (its package.json) }, sorted by path.
 */
export function publicPackages(root) {
  const out = [];
  for (const glob of workspaceGlobs(root)) {
    if (!glob.endsWith('/*')) throw new Error(`unsupported workspace glob ${glob} (only "dir/*")`);
    const base = join(root, glob.slice(0, -2));
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(base, entry.name);
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const json = JSON.parse(readFileSync(file, 'utf8'));
      if (json.private) continue;
      out.push({ name: json.name, version: json.version, dir, rel: relative(root, dir), json });
    }
  }
  return out.sort((a, b) => a.rel.localeCompare(b.rel));
}

/** A platform package (`os`/`cpu` fields): installable only on its platform, no README example. */
export const isPlatformPackage = (p) => Array.isArray(p.json.os) || Array.isArray(p.json.cpu);

/** Runs a command, collecting output; resolves { code, stdout, stderr }. Never rejects. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let timer;
    if (opts.timeout) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: `${stderr}${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}

/** Runs async `jobs` at most `n` at a time, results in order. */
export async function pool(jobs, n) {
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

/**
 * `pnpm pack` of each package into `dest` (workspace: ranges become real versions, as on publish).
 * Resolves to a Map name → tarball path; throws listing every failure.
 */
export async function packAll(pkgs, dest, { jobs = 2 } = {}) {
  const results = await pool(
    pkgs.map((p) => async () => {
      const r = await run('pnpm', ['pack', '--pack-destination', dest], { cwd: p.dir, timeout: 120_000 });
      const tgz = r.stdout
        .trim()
        .split('\n')
        .map((l) => l.trim())
        .reverse()
        .find((l) => l.endsWith('.tgz'));
      return { p, r, tgz };
    }),
    jobs,
  );
  const failed = results.filter((x) => x.r.code !== 0 || !x.tgz);
  if (failed.length)
    throw new Error(
      failed
        .map((x) => `pnpm pack failed in ${x.p.rel} (exit ${x.r.code}):\n${x.r.stdout}${x.r.stderr}`)
        .join('\n'),
    );
  return new Map(results.map((x) => [x.p.name, x.tgz.startsWith('/') ? x.tgz : join(dest, x.tgz)]));
}
