/**
 * The README's plugin example is examples/foo-plugin.mjs byte for byte (that file is what
 * @quant/plugin-kit's tests run against llama.cpp and the CLI's --plugin test loads), so the README
 * cannot drift from code that runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(__dirname, '..');

describe('plugin-api README example', () => {
  it('the "Writing a plugin" block is examples/foo-plugin.mjs', () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const m = /<!-- example: examples\/foo-plugin\.mjs -->\n```js\n([\s\S]*?)```\n/.exec(readme);
    expect(m, 'README has the example block').not.toBeNull();
    expect(m?.[1]).toBe(readFileSync(join(dir, 'examples', 'foo-plugin.mjs'), 'utf8'));
  });
});
