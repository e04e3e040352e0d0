// Shared vitest settings for every package. Tests import workspace packages from
// their TypeScript sources (no build needed), except where a test spawns a built bin.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));

/** `@quant/<dir>` → `packages/<dir>/src/index.ts`, for every package that has one. */
export function workspaceAliases(): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const dir of readdirSync(join(root, 'packages'))) {
    const entry = join(root, 'packages', dir, 'src', 'index.ts');
    if (existsSync(entry)) aliases[`@quant/${dir}`] = entry;
  }
  return aliases;
}

/** The vitest project config of one package (`packages/<name>`). */
export function packageProject(name: string, extra: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { alias: workspaceAliases() },
    test: {
      name,
      root: join(root, 'packages', name),
      include: ['test/**/*.test.ts'],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      ...extra,
    },
  });
}

export const repoRoot = root;
export const sharedDir = join(root, '..', 'shared');
