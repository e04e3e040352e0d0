// Issue 12, "Data loss in quant quantize": `quant quantize` must never lose a byte of any file other
// than its own temporary output. Each case below reproduces a defect of the earlier version (input
// truncated through a hard link, an existing output deleted on failure, a FIFO or device node deleted,
// partial files left under the final name by signals) and checks the contract that replaced it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseGGUF } from '@quant/gguf';
import { QuantizeError } from '@quant/quantize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError } from '../src/errors';
import { EXIT } from '../src/exit-codes';
import { SMALL, TempDir } from './helpers/fixtures';
import { bin, quant } from './helpers/quant';

let tmp: TempDir;
let small: string; // ~0.1 MB F32: quantizes in milliseconds
let nan: string; // the same model with one NaN weight in blk.1.ffn_down.weight
let big: string; // ~27 MB F32: about a second of Q4_K_M work on one thread, time to send a signal
const NAN_TENSOR = 'blk.1.ffn_down.weight';

beforeAll(async () => {
  tmp = new TempDir();
  small = await tmp.model('small.gguf', SMALL);
  big = await tmp.model('big.gguf', { nEmbd: 512, nLayers: 2, nHeads: 8, nKvHeads: 4, nFF: 1536, seed: 5 });
  nan = tmp.file('nan.gguf');
  copyFileSync(small, nan);
  const g = await parseGGUF(nan);
  const t = g.tensor(NAN_TENSOR);
  await g.close();
  if (!t) throw new Error(`${NAN_TENSOR} missing from the synthetic model`);
  const fd = openSync(nan, 'r+');
  const v = Buffer.alloc(4);
  v.writeFloatLE(Number.NaN);
  writeSync(fd, v, 0, 4, t.absoluteOffset + 4 * (3 * (t.shape[0] ?? 1) + 5)); // row 3, column 5
  closeSync(fd);
});
afterAll(() => tmp?.remove());

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dirs = 0;
/** A fresh directory holding a copy of `model` as in.gguf. */
function workDir(model: string): { dir: string; input: string } {
  const dir = tmp.file(`case-${++dirs}`);
  mkdirSync(dir);
  const input = join(dir, 'in.gguf');
  copyFileSync(model, input);
  return { dir, input };
}
const listing = (dir: string) => readdirSync(dir).sort();

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>;
}

/** Spawns the bin with binary stdout (a pipe, or a file descriptor). */
function spawnQuant(args: string[], o: { cwd?: string; stdoutFd?: number } = {}): Run {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: o.cwd,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '' },
    stdio: ['ignore', o.stdoutFd ?? 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const done = new Promise<Awaited<Run['done']>>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr });
    });
  });
  return { child, done };
}

/** Size, inode and mtime, or undefined when the path does not exist. */
function ident(p: string): string | undefined {
  try {
    const s = statSync(p);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/**
 * Starts quantizing `big` into `final` and sends `signals` once output bytes are being written (a new
 * non-empty file in the directory, or the existing final file changed), `gapMs` apart.
 */
async function interrupt(
  dir: string,
  input: string,
  final: string,
  signals: NodeJS.Signals[],
  extra: string[] = [],
  gapMs = 3,
) {
  const before = new Set(readdirSync(dir));
  const finalBefore = ident(final);
  const run = spawnQuant(['quantize', input, final, 'Q4_K_M', '--threads', '1', '-q', ...extra]);
  let exited = false;
  void run.done.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 30_000;
  const writing = () =>
    ident(final) !== finalBefore ||
    readdirSync(dir).some(
      (n) => !before.has(n) && (statSync(join(dir, n), { throwIfNoEntry: false })?.size ?? 0) > 0,
    );
  while (!exited && !writing() && Date.now() < deadline) await sleep(1);
  expect(exited, 'the quantization finished before a signal could be sent').toBe(false);
  for (const [i, s] of signals.entries()) {
    if (i > 0) await sleep(gapMs);
    try {
      run.child.kill(s);
    } catch {
      // already gone
    }
  }
  return run.done;
}

describe('quant quantize refuses an output that is the input file', () => {
  const cases: [string, (dir: string, input: string) => string][] = [
    ['the same path', (_d, input) => input],
    [
      'a hard link to it (same inode)',
      (dir, input) => {
        linkSync(input, join(dir, 'hard.gguf'));
        return join(dir, 'hard.gguf');
      },
    ],
    [
      'a symlink to it',
      (dir, input) => {
        symlinkSync(input, join(dir, 'sym.gguf'));
        return join(dir, 'sym.gguf');
      },
    ],
    [
      'a path through a symlinked directory',
      (dir) => {
        symlinkSync(dir, join(dir, 'alias'));
        return join(dir, 'alias', 'in.gguf');
      },
    ],
  ];
  for (const [what, make] of cases) {
    for (const force of [false, true]) {
      it(`${what}${force ? ' (even with --force)' : ''}: exit 2, input untouched`, async () => {
        const { dir, input } = workDir(small);
        const out = make(dir, input);
        const hash = sha(input);
        const ino = statSync(input).ino;
        const names = listing(dir);
        const r = await quant(['quantize', input, out, 'Q8_0', ...(force ? ['--force'] : [])]);
        expect(r.code, r.stderr).toBe(EXIT.USAGE);
        expect(r.stderr).toMatch(/^quant: error: .*is the input file/m);
        expect(sha(input)).toBe(hash);
        expect(statSync(input).ino).toBe(ino);
        expect(sha(out)).toBe(hash);
        expect(listing(dir)).toEqual(names);
      });
    }
  }
});

describe('quant quantize never deletes or truncates an existing output', () => {
  it('an existing file needs --force (exit 8, the message names --force, the file is unchanged)', async () => {
    const { dir, input } = workDir(small);
    const out = join(dir, 'out.gguf');
    writeFileSync(out, 'precious bytes, not a model');
    const r = await quant(['quantize', input, out, 'Q8_0']);
    expect(r.code, r.stderr).toBe(EXIT.WRITE_FAILED);
    expect(r.stderr).toMatch(/^quant: error: .*out\.gguf.* already exists.*--force/m);
    expect(readFileSync(out, 'utf8')).toBe('precious bytes, not a model');
    expect(listing(dir)).toEqual(['in.gguf', 'out.gguf']);
  });

  it('--force replaces it with the complete model, keeping its permission bits', async () => {
    const { dir, input } = workDir(small);
    const out = join(dir, 'out.gguf');
    writeFileSync(out, 'old', { mode: 0o640 });
    const oldIno = statSync(out).ino;
    const r = await quant(['quantize', input, out, 'Q8_0', '--force']);
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const g = await parseGGUF(out);
    expect(g.metadata['general.file_type']).toBe(7); // llama_ftype MOSTLY_Q8_0
    await g.close();
    expect(statSync(out).ino).not.toBe(oldIno); // renamed into place, not rewritten in place
    expect(statSync(out).mode & 0o777).toBe(0o640);
    expect(listing(dir)).toEqual(['in.gguf', 'out.gguf']);
  });

  it('a symlinked output is replaced at its target; the link stays', async () => {
    const { dir, input } = workDir(small);
    mkdirSync(join(dir, 'models'));
    const target = join(dir, 'models', 'real.gguf');
    writeFileSync(target, 'old');
    symlinkSync(target, join(dir, 'link.gguf'));
    const r = await quant(['quantize', input, join(dir, 'link.gguf'), 'Q8_0', '--force']);
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(lstatSync(join(dir, 'link.gguf')).isSymbolicLink()).toBe(true);
    expect(readFileSync(target).subarray(0, 4).toString()).toBe('GGUF');
    expect(listing(join(dir, 'models'))).toEqual(['real.gguf']);
  });

  it('NaN weights: their own exit code, the tensor named, an existing output untouched, nothing left', async () => {
    const { dir, input } = workDir(nan);
    const out = join(dir, 'out.gguf');
    writeFileSync(out, 'precious bytes, not a model');
    const r = await quant(['quantize', input, out, 'Q8_0', '--force']);
    expect(r.code, r.stderr).toBe(EXIT.NON_FINITE);
    expect(EXIT.NON_FINITE).not.toBe(EXIT.FAILURE);
    expect(r.stderr).toMatch(/^quant: error: .*blk\.1\.ffn_down\.weight.*NaN or infinite.*row 3, column 5/m);
    expect(readFileSync(out, 'utf8')).toBe('precious bytes, not a model');
    expect(listing(dir)).toEqual(['in.gguf', 'out.gguf']);
    // and without an existing file: no output at all
    const fresh = await quant(['quantize', input, join(dir, 'fresh.gguf'), 'Q4_K_M', '--threads', '2']);
    expect(fresh.code, fresh.stderr).toBe(EXIT.NON_FINITE);
    expect(listing(dir)).toEqual(['in.gguf', 'out.gguf']);
  });
});

describe('quant quantize refuses outputs that are not regular files', () => {
  it('a FIFO: exit 8 at once (no blocking open), the FIFO stays', async () => {
    const { dir, input } = workDir(nan);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // A reader, so that an implementation that opens the FIFO for writing does not block forever.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      for (const force of [[], ['--force']]) {
        const r = await quant(['quantize', input, fifo, 'Q8_0', ...force], { timeoutMs: 30_000 });
        expect(r.code, r.stderr).toBe(EXIT.WRITE_FAILED);
        expect(r.stderr).toMatch(/^quant: error: .*fifo is a FIFO.*not a regular file.*"-"/m);
        expect(lstatSync(fifo).isFIFO()).toBe(true);
      }
    } finally {
      closeSync(reader);
    }
    expect(listing(dir)).toEqual(['fifo', 'in.gguf']);
  });

  it('a device node (a private copy of /dev/null made with mknod; root only): exit 8, the node stays', async (ctx) => {
    const { dir, input } = workDir(nan);
    const dev = join(dir, 'null');
    try {
      execFileSync('mknod', [dev, 'c', '1', '3'], { stdio: 'ignore' });
    } catch {
      ctx.skip(); // needs CAP_MKNOD (root); the FIFO test covers the same code path
      return;
    }
    const r = await quant(['quantize', input, dev, 'Q8_0', '--force']);
    expect(r.code, r.stderr).toBe(EXIT.WRITE_FAILED);
    expect(r.stderr).toMatch(/is a character device.*not a regular file/);
    expect(lstatSync(dev).isCharacterDevice()).toBe(true);
  });

  it('a directory: exit 8, the directory stays as it was', async () => {
    const { dir, input } = workDir(small);
    mkdirSync(join(dir, 'sub'));
    const r = await quant(['quantize', input, join(dir, 'sub'), 'Q8_0', '--force']);
    expect(r.code, r.stderr).toBe(EXIT.WRITE_FAILED);
    expect(r.stderr).toMatch(/sub is a directory.*not a regular file/);
    expect(readdirSync(join(dir, 'sub'))).toEqual([]);
  });

  it('a missing directory: exit 8, nothing created', async () => {
    const { dir, input } = workDir(small);
    const r = await quant(['quantize', input, join(dir, 'nope', 'out.gguf'), 'Q8_0']);
    expect(r.code, r.stderr).toBe(EXIT.WRITE_FAILED);
    expect(r.stderr).toMatch(/nope/);
    expect(listing(dir)).toEqual(['in.gguf']);
  });
});

describe('quant quantize - streams to stdout', () => {
  it('writes the same bytes as a file output; creates no file named "-"', async () => {
    const { dir, input } = workDir(small);
    const file = join(dir, 'file.gguf');
    expect((await quant(['quantize', input, file, 'Q4_K_M', '-q'])).code).toBe(0);
    const r = await spawnQuant(['quantize', input, '-', 'Q4_K_M', '-q'], { cwd: dir }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(readFileSync(file))).toBe(true);
    expect(r.stderr).toMatch(/in\.gguf -> stdout: Q4_K_M/); // the summary goes to stderr
    expect(listing(dir)).toEqual(['file.gguf', 'in.gguf']);
  });

  it('a failure while streaming deletes nothing (stdout redirected to a file keeps its bytes)', async () => {
    const { dir, input } = workDir(nan);
    const sink = join(dir, 'sink.bin');
    writeFileSync(sink, 'earlier log line\n');
    const fd = openSync(sink, 'a');
    const r = await spawnQuant(['quantize', input, '-', 'Q8_0'], { cwd: dir, stdoutFd: fd }).done;
    closeSync(fd);
    expect(r.code, r.stderr).toBe(EXIT.NON_FINITE);
    expect(readFileSync(sink, 'utf8').startsWith('earlier log line\n')).toBe(true);
    expect(listing(dir)).toEqual(['in.gguf', 'sink.bin']);
  });

  it('refuses when stdout is the input file itself (appending to it)', async () => {
    const { dir, input } = workDir(small);
    const hash = sha(input);
    const fd = openSync(input, 'a');
    const r = await spawnQuant(['quantize', input, '-', 'Q8_0'], { cwd: dir, stdoutFd: fd }).done;
    closeSync(fd);
    expect(r.code, r.stderr).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/is the input file/);
    expect(sha(input)).toBe(hash);
  });
});

describe('quant quantize and signals: never a partial file under the final name', () => {
  const caught: [string, NodeJS.Signals[], number][] = [
    ['SIGTERM', ['SIGTERM'], 143],
    ['SIGHUP', ['SIGHUP'], 129],
    ['Ctrl-C', ['SIGINT'], 130],
    ['a second Ctrl-C', ['SIGINT', 'SIGINT'], 130],
  ];
  for (const [what, signals, code] of caught) {
    it(`${what}: exit ${code}, no output and no temporary file`, async () => {
      const { dir, input } = workDir(big);
      const out = join(dir, 'out.gguf');
      const r = await interrupt(dir, input, out, signals);
      expect(existsSync(out), 'a file was left under the final name').toBe(false);
      expect(listing(dir)).toEqual(['in.gguf']);
      expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code, signal: null });
    });

    it(`${what} while replacing an existing file (--force): the old file is untouched`, async () => {
      const { dir, input } = workDir(big);
      const out = join(dir, 'out.gguf');
      writeFileSync(out, 'the previous model');
      const r = await interrupt(dir, input, out, signals, ['--force']);
      expect(readFileSync(out, 'utf8')).toBe('the previous model');
      expect(listing(dir)).toEqual(['in.gguf', 'out.gguf']);
      expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code, signal: null });
    });
  }

  it('SIGKILL: nothing under the final name, only a clearly named partial file the next run removes', async () => {
    const { dir, input } = workDir(big);
    const out = join(dir, 'out.gguf');
    const r = await interrupt(dir, input, out, ['SIGKILL']);
    expect(r.signal).toBe('SIGKILL');
    expect(existsSync(out)).toBe(false);
    const left = listing(dir).filter((n) => n !== 'in.gguf');
    for (const n of left) expect(n).toMatch(/^out\.gguf\.quant-partial\./);
    const again = await quant(['quantize', input, out, 'Q8_0']);
    expect(again.code, again.stderr).toBe(0);
    expect(listing(dir)).toEqual(['in.gguf', 'out.gguf']);
  });
});

describe('quant quantize --threads', () => {
  it(`is clamped to the CPUs available (${availableParallelism()}), and --help says so`, async () => {
    const { dir, input } = workDir(small);
    const r = await quant([
      'quantize',
      input,
      join(dir, 'out.gguf'),
      'Q8_0',
      '--threads',
      String(availableParallelism() + 3),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { threads: number }).threads).toBeLessThanOrEqual(availableParallelism());
    expect(r.stderr).toMatch(/--threads \d+ is more than the \d+ CPUs? available; using \d+/);
    const help = await quant(['quantize', '--help']);
    expect(help.stdout).toMatch(/--threads <n>[\s\S]*at most the number of CPUs/);
    expect(help.stdout).toMatch(/--force/);
  });
});

describe('describeError: the output-safety codes of @quant/quantize', () => {
  it('OUTPUT_EXISTS and OUTPUT_NOT_REGULAR → 8, NON_FINITE_VALUES → 9, SAME_INPUT_OUTPUT → 2', () => {
    const cases: [QuantizeError, number][] = [
      [new QuantizeError('OUTPUT_EXISTS', 'o.gguf already exists'), EXIT.WRITE_FAILED],
      [new QuantizeError('OUTPUT_NOT_REGULAR', 'p is a FIFO'), EXIT.WRITE_FAILED],
      [new QuantizeError('NON_FINITE_VALUES', 'tensor t has a NaN', { tensor: 't' }), EXIT.NON_FINITE],
      [new QuantizeError('SAME_INPUT_OUTPUT', 'o is the input file'), EXIT.USAGE],
    ];
    for (const [e, exitCode] of cases) expect(describeError(e)).toEqual({ message: e.message, exitCode });
    expect(new Set([EXIT.NON_FINITE, EXIT.HANGUP, EXIT.TERMINATED]).size).toBe(3);
    expect(Object.values(EXIT).filter((c) => c === EXIT.NON_FINITE)).toHaveLength(1);
  });
});
