/**
 * GET /metrics: Prometheus text exposition through prom-client, one registry per server (no global
 * state, so several servers can live in one process). Gauges that mirror live state (queue depth,
 * active sequences, tokens/s) are computed when scraped.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds of history behind the tokens/s gauge. */
const RATE_WINDOW_S = 10;

export interface LiveState {
  /** Requests waiting for a slot. */
  queued(): number;
  /** Requests holding a slot (generating or evaluating their prompt). */
  active(): number;
  /** Number of slots. */
  slots(): number;
  /** 1 once the model is loaded. */
  ready(): boolean;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'path' | 'status'>;
  private readonly promptTokens: Counter;
  private readonly completionTokens: Counter;
  private readonly duration: Histogram<'path'>;
  /** Generated-token counts per whole second (epoch seconds), for the sliding-window rate. */
  private readonly perSecond = new Map<number, number>();

  constructor(live: LiveState) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'quant_requests_total',
      help: 'HTTP requests answered, by route and status code.',
      labelNames: ['path', 'status'],
      registers,
    });
    this.promptTokens = new Counter({
      name: 'quant_prompt_tokens_total',
      help: 'Prompt tokens of the completion requests that were run (tokens in).',
      registers,
    });
    this.completionTokens = new Counter({
      name: 'quant_completion_tokens_total',
      help: 'Tokens generated (tokens out).',
      registers,
    });
    this.duration = new Histogram({
      name: 'quant_request_duration_seconds',
      help: 'Time from a request’s arrival to its last byte, by route.',
      labelNames: ['path'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    new Gauge({
      name: 'quant_queue_depth',
      help: 'Requests waiting for a free slot.',
      registers,
      collect() {
        this.set(live.queued());
      },
    });
    new Gauge({
      name: 'quant_active_sequences',
      help: 'Requests holding a slot (sequences being evaluated or generated).',
      registers,
      collect() {
        this.set(live.active());
      },
    });
    new Gauge({
      name: 'quant_slots',
      help: 'Parallel slots (sequences that can run at once).',
      registers,
      collect() {
        this.set(live.slots());
      },
    });
    new Gauge({
      name: 'quant_model_loaded',
      help: '1 once the model is loaded and requests are served, else 0.',
      registers,
      collect() {
        this.set(live.ready() ? 1 : 0);
      },
    });
    const rate = () => this.tokensPerSecond();
    new Gauge({
      name: 'quant_generation_tokens_per_second',
      help: `Tokens generated per second over the last ${RATE_WINDOW_S} s, all sequences together.`,
      registers,
      collect() {
        this.set(rate());
      },
    });
  }

  /** One answered request. */
  request(path: string, status: number, seconds: number): void {
    this.requests.inc({ path, status: String(status) });
    this.duration.observe({ path }, seconds);
  }

  promptIn(n: number): void {
    if (n > 0) this.promptTokens.inc(n);
  }

  /** `n` tokens generated now. */
  generated(n: number): void {
    if (n <= 0) return;
    this.completionTokens.inc(n);
    const s = Math.floor(Date.now() / 1000);
    this.perSecond.set(s, (this.perSecond.get(s) ?? 0) + n);
    if (this.perSecond.size > RATE_WINDOW_S * 4) this.prune(s);
  }

  private prune(now: number): void {
    for (const k of this.perSecond.keys()) if (k <= now - RATE_WINDOW_S - 1) this.perSecond.delete(k);
  }

  /** Tokens generated over the last RATE_WINDOW_S whole seconds, per second. */
  tokensPerSecond(): number {
    const now = Math.floor(Date.now() / 1000);
    this.prune(now);
    let n = 0;
    for (const [k, v] of this.perSecond) if (k >= now - RATE_WINDOW_S && k < now) n += v;
    return n / RATE_WINDOW_S;
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
