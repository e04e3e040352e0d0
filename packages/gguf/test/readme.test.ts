// The README's example runs as written (against the built package).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');

if (!existsSync(dist)) console.warn('[gguf readme test] dist/ not built: skipping the README example');
describe.skipIf(!existsSync(dist))('README', () => {
  it('the example runs and prints what its comments say', () => {
    const code = readme.split('```js\n')[1]?.split('```')[0] ?? '';
    expect(code).toContain("from '@quant/gguf'");
    const dir = mkdtempSync(join(tmpdir(), 'gguf-readme-'));
    try {
      writeFileSync(
        join(dir, 'example.mjs'),
        code.replace("from '@quant/gguf'", `from ${JSON.stringify(dist)}`),
      );
      const r = spawnSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^3 llama 2048\n\[ '<unk>', '<s>', '<\/s>' \]\nF32 \[ 4, 3 \] 48 \d+\n0\.5\n/);
      expect(r.stdout).toContain('parameterCount: 108');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
