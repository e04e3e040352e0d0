/**
 * Models by name end to end through the built `quant` bin: `pull`, `run`/`chat` by alias, `list`,
 * `rm`, a killed and an interrupted download resumed, a gated repository, split sets, the progress bar
 * on a terminal. HF_ENDPOINT points at a local Hub stand-in (@quant/test-utils' HubServer) on
 * 127.0.0.1 and QUANT_MODEL_REGISTRY adds aliases to its repositories: nothing reaches the internet.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeCommit, HubServer, sha256Hex, sharedDir, writeSplitGGUF } from '@quant/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveShared, SMALL, stories, TempDir } from './helpers/fixtures';
import { runInPty } from './helpers/pty';
import { bin, quant } from './helpers/quant';

const TOKEN = 'hf_cli_test_secret_987';
const C1 = fakeCommit('cli-main');
let server: HubServer;
let tmp: TempDir;
let small: string;
let smallBytes: Uint8Array;
let big: Uint8Array;
let n = 0;

/** A fresh cache and the environment that points quant at the local Hub. */
function env(): Record<string, string> {
  const root = tmp.file(`home-${n++}`);
  const registry = join(tmp.path, 'registry.json');
  return {
    HOME: root,
    HF_HOME: join(root, 'hf'),
    XDG_CACHE_HOME: join(root, 'xdg'),
    HF_ENDPOINT: server.hubUrl,
    QUANT_MODEL_REGISTRY: registry,
    HF_TOKEN: '',
    HF_HUB_OFFLINE: '',
  };
}

beforeAll(async () => {
  tmp = new TempDir();
  small = await tmp.model('small.gguf', SMALL);
  smallBytes = new Uint8Array(readFileSync(small));
  big = new Uint8Array(3 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  server = await new HubServer().start();
  server.addRepo('test/small-GGUF', {
    revisions: {
      main: { commit: C1, files: { 'small-Q4_K_M.gguf': smallBytes, 'small-F32.gguf': smallBytes } },
    },
  });
  server.addRepo('test/big', { revisions: { main: { commit: C1, files: { 'big-Q8_0.gguf': big } } } });
  server.addRepo('test/gated', {
    revisions: { main: { commit: C1, files: { 'g-Q4_K_M.gguf': smallBytes } } },
    gatedToken: TOKEN,
  });
  server.addRepo('test/split', {
    revisions: {
      main: {
        commit: C1,
        files: {
          // The small model as a split set, as llama-gguf-split writes it.
          ...Object.fromEntries(
            (await writeSplitGGUF(small, tmp.path, 'x-Q8_0', 2)).map((p, i) => [
              `x-Q8_0-0000${i + 1}-of-00002.gguf`,
              new Uint8Array(readFileSync(p)),
            ]),
          ),
        },
      },
    },
  });
  const models = [{ name: 'tiny', aliases: ['tiny:latest'], ref: 'hf:test/small-GGUF:Q4_K_M' }];
  if (haveShared) {
    server.addRepo('test/stories', {
      revisions: {
        main: { commit: C1, files: { 'stories260K-F32.gguf': new Uint8Array(readFileSync(stories)) } },
      },
    });
    models.push({ name: 'stories', aliases: [], ref: 'hf:test/stories:F32' });
  }
  writeFileSync(join(tmp.path, 'registry.json'), JSON.stringify({ models }));
});
afterAll(async () => {
  await server?.stop();
  tmp?.remove();
});

describe('quant pull / run / chat / list / rm by name', () => {
  it('run <alias> downloads, then writes the same text as running the file itself; again with the Hub down', async () => {
    const e = env();
    const args = ['Once upon a time', '--temp', '0', '-n', '12', '--backend', 'wasm'];
    const direct = await quant(['run', small, ...args]);
    expect(direct.code).toBe(0);
    expect(direct.stdout.length).toBeGreaterThan(0);
    const byName = await quant(['run', 'tiny', ...args], { env: e });
    expect(byName.stderr).toContain('downloaded hf:test/small-GGUF/small-Q4_K_M.gguf');
    expect(byName.code).toBe(0);
    expect(byName.stdout).toBe(direct.stdout);
    const offline = await quant(['run', 'tiny:latest', ...args], {
      env: { ...e, HF_ENDPOINT: 'http://127.0.0.1:9' },
    });
    expect(offline.code).toBe(0);
    expect(offline.stdout).toBe(direct.stdout);
    expect(offline.stderr).not.toContain('downloaded');
    const hf = await quant(['run', 'hf:test/small-GGUF/small-Q4_K_M.gguf', ...args], {
      env: { ...e, HF_HUB_OFFLINE: '1' },
    });
    expect(hf.stdout).toBe(direct.stdout);
  });

  it.skipIf(!haveShared)('run <alias> of stories260K writes llama.cpp’s greedy continuation', async () => {
    const ref = JSON.parse(readFileSync(join(sharedDir, 'reference', 'stories260K.once.json'), 'utf8')) as {
      greedy: { piece: string }[];
    };
    const r = await quant(['run', 'stories', 'Once upon a time', '--temp', '0', '-n', '16'], { env: env() });
    expect(r.code).toBe(0);
    // quant run ends its output with a newline.
    expect(r.stdout).toBe(
      `${ref.greedy
        .slice(0, 16)
        .map((g) => g.piece)
        .join('')}\n`,
    );
  });

  it('chat <alias> answers from the cached model', async () => {
    const e = env();
    const r = await quant(['chat', 'tiny', '-n', '4', '--temp', '0', '--backend', 'wasm'], {
      env: e,
      input: 'hello\n/exit\n',
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('downloaded hf:test/small-GGUF/small-Q4_K_M.gguf');
  });

  it('pull, list and rm (text and --json)', async () => {
    const e = env();
    const pulled = await quant(['pull', 'tiny', '--json'], { env: e });
    expect(pulled.code).toBe(0);
    const r = JSON.parse(pulled.stdout);
    expect(r).toMatchObject({
      alias: 'tiny',
      reference: 'hf:test/small-GGUF/small-Q4_K_M.gguf',
      size: smallBytes.length,
    });
    expect(sha256Hex(readFileSync(r.path))).toBe(sha256Hex(smallBytes));
    const again = await quant(['pull', 'tiny'], { env: e });
    expect(again.stdout).toContain('already in the cache');

    const listed = await quant(['list', '--json'], { env: e });
    expect(listed.code).toBe(0);
    const { models } = JSON.parse(listed.stdout);
    expect(models).toHaveLength(1);
    expect(models[0]).toMatchObject({
      reference: 'hf:test/small-GGUF/small-Q4_K_M.gguf',
      names: ['tiny', 'tiny:latest'],
      quant: 'Q4_K_M',
      architecture: 'llama',
      size: smallBytes.length,
    });
    const text = await quant(['list'], { env: e });
    expect(text.stdout).toMatch(
      /hf:test\/small-GGUF\/small-Q4_K_M\.gguf \(tiny\)\s+\S+ KiB\s+Q4_K_M\s+llama\s+just now/,
    );

    const removed = await quant(['rm', 'tiny', '--json'], { env: e });
    expect(JSON.parse(removed.stdout)).toEqual({
      removed: ['hf:test/small-GGUF/small-Q4_K_M.gguf'],
      freedBytes: smallBytes.length,
    });
    expect(existsSync(r.path)).toBe(false);
    const empty = await quant(['list'], { env: e });
    expect(empty.stdout).toContain('no models in');
    const none = await quant(['rm', 'tiny'], { env: e });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('nothing of test/small-GGUF is in');
  });

  it('unknown names, gated repositories and :QUANT errors say what to do, with exit codes', async () => {
    const e = env();
    const unknown = await quant(['run', 'no-such-model', 'x'], { env: e });
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('is neither a file nor a known model name');
    expect(unknown.stderr).toContain('phi3.5');
    const gated = await quant(['pull', 'hf:test/gated:Q4_K_M'], { env: e });
    expect(gated.code).toBe(1);
    expect(gated.stderr).toContain(`accept its licence on ${server.hubUrl}/test/gated`);
    expect(gated.stderr).toContain('HF_TOKEN');
    const ok = await quant(['pull', 'hf:test/gated:Q4_K_M', '--token', TOKEN], { env: e });
    expect(ok.code).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(TOKEN);
    const none = await quant(['pull', 'hf:test/small-GGUF:Q6_K'], { env: e });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('Available: F32, Q4_K_M');
  });

  it('a split set is pulled whole and runs as the unsplit model', async () => {
    const e = env();
    const pulled = await quant(['pull', 'hf:test/split:Q8_0', '--json'], { env: e });
    expect(pulled.code).toBe(0);
    const r = JSON.parse(pulled.stdout);
    expect(r.files).toHaveLength(2);
    expect(r.split).toEqual({ count: 2 });
    const args = ['-n', '8', '--temp', '0', '--quiet'];
    const run = await quant(['run', 'hf:test/split:Q8_0', 'x', ...args], { env: e });
    expect(run.code, run.stderr).toBe(0);
    const whole = await quant(['run', small, 'x', ...args], { env: e });
    expect(run.stdout.length).toBeGreaterThan(0);
    expect(run.stdout).toBe(whole.stdout);
  });
});

describe('interrupted downloads resume', () => {
  const blobDir = (e: Record<string, string>) => join(e.HF_HOME!, 'hub', 'models--test--big', 'blobs');
  const partialBytes = (e: Record<string, string>) => {
    try {
      const f = readdirSync(blobDir(e)).find((x) => x.endsWith('.incomplete'));
      return f ? statSync(join(blobDir(e), f)).size : 0;
    } catch {
      return 0;
    }
  };

  /** Starts `quant pull`, sends `signal` once the partial file holds more than `bytes`. */
  function pullUntil(e: Record<string, string>, bytes: number, signal: NodeJS.Signals) {
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'pull', 'hf:test/big:Q8_0'], {
        env: { ...process.env, NO_COLOR: '1', ...e },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const poll = setInterval(() => {
        if (partialBytes(e) > bytes) {
          clearInterval(poll);
          child.kill(signal);
        }
      }, 20);
      child.on('close', (code, sig) => {
        clearInterval(poll);
        clearTimeout(deadline);
        resolve({ code, signal: sig, stderr });
      });
    });
  }

  it('Ctrl-C keeps the partial (exit 130), a killed process too, and the next pull continues with Range', async () => {
    const e = env();
    server.faults = { slow: { chunk: 32 * 1024, delayMs: 10 } };
    try {
      const interrupted = await pullUntil(e, 256 * 1024, 'SIGINT');
      expect(interrupted.code).toBe(130);
      expect(interrupted.stderr).toContain('the partial download is kept');
      const afterInt = partialBytes(e);
      expect(afterInt).toBeGreaterThan(256 * 1024);

      const killed = await pullUntil(e, afterInt + 256 * 1024, 'SIGKILL');
      expect(killed.signal).toBe('SIGKILL');
      expect(partialBytes(e)).toBeGreaterThan(afterInt);
    } finally {
      server.faults = {};
    }
    server.log.length = 0;
    const done = await quant(['pull', 'hf:test/big:Q8_0', '--json'], { env: e });
    expect(done.code).toBe(0);
    const r = JSON.parse(done.stdout);
    expect(sha256Hex(readFileSync(r.path))).toBe(sha256Hex(big));
    const first = server.requests('cdn', 'GET')[0]!;
    expect(Number(/^bytes=(\d+)-/.exec(first.range ?? '')?.[1])).toBeGreaterThan(256 * 1024);
    expect(r.downloadedBytes).toBeLessThan(big.length - 256 * 1024);
    expect(readdirSync(blobDir(e)).filter((x) => x.includes('.incomplete'))).toEqual([]);
  });

  it('a terminal shows a progress bar with bytes, speed and ETA', async () => {
    const e = env();
    server.faults = { slow: { chunk: 64 * 1024, delayMs: 40 } };
    try {
      const r = await runInPty([process.execPath, bin, 'pull', 'hf:test/big:Q8_0'], [{ expect: 'ETA' }], e);
      expect(r.transcript).toMatch(
        /pulling big-Q8_0\.gguf .*\d+% [\d.]+ [KM]iB\/3\.00 MiB [\d.]+ [KM]iB\/s ETA/,
      );
      expect(r.exit).toBe(0);
    } finally {
      server.faults = {};
    }
  });
});
