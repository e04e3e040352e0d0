import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMALL, TempDir } from './helpers/fixtures';
import { quant } from './helpers/quant';

let tmp: TempDir;
let small: string;
beforeAll(async () => {
  tmp = new TempDir();
  small = await tmp.model('small.gguf', SMALL);
});
afterAll(() => tmp?.remove());

interface Row {
  test: string;
  nPrompt: number;
  nGen: number;
  repetitions: number;
  samplesTs: number[];
  samplesNs: number[];
  avgTs: number;
  stddevTs: number;
  threads: number;
}

describe('quant bench', () => {
  it('--json: pp and tg rows, each run’s t/s = tokens / time, mean ± sample stddev', async () => {
    const r = await quant(['bench', small, '-p', '64', '-n', '16', '-r', '3', '--threads', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows.map((x) => x.test)).toEqual(['pp64', 'tg16']);
    for (const row of rows) {
      expect(row.threads).toBe(1);
      expect(row.samplesTs).toHaveLength(3);
      const n = row.nPrompt + row.nGen;
      for (const [i, ts] of row.samplesTs.entries())
        expect(ts).toBeCloseTo((n * 1e9) / (row.samplesNs[i] as number), 6);
      const m = row.samplesTs.reduce((a, b) => a + b, 0) / 3;
      const sd = Math.sqrt(row.samplesTs.reduce((a, b) => a + (b - m) ** 2, 0) / 2);
      expect(row.avgTs).toBeCloseTo(m, 6);
      expect(row.stddevTs).toBeCloseTo(sd, 6);
      expect(row.avgTs).toBeGreaterThan(0);
    }
  });

  it('prints a llama-bench style table; -p 0 skips pp', async () => {
    const r = await quant(['bench', small, '-p', '0', '-n', '8', '-r', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /\| model\s+\|\s+size \|\s+params \| backend\s+\| threads \|\s+test \|\s+t\/s \|/,
    );
    expect(r.stdout).toMatch(/\|\s+tg8 \|\s+[\d.]+ ± [\d.]+ \|/);
    expect(r.stdout).not.toMatch(/pp\d/);
  });
});
