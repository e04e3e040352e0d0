/**
 * A static file server on 127.0.0.1 for tests that load pages and models over HTTP: URL prefixes
 * mapped to folders, single byte ranges (206 / 416), HEAD, the cross-origin isolation headers
 * (COOP same-origin, COEP require-corp) browsers need for SharedArrayBuffer, and a log of every
 * request (path, method, Range) so tests can count round trips.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

export interface StaticRequest {
  method: string;
  path: string;
  range: string | undefined;
  status: number;
}

export interface StaticServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Every request so far. */
  readonly log: StaticRequest[];
  /** Requests whose path is `path` (or starts with it when it ends with '/'). */
  requests(path: string): StaticRequest[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
};

/**
 * Serves `routes` (URL prefix such as '/models/' → folder); a request for a folder serves its index.html.
 * `isolated: false` leaves out COOP/COEP/CORP, so pages are not cross-origin isolated (no SharedArrayBuffer).
 */
export async function startStaticServer(
  routes: Record<string, string>,
  options: { isolated?: boolean } = {},
): Promise<StaticServer> {
  const isolation: Record<string, string> =
    options.isolated === false
      ? {}
      : {
          'Cross-Origin-Opener-Policy': 'same-origin',
          'Cross-Origin-Embedder-Policy': 'require-corp',
          'Cross-Origin-Resource-Policy': 'same-origin',
        };
  const log: StaticRequest[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    const entry: StaticRequest = { method: req.method ?? 'GET', path, range: req.headers.range, status: 0 };
    log.push(entry);
    const send = (status: number, headers: Record<string, string | number> = {}, body?: string) => {
      entry.status = status;
      res.writeHead(status, {
        ...isolation,
        'Cache-Control': 'no-store',
        ...headers,
      });
      res.end(body);
    };
    const prefix = Object.keys(routes)
      .filter((p) => path.startsWith(p))
      .sort((a, b) => b.length - a.length)[0];
    if (prefix === undefined || (req.method !== 'GET' && req.method !== 'HEAD'))
      return send(404, {}, 'not found');
    const root = routes[prefix] as string;
    let file = normalize(join(root, path.slice(prefix.length)));
    if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep))
      return send(403, {}, 'forbidden');
    let size: number;
    try {
      let st = statSync(file);
      if (st.isDirectory()) {
        file = join(file, 'index.html');
        st = statSync(file);
      }
      size = st.size;
    } catch {
      return send(404, {}, 'not found');
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    let start = 0;
    let end = size - 1;
    let status = 200;
    const headers: Record<string, string | number> = { 'Content-Type': type, 'Accept-Ranges': 'bytes' };
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && (m[1] || m[2])) {
      if (m[1]) {
        start = Number(m[1]);
        end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      } else {
        start = Math.max(0, size - Number(m[2]));
      }
      if (start >= size || start > end) return send(416, { 'Content-Range': `bytes */${size}` });
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = end - start + 1;
    entry.status = status;
    res.writeHead(status, {
      ...isolation,
      'Cache-Control': 'no-store',
      ...headers,
    });
    if (req.method === 'HEAD' || size === 0) return res.end();
    const stream = createReadStream(file, { start, end });
    stream.pipe(res);
    res.on('close', () => stream.destroy());
  };
  const server = createServer(handle);
  server.keepAliveTimeout = 1000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    log,
    requests: (p) => log.filter((r) => (p.endsWith('/') ? r.path.startsWith(p) : r.path === p)),
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
