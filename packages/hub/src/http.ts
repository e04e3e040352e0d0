/**
 * HTTP with the Hub's rules: redirects are followed by hand so that the access token goes to the
 * endpoint's origin only (never to the CDN a resolve URL redirects to), and HTTP failures become
 * HubErrors that say what to do.
 */
import pkg from '../package.json' with { type: 'json' };
import type { Settings } from './config.js';
import { HubError } from './errors.js';

const MAX_REDIRECTS = 10;
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const USER_AGENT = `quant-hub/${pkg.version}`;

export interface HubRequest {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /**
   * Follow only relative redirects (a renamed repository) and return the first redirect to an absolute
   * URL (the CDN) as it is: its headers carry the commit, size and hash. Python's huggingface_hub does
   * the same.
   */
  followRelativeOnly?: boolean;
  signal?: AbortSignal;
}

/** The headers for `url`: Authorization only when `url` is on the endpoint's origin. */
function headersFor(s: Settings, url: string, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': USER_AGENT, ...extra };
  if (s.token !== undefined && new URL(url).origin === new URL(s.endpoint).origin)
    h.authorization = `Bearer ${s.token}`;
  return h;
}

const isRedirect = (status: number) => status >= 300 && status < 400 && status !== 304;

/** Fetches `url`, following redirects (token dropped on other origins). */
export async function hubFetch(s: Settings, url: string, r: HubRequest = {}): Promise<Response> {
  let current = url;
  for (let hop = 0; ; hop++) {
    let res: Response | undefined;
    for (let attempt = 0; res === undefined; attempt++) {
      try {
        res = await s.fetch(current, {
          method: r.method ?? 'GET',
          headers: headersFor(s, current, r.headers),
          redirect: 'manual',
          signal: r.signal ?? s.signal ?? null,
        });
      } catch (e) {
        if ((r.signal ?? s.signal)?.aborted) throw abortError(e);
        // A kept-alive connection the server had just closed: GET and HEAD are safe to send again.
        const code = (e as { cause?: { code?: string } }).cause?.code;
        if (attempt < 2 && code !== undefined && STALE_SOCKET.has(code)) continue;
        throw networkError(current, e);
      }
    }
    if (!isRedirect(res.status)) return res;
    const location = res.headers.get('location');
    if (!location) return res;
    if (r.followRelativeOnly && /^[a-z][a-z0-9+.-]*:|^\/\//i.test(location)) return res;
    const next = new URL(location, current).href;
    await res.body?.cancel().catch(() => {});
    if (hop >= MAX_REDIRECTS)
      throw new HubError('PROTOCOL', `${url}: more than ${MAX_REDIRECTS} redirects.`, { status: res.status });
    current = next;
  }
}

/** A fetch for @huggingface/hub's functions: our redirect and token rules. */
export function hubFetchFunction(s: Settings): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => {
      if (k !== 'authorization') headers[k] = v;
    });
    return hubFetch(s, url, {
      method: (init?.method as 'GET' | 'HEAD' | undefined) ?? 'GET',
      headers,
      ...(init?.signal ? { signal: init.signal } : {}),
    });
  }) as typeof fetch;
}

export function abortError(cause?: unknown): HubError {
  return new HubError(
    'ABORTED',
    'the download was interrupted; the partial file is kept and the next run resumes it.',
    {
      cause,
    },
  );
}

export function networkError(url: string, e: unknown): HubError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (e as Error).message;
  return new HubError(
    'DOWNLOAD_FAILED',
    `cannot reach ${new URL(url).origin} (${why}). Check the network (or HF_ENDPOINT); with HF_HUB_OFFLINE=1 only cached models are used.`,
    { cause: e },
  );
}

/** The HubError for an HTTP error answer about `what` (a reference, a file) in `repo`. */
export function httpError(s: Settings, status: number, what: string, repo?: string): HubError {
  const page = repo ? `${s.endpoint}/${repo}` : undefined;
  if (status === 401 || status === 403) {
    const token = s.token === undefined ? 'no token was sent' : 'the token that was sent has no access';
    return new HubError(
      'UNAUTHORIZED',
      `${what}: access denied (HTTP ${status}; ${token}). The repository is gated or private (or does not exist): ` +
        `${page ? `accept its licence on ${page} and ` : ''}set HF_TOKEN (or --token) to an access token of an account that may read it.`,
      { status, reference: what },
    );
  }
  if (status === 404)
    return new HubError(
      'NOT_FOUND',
      `${what}: not found (HTTP 404). Check the repository name, the revision and the file path${page ? ` on ${page}` : ''}.`,
      { status, reference: what },
    );
  return new HubError('DOWNLOAD_FAILED', `${what}: the server answered HTTP ${status}.`, {
    status,
    reference: what,
  });
}
