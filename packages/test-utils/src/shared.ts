/**
 * The shared test data (`../shared` beside the repo; see its README). Tests read it in place, never
 * copy it, and skip with a clear message when it is absent.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is packages/test-utils/src/shared.ts). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** `../shared` from the repository root. */
export const sharedDir = join(repoRoot, '..', 'shared');
/** `../shared/models`. */
export const sharedModelsDir = join(sharedDir, 'models');

/** A path inside the shared directory. */
export function sharedPath(...parts: string[]): string {
  return join(sharedDir, ...parts);
}

/** Whether every one of these paths (relative to the shared directory) exists. */
export function hasShared(...relPaths: string[]): boolean {
  return relPaths.every((p) => existsSync(join(sharedDir, p)));
}

/** Prints the note a test file gives when it skips tests because shared data is absent. */
export function warnSkipped(label: string, what: string): void {
  console.warn(`[${label}] ${what}`);
}
