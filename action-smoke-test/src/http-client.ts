// One HTTP exchange, bounded in time from the first byte of DNS to the last byte of the body:
// node:http/https with a fresh connection per request, `resolve` rules applied in the socket's
// lookup (the URL's host still goes into the Host header and the TLS SNI), a private CA or an
// explicit `insecure`. Every await races the abort signal, so a blackholed address cannot hold
// the step past its deadline.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';

export interface ResolveRule {
  host: string;
  /** Only for this port, when given (curl's `host:port:addr`). */
  port?: number;
  address: string;
}

export interface HttpClientOptions {
  resolve: ResolveRule[];
  /** PEM certificates trusted in addition to the system's. */
  ca?: string;
  insecure: boolean;
  /** The body is cut at this size (the rest is not read). */
  maxBodyBytes: number;
}

export interface HttpRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Aborts the exchange: the per-attempt timeout, the deadline and cancellation combined. */
  signal: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  truncated: boolean;
  /** Until the status line and headers arrived. */
  ttfbMs: number;
  /** Until the last byte of the body. */
  latencyMs: number;
  /** The address connected to (after `resolve`). */
  remoteAddress?: string;
}

export type HttpFailureCode = 'timeout' | 'connect' | 'dns' | 'tls' | 'reset' | 'protocol';

/** The exchange did not produce a response; `code` says why in one word. */
export class HttpFailure extends Error {
  readonly code: HttpFailureCode;
  constructor(code: HttpFailureCode, message: string) {
    super(message);
    this.name = 'HttpFailure';
    this.code = code;
  }
}

/** The exchange was aborted (timeout, deadline, cancellation) during `phase`; `reason` is the signal's. */
export class HttpAborted extends Error {
  readonly phase: ExchangePhase;
  readonly reason: unknown;
  constructor(phase: ExchangePhase, reason: unknown) {
    super(`aborted while ${PHASE_WORDS[phase]}`);
    this.name = 'HttpAborted';
    this.phase = phase;
    this.reason = reason;
  }
}

export type ExchangePhase = 'connect' | 'tls' | 'response' | 'body';
export const PHASE_WORDS: Record<ExchangePhase, string> = {
  connect: 'connecting (no TCP connection)',
  tls: 'in the TLS handshake',
  response: 'waiting for the response (connected, nothing answered)',
  body: 'reading the body',
};

export type HttpClient = (request: HttpRequest) => Promise<HttpResponse>;

function lookupFor(rules: ResolveRule[], port: number): LookupFunction | undefined {
  if (rules.length === 0) return undefined;
  const lookup = (hostname: string, options: { all?: boolean; family?: number | string }, callback: (...args: unknown[]) => void): void => {
    const rule = rules.find((r) => r.host.toLowerCase() === hostname.toLowerCase() && (r.port === undefined || r.port === port));
    if (!rule) {
      // Not ours: the system resolver, as without the option.
      dns.lookup(hostname, options as never, callback as never);
      return;
    }
    const family = isIP(rule.address);
    if (options.all) callback(null, [{ address: rule.address, family }]);
    else callback(null, rule.address, family);
  };
  return lookup as unknown as LookupFunction;
}

function classify(error: NodeJS.ErrnoException, url: URL): HttpFailure {
  const code = error.code ?? '';
  const where = `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
  if (code === 'ECONNREFUSED') return new HttpFailure('connect', `connection refused by ${where}`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return new HttpFailure('connect', `${where} is unreachable (${code})`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return new HttpFailure('dns', `${url.hostname} does not resolve (${code}); "resolve" can map it to an address`);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new HttpFailure('reset', `${where} closed the connection before answering (${code})`);
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME/i.test(code) || /certificate|ssl|tls/i.test(error.message)) {
    return new HttpFailure('tls', `TLS with ${where} failed: ${error.message}${code ? ` (${code})` : ''}; give the server's CA in "ca"`);
  }
  if (code.startsWith('HPE_')) return new HttpFailure('protocol', `${where} did not answer with valid HTTP (${code})`);
  return new HttpFailure('connect', `${where}: ${error.message}${code ? ` (${code})` : ''}`);
}

export function createHttpClient(options: HttpClientOptions): HttpClient {
  return (request) => exchange(request, options);
}

function exchange(request: HttpRequest, options: HttpClientOptions): Promise<HttpResponse> {
  const { url, signal } = request;
  const started = performance.now();
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let req: http.ClientRequest | undefined;
    let phase: ExchangePhase = 'connect';
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      const reason: unknown = signal.reason;
      finish(() => reject(new HttpAborted(phase, reason)));
      req?.destroy();
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });

    const isHttps = url.protocol === 'https:';
    const port = Number(url.port || (isHttps ? 443 : 80));
    const headers: Record<string, string> = { 'user-agent': 'gangway-smoke-test', accept: '*/*', connection: 'close', ...request.headers };
    if (request.body !== undefined) headers['content-length'] = String(request.body.length);
    const lookup = lookupFor(options.resolve, port);
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const common: https.RequestOptions = {
      method: request.method,
      hostname,
      port,
      path: `${url.pathname}${url.search}`,
      headers,
      agent: false,
      ...(lookup ? { lookup } : {}),
      ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
    };
    if (isHttps) {
      if (options.ca) common.ca = options.ca;
      if (options.insecure) common.rejectUnauthorized = false;
      if (!isIP(hostname)) common.servername = hostname;
    }
    try {
      req = (isHttps ? https : http).request(common);
    } catch (error) {
      finish(() => reject(classify(error as NodeJS.ErrnoException, url)));
      return;
    }
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        if (phase === 'connect') phase = isHttps ? 'tls' : 'response';
      });
      socket.once('secureConnect', () => {
        if (phase === 'connect' || phase === 'tls') phase = 'response';
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => finish(() => reject(classify(error, url))));
    req.on('response', (res) => {
      const ttfbMs = performance.now() - started;
      phase = 'body';
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      res.on('data', (chunk: Buffer) => {
        if (truncated) return;
        if (size + chunk.length > options.maxBodyBytes) {
          chunks.push(chunk.subarray(0, options.maxBodyBytes - size));
          size = options.maxBodyBytes;
          truncated = true;
          done();
          res.destroy();
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      const done = (): void =>
        finish(() =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            truncated,
            ttfbMs,
            latencyMs: performance.now() - started,
            ...(res.socket?.remoteAddress ? { remoteAddress: res.socket.remoteAddress } : {}),
          }),
        );
      res.on('end', done);
      res.on('error', (error: NodeJS.ErrnoException) => finish(() => reject(classify(error, url))));
      res.on('aborted', () => finish(() => reject(new HttpFailure('reset', `${url.host} closed the connection in the middle of the body`))));
    });
    req.end(request.body);
  });
}
