/**
 * Child process of mapped-file.test.ts (bundled by @quant/test-utils' bundleScript): maps an F32
 * weight from a file on the native backend, changes the file in the way argv[2] names, and reports
 * what the kernels did, one JSON object per line. Kept out of the test runner's process because,
 * without the SIGBUS handling in csrc/mmap.c, truncating a mapped file kills the process.
 * The file (written by the test) is laid out as ./mapped-file-layout.ts says.
 */
import { closeSync, ftruncateSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { KernelError, type Kernels, loadKernels, type Weight } from '@quant/kernels';
import { COLS, HEADER, ROWS, value } from './mapped-file-layout';

const [, , scenario, path, path2] = process.argv as [string, string, string, string, string | undefined];
const say = (m: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(m)}\n`);

/** What matmul must give for x = (1, 1, …): the row sums, in double. */
function expectedRowSums(): Float64Array {
  const out = new Float64Array(ROWS);
  for (let r = 0; r < ROWS; r++) {
    let s = 0;
    for (let c = 0; c < COLS; c++) s += value(r, c);
    out[r] = s;
  }
  return out;
}

function outcome(fn: () => unknown): Record<string, unknown> {
  try {
    const v = fn();
    return { ok: true, value: v instanceof Float32Array ? Array.from(v.subarray(0, 8)) : v };
  } catch (e) {
    return {
      ok: false,
      code: e instanceof KernelError ? e.code : 'NOT_A_KERNEL_ERROR',
      message: (e as Error).message,
    };
  }
}

async function main(): Promise<void> {
  const k: Kernels = await loadKernels({ backend: 'native', threads: 2 });
  const map = (p: string) =>
    (k.weightFromFile as NonNullable<Kernels['weightFromFile']>)(p, HEADER, 0, ROWS, COLS);
  const x = k.f32(COLS);
  x.write(new Float32Array(COLS).fill(1));
  const out = k.f32(ROWS);
  const matmul = (w: Weight) => {
    k.matmul(out, w, x, 1);
    return out.read();
  };
  const rows = k.f32(2 * COLS);
  const getRows = (w: Weight) => {
    k.getRows(rows, w, [ROWS - 1, 0]);
    return rows.read();
  };
  const w = map(path);
  const first = matmul(w);
  const want = expectedRowSums();
  let maxErr = 0;
  for (let r = 0; r < ROWS; r++)
    maxErr = Math.max(maxErr, Math.abs((first[r] as number) - (want[r] as number)));
  say({ step: 'mapped', maxErr });

  if (scenario === 'truncate-matmul' || scenario === 'truncate-getrows') {
    // Cut the file in the middle of the tensor's first page: every later page is past the end.
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, HEADER + 1000);
    closeSync(fd);
    const op = scenario === 'truncate-matmul' ? () => matmul(w) : () => getRows(w);
    say({ step: 'after-truncate', result: outcome(op) });
    say({ step: 'again', result: outcome(op) });
    say({ step: 'check', result: outcome(() => k.checkMappedFiles?.()) });
  } else if (scenario === 'overwrite') {
    // Same size, new bytes, in place (the inode the mapping reads).
    const fd = openSync(path, 'r+');
    writeSync(fd, new Uint8Array(new Float32Array(COLS).fill(100).buffer), 0, COLS * 4, HEADER);
    closeSync(fd);
    say({ step: 'check', result: outcome(() => k.checkMappedFiles?.()) });
  } else if (scenario === 'replace') {
    // A new file renamed over the old path: the mapping keeps reading the old inode.
    writeFileSync(`${path}.new`, new Uint8Array(HEADER + ROWS * COLS * 4).fill(0x41));
    renameSync(`${path}.new`, path);
    say({ step: 'check', result: outcome(() => k.checkMappedFiles?.()) });
    const again = matmul(w);
    say({ step: 'again', same: again.every((v, i) => v === first[i]) });
  } else if (scenario === 'isolated') {
    // Another Kernels instance maps another file; truncating the first file must not affect it.
    const k2 = await loadKernels({ backend: 'native', threads: 1 });
    const w2 = (k2.weightFromFile as NonNullable<Kernels['weightFromFile']>)(
      path2 as string,
      HEADER,
      0,
      ROWS,
      COLS,
    );
    const x2 = k2.f32(COLS);
    x2.write(new Float32Array(COLS).fill(1));
    const out2 = k2.f32(ROWS);
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, HEADER);
    closeSync(fd);
    say({ step: 'first', result: outcome(() => matmul(w)) });
    say({
      step: 'second',
      result: outcome(() => {
        k2.checkMappedFiles?.();
        k2.matmul(out2, w2, x2, 1);
        return out2.read();
      }),
    });
    k2.dispose();
  } else if (scenario === 'foreign-sigbus') {
    // A SIGBUS that is not a fault in our mappings keeps its default action (the process dies).
    say({ step: 'raising' });
    process.kill(process.pid, 'SIGBUS');
    await new Promise((r) => setTimeout(r, 2000));
    say({ step: 'survived' });
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
  w.dispose();
  k.dispose();
  say({ step: 'done' });
}

main().catch((e) => {
  say({ step: 'crashed', message: String((e as Error)?.stack ?? e) });
  process.exit(2);
});
