/**
 * Runs a TypeScript test script in a separate `node` process: for what must not take the test
 * runner down with it (a process killed by a signal) or needs its own heap and flags
 * (`--expose-gc` memory measurements). The script is bundled with esbuild from the workspace
 * sources (as vitest resolves them), so no build is needed.
 */
import { type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './shared.js';

/** `@quant/<dir>` → `packages/<dir>/src/index.ts` (what vitest's aliases do). */
function workspaceAliases(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const dir of readdirSync(join(repoRoot, 'packages'))) {
    const entry = join(repoRoot, 'packages', dir, 'src', 'index.ts');
    if (existsSync(entry)) out[`@quant/${dir}`] = entry;
  }
  return out;
}

/** Bundles `entry` (a .ts file) with everything it imports into one ESM file; returns its path. */
export async function bundleScript(entry: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'quant-child-'));
  // Removed when the test process exits.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, 'script.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    alias: workspaceAliases(),
    external: ['node-llama-cpp'],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'silent',
  });
  return outfile;
}

/**
 * Environment for a bundled script: the bundle lives outside @quant/kernels, so the addon and the
 * wasm module are named by path.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const k = join(repoRoot, 'packages', 'kernels');
  return {
    ...process.env,
    QUANT_KERNELS_ADDON: process.env.QUANT_KERNELS_ADDON ?? join(k, 'build', 'Release', 'quant_kernels.node'),
    QUANT_KERNELS_WASM: process.env.QUANT_KERNELS_WASM ?? join(k, 'wasm', 'quant-kernels.wasm'),
    QUANT_KERNELS_WASM_MT: process.env.QUANT_KERNELS_WASM_MT ?? join(k, 'wasm', 'quant-kernels-mt.wasm'),
    ...extra,
  };
}

export interface ChildResult {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Lines of stdout that parse as JSON objects. */
  messages: Record<string, unknown>[];
}

export interface ChildHandle {
  /** Resolves with the first JSON message on stdout that `match` accepts. */
  waitFor(match: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves when the process ends (killed with SIGKILL after `timeoutMs`). */
  done: Promise<ChildResult>;
}

/**
 * Starts `node [nodeArgs] script [args]`. The script talks back with one JSON object per stdout line.
 */
export function startScript(
  script: string,
  args: string[] = [],
  options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): ChildHandle {
  const spawnOptions: SpawnOptions = { env: options.env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe'] };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], spawnOptions);
  let stdout = '';
  let stderr = '';
  const messages: Record<string, unknown>[] = [];
  const waiters: {
    match: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    pending += s;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
      if (!line.startsWith('{')) continue;
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      messages.push(m);
      for (const w of [...waiters]) {
        if (w.match(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, messages });
    });
  });
  return {
    done,
    waitFor(match) {
      const seen = messages.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        done.then(
          (r) =>
            reject(
              new Error(
                `the child ended (code ${r.code}, signal ${r.signal}) before the awaited message\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-4000)}`,
              ),
            ),
          reject,
        );
      });
    },
  };
}

/** Runs a script to its end. */
export function runScript(
  script: string,
  args: string[] = [],
  options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ChildResult> {
  return startScript(script, args, options).done;
}
