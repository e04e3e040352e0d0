/**
 * A weight file changing under a running process (native `weightFromFile` maps it): truncation
 * must not kill the process with SIGBUS, and truncation or an in-place rewrite must surface as
 * KernelError('MODEL_FILE_CHANGED') naming the file. Each scenario runs in its own child process
 * (test/children/mapped-file.ts), so a signal death is observed as such instead of taking the
 * test runner down. Before the fix, the truncation scenarios died of SIGBUS and the rewrite went
 * unnoticed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleScript, type ChildResult, runScript } from '../../test-utils/src/child';
import { fileBytes } from './children/mapped-file-layout';
import { nativeBuilt } from './helpers';

const canRun = nativeBuilt && process.platform !== 'win32';
if (!canRun)
  console.warn('[kernels tests] skipping mapped-file tests: needs the native addon on a POSIX system');

type Step = { step: string; result?: { ok: boolean; code?: string; message?: string }; [k: string]: unknown };

describe.skipIf(!canRun)('a mapped weight file that changes under the process (native)', () => {
  let script: string;
  let dir: string;
  let n = 0;
  beforeAll(async () => {
    script = await bundleScript(join(__dirname, 'children', 'mapped-file.ts'));
    dir = mkdtempSync(join(tmpdir(), 'quant-mapped-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(script), { recursive: true, force: true });
  });

  const file = () => {
    const p = join(dir, `w${n++}.bin`);
    writeFileSync(p, fileBytes());
    return p;
  };
  const run = async (scenario: string, ...paths: string[]) => {
    const r = await runScript(script, [scenario, ...paths], { timeoutMs: 60_000 });
    const steps = r.messages as Step[];
    return { r, steps, at: (name: string) => steps.find((s) => s.step === name) };
  };
  const survived = (r: ChildResult) => {
    expect(r.signal, `child died of ${r.signal}\n${r.stderr.slice(-3000)}`).toBeNull();
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
  };

  it.each([
    'truncate-matmul',
    'truncate-getrows',
  ])('%s: truncating the file mid-use throws MODEL_FILE_CHANGED naming the file, no SIGBUS death', async (scenario) => {
    const path = file();
    const { r, at } = await run(scenario, path);
    survived(r);
    expect(at('mapped')?.maxErr).toBeLessThan(1e-3);
    for (const s of ['after-truncate', 'again', 'check']) {
      const res = at(s)?.result;
      expect(res, `${s}: ${JSON.stringify(r.messages)}`).toMatchObject({
        ok: false,
        code: 'MODEL_FILE_CHANGED',
      });
      expect(res?.message).toContain(path);
      expect(res?.message).toMatch(/Dispose the model and load it again/);
    }
    expect(at('after-truncate')?.result?.message).toMatch(/truncated while being read/);
    expect(at('check')?.result?.message).toMatch(/size changed/);
    expect(at('done')).toBeDefined();
  });

  it('overwriting the file in place is detected by checkMappedFiles (between forward passes)', async () => {
    const path = file();
    // Let the coarse file-system clock tick past the file's creation time.
    await new Promise((res) => setTimeout(res, 50));
    const { r, at } = await run('overwrite', path);
    survived(r);
    const res = at('check')?.result;
    expect(res).toMatchObject({ ok: false, code: 'MODEL_FILE_CHANGED' });
    expect(res?.message).toContain(path);
    expect(res?.message).toMatch(/rewritten in place/);
  });

  it('a new file renamed over the path is not a change: the old weights stay in use', async () => {
    const path = file();
    const { r, at } = await run('replace', path);
    survived(r);
    expect(at('check')?.result).toMatchObject({ ok: true });
    expect(at('again')?.same).toBe(true);
  });

  it("a truncated file fails only the kernels instance that mapped it; another instance's weights keep working", async () => {
    const a = file();
    const b = file();
    const { r, at } = await run('isolated', a, b);
    survived(r);
    expect(at('first')?.result).toMatchObject({ ok: false, code: 'MODEL_FILE_CHANGED' });
    expect(at('first')?.result?.message).toContain(a);
    expect(at('second')?.result).toMatchObject({ ok: true });
  });

  it('a SIGBUS that is not a fault in our mappings keeps its default action', async () => {
    const { r, at } = await run('foreign-sigbus', file());
    expect(at('raising')).toBeDefined();
    expect(at('survived')).toBeUndefined();
    expect(r.signal).toBe('SIGBUS');
  });
});
