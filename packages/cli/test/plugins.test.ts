/**
 * `--plugin` and QUANT_PLUGINS: a third-party architecture plugin, loaded from a path or from a
 * package installed in the current folder, runs a model whose architecture no built-in plugin knows.
 * The plugin is @quant/plugin-api's README example (a Llama-style "foo"); the same weights written
 * as "llama" give the built-in plugin's output, which the "foo" run must reproduce token for token.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pluginSpecs, resolvePlugin } from '../src/plugins';
import { SMALL, TempDir } from './helpers/fixtures';
import { quant, repoDir } from './helpers/quant';

const example = join(repoDir, 'packages', 'plugin-api', 'examples', 'foo-plugin.mjs');

let tmp: TempDir;
let foo: string;
let llama: string;
let pluginFile: string;
beforeAll(async () => {
  tmp = new TempDir();
  foo = await tmp.model('foo.gguf', { ...SMALL, arch: 'foo' });
  llama = await tmp.model('llama.gguf', { ...SMALL, arch: 'llama' });
  // The plugin's folder has @quant/plugin-api installed beside it, as an npm user's project would.
  mkdirSync(tmp.file('node_modules/@quant'), { recursive: true });
  symlinkSync(join(repoDir, 'packages', 'plugin-api'), tmp.file('node_modules/@quant/plugin-api'), 'dir');
  mkdirSync(tmp.file('plugins'));
  pluginFile = tmp.file('plugins/foo-plugin.mjs');
  copyFileSync(example, pluginFile);
  // …and as a package: node_modules/@acme/arch-foo with an "exports" map.
  const pkgDir = tmp.file('node_modules/@acme/arch-foo');
  mkdirSync(join(pkgDir, 'dist'), { recursive: true });
  copyFileSync(example, join(pkgDir, 'dist', 'index.mjs'));
  writeFileSync(
    join(pkgDir, 'package.json'),
    JSON.stringify({
      name: '@acme/arch-foo',
      type: 'module',
      exports: { '.': { import: './dist/index.mjs' } },
    }),
  );
});
afterAll(() => tmp?.remove());

const args = (model: string) => ['run', model, 'Once upon a time', '--temp', '0', '-n', '12', '-q'];

describe('quant run with architecture plugins', () => {
  it('without the plugin, the error names --plugin and QUANT_PLUGINS (exit 5)', async () => {
    const r = await quant(args(foo), { env: { QUANT_PLUGINS: '' } });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/unsupported architecture "foo"/);
    expect(r.stderr).toMatch(/--plugin <package or path>/);
    expect(r.stderr).toMatch(/QUANT_PLUGINS=/);
  });

  it('--plugin <path> runs the model, with the output of the built-in llama on the same weights', async () => {
    const ref = await quant(args(llama));
    expect(ref.code, ref.stderr).toBe(0);
    expect(ref.stdout.trim().length).toBeGreaterThan(0);
    const r = await quant([...args(foo), '--plugin', pluginFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(ref.stdout);
  });

  it('QUANT_PLUGINS loads the same plugin (and a package by name, resolved from the current folder)', async () => {
    const ref = await quant(args(llama));
    const r = await quant(args(foo), { env: { QUANT_PLUGINS: pluginFile } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(ref.stdout);
    expect(resolvePlugin('@acme/arch-foo', tmp.path)).toBe(
      `file://${tmp.file('node_modules/@acme/arch-foo/dist/index.mjs')}`,
    );
  });

  it('a missing plugin is reported before the model is opened (exit 3)', async () => {
    const r = await quant([...args(foo), '--plugin', tmp.file('nope.mjs')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/plugin file not found: .*nope\.mjs/);
    const p = await quant([...args(foo), '--plugin', '@acme/not-installed']);
    expect(p.code).toBe(3);
    expect(p.stderr).toMatch(/plugin package "@acme\/not-installed" is not installed/);
  });

  it('a plugin that throws on import fails with its message (exit 1)', async () => {
    const bad = tmp.file('plugins/bad.mjs');
    writeFileSync(bad, "throw new Error('boom from the plugin');\n");
    const r = await quant([...args(foo), '--plugin', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plugin ".*bad\.mjs" failed to load: boom from the plugin/);
  });
});

describe('pluginSpecs', () => {
  it('takes --plugin values, then QUANT_PLUGINS split on commas and the path separator, each once', () => {
    expect(pluginSpecs(['a', ' ./b.mjs '], 'c, d:a,,')).toEqual(['a', './b.mjs', 'c', 'd']);
    expect(pluginSpecs(undefined, undefined)).toEqual([]);
  });
});
