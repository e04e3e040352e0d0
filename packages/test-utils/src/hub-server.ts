/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1, speaking the protocol as the Hub does:
 * the tree listing (`/api/models/{repo}/tree/{rev}?recursive=true`, paginated with a Link header),
 * `/{repo}/resolve/{rev}/{path}` answering 302 to a second server (the "CDN", another origin) with
 * X-Repo-Commit, X-Linked-Etag, X-Linked-Size and ETag, Range requests on the CDN, 401 for gated
 * repositories without the right token, 404s with X-Error-Code. Faults on demand: a connection
 * dropped mid-body, bytes that do not match their sha256, a slow body, a lying size.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedRepo {
  /** revision name → commit → files. */
  revisions: Record<string, { commit: string; files: Record<string, Uint8Array> }>;
  /** Requests need `Authorization: Bearer <token>`. */
  gatedToken?: string;
}

export interface Faults {
  /** Drop the connection after this many body bytes, for the first `times` CDN GETs of a blob. */
  drop?: { afterBytes: number; times: number };
  /** Serve these bytes' sha256 in the headers but flip one byte of the body. */
  corrupt?: boolean;
  /** Send the body in pieces of `chunk` bytes with `delayMs` between them. */
  slow?: { chunk: number; delayMs: number };
  /** Announce this X-Linked-Size instead of the real one. */
  linkedSize?: number;
}

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  range?: string;
  authorization?: string;
  /** Body bytes sent (CDN GETs). */
  sent: number;
}

export const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Uint8Array) =>
  createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest('hex');

export function fakeCommit(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

export class HubServer {
  readonly repos = new Map<string, ServedRepo>();
  readonly log: LoggedRequest[] = [];
  faults: Faults = {};
  /** Entries per tree page (to exercise Link pagination). */
  pageSize = 1000;
  private hub!: Server;
  private cdn!: Server;
  private blobs = new Map<string, Uint8Array>();
  private dropsLeft = new Map<string, number>();
  hubUrl = '';
  cdnUrl = '';

  addRepo(name: string, repo: ServedRepo): void {
    this.repos.set(name, repo);
    for (const rev of Object.values(repo.revisions))
      for (const bytes of Object.values(rev.files)) this.blobs.set(sha256Hex(bytes), bytes);
  }

  async start(): Promise<this> {
    this.hub = createServer((req, res) => this.handleHub(req, res));
    this.cdn = createServer((req, res) => this.handleCdn(req, res));
    for (const s of [this.hub, this.cdn]) {
      s.requestTimeout = 30_000;
      s.headersTimeout = 30_000;
    }
    await Promise.all([
      new Promise<void>((r) => this.hub.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => this.cdn.listen(0, '127.0.0.1', r)),
    ]);
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnUrl = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) s.closeAllConnections();
    await Promise.all(
      [this.hub, this.cdn].map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))),
    );
  }

  requests(server: 'hub' | 'cdn', method?: string): LoggedRequest[] {
    return this.log.filter((l) => l.server === server && (method === undefined || l.method === method));
  }

  private entry(req: IncomingMessage, server: 'hub' | 'cdn'): LoggedRequest {
    const l: LoggedRequest = { server, method: req.method ?? 'GET', url: req.url ?? '', sent: 0 };
    if (req.headers.range) l.range = req.headers.range;
    if (req.headers.authorization) l.authorization = req.headers.authorization;
    this.log.push(l);
    return l;
  }

  private json(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }

  /** The repository and revision, or an error answer (401 gated, 404 unknown). */
  private lookup(req: IncomingMessage, res: ServerResponse, name: string, rev: string) {
    const repo = this.repos.get(name);
    if (!repo) {
      this.json(res, 404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
      return undefined;
    }
    if (repo.gatedToken !== undefined && req.headers.authorization !== `Bearer ${repo.gatedToken}`) {
      this.json(
        res,
        401,
        { error: `Access to model ${name} is restricted. You must have access to it and be authenticated.` },
        { 'x-error-code': 'GatedRepo' },
      );
      return undefined;
    }
    const revision = repo.revisions[rev] ?? Object.values(repo.revisions).find((r) => r.commit === rev);
    if (!revision) {
      this.json(res, 404, { error: `Invalid rev id: ${rev}` }, { 'x-error-code': 'RevisionNotFound' });
      return undefined;
    }
    return revision;
  }

  private handleHub(req: IncomingMessage, res: ServerResponse): void {
    this.entry(req, 'hub');
    const url = new URL(req.url ?? '/', this.hubUrl);
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(url.pathname);
    if (tree && req.method === 'GET') {
      const revision = this.lookup(req, res, tree[1]!, decodeURIComponent(tree[2]!));
      if (!revision) return;
      const entries: unknown[] = [];
      const dirs = new Set<string>();
      for (const [path, bytes] of Object.entries(revision.files)) {
        const parts = path.split('/');
        for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
        entries.push({
          type: 'file',
          oid: gitSha1(bytes),
          size: bytes.length,
          path,
          lfs: { oid: sha256Hex(bytes), size: bytes.length, pointerSize: 134 },
        });
      }
      for (const d of dirs) entries.push({ type: 'directory', oid: fakeCommit(d), size: 0, path: d });
      const recursive = url.searchParams.get('recursive') === 'true';
      const listed = recursive ? entries : entries.filter((e) => !(e as { path: string }).path.includes('/'));
      const cursor = Number(url.searchParams.get('cursor') ?? '0');
      const page = listed.slice(cursor, cursor + this.pageSize);
      const headers: Record<string, string> = {};
      if (cursor + this.pageSize < listed.length) {
        const next = new URL(url);
        next.searchParams.set('cursor', String(cursor + this.pageSize));
        headers.link = `<${next.href}>; rel="next"`;
      }
      this.json(res, 200, page, headers);
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve && (req.method === 'GET' || req.method === 'HEAD')) {
      const revision = this.lookup(req, res, resolve[1]!, decodeURIComponent(resolve[2]!));
      if (!revision) return;
      const path = resolve[3]!.split('/').map(decodeURIComponent).join('/');
      const bytes = revision.files[path];
      if (!bytes) {
        this.json(res, 404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
        return;
      }
      const sha = sha256Hex(bytes);
      res.writeHead(302, {
        location: `${this.cdnUrl}/blobs/${sha}?expires=3600&signature=abc`,
        'x-repo-commit': revision.commit,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(this.faults.linkedSize ?? bytes.length),
        etag: `"${gitSha1(bytes)}"`,
        'content-type': 'text/plain; charset=utf-8',
      });
      res.end(req.method === 'GET' ? `Found. Redirecting to ${this.cdnUrl}/blobs/${sha}` : undefined);
      return;
    }
    this.json(res, 404, { error: 'not found' });
  }

  private handleCdn(req: IncomingMessage, res: ServerResponse): void {
    const l = this.entry(req, 'cdn');
    const url = new URL(req.url ?? '/', this.cdnUrl);
    const m = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    const key = m?.[1] ?? '';
    const original = this.blobs.get(key);
    if (!original || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    let bytes = original;
    if (this.faults.corrupt) {
      bytes = Uint8Array.from(original);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    }
    let start = 0;
    let end = bytes.length - 1;
    let status = 200;
    const headers: Record<string, string> = {
      etag: `"cdn-${key.slice(0, 16)}"`,
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    };
    const range = req.headers.range ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range) : null;
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), bytes.length - 1) : bytes.length - 1;
      if (start > end || start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${bytes.length}`;
    }
    headers['content-length'] = String(end - start + 1);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = bytes.subarray(start, end + 1);
    let limit = body.length;
    if (this.faults.drop) {
      const left = this.dropsLeft.get(key) ?? this.faults.drop.times;
      if (left > 0) {
        this.dropsLeft.set(key, left - 1);
        limit = Math.min(limit, this.faults.drop.afterBytes);
      }
    }
    const chunk = this.faults.slow?.chunk ?? 64 * 1024;
    const delay = this.faults.slow?.delayMs ?? 0;
    let pos = 0;
    const pump = () => {
      if (res.destroyed) return;
      if (pos >= limit) {
        if (limit < body.length) res.socket?.destroy();
        else res.end();
        return;
      }
      const piece = body.subarray(pos, Math.min(limit, pos + chunk));
      pos += piece.length;
      l.sent += piece.length;
      const ok = res.write(piece);
      const next = () => (delay > 0 ? setTimeout(pump, delay) : setImmediate(pump));
      if (ok) next();
      else res.once('drain', next);
    };
    pump();
  }
}
