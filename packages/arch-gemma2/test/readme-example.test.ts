/**
 * The README's example (the block `scripts/release-dry-run.mjs` runs from the installed tarballs)
 * runs here too, from the workspace sources, and prints what its comment says.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const dir = join(__dirname, '..');

describe('arch-gemma2 README example', () => {
  it('runs and prints "320 true" (the logits are capped to ±5)', async () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const m = /<!-- release-dry-run: arch-gemma2-example\.ts -->\n```ts\n([\s\S]*?)```\n/.exec(readme);
    expect(m, 'README has the example block').not.toBeNull();
    const file = join(__dirname, `.readme-example-${process.pid}.ts`);
    writeFileSync(file, m?.[1] ?? '');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import(/* @vite-ignore */ file);
      expect(log.mock.calls).toEqual([[320, true]]);
    } finally {
      log.mockRestore();
      rmSync(file, { force: true });
    }
  });
});
