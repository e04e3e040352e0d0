// The `gguf inspect` command: text and JSON output, checked against @huggingface/gguf's reading
// of the same files; the built bin (dist/cli.js) when it exists.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gguf } from '@huggingface/gguf';
import { serializeGGUF } from '@quant/gguf';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli-main';
import { hasShared, modelsDir } from './helpers';
import { everyTypeMetadata, everyTypeTensors } from './synthetic';

const tmp = mkdtempSync(join(tmpdir(), 'gguf-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const synthetic = join(tmp, 'synthetic.gguf');
const tensors = everyTypeTensors(21);
writeFileSync(synthetic, serializeGGUF({ metadata: everyTypeMetadata(), tensors }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (s) => {
      out += `${s}\n`;
    },
    err: (s) => {
      err += `${s}\n`;
    },
  });
  return { code, out, err };
}

describe('gguf inspect', () => {
  it('text: metadata with long arrays cut as llama.cpp does, type counts, totals', async () => {
    const { code, out } = await run('inspect', synthetic, '--tensors');
    expect(code).toBe(0);
    expect(out).toMatch(/GGUF v3, little-endian, \d+ metadata keys, 35 tensors/);
    expect(out).toMatch(/general\.name str += synthetic ✓ — ünïcödé 🦙/);
    expect(out).toMatch(/t\.string\.nul str += a\\x00b\n/);
    expect(out).toMatch(/t\.arr\.str arr\[str,4\] += \["a", "", "ü", "🦙"\]/);
    expect(out).toMatch(/llama\.attention\.layer_norm_rms_epsilon f32 += 0\.00001\n/);
    for (const line of out.split('\n').filter((l) => l.includes(' kv ')))
      expect(line.split(' = ')[1]?.length ?? 0).toBeLessThanOrEqual(40);
    const params = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(out).toContain(`(${params})`);
    expect(out).toMatch(/t\.q4_k\.10 +Q4_K +\[/);
  });

  it('--json has the same content, machine-readable', async () => {
    const { code, out } = await run('inspect', synthetic, '--json', '--tensors');
    expect(code).toBe(0);
    const j = JSON.parse(out);
    const hf = await gguf(synthetic, { allowLocalFile: true, computeParametersCount: true });
    expect(j.version).toBe(3);
    expect(j.metadata.map((m: { key: string }) => m.key)).toEqual(
      Object.keys(hf.metadata).filter((k) => !['version', 'tensor_count', 'kv_count'].includes(k)),
    );
    expect(j.totals.parameters).toBe(hf.parameterCount);
    expect(j.tensors.map((t: { name: string }) => t.name)).toEqual(hf.tensorInfos.map((t) => t.name));
    expect(j.metadata.find((m: { key: string }) => m.key === 't.u64').value).toBe('18446744073709551615');
  });

  it.skipIf(!hasShared)('summarises the 32000-token vocabulary of llama-2-tiny-random', async () => {
    const path = join(modelsDir, 'llama-2-tiny-random.gguf');
    const { out } = await run('inspect', path);
    expect(out).toMatch(/tokenizer\.ggml\.tokens arr\[str,32000\] += \["<unk>", "<s>", "<\/s>", .*\.\.\./);
    const j = JSON.parse((await run('inspect', path, '--json')).out);
    const tokens = j.metadata.find((m: { key: string }) => m.key === 'tokenizer.ggml.tokens').value;
    expect(tokens).toMatchObject({ length: 32000, truncated: true });
    const hf = await gguf(path, { allowLocalFile: true, computeParametersCount: true });
    expect(j.totals.parameters).toBe(hf.parameterCount);
    expect(j.tensorTypes.map((t: { type: string }) => t.type).sort()).toEqual(['F16', 'F32']);
  });

  it('reads http URLs', async () => {
    const body = readFileSync(synthetic);
    const server = createServer((req, res) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      const start = Number(m?.[1] ?? 0);
      const end = Math.min(Number(m?.[2] ?? body.length - 1), body.length - 1);
      res
        .writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${body.length}` })
        .end(body.subarray(start, end + 1));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const { code, out } = await run(
        'inspect',
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.gguf`,
      );
      expect(code).toBe(0);
      expect(out).toContain('35 tensors');
    } finally {
      server.close();
    }
  });

  it('bad files exit 1 with the error code; bad usage exits 2', async () => {
    const bad = join(tmp, 'bad.gguf');
    writeFileSync(bad, 'GGUF\x09\x00\x00\x00');
    const r = await run('inspect', bad);
    expect(r.code).toBe(1);
    expect(r.err).toContain('GGUF_BAD_VERSION');
    expect(r.err).toContain(bad);
    expect((await run()).code).toBe(2);
    expect((await run('inspect')).code).toBe(2);
    expect((await run('frobnicate', bad)).code).toBe(2);
    expect((await run('inspect', bad, '--nope')).code).toBe(2);
    expect((await run('--help')).code).toBe(0);
  });
});

const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(bin))
  console.warn(
    '[gguf cli test] dist/cli.js not built (pnpm --filter @quant/gguf build): skipping the bin test',
  );
describe.skipIf(!existsSync(bin))('built bin dist/cli.js', () => {
  it('runs inspect as a separate process', () => {
    const r = spawnSync(process.execPath, [bin, 'inspect', synthetic, '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).version).toBe(3);
    const bad = spawnSync(process.execPath, [bin, 'inspect', join(tmp, 'missing.gguf')], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('GGUF_SOURCE_ERROR');
  });
});
