/**
 * Runs the built `quant` bin (packages/cli/dist/bin.js). `ensureBuilt()` rebuilds it with tsup when
 * a source file is newer than the bin, and builds the workspace dependencies with turbo when their
 * dist is missing (CI builds everything before the tests, so there this does nothing).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cliDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const repoDir = join(cliDir, '..', '..');
export const bin = join(cliDir, 'dist', 'bin.js');
const DEPS = [
  'gguf',
  'tokenizer',
  'kernels',
  'plugin-api',
  'arch-gemma2',
  'arch-llama',
  'arch-phi2',
  'arch-phi3',
  'arch-qwen2',
  'hub',
  'runtime',
  'quantize',
  'server',
];

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

let built = false;
export function ensureBuilt(): void {
  if (built) return;
  const pnpm = process.platform === 'win32' ? 'pnpm.cmd' : 'pnpm';
  if (DEPS.some((d) => !existsSync(join(repoDir, 'packages', d, 'dist', 'index.js')))) {
    execFileSync(
      pnpm,
      ['exec', 'turbo', 'run', 'build', '--filter=@quant/cli^...', '--output-logs=errors-only'],
      { cwd: repoDir, stdio: 'inherit' },
    );
  }
  const src = Math.max(
    newestMtime(join(cliDir, 'src')),
    statSync(join(cliDir, 'tsup.config.ts')).mtimeMs,
    statSync(join(cliDir, 'package.json')).mtimeMs,
  );
  if (!existsSync(bin) || statSync(bin).mtimeMs < src) {
    execFileSync(pnpm, ['exec', 'tsup'], { cwd: cliDir, stdio: 'ignore' });
  }
  built = true;
}

export interface QuantResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface QuantOptions {
  input?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Send SIGINT when stdout first matches. */
  interruptWhen?: RegExp;
}

/** Spawns `node dist/bin.js ...args` without a terminal (no colours, no progress bars). */
export function quant(args: readonly string[], o: QuantOptions = {}): Promise<QuantResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '', ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (o.interruptWhen && !interrupted && o.interruptWhen.test(stdout)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}
