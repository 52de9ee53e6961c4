import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import { errorMessage } from '../errors.ts';

/**
 * A TCP connection made by the SSH server on our behalf (`direct-tcpip`, like `ssh -L`):
 * the server dials `host:port` from its own network, so a container's private address on a
 * Docker network, or the server's loopback, is reachable without publishing anything.
 */
export function forwardTcp(client: Client, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

export interface ForwardedHttpResponse {
  status: number;
  /** The body, cut at `maxBodyBytes`. */
  body: string;
}

/**
 * One HTTP GET to `host:port` as seen from the SSH server (readiness probes, smoke checks of
 * containers that publish no port). Bounded by `timeoutMs`; the channel is closed after it.
 */
export async function httpGetThroughSsh(
  client: Client,
  target: { host: string; port: number; path: string },
  options: { timeoutMs: number; maxBodyBytes?: number; signal?: AbortSignal },
): Promise<ForwardedHttpResponse> {
  const limit = options.maxBodyBytes ?? 4096;
  // AbortSignal.timeout takes whole milliseconds only.
  const deadline = AbortSignal.timeout(Math.max(1, Math.round(options.timeoutMs)));
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  signal.throwIfAborted();
  let stream: Duplex | undefined;
  const opened = forwardTcp(client, target.host, target.port);
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(new Error(`no answer from ${target.host}:${target.port} within ${options.timeoutMs} ms`)), { once: true });
  });
  try {
    stream = await Promise.race([opened, aborted]);
    const channel = stream;
    return await Promise.race([
      new Promise<ForwardedHttpResponse>((resolve, reject) => {
        const request = http.request(
          { host: target.host, port: target.port, path: target.path, method: 'GET', createConnection: () => channel, headers: { Connection: 'close', 'User-Agent': 'gangway-deploy' } },
          (response) => {
            let body = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              if (body.length < limit) body += chunk.slice(0, limit - body.length);
            });
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
            response.on('error', reject);
          },
        );
        request.on('error', (error) => reject(new Error(errorMessage(error))));
        request.end();
      }),
      aborted,
    ]);
  } finally {
    opened.then((s) => s.destroy(), () => undefined);
  }
}
