/**
 * Writing the output without ever destroying another file. The destination path is never opened for
 * writing, truncated or unlinked: bytes go to a temporary file in the destination's directory
 * (`<name>.quant-partial.<host>.<pid>.<random>`), which is fsynced, then linked (no overwrite) or
 * renamed (overwrite) into place, and the directory is fsynced. Any failure removes only that
 * temporary file; so does `process.exit()` (an `'exit'` hook, for hosts that exit from a signal
 * handler). After SIGKILL or a power cut the temporary file remains under its clearly marked name,
 * and the next quantization to the same destination removes it.
 */
import { randomBytes } from 'node:crypto';
import { type BigIntStats, fstatSync, rmSync } from 'node:fs';
import {
  type FileHandle,
  link,
  lstat,
  open,
  readdir,
  realpath,
  rename,
  rm,
  stat,
  unlink,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { QuantizeError } from './errors.js';

/** What every temporary output's name contains, after the destination's file name. */
export const PARTIAL_MARKER = '.quant-partial.';

/** Where the output goes, after the checks. */
export interface OutputTarget {
  /** The path as given. */
  path: string;
  /** The path renamed into place: `path` made absolute, or a symlink's resolved target. */
  finalPath: string;
  /** The regular file that will be replaced (only with `overwrite`). */
  replaces?: BigIntStats;
}

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
const message = (e: unknown): string => (e as Error | undefined)?.message ?? String(e);
const sameFile = (a: BigIntStats, b: BigIntStats): boolean => a.dev === b.dev && a.ino === b.ino;

function kindOf(st: BigIntStats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** The input's device and inode (undefined when it cannot be read: parsing then reports why). */
export async function fileIdentity(path: string): Promise<BigIntStats | undefined> {
  try {
    return await stat(path, { bigint: true });
  } catch {
    return undefined;
  }
}

function sameInputError(inPath: string, outPath: string): QuantizeError {
  return new QuantizeError(
    'SAME_INPUT_OUTPUT',
    `the output path ${outPath} is the input file ${inPath} (same device and inode: the same path, a hard link, a symlink or another mount of it); choose another output path`,
    { path: outPath },
  );
}

function notRegularError(outPath: string, st: BigIntStats): QuantizeError {
  return new QuantizeError(
    'OUTPUT_NOT_REGULAR',
    `${outPath} is ${kindOf(st)}, not a regular file; quantizeModel writes regular files only (a temporary file renamed into place), so choose a file path, or use quantizeToStream to write to a stream`,
    { path: outPath },
  );
}

function existsError(outPath: string): QuantizeError {
  return new QuantizeError(
    'OUTPUT_EXISTS',
    `${outPath} already exists; pass overwrite: true to replace it (it is replaced only once the new file is complete)`,
    { path: outPath },
  );
}

async function checkDirectory(dir: string, outPath: string): Promise<void> {
  let st: BigIntStats;
  try {
    st = await stat(dir, { bigint: true });
  } catch (e) {
    throw new QuantizeError(
      'WRITE_FAILED',
      errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR'
        ? `cannot write ${outPath}: the directory ${dir} does not exist; create it first`
        : `cannot write ${outPath}: ${message(e)}`,
      { path: outPath, cause: e },
    );
  }
  if (!st.isDirectory())
    throw new QuantizeError('WRITE_FAILED', `cannot write ${outPath}: ${dir} is not a directory`, {
      path: outPath,
    });
}

/**
 * Checks `outPath` before any work: not the input (by device and inode, so hard links, symlinks and
 * bind mounts count), a regular file or nothing, an existing file only with `overwrite`, and a
 * directory that exists. Nothing is created or changed.
 */
export async function checkOutputPath(
  inPath: string,
  outPath: string,
  overwrite: boolean,
  input: BigIntStats | undefined,
): Promise<OutputTarget> {
  const abs = resolve(outPath);
  if (abs === resolve(inPath)) throw sameInputError(inPath, outPath);
  let st: BigIntStats;
  try {
    st = await stat(abs, { bigint: true });
  } catch (e) {
    const code = errno(e);
    if (code === 'ENOENT') {
      const l = await lstat(abs).catch(() => undefined);
      if (l?.isSymbolicLink())
        throw new QuantizeError(
          'OUTPUT_NOT_REGULAR',
          `${outPath} is a symbolic link to a missing file; remove the link or choose another output path`,
          { path: outPath },
        );
      await checkDirectory(dirname(abs), outPath);
      return { path: outPath, finalPath: abs };
    }
    if (code === 'ELOOP')
      throw new QuantizeError(
        'OUTPUT_NOT_REGULAR',
        `${outPath} is a symbolic link loop; choose another output path`,
        {
          path: outPath,
          cause: e,
        },
      );
    await checkDirectory(dirname(abs), outPath);
    throw new QuantizeError('WRITE_FAILED', `cannot check ${outPath}: ${message(e)}`, {
      path: outPath,
      cause: e,
    });
  }
  if (input && sameFile(st, input)) throw sameInputError(inPath, outPath);
  if (!st.isFile()) throw notRegularError(outPath, st);
  if (!overwrite) throw existsError(outPath);
  // Replace the file a symlink points to (the link stays), as writing through it would.
  return { path: outPath, finalPath: await realpath(abs), replaces: st };
}

/** Refuses a stream that is the input file (e.g. stdout appended to it), when the stream has a file descriptor. */
export function checkStreamTarget(
  inPath: string,
  fd: number | undefined,
  input: BigIntStats | undefined,
): void {
  if (fd === undefined || input === undefined) return;
  let st: BigIntStats;
  try {
    st = fstatSync(fd, { bigint: true });
  } catch {
    return;
  }
  if (sameFile(st, input))
    throw new QuantizeError(
      'SAME_INPUT_OUTPUT',
      `the output stream (file descriptor ${fd}) is the input file ${inPath}; write to another file`,
      { path: inPath },
    );
}

// ---- temporary files ----

const live = new Set<string>();
function removeLiveSync(): void {
  for (const p of live) {
    try {
      rmSync(p, { force: true });
    } catch {
      // nothing more can be done while exiting
    }
  }
  live.clear();
}
function track(p: string): void {
  if (live.size === 0) process.on('exit', removeLiveSync);
  live.add(p);
}
function untrack(p: string): void {
  if (!live.delete(p)) return;
  if (live.size === 0) process.off('exit', removeLiveSync);
}

/** Temporary files of this process that are not yet renamed into place (for tests and diagnostics). */
export function liveTemporaryOutputs(): string[] {
  return [...live];
}

const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'host';
const PARTIAL_RE = /^(.*)\.quant-partial\.([A-Za-z0-9_-]+)\.(\d+)\.[0-9a-f]{12}$/;

/** The destination's name as used in temporary names (shortened so the whole name fits 255 bytes). */
function stem(finalPath: string): string {
  const b = basename(finalPath);
  return Buffer.byteLength(b) <= 160 ? b : b.slice(0, 120);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

/**
 * Removes temporary files that a killed run (SIGKILL, power cut) left for the same destination: same
 * name, same host, a process id that is no longer running. Returns their paths.
 */
export async function removeStalePartials(finalPath: string): Promise<string[]> {
  const dir = dirname(finalPath);
  const want = stem(finalPath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = PARTIAL_RE.exec(n);
    if (!m || m[1] !== want || m[2] !== HOST) continue;
    const pid = Number(m[3]);
    if (pid === process.pid || pidAlive(pid)) continue;
    const p = join(dir, n);
    try {
      if (!(await lstat(p)).isFile()) continue;
      await rm(p);
      removed.push(p);
    } catch {
      // another run removed it first, or we may not: leave it
    }
  }
  return removed;
}

async function fsyncDirectory(dir: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await open(dir, 'r');
    await h.sync();
  } catch {
    // Not supported on every platform (Windows) or file system; the rename itself has happened.
  } finally {
    await h?.close().catch(() => {});
  }
}

/** A temporary file next to the destination that becomes the destination only when complete. */
export class TemporaryOutput {
  private closed = false;
  private settled = false;
  /** Bytes written so far. */
  size = 0;

  private constructor(
    readonly target: OutputTarget,
    readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {}

  /** Creates the temporary file (exclusively; its permission bits copied from a file it replaces). */
  static async create(target: OutputTarget): Promise<TemporaryOutput> {
    const dir = dirname(target.finalPath);
    const tempPath = join(
      dir,
      `${stem(target.finalPath)}${PARTIAL_MARKER}${HOST}.${process.pid}.${randomBytes(6).toString('hex')}`,
    );
    const mode = target.replaces ? Number(target.replaces.mode & 0o7777n) : 0o666;
    let handle: FileHandle;
    try {
      handle = await open(tempPath, 'wx', mode);
    } catch (e) {
      throw new QuantizeError(
        'WRITE_FAILED',
        `cannot create a temporary file in ${dir} for ${target.path}: ${message(e)}`,
        { path: target.path, cause: e },
      );
    }
    track(tempPath);
    if (target.replaces) await handle.chmod(mode).catch(() => {}); // open's mode is masked by the umask
    return new TemporaryOutput(target, tempPath, handle);
  }

  async write(chunk: Uint8Array): Promise<void> {
    try {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done);
        done += bytesWritten;
      }
    } catch (e) {
      throw new QuantizeError('WRITE_FAILED', `writing ${this.target.path} failed: ${message(e)}`, {
        path: this.target.path,
        cause: e,
      });
    }
    this.size += chunk.length;
  }

  /**
   * fsyncs and closes the file, puts it in place and fsyncs the directory. Without `overwrite` it is
   * hard-linked to the destination, which fails if a file appeared there meanwhile (a rename after
   * a fresh check where links are not supported); with it, renamed over the destination.
   */
  async commit(overwrite: boolean, input: BigIntStats | undefined, inPath: string): Promise<void> {
    const { path, finalPath } = this.target;
    try {
      await this.handle.sync();
      await this.handle.close();
      this.closed = true;
    } catch (e) {
      throw new QuantizeError('WRITE_FAILED', `writing ${path} failed: ${message(e)}`, { path, cause: e });
    }
    const now = await stat(finalPath, { bigint: true }).catch(() => undefined);
    if (now && input && sameFile(now, input)) throw sameInputError(inPath, path);
    if (now && !now.isFile()) throw notRegularError(path, now);
    if (!overwrite) {
      if (now) throw existsError(path);
      try {
        await link(this.tempPath, finalPath);
      } catch (e) {
        const code = errno(e);
        if (code === 'EEXIST') throw existsError(path);
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK'].includes(code ?? ''))
          throw new QuantizeError('WRITE_FAILED', `cannot move the finished file to ${path}: ${message(e)}`, {
            path,
            cause: e,
          });
        // No hard links on this file system: rename, having just checked that nothing is there.
        await this.renameIntoPlace();
        return;
      }
      this.settled = true;
      untrack(this.tempPath);
      await unlink(this.tempPath).catch(() => {}); // the second name of the finished file
      await fsyncDirectory(dirname(finalPath));
      return;
    }
    await this.renameIntoPlace();
  }

  private async renameIntoPlace(): Promise<void> {
    try {
      await rename(this.tempPath, this.target.finalPath);
    } catch (e) {
      throw new QuantizeError(
        'WRITE_FAILED',
        `cannot move the finished file to ${this.target.path}: ${message(e)}`,
        { path: this.target.path, cause: e },
      );
    }
    this.settled = true;
    untrack(this.tempPath);
    await fsyncDirectory(dirname(this.target.finalPath));
  }

  /** Closes and removes the temporary file (and nothing else). */
  async discard(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    if (!this.closed) await this.handle.close().catch(() => {});
    this.closed = true;
    // Stays on the exit hook's list if it could not be removed now.
    await rm(this.tempPath, { force: true }).then(
      () => untrack(this.tempPath),
      () => {},
    );
  }
}
