import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile, startLoad, summarize, timeToVersion, type LoadSample } from '../../lab/src/testing/load.ts';

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

const sample = (at: number, version?: string, error?: string, ms = 5): LoadSample => ({ at, ms, keepAlive: true, ...(version ? { version } : {}), ...(error ? { error } : {}) });

describe('timeToVersion', () => {
  it('is the arrival of the first answer of the last all-new run, from the step start', () => {
    const samples = [sample(900, 'v1'), sample(1100, 'v1'), sample(1500, 'v2'), sample(1600, 'v1'), sample(1700, 'v2'), sample(1800, 'v2')];
    expect(timeToVersion(samples, 1000, 'v2')).toBe(705);
  });

  it('counts a failure as not yet on the new version', () => {
    const samples = [sample(1200, 'v2'), sample(1300, undefined, 'ECONNREFUSED'), sample(1400, 'v2')];
    expect(timeToVersion(samples, 1000, 'v2')).toBe(405);
  });

  it('goes by when an answer arrived: a request that hung through the gap was not answered early', () => {
    // Sent at 1100, answered by v2 at 2100 (its SYN went again after 1 s); a failure arrived at 1500.
    const samples = [sample(1100, 'v2', undefined, 1000), sample(1500, undefined, 'ECONNREFUSED', 1), sample(2000, 'v2')];
    expect(timeToVersion(samples, 1000, 'v2')).toBe(1005);
  });

  it('is undefined when the last answers were not all the version\'s, and 0 when all were from the start', () => {
    expect(timeToVersion([sample(1100, 'v2'), sample(1200, 'v1')], 1000, 'v2')).toBeUndefined();
    expect(timeToVersion([sample(995, 'v2'), sample(1200, 'v2')], 1000, 'v2')).toBe(0);
    expect(timeToVersion([], 1000, 'v2')).toBeUndefined();
  });
});
