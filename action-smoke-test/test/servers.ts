// Real HTTP servers on 127.0.0.1 for the tests: one app that answers each failure mode on its own
// path, and bookkeeping so every socket is closed afterwards.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const VERSION = { version: '1.4.2', gitSha: '0123456789abcdef0123456789abcdef01234567', imageDigest: 'sha256:' + 'ab'.repeat(32), builtAt: '2026-11-01T00:00:00Z', startedAt: '2026-11-22T09:00:00Z' };

export interface TestServer {
  url: string;
  port: number;
  /** Requests seen, as "METHOD path". */
  seen: string[];
  /** Headers of the last request to each path. */
  headers: Map<string, http.IncomingHttpHeaders>;
  close(): Promise<void>;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Reads a multipart body and answers what it held (field, filename, type, size, and the text when it is text). */
function echoUpload(req: http.IncomingMessage, res: http.ServerResponse, chunks: Buffer[]): void {
  const body = Buffer.concat(chunks);
  const type = req.headers['content-type'] ?? '';
  const boundary = /boundary=(.+)$/.exec(type)?.[1];
  if (!boundary) return json(res, 415, { error: 'not multipart' });
  const text = body.toString('latin1');
  const head = /Content-Disposition: form-data; name="([^"]+)"; filename="([^"]+)"\r\nContent-Type: ([^\r]+)\r\n\r\n/.exec(text);
  if (!head) return json(res, 400, { error: 'no file part' });
  const start = head.index + head[0].length;
  const end = text.indexOf(`\r\n--${boundary}--`, start);
  const content = body.subarray(start, end);
  json(res, 200, { field: head[1], filename: head[2], type: head[3], size: content.length, text: content.toString('utf8') });
}

/** Counts attempts per path, for paths that change their answer over time. */
const counters = new Map<string, number>();

export async function startTestServer(): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const seen: string[] = [];
  const headers = new Map<string, http.IncomingHttpHeaders>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${req.method} ${url.pathname}`);
    headers.set(url.pathname, req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = (counters.get(url.pathname + url.search) ?? 0) + 1;
      counters.set(url.pathname + url.search, n);
      switch (url.pathname) {
        case '/readyz':
          return json(res, 200, { status: 'ready', checks: { model: 'ok', database: 'ok' } });
        case '/version':
          return json(res, 200, VERSION);
        case '/boom':
          return json(res, 500, { error: { code: 'internal', message: 'database is locked' } });
        case '/text':
          return res.writeHead(200, { 'content-type': 'text/plain' }).end('hello from the smoke test server');
        case '/not-json':
          return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
        case '/redirect-away':
          return res.writeHead(302, { location: 'http://login.example.test/sso?next=/app' }).end();
        case '/redirect-same':
          return res.writeHead(302, { location: '/readyz' }).end();
        case '/redirect-loop':
          return res.writeHead(302, { location: '/redirect-loop' }).end();
        case '/slow': {
          const ms = Number(url.searchParams.get('ms') ?? '200');
          setTimeout(() => json(res, 200, { slow: ms }), ms);
          return;
        }
        case '/jitter': {
          // Every 10th request is slow: the p95 of 20 sees two of them.
          const ms = n % 10 === 0 ? Number(url.searchParams.get('ms') ?? '300') : 1;
          setTimeout(() => json(res, 200, { n }), ms);
          return;
        }
        case '/flaky': {
          // 503 for the first `fail` requests of this query string, then 200.
          const fail = Number(url.searchParams.get('fail') ?? '2');
          return n <= fail ? json(res, 503, { status: 'starting' }) : json(res, 200, { status: 'ready', n });
        }
        case '/hang':
          return; // accepted, read, never answered
        case '/echo-headers':
          return json(res, 200, { headers: req.headers });
        case '/upload':
          return echoUpload(req, res, chunks);
        case '/api':
          return json(res, 200, { status: 'ok', items: [{ id: 1, name: 'anchor' }], count: 1, ratio: 0.5 });
        default:
          return json(res, 404, { error: 'not found' });
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    headers,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
