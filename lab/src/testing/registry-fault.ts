// For lab tests: a TLS reverse proxy in front of the lab registry that injects registry faults
// on demand (a 5xx on manifests or blobs, a blob cut after N bytes, a request that never gets
// an answer). It listens on the registry's own address with the registry's own certificate
// (subjectAltName IP:<address>, valid on any port), so an engine that trusts the lab CA for
// <address>:<port> pulls through it: the content is the registry's, so digests are the same.
// It writes /etc/docker/certs.d/<address>:<port>/ca.crt when it starts (engines read certs.d at
// each pull) and removes that directory when it stops. Stopping closes the server and every
// connection it holds; nothing is killed.
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import type { LabState } from '../state.ts';

export type RegistryRequestKind = 'ping' | 'manifest' | 'blob' | 'other';

/** What the proxy does to the GETs and HEADs it matches. */
export type RegistryFault =
  | { kind: 'pass' }
  /** Answers `status` (a registry-style JSON error body) instead of forwarding. */
  | { kind: 'status'; status: number; on: ReadonlyArray<RegistryRequestKind>; except?: ReadonlyArray<string> }
  /** Forwards blob GETs but closes the connection after `afterBytes` bytes of the body. */
  | { kind: 'cut'; afterBytes: number; except?: ReadonlyArray<string> }
  /** Accepts the request and never answers (until the proxy stops). */
  | { kind: 'hang'; on: ReadonlyArray<RegistryRequestKind>; except?: ReadonlyArray<string> };

export interface ProxiedRequest {
  method: string;
  path: string;
  kind: RegistryRequestKind;
  /** What the proxy did: `pass`, `status 500`, `cut 65536`, `hang`. */
  action: string;
  /** The status the client saw (the upstream's when passed or cut). */
  status?: number;
  /** Body bytes sent to the client. */
  bytes: number;
}

export interface RegistryFaultProxy {
  /** address:port, to write in image references instead of the registry's host. */
  host: string;
  port: number;
  readonly fault: RegistryFault;
  setFault(fault: RegistryFault): void;
  /** Every request seen, in order (for asserting that a fault was really served). */
  readonly requests: ProxiedRequest[];
  /** `requests` of one kind that got this action (or any action starting with it). */
  served(kind: RegistryRequestKind, action: string): ProxiedRequest[];
  stop(): Promise<void>;
}

/** What a registry path asks for (Distribution's API: /v2/, /v2/<name>/manifests/…, /v2/<name>/blobs/…). */
export function registryRequestKind(urlPath: string): RegistryRequestKind {
  const p = urlPath.split('?')[0] ?? '';
  if (p === '/v2/' || p === '/v2') return 'ping';
  if (/^\/v2\/.+\/manifests\/[^/]+$/.test(p)) return 'manifest';
  if (/^\/v2\/.+\/blobs\/sha256:[a-f0-9]{64}$/.test(p)) return 'blob';
  return 'other';
}

const STATUS_TEXT: Record<number, string> = { 500: 'internal server error', 502: 'bad gateway', 503: 'service unavailable', 504: 'gateway timeout' };

/**
 * Starts the proxy on `<registry address>:<port>` (port 0: any free one) and makes the
 * engines of this machine trust it.
 */
export async function startRegistryFaultProxy(lab: LabState, options: { port?: number; certsDir?: string } = {}): Promise<RegistryFaultProxy> {
  const stateDir = path.join(lab.stateDir, 'registry');
  const cert = fs.readFileSync(path.join(stateDir, 'registry.crt'));
  const key = fs.readFileSync(path.join(stateDir, 'registry.key'));
  const ca = fs.readFileSync(lab.registry.caFile);
  const upstream = { host: lab.registry.address, port: lab.registry.port };
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let fault: RegistryFault = { kind: 'pass' };

  const forward = (req: IncomingMessage, res: ServerResponse, seen: ProxiedRequest, cutAfter?: number): void => {
    const headers = { ...req.headers };
    const up = https.request({ ...upstream, method: req.method, path: req.url, headers, ca, agent: false }, (upRes) => {
      seen.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage ?? '', upRes.headers);
      if (cutAfter === undefined) {
        upRes.on('data', (chunk: Buffer) => (seen.bytes += chunk.length));
        upRes.pipe(res);
        return;
      }
      upRes.on('data', (chunk: Buffer) => {
        const room = cutAfter - seen.bytes;
        if (room <= 0) return;
        const part = chunk.subarray(0, room);
        seen.bytes += part.length;
        res.write(part);
        if (seen.bytes >= cutAfter) {
          // Mid-body, with Content-Length promised: the client sees the connection drop.
          upRes.destroy();
          res.socket?.destroy();
        }
      });
      upRes.on('end', () => res.end());
    });
    up.on('error', (error) => {
      seen.action += ` (upstream error: ${error.message})`;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end();
    });
    req.pipe(up);
  };

  const server = https.createServer({ cert, key }, (req, res) => {
    const kind = registryRequestKind(req.url ?? '');
    const seen: ProxiedRequest = { method: req.method ?? '', path: req.url ?? '', kind, action: 'pass', bytes: 0 };
    requests.push(seen);
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    const f = fault;
    // `except`: digests (or any part of the path) the fault leaves alone, e.g. the image config blob.
    const spared = f.kind !== 'pass' && (f.except ?? []).some((part) => seen.path.includes(part));
    if (!spared && readOnly && f.kind === 'status' && f.on.includes(kind)) {
      seen.action = `status ${f.status}`;
      seen.status = f.status;
      const body = JSON.stringify({ errors: [{ code: 'UNKNOWN', message: `injected fault: ${STATUS_TEXT[f.status] ?? 'error'}` }] });
      req.resume();
      res.writeHead(f.status, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' });
      res.end(body);
      return;
    }
    if (!spared && readOnly && f.kind === 'hang' && f.on.includes(kind)) {
      seen.action = 'hang';
      req.resume();
      return;
    }
    if (!spared && req.method === 'GET' && f.kind === 'cut' && kind === 'blob') {
      seen.action = `cut ${f.afterBytes}`;
      forward(req, res, seen, f.afterBytes);
      return;
    }
    forward(req, res, seen);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, upstream.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  const host = `${upstream.host}:${port}`;
  const certsDir = path.join(options.certsDir ?? '/etc/docker/certs.d', host);
  fs.mkdirSync(certsDir, { recursive: true });
  fs.writeFileSync(path.join(certsDir, 'ca.crt'), ca);

  let stopped: Promise<void> | undefined;
  return {
    host,
    port,
    get fault() {
      return fault;
    },
    setFault(next) {
      fault = next;
    },
    requests,
    served(kind, action) {
      return requests.filter((r) => r.kind === kind && r.action.startsWith(action));
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        fs.rmSync(certsDir, { recursive: true, force: true });
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return stopped;
    },
  };
}
