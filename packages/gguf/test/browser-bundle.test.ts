// The library core bundles for browsers: no Node built-in is imported statically.

import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('browser bundle', () => {
  it('src/index.ts bundles with platform=browser and runs without Node modules', async () => {
    const res = await build({
      entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(res.errors).toEqual([]);
    const code = res.outputFiles[0]?.text ?? '';
    expect(code).not.toMatch(/from\s+["']node:/);
    expect(code).not.toMatch(/require\(["']node:/);
    expect(code).not.toMatch(/\bBuffer\./);
    // The lazy file-system import is behind a variable specifier bundlers leave alone.
    expect(code).toMatch(/["']node:fs\/promises["']/);
  });
});
