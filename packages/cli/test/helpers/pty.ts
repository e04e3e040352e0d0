/** Runs a command in a pseudo-terminal through test/helpers/pty-driver.py (python3's pty module). */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type PtyStep =
  | { expect: string; timeout?: number }
  | { send: string }
  | { wait_output: number; timeout?: number }
  | { sleep: number };

export interface PtyResult {
  ok: boolean;
  error: string | null;
  transcript: string;
  exit: number | null;
}

const driver = join(dirname(fileURLToPath(import.meta.url)), 'pty-driver.py');

export function runInPty(
  argv: string[],
  steps: PtyStep[],
  env: Record<string, string> = {},
): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      [driver, JSON.stringify({ argv, steps, timeout: 60 })],
      { env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && !stdout) return reject(new Error(`pty driver failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout) as PtyResult);
        } catch {
          reject(new Error(`pty driver output is not JSON: ${stdout.slice(0, 500)}\n${stderr}`));
        }
      },
    );
  });
}
