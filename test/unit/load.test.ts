import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile, startLoad, summarize } from '../../lab/src/testing/load.ts';

let server: http.Server;
let port = 0;
let mode: 'ok' | 'fail' | 'reset-reused' | 'reset-all' = 'ok';
const requestsOnSocket = new WeakMap<object, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const n = (requestsOnSocket.get(req.socket) ?? 0) + 1;
    requestsOnSocket.set(req.socket, n);
    // A server that drops a kept-alive connection without answering, as a closing nginx worker can.
    if (mode === 'reset-all' || (mode === 'reset-reused' && n > 1)) {
      req.socket.resetAndDestroy();
      return;
    }
    if (mode === 'fail') {
      res.writeHead(503).end('draining');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: 'v7' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => {
  server.close();
});

describe('the lab load generator', () => {
  it('holds its rate, counts versions and stops by its own bound', async () => {
    mode = 'ok';
    const load = startLoad({ host: '127.0.0.1', port, path: '/version', clients: 4, rate: 100, maxMs: 1000 });
    await new Promise((r) => setTimeout(r, 1300));
    const result = summarize(await load.stop());
    expect(result.failed).toBe(0);
    expect(result.total).toBeGreaterThanOrEqual(50);
    expect(result.total).toBeLessThanOrEqual(110);
    expect(result.versions).toEqual({ v7: result.total });
    expect(Math.max(...load.samples.map((x) => x.at))).toBeLessThan(1000);
  });

  it('counts error statuses and refused connections as failures, with reasons', async () => {
    mode = 'fail';
    const bad = startLoad({ host: '127.0.0.1', port, path: '/', clients: 2, rate: 50, maxRequests: 10 });
    const r1 = summarize(await bad.stop());
    expect(r1.failed).toBe(r1.total);
    mode = 'ok';
    const closed = startLoad({ host: '127.0.0.1', port: 1, path: '/', clients: 2, rate: 50, maxRequests: 6 });
    await new Promise((r) => setTimeout(r, 300));
    const r2 = summarize(await closed.stop());
    expect(r2.total).toBe(6);
    expect(r2.failed).toBe(6);
    expect(Object.keys(r2.errors).every((e) => e.startsWith('ECONNREFUSED'))).toBe(true);
  });

  it('sends a request again once when its kept-alive connection was closed before any answer, and counts it', async () => {
    mode = 'reset-reused';
    const load = startLoad({ host: '127.0.0.1', port, path: '/version', clients: 2, rate: 40, maxRequests: 12, keepAliveShare: 1 });
    await new Promise((r) => setTimeout(r, 600));
    const result = summarize(await load.stop());
    expect(result.total).toBe(12);
    expect(result.failed).toBe(0);
    expect(result.resent).toBeGreaterThan(0);
  });

  it('does not retry a reset on a new connection: that is a failure', async () => {
    mode = 'reset-all';
    const load = startLoad({ host: '127.0.0.1', port, path: '/version', clients: 2, rate: 40, maxRequests: 6, keepAliveShare: 0 });
    await new Promise((r) => setTimeout(r, 400));
    const result = summarize(await load.stop());
    expect(result.failed).toBe(6);
    expect(result.resent).toBe(0);
    mode = 'ok';
  });

  it('takes percentiles by rank', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(percentile([], 99)).toBe(0);
  });
});
