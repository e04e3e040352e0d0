/**
 * GET /metrics parses as Prometheus text (parse-prometheus-text-format, a port of the Prometheus
 * Python client's parser, throws on any malformed line) and counts what the test did.
 */
import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  post,
  readUntil,
  serveModel,
  TempDir,
  type TestServer,
  waitFor,
  writeSlowModel,
  writeSyntheticModel,
} from './helpers';

interface Family {
  name: string;
  type: string;
  help: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
  }[];
}

let lastText = '';
async function scrape(t: TestServer): Promise<Map<string, Family>> {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  lastText = await res.text();
  // Throws on any line that is not valid exposition format.
  const families = parsePrometheus(lastText) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function value(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = m.get(name);
  if (!f) throw new Error(`metric ${name} missing`);
  const s = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return Number(s?.value);
}

let tmp: TempDir;
beforeAll(() => {
  tmp = new TempDir();
});
afterAll(() => tmp?.remove());

describe('/metrics', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await serveModel(await writeSyntheticModel(tmp.path), { parallel: 2 });
  });
  afterAll(async () => t?.close());

  it('requests, tokens in/out, duration histogram, queue depth, active sequences, slots, tokens/s', async () => {
    const before = await scrape(t);
    expect([...before.keys()].sort()).toEqual(
      [
        'quant_active_sequences',
        'quant_completion_tokens_total',
        'quant_generation_tokens_per_second',
        'quant_model_loaded',
        'quant_prompt_tokens_total',
        'quant_queue_depth',
        'quant_request_duration_seconds',
        'quant_requests_total',
        'quant_slots',
      ].sort(),
    );
    expect(before.get('quant_requests_total')?.type).toBe('COUNTER');
    expect(before.get('quant_queue_depth')?.type).toBe('GAUGE');
    expect(before.get('quant_request_duration_seconds')?.type).toBe('HISTOGRAM');
    for (let i = 0; i < 3; i++) {
      const r = await post(`${t.url}/v1/completions`, {
        model: 'test-model',
        prompt: 'once upon a time',
        max_tokens: 5,
      });
      expect(r.status).toBe(200);
    }
    expect((await post(`${t.url}/v1/completions`, { model: 'test-model', prompt: 7 })).status).toBe(400);
    // The tokens/s gauge counts whole seconds that are over: wait for the current one to end.
    await new Promise((r) => setTimeout(r, 1100));
    const m = await scrape(t);
    expect(value(m, 'quant_requests_total', { path: '/v1/completions', status: '200' })).toBe(3);
    expect(value(m, 'quant_requests_total', { path: '/v1/completions', status: '400' })).toBe(1);
    expect(value(m, 'quant_prompt_tokens_total')).toBe(3 * t.model.tokenize('once upon a time').length);
    expect(value(m, 'quant_completion_tokens_total')).toBe(15);
    expect(value(m, 'quant_generation_tokens_per_second')).toBeCloseTo(15 / 10, 9);
    expect(value(m, 'quant_slots')).toBe(2);
    expect(value(m, 'quant_queue_depth')).toBe(0);
    expect(value(m, 'quant_active_sequences')).toBe(0);
    expect(value(m, 'quant_model_loaded')).toBe(1);
    // The parser merges a histogram's labelled series (it keeps prom2json's unlabelled shape), so
    // read this one series from the text it validated.
    expect(lastText).toMatch(/^quant_request_duration_seconds_count\{path="\/v1\/completions"\} 4$/m);
    expect(lastText).toMatch(
      /^quant_request_duration_seconds_bucket\{le="\+Inf",path="\/v1\/completions"\} 4$/m,
    );
  });
});

describe('/metrics under load', () => {
  it('shows the active sequence and the queued request while they are there', async () => {
    const t = await serveModel(await writeSlowModel(tmp.path), { parallel: 1, queue: 4 });
    const acs: AbortController[] = [];
    try {
      const start = () => {
        const ac = new AbortController();
        acs.push(ac);
        return fetch(`${t.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'test-model', prompt: 'once', max_tokens: 2000, stream: true }),
          signal: ac.signal,
        });
      };
      await readUntil(await start(), (s) => s.includes('"text":"'));
      void start().catch(() => {});
      expect(await waitFor(async () => value(await scrape(t), 'quant_queue_depth') === 1)).toBe(true);
      const m = await scrape(t);
      expect(value(m, 'quant_active_sequences')).toBe(1);
      for (const ac of acs) ac.abort();
      expect(
        await waitFor(async () => {
          const x = await scrape(t);
          return value(x, 'quant_active_sequences') + value(x, 'quant_queue_depth') === 0;
        }),
      ).toBe(true);
    } finally {
      for (const ac of acs) ac.abort();
      await t.close();
    }
  });
});
