import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconnectDelayMs, redisOptionsFromUrl } from '../src/ocr-queue/connection.ts';
import { parseFailure } from '../src/ocr-queue/protocol.ts';
import { startTestServer, type TestServer } from './test-server.ts';
import { renderTextImage } from './text-images.ts';

describe('queue connection settings', () => {
  it('reconnects with a doubling backoff capped at 5 s, forever', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(reconnectDelayMs)).toEqual([100, 200, 400, 800, 1600, 3200, 5000]);
    expect(reconnectDelayMs(1000)).toBe(5000);
  });

  it('reads host, port, credentials, database and TLS from QUEUE_URL', () => {
    expect(redisOptionsFromUrl('redis://redis')).toMatchObject({ host: 'redis', port: 6379 });
    const full = redisOptionsFromUrl('rediss://app:p%40ss@10.1.2.3:6380/3');
    expect(full).toMatchObject({ host: '10.1.2.3', port: 6380, username: 'app', password: 'p@ss', db: 3, tls: {} });
  });
});

describe('job failure reasons', () => {
  it('keeps the app codes, and reads a stall limit as a lost worker', () => {
    expect(parseFailure('undecodable_image: bad huffman code', 1)).toEqual({ code: 'undecodable_image', message: 'bad huffman code' });
    expect(parseFailure('job stalled more than allowable limit', 3)).toEqual({
      code: 'worker_lost',
      message: 'the worker running this job stopped mid-job (crash, kill or stop timeout) 3 time(s); gave up',
    });
    expect(parseFailure('something else', 1)).toEqual({ code: 'ocr_failed', message: 'something else' });
  });
});

describe('APP_ROLE=web with Redis unreachable', () => {
  let t: TestServer;
  beforeAll(async () => {
    // Port 1 on loopback: connection refused at once, over and over.
    t = await startTestServer({ APP_ROLE: 'web', QUEUE_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('is not ready, says why and which role, and refuses uploads with 503 + Retry-After', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { role: string; checks: Record<string, string> };
    expect(body.role).toBe('web');
    expect(body.checks.queue).toMatch(/^unreachable/);
    expect(body.checks).not.toHaveProperty('model');
    expect(await (await fetch(`${t.url}/version`)).json()).toMatchObject({ role: 'web' });

    const png = (await renderTextImage(['no redis'], 'DejaVu Sans', 28)).png;
    const response = await fetch(`${t.url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('queue_unavailable');
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/gangway_queue_depth\{[^}]*role="web"/);
  });
});
