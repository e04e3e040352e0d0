/**
 * Hugging Face's cache layout, shared with Python's huggingface_hub and every tool built on it:
 *
 *   <cache>/models--owner--repo/blobs/<sha256 or git sha1>        the bytes, once per content
 *   <cache>/models--owner--repo/snapshots/<commit>/<path>         → ../../blobs/<hash> (relative symlink)
 *   <cache>/models--owner--repo/refs/<revision>                   the commit a branch or tag pointed to
 *
 * A blob is only ever created by renaming a complete, verified `<hash>.incomplete` file.
 */
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';

export const COMMIT_RE = /^[0-9a-f]{40}$/;

export function repoFolder(cacheDir: string, repo: string): string {
  return join(cacheDir, getRepoFolderName({ name: repo, type: 'model' }));
}

export function blobPath(folder: string, hash: string): string {
  return join(folder, 'blobs', hash);
}

export function snapshotFile(folder: string, commit: string, path: string): string {
  return join(folder, 'snapshots', commit, ...path.split('/'));
}

/** The commit `revision` resolves to in the cache (a commit hash resolves to itself when its snapshot exists). */
export function readRef(folder: string, revision: string): string | undefined {
  if (COMMIT_RE.test(revision)) return existsSync(join(folder, 'snapshots', revision)) ? revision : undefined;
  try {
    const commit = readFileSync(join(folder, 'refs', ...revision.split('/')), 'utf8').trim();
    return COMMIT_RE.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

export async function writeRef(folder: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const p = join(folder, 'refs', ...revision.split('/'));
  await mkdir(dirname(p), { recursive: true });
  let old: string | undefined;
  try {
    old = await readFile(p, 'utf8');
  } catch {}
  if (old === commit) return;
  const tmp = `${p}.${process.pid}.tmp`;
  await writeFile(tmp, commit);
  await rename(tmp, p);
}

/** Is `p` a complete file (following the snapshot symlink)? */
export function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Points snapshots/<commit>/<path> at the blob (a relative symlink; a copy where symlinks fail). */
export async function linkSnapshot(
  folder: string,
  commit: string,
  path: string,
  hash: string,
): Promise<string> {
  const dst = snapshotFile(folder, commit, path);
  const blob = blobPath(folder, hash);
  await mkdir(dirname(dst), { recursive: true });
  try {
    if (lstatSync(dst)) await rm(dst, { force: true });
  } catch {}
  try {
    await symlink(relative(dirname(dst), blob), dst);
  } catch {
    await copyFile(blob, dst);
  }
  return dst;
}

/** Records a use: the blob's access time becomes now (its modification time is kept). `quant list` shows it. */
export async function touch(path: string): Promise<void> {
  try {
    const st = statSync(path);
    await utimes(path, new Date(), st.mtime);
  } catch {}
}
