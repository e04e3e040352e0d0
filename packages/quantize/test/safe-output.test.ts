// quantizeModel never destroys a file (issue 12): the output path is never opened for writing,
// truncated or unlinked. Bytes go to a temporary file next to it, fsynced and renamed into place when
// complete; the input is recognised by device and inode; non-regular outputs are refused.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  createWriteStream,
  existsSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseGGUF } from '@quant/gguf';
import {
  liveTemporaryOutputs,
  PARTIAL_MARKER,
  QuantizeError,
  type QuantizeErrorCode,
  quantizeModel,
  quantizeToStream,
} from '@quant/quantize';
import { warnSkipped } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NARROW, syntheticModel } from './helpers/synthetic.js';
import { writeSynthetic } from './helpers/write-synthetic.js';

const root = mkdtempSync(join(tmpdir(), 'quant-safe-'));
const model = join(root, 'model.gguf');
const nanModel = join(root, 'nan.gguf');
beforeAll(async () => {
  await writeSynthetic(model, syntheticModel('llama', NARROW));
  const m = syntheticModel('llama', NARROW);
  const t = m.tensors.find((x) => x.name === 'blk.2.ffn_down.weight');
  if (!t) throw new Error('no such tensor');
  t.values[5 * 96 + 9] = Number.POSITIVE_INFINITY; // row 5, column 9 (rows are 96 wide)
  await writeSynthetic(nanModel, m);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const dist = join(__dirname, '..', 'dist', 'index.js');
const newest = (d: string): number => Math.max(...readdirSync(d).map((f) => statSync(join(d, f)).mtimeMs));
const distFresh = existsSync(dist) && statSync(dist).mtimeMs >= newest(join(__dirname, '..', 'src'));
if (!distFresh)
  warnSkipped(
    'quantize safe-output',
    `${dist} is missing or older than src/: the process.exit test is skipped (build @quant/quantize)`,
  );

let n = 0;
function caseDir(from = model): { dir: string; input: string } {
  const dir = join(root, `c${++n}`);
  mkdirSync(dir);
  const input = join(dir, 'in.gguf');
  writeFileSync(input, readFileSync(from));
  return { dir, input };
}
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const ls = (dir: string) => readdirSync(dir).sort();

async function failure(p: Promise<unknown>): Promise<QuantizeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(QuantizeError);
    return e as QuantizeError;
  }
  throw new Error('expected a QuantizeError');
}
const code = async (p: Promise<unknown>): Promise<QuantizeErrorCode> => (await failure(p)).code;

describe('the input is never the output', () => {
  it('a hard link to the input is refused (same inode) and the input keeps every byte', async () => {
    const { dir, input } = caseDir();
    const hard = join(dir, 'hard.gguf');
    linkSync(input, hard);
    const before = sha(input);
    for (const overwrite of [false, true]) {
      const e = await failure(quantizeModel(input, hard, { type: 'Q8_0', threads: 1, overwrite }));
      expect(e.code).toBe('SAME_INPUT_OUTPUT');
      expect(e.message).toMatch(/hard\.gguf is the input file .*same device and inode/);
    }
    expect(sha(input)).toBe(before);
    expect(statSync(hard).ino).toBe(statSync(input).ino);
    expect(ls(dir)).toEqual(['hard.gguf', 'in.gguf']);
  });

  it('the same path, a symlink and a symlinked directory are refused too, with overwrite', async () => {
    const { dir, input } = caseDir();
    symlinkSync(input, join(dir, 'sym.gguf'));
    symlinkSync(dir, join(dir, 'alias'));
    const before = sha(input);
    for (const out of [input, join(dir, 'sym.gguf'), join(dir, 'alias', 'in.gguf'), `${dir}/./in.gguf`]) {
      expect(await code(quantizeModel(input, out, { type: 'Q8_0', overwrite: true }))).toBe(
        'SAME_INPUT_OUTPUT',
      );
    }
    expect(sha(input)).toBe(before);
  });
});

describe('an existing output', () => {
  it('is refused without overwrite (OUTPUT_EXISTS) and left as it was', async () => {
    const { dir, input } = caseDir();
    const out = join(dir, 'out.gguf');
    writeFileSync(out, 'keep me');
    const e = await failure(quantizeModel(input, out, { type: 'Q8_0' }));
    expect(e.code).toBe('OUTPUT_EXISTS');
    expect(e.message).toMatch(/out\.gguf already exists; pass overwrite: true/);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    expect(ls(dir)).toEqual(['in.gguf', 'out.gguf']);
  });

  it('with overwrite: replaced by rename only once complete and fsynced (file and directory)', async () => {
    const { dir, input } = caseDir();
    const out = join(dir, 'out.gguf');
    writeFileSync(out, 'keep me until the new file is complete');
    const oldIno = statSync(out).ino;
    // Record every fsync: what the output path held at that moment, and whether a file or a directory was synced.
    const probe = await open(input, 'r');
    const proto = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
    await probe.close();
    const seen: { outContent: string; isDir: boolean }[] = [];
    const original = proto.sync;
    const spy = vi.spyOn(proto, 'sync').mockImplementation(async function (this: { fd: number }) {
      const st = fstatSync(this.fd);
      seen.push({ outContent: readFileSync(out, 'latin1').slice(0, 40), isDir: st.isDirectory() });
      return original.call(this);
    });
    let r: Awaited<ReturnType<typeof quantizeModel>>;
    try {
      r = await quantizeModel(input, out, {
        type: 'Q8_0',
        threads: 1,
        overwrite: true,
        onProgress: () => {
          expect(readFileSync(out, 'utf8')).toBe('keep me until the new file is complete');
        },
      });
    } finally {
      spy.mockRestore();
    }
    expect(seen.filter((s) => !s.isDir)).toEqual([
      { outContent: 'keep me until the new file is complete', isDir: false },
    ]);
    expect(seen.filter((s) => s.isDir)).toHaveLength(1); // the directory, after the rename
    expect(seen.at(-1)?.outContent.startsWith('GGUF')).toBe(true);
    expect(statSync(out).ino).not.toBe(oldIno);
    expect(statSync(out).size).toBe(r.outputBytes);
    const g = await parseGGUF(out);
    expect(g.metadata['general.file_type']).toBe(7);
    await g.close();
    expect(ls(dir)).toEqual(['in.gguf', 'out.gguf']);
    expect(liveTemporaryOutputs()).toEqual([]);
  });

  it('NaN/Inf weights: NON_FINITE_VALUES naming the tensor; the existing file and nothing else remains', async () => {
    const { dir, input } = caseDir(nanModel);
    const out = join(dir, 'out.gguf');
    writeFileSync(out, 'keep me');
    for (const threads of [1, 2]) {
      const e = await failure(quantizeModel(input, out, { type: 'Q8_0', threads, overwrite: true }));
      expect(e.code).toBe('NON_FINITE_VALUES');
      expect(e.tensor).toBe('blk.2.ffn_down.weight');
      expect(e.message).toMatch(/blk\.2\.ffn_down\.weight has a NaN or infinite value at row 5, column 9/);
      expect(e.message).toMatch(/out\.gguf was left as it was/);
      expect(readFileSync(out, 'utf8')).toBe('keep me');
      expect(ls(dir)).toEqual(['in.gguf', 'out.gguf']);
    }
    expect(liveTemporaryOutputs()).toEqual([]);
  });

  it('an abort half-way leaves the existing file as it was and no temporary file', async () => {
    const { dir, input } = caseDir();
    const out = join(dir, 'out.gguf');
    writeFileSync(out, 'keep me');
    const ac = new AbortController();
    const e = await failure(
      quantizeModel(input, out, {
        type: 'Q8_0',
        threads: 1,
        overwrite: true,
        signal: ac.signal,
        onProgress: (done) => {
          if (done === 4) ac.abort();
        },
      }),
    );
    expect(e.code).toBe('ABORTED');
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    expect(ls(dir)).toEqual(['in.gguf', 'out.gguf']);
  });

  it('a symlink as output: its target is replaced, the link stays a link', async () => {
    const { dir, input } = caseDir();
    mkdirSync(join(dir, 'real'));
    const target = join(dir, 'real', 'model.gguf');
    writeFileSync(target, 'old');
    symlinkSync(target, join(dir, 'link.gguf'));
    await quantizeModel(input, join(dir, 'link.gguf'), { type: 'Q8_0', overwrite: true });
    expect(lstatSync(join(dir, 'link.gguf')).isSymbolicLink()).toBe(true);
    expect(readFileSync(target).subarray(0, 4).toString()).toBe('GGUF');
    expect(ls(join(dir, 'real'))).toEqual(['model.gguf']);
  });
});

describe('outputs that are not regular files are refused and left alone', () => {
  it('a FIFO (with a reader, so a writer would not block): OUTPUT_NOT_REGULAR, the FIFO stays', async () => {
    const { dir, input } = caseDir(nanModel);
    const fifo = join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      for (const overwrite of [false, true]) {
        const e = await failure(quantizeModel(input, fifo, { type: 'Q8_0', overwrite }));
        expect(e.code).toBe('OUTPUT_NOT_REGULAR');
        expect(e.message).toMatch(/pipe is a FIFO \(named pipe\), not a regular file/);
      }
    } finally {
      closeSync(reader);
    }
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(ls(dir)).toEqual(['in.gguf', 'pipe']);
  });

  it('a directory and a dangling symlink', async () => {
    const { dir, input } = caseDir();
    mkdirSync(join(dir, 'd'));
    symlinkSync(join(dir, 'missing'), join(dir, 'dangling.gguf'));
    expect(await code(quantizeModel(input, join(dir, 'd'), { type: 'Q8_0', overwrite: true }))).toBe(
      'OUTPUT_NOT_REGULAR',
    );
    expect(await code(quantizeModel(input, join(dir, 'dangling.gguf'), { type: 'Q8_0' }))).toBe(
      'OUTPUT_NOT_REGULAR',
    );
    expect(ls(join(dir, 'd'))).toEqual([]);
    expect(lstatSync(join(dir, 'dangling.gguf')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });
});

describe('temporary files', () => {
  it('are named <output>.quant-partial.<host>.<pid>.<random>, tracked while written, gone after', async () => {
    const { dir, input } = caseDir();
    const out = join(dir, 'out.gguf');
    const seen: string[][] = [];
    await quantizeModel(input, out, {
      type: 'Q8_0',
      threads: 1,
      onProgress: () => {
        seen.push(ls(dir));
        expect(liveTemporaryOutputs().map((p) => p.slice(dir.length + 1))).toEqual(
          ls(dir).filter((x) => x !== 'in.gguf'),
        );
      },
    });
    const host = hostname().replace(/[^A-Za-z0-9-]/g, '_');
    for (const names of seen) {
      expect(names).toHaveLength(2);
      expect(names[1]).toMatch(
        new RegExp(`^out\\.gguf\\${PARTIAL_MARKER.slice(0, -1)}\\.${host}\\.${process.pid}\\.[0-9a-f]{12}$`),
      );
    }
    expect(ls(dir)).toEqual(['in.gguf', 'out.gguf']);
    expect(liveTemporaryOutputs()).toEqual([]);
  });

  it('left by a killed run (dead pid, this host) are removed by the next run to that output, and only those', async () => {
    const { dir, input } = caseDir();
    const host = hostname().replace(/[^A-Za-z0-9-]/g, '_');
    const dead = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    const stale = `out.gguf.quant-partial.${host}.${dead}.0123456789ab`;
    const keep = [
      `out.gguf.quant-partial.otherhost.${dead}.0123456789ab`, // another machine's run
      `out.gguf.quant-partial.${host}.1.0123456789ab`, // pid 1 is alive
      `other.gguf.quant-partial.${host}.${dead}.0123456789ab`, // another output
    ];
    for (const f of [stale, ...keep]) writeFileSync(join(dir, f), 'GGUF partial');
    const r = await quantizeModel(input, join(dir, 'out.gguf'), { type: 'Q8_0', threads: 1 });
    expect(r.removedPartials).toEqual([join(dir, stale)]);
    expect(ls(dir)).toEqual(['in.gguf', 'out.gguf', ...keep].sort());
  });

  // Needs the built package (plain Node cannot import the TypeScript sources); the CLI tests cover
  // the same hook through `quant quantize` and a second Ctrl-C.
  it.skipIf(!distFresh)(
    'are removed when the process exits mid-write (process.exit, e.g. from a signal handler)',
    () => {
      const { dir, input } = caseDir();
      const out = join(dir, 'out.gguf');
      const script = `
      import { quantizeModel } from ${JSON.stringify(pathToFileURL(dist).href)};
      await quantizeModel(${JSON.stringify(input)}, ${JSON.stringify(out)}, {
        type: 'Q8_0', threads: 1, onProgress: (d) => { if (d === 3) process.exit(42); },
      });`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(42);
      expect(ls(dir)).toEqual(['in.gguf']);
    },
  );
});

describe('quantizeToStream', () => {
  it('writes the same bytes as quantizeModel, deleting nothing', async () => {
    const { dir, input } = caseDir();
    const file = join(dir, 'file.gguf');
    await quantizeModel(input, file, { type: 'Q4_0', threads: 1 });
    const sink = join(dir, 'sink.gguf');
    const ws = createWriteStream(sink);
    await new Promise((res) => ws.once('open', res));
    const r = await quantizeToStream(input, ws, { type: 'Q4_0', threads: 1 });
    await new Promise((res) => ws.end(res));
    expect(readFileSync(sink).equals(readFileSync(file))).toBe(true);
    expect(r.outputBytes).toBe(statSync(file).size);
  });

  it('refuses a stream whose file descriptor is the input file', async () => {
    const { input } = caseDir();
    const before = sha(input);
    const fd = openSync(input, 'a');
    try {
      const stream = {
        fd,
        write: (_c: Uint8Array, cb: (e?: Error | null) => void) => {
          cb();
          return true;
        },
      };
      expect(await code(quantizeToStream(input, stream, { type: 'Q8_0' }))).toBe('SAME_INPUT_OUTPUT');
    } finally {
      closeSync(fd);
    }
    expect(sha(input)).toBe(before);
  });
});

describe('threads', () => {
  it(`are clamped to the CPUs available (${availableParallelism()}), with a note`, async () => {
    const { dir, input } = caseDir();
    const asked = availableParallelism() + 2;
    const r = await quantizeModel(input, join(dir, 'out.gguf'), { type: 'Q8_0', threads: asked });
    expect(r.threads).toBeLessThanOrEqual(availableParallelism());
    expect(r.note).toContain(`${asked} threads asked for, ${availableParallelism()} used`);
  });
});
