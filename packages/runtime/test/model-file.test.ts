/**
 * The model file changes while a process generates from it. On the native backend the weights are
 * memory-mapped: truncating the file used to kill the process with SIGBUS (exit 135) and rewriting
 * it in place silently changed the weights. Now both end the generation with a KernelError
 * MODEL_FILE_CHANGED naming the file (truncation: the SIGBUS handler of @quant/kernels absorbs
 * the fault, and the size check before the next forward pass fires; rewrite: the mtime check
 * before the next forward pass). The wasm backend copies the weights at load, so it keeps
 * generating the same text. The generating process is a child (test/children/generate-while-changed.ts);
 * this test changes the file from outside, as another program would.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { availableBackends, bundleScript, startScript, writeSyntheticLlama } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const backends = await availableBackends('model-file');
const posix = process.platform !== 'win32';

const CHANGES = {
  /** Cut the file in half: the second half of the tensor data is gone. */
  truncate: (path: string) => {
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, Math.floor(statSync(path).size / 2));
    closeSync(fd);
  },
  /** Same size, other bytes: 64 KiB of the tensor data near the end overwritten in place. */
  overwrite: (path: string) => {
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    writeSync(fd, new Uint8Array(65536).fill(0x7f), 0, 65536, size - 65536 - 4096);
    closeSync(fd);
  },
} as const;

describe.skipIf(!posix)('a model file changing under a generating process', () => {
  let script: string;
  let dir: string;
  let n = 0;
  beforeAll(async () => {
    script = await bundleScript(join(__dirname, 'children', 'generate-while-changed.ts'));
    dir = mkdtempSync(join(tmpdir(), 'quant-model-file-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(script), { recursive: true, force: true });
  });

  const model = async () => {
    const p = join(dir, `m${n++}.gguf`);
    await writeSyntheticLlama(p, { nEmbd: 128, nLayers: 2, nHeads: 4, nKvHeads: 2, nFF: 256, seed: 21 });
    return p;
  };
  const generateWhile = async (backend: string, change: keyof typeof CHANGES) => {
    const path = await model();
    const child = startScript(script, [backend, path], { timeoutMs: 90_000 });
    await child.waitFor((m) => m.ready === true);
    CHANGES[change](path);
    const r = await child.done;
    const log = `${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`;
    expect(r.signal, `the generating process died of ${r.signal}: ${log}`).toBeNull();
    expect(r.code, log).toBe(0);
    return { path, r, log, last: r.messages[r.messages.length - 1] ?? {} };
  };

  for (const change of ['truncate', 'overwrite'] as const) {
    it.skipIf(!backends.native)(
      `native: ${change} → generation stops with MODEL_FILE_CHANGED naming the file, no crash`,
      async () => {
        const { path, last, log } = await generateWhile('native', change);
        const error = last.error as { name?: string; code?: string; message?: string } | undefined;
        expect(error, log).toBeDefined();
        expect(error?.code, log).toBe('MODEL_FILE_CHANGED');
        expect(error?.message).toContain(path);
        expect(error?.message).toMatch(/Dispose the model and load it again/);
      },
      120_000,
    );

    it.skipIf(!backends.wasm)(
      `wasm: ${change} → generation goes on with the weights copied at load (same text)`,
      async () => {
        const { last, log } = await generateWhile('wasm', change);
        expect(last, log).toMatchObject({ survived: true, sameText: true });
      },
      120_000,
    );
  }
});
