/**
 * Shared by the C driver tests (neon.test.ts, x86.test.ts): the kernel sources a driver links, and
 * running a driver that prints one JSON object per line (`"ok": false` marks a failed check).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

export const kernelsRoot = join(__dirname, '..');

/** The C sources of the addon minus the N-API binding, read from binding.gyp so the lists never drift. */
export function kernelSources(): string[] {
  const gyp = readFileSync(join(kernelsRoot, 'binding.gyp'), 'utf8');
  const list = [...gyp.matchAll(/"(csrc\/[\w/-]+\.c)"/g)].map((m) => m[1] as string);
  return [...new Set(list)].filter((f) => !f.endsWith('napi-binding.c')).map((f) => join(kernelsRoot, f));
}

/** Runs a driver; expects no failed check and exit status 0; returns its JSON lines. */
export function runDriver<T extends { ok?: boolean }>(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): T[] {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
  const failed = lines.filter((l) => l.ok === false);
  expect(failed, JSON.stringify(failed, null, 1)).toEqual([]);
  expect(r.status, `${cmd} exited ${r.status}:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return lines;
}
