// The HTTP API end to end on the real app (real models, real SQLite), in-process on a loopback port.
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OcrJobSuccess } from '../src/ocr/worker-protocol.ts';
import { DRAIN_OVERSIZED_FACTOR } from '../src/routes/api.ts';
import { pngClaimingSize } from './png-header.ts';
import { multipartBody, startTestServer, type TestServer } from './test-server.ts';
import { renderTextImage } from './text-images.ts';

interface OcrBody {
  token: string;
  url: string;
  text: string;
  lines: { text: string; confidence: number; box: number[][] }[];
  timings: Record<string, number>;
  image: { width: number; height: number; format: string; url: string };
}
interface ErrorBody {
  error: { code: string; message: string; statusCode: number };
}

const MAX_UPLOAD_BYTES = 300 * 1024;

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

describe('API', () => {
  let t: TestServer;
  let png: Buffer;
  let jpeg: Buffer;

  beforeAll(async () => {
    t = await startTestServer({ MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), MAX_IMAGE_PIXELS: '4000000', MAX_IMAGE_SIDE: '4000' });
    png = (await renderTextImage(['Gangway deploys containers', 'without downtime 2026'], 'DejaVu Sans', 32)).png;
    jpeg = await sharp(png).jpeg({ quality: 90 }).toBuffer();
  }, 60_000);
  afterAll(async () => {
    await t.close();
  });

  const post = (body: string | Uint8Array, contentType: string) =>
    fetch(`${t.url}/api/v1/ocr`, { method: 'POST', body, headers: { 'content-type': contentType } });

  it('reads a multipart upload and stores a result that the token fetches again', async () => {
    const form = await multipartBody('file', png, 'text.png', 'image/png');
    const response = await post(new Uint8Array(form.body), form.contentType);
    expect(response.status).toBe(200);
    const body = (await response.json()) as OcrBody;
    expect(body.text).toBe('Gangway deploys containers\nwithout downtime 2026');
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(body.url).toBe(`/r/${body.token}`);
    expect(body.lines).toHaveLength(2);
    for (const line of body.lines) {
      expect(line.confidence).toBeGreaterThan(0.8);
      expect(line.box).toHaveLength(4);
    }
    for (const key of ['queueMs', 'decodeMs', 'detectMs', 'recognizeMs', 'sessionRunMs', 'inferenceMs', 'totalMs']) {
      expect(body.timings[key]).toBeTypeOf('number');
    }

    const again = await fetch(`${t.url}/api/v1/results/${body.token}`);
    expect(again.status).toBe(200);
    const stored = (await again.json()) as OcrBody;
    expect(stored.text).toBe(body.text);
    expect(stored.lines).toEqual(body.lines);

    const image = await fetch(`${t.url}${stored.image.url}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer()).equals(png)).toBe(true);

    const share = await fetch(`${t.url}/r/${body.token}`);
    expect(share.status).toBe(200);
    expect(share.headers.get('content-type')).toContain('text/html');
    expect(share.headers.get('content-security-policy')).toContain("default-src 'self'");
  });

  it('reads a raw JPEG body, and an octet-stream body by sniffing it', async () => {
    const raw = await post(new Uint8Array(jpeg), 'image/jpeg');
    expect(raw.status).toBe(200);
    expect(((await raw.json()) as OcrBody).text).toContain('Gangway deploys containers');
    const octets = await post(new Uint8Array(png), 'application/octet-stream');
    expect(octets.status).toBe(200);
    expect(((await octets.json()) as OcrBody).image.format).toBe('png');
  });

  it.each([
    ['a text file sent as image/png', 415, 'unsupported_image', () => post('hello, this is not an image', 'image/png')],
    ['a wrong content type', 415, 'unsupported_media_type', () => post('hello', 'text/plain')],
    ['JSON', 415, 'unsupported_media_type', () => post('{"image":"x"}', 'application/json')],
    ['an empty body', 400, 'empty_upload', () => post(new Uint8Array(0), 'image/png')],
    ['a raw body over the size limit', 413, 'upload_too_large', () => post(new Uint8Array(MAX_UPLOAD_BYTES + 1).fill(1), 'image/png')],
    ['a PNG header claiming 50000×50000 pixels', 422, 'image_dimensions_too_large', () => post(new Uint8Array(pngClaimingSize(50_000, 50_000)), 'image/png')],
    ['a PNG header claiming a side over the limit', 422, 'image_dimensions_too_large', () => post(new Uint8Array(pngClaimingSize(4001, 10)), 'image/png')],
    ['garbage after a PNG signature', 422, 'unreadable_image', () => post(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]), 'image/png')],
  ] as const)('answers %s with %i %s', async (_name, status, code, send) => {
    const response = await send();
    expect(response.status).toBe(status);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe(code);
    expect(body.error.statusCode).toBe(status);
  });

  it('answers a truncated image with 422 and keeps serving', async () => {
    const big = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
      .png()
      .toBuffer();
    const truncated = big.subarray(0, Math.floor(big.length / 2));
    const response = await post(new Uint8Array(truncated), 'image/png');
    expect(response.status).toBe(422);
    expect(((await response.json()) as ErrorBody).error.code).toBe('undecodable_image');
    const truncatedJpeg = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    const second = await post(new Uint8Array(truncatedJpeg), 'image/jpeg');
    expect(second.status).toBe(422);
    const healthy = await fetch(`${t.url}/readyz`);
    expect(healthy.status).toBe(200);
  });

  it('answers multipart uploads over the limit, without a file, or with a non-image part with 4xx', async () => {
    const tooBig = await multipartBody('file', new Uint8Array(MAX_UPLOAD_BYTES + 10).fill(7), 'big.png', 'image/png');
    const big = await post(new Uint8Array(tooBig.body), tooBig.contentType);
    expect(big.status).toBe(413);
    expect(((await big.json()) as ErrorBody).error.code).toBe('upload_too_large');

    const form = new FormData();
    form.append('note', 'no file here');
    const request = new Request('http://x/', { method: 'POST', body: form });
    const noFile = await post(new Uint8Array(await request.arrayBuffer()), request.headers.get('content-type') ?? '');
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as ErrorBody).error.code).toBe('missing_file');

    const textPart = await multipartBody('file', Buffer.from('plain text'), 'notes.txt', 'text/plain');
    const wrongType = await post(new Uint8Array(textPart.body), textPart.contentType);
    expect(wrongType.status).toBe(415);
  });

  /** Writes raw HTTP on a new connection; resolves with what came back once the server closed it (or after `ms`). */
  async function rawExchange(write: (socket: net.Socket) => void, ms: number): Promise<{ received: string; closedBy: 'server' | 'timeout'; reset: boolean }> {
    const { hostname, port } = new URL(t.url);
    const socket = net.connect({ host: hostname, port: Number(port) });
    await once(socket, 'connect');
    let received = '';
    let reset = false;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', (error: NodeJS.ErrnoException) => (reset ||= error.code === 'ECONNRESET'));
    const ended = new Promise<'server'>((resolve) => socket.on('close', () => resolve('server')));
    write(socket);
    const closedBy = await Promise.race([ended, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms))]);
    socket.destroy();
    return { received, closedBy, reset };
  }

  it('reads a modestly oversized body to its end, then answers 413 with Connection: close and closes cleanly (a proxy sees no reset)', async () => {
    // As nginx does: the whole body, then it reads the answer. The server must not reset while the body is still coming.
    const body = Buffer.alloc(MAX_UPLOAD_BYTES * 3, 7);
    png.copy(body, 0, 0, 8);
    const { received, closedBy, reset } = await rawExchange((socket) => {
      socket.write(`POST /api/v1/ocr HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body);
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    }, 5000);
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    expect(received).toContain('upload_too_large');
    expect(received.toLowerCase()).toContain('connection: close');
    expect(closedBy, 'the server closed the connection after the 413').toBe('server');
    expect(reset, 'the connection was reset instead of closed').toBe(false);
    expect(received, 'a request after the 413 on the same connection was served').not.toMatch(/"status":"ok"/);
  });

  it(`refuses a body over ${DRAIN_OVERSIZED_FACTOR}× the limit at once, without reading it`, async () => {
    // Only the headers and a little of the body are sent: an app that drained it would wait for the rest.
    const declared = MAX_UPLOAD_BYTES * (DRAIN_OVERSIZED_FACTOR + 6);
    const started = performance.now();
    const { received, closedBy } = await rawExchange((socket) => {
      socket.write(`POST /api/v1/ocr HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${declared}\r\n\r\n`);
      socket.write(png.subarray(0, 8));
    }, 4000);
    expect(received, 'no 413 while the body was still owed').toMatch(/^HTTP\/1\.1 413 /);
    expect(received).toContain('upload_too_large');
    expect(closedBy, 'the connection stayed open waiting for the body').toBe('server');
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('takes a multipart upload whose file is just under the limit, though the form around it is over', async () => {
    // A tEXt chunk pads the PNG to a few bytes under MAX_UPLOAD_BYTES; the multipart form adds ~200.
    const iend = png.length - 12;
    const text = Buffer.concat([Buffer.from('Comment\0'), Buffer.alloc(MAX_UPLOAD_BYTES - png.length - 12 - 8 - 16, 'x')]);
    const padded = Buffer.concat([png.subarray(0, iend), pngChunk('tEXt', text), png.subarray(iend)]);
    expect(padded.length).toBeLessThanOrEqual(MAX_UPLOAD_BYTES);
    const form = await multipartBody('file', padded, 'padded.png', 'image/png');
    expect(form.body.length).toBeGreaterThan(MAX_UPLOAD_BYTES);
    const response = await post(new Uint8Array(form.body), form.contentType);
    expect(response.status, await response.clone().text()).toBe(200);
  });

  it('answers malformed multipart bodies with 400 malformed_multipart, not 500', async () => {
    const form = await multipartBody('file', png, 'text.png', 'image/png');
    const boundary = /boundary=(.+)$/.exec(form.contentType)![1]!;
    const cases: Array<[string, string, Uint8Array]> = [
      ['no boundary parameter', 'multipart/form-data', form.body],
      ['a boundary the body never uses', 'multipart/form-data; boundary=other', form.body],
      ['never closed', form.contentType, form.body.subarray(0, form.body.length - boundary.length - 6)],
      ['cut inside the file part', form.contentType, form.body.subarray(0, 200)],
      ['garbage after the first boundary', form.contentType, Buffer.concat([Buffer.from(`--${boundary}\r\n`), Buffer.from('\x00\xff garbage, no headers')])],
    ];
    for (const [what, type, body] of cases) {
      const response = await post(new Uint8Array(body), type);
      expect(response.status, what).toBe(400);
      expect(((await response.json()) as ErrorBody).error.code, what).toBe('malformed_multipart');
    }
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  });

  it('answers unknown and malformed tokens with 404 JSON, and an unknown share page with 404', async () => {
    for (const token of ['AAAAAAAAAAAAAAAAAAAAAA', 'not-a-token', '..%2f..%2fetc%2fpasswd']) {
      const response = await fetch(`${t.url}/api/v1/results/${token}`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as ErrorBody).error.code).toBe('result_not_found');
    }
    const share = await fetch(`${t.url}/r/AAAAAAAAAAAAAAAAAAAAAA`);
    expect(share.status).toBe(404);
    const unknownRoute = await fetch(`${t.url}/api/v1/nothing`);
    expect(unknownRoute.status).toBe(404);
    expect(((await unknownRoute.json()) as ErrorBody).error.code).toBe('not_found');
  });

  it('serves the probes, the version, the metrics, the pages and the usage statistics', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { model: 'ok', database: 'ok' } });
    const version = (await (await fetch(`${t.url}/version`)).json()) as Record<string, string>;
    expect(version).toMatchObject({ version: '1.2.3-test', gitSha: 'abc1234', imageDigest: 'sha256:test', builtAt: '2026-01-01T00:00:00Z' });
    expect(new Date(version.startedAt!).getTime()).toBeGreaterThan(0);

    const metrics = await fetch(`${t.url}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toMatch(/gangway_ocr_requests_total\{[^}]*outcome="ok"[^}]*\} [1-9]/);
    expect(text).toContain('gangway_http_request_duration_seconds_bucket');
    expect(text).toContain('gangway_app_build_info');

    for (const page of ['/', '/dashboard', '/static/app.js', '/static/dashboard.js', '/static/style.css']) {
      expect((await fetch(`${t.url}${page}`)).status).toBe(200);
    }
    const stats = (await (await fetch(`${t.url}/api/v1/stats`)).json()) as { total: number; perDay: unknown[]; latency: { p50Ms: number } };
    expect(stats.total).toBeGreaterThanOrEqual(3);
    expect(stats.perDay).toHaveLength(1);
    expect(stats.latency.p50Ms).toBeGreaterThan(0);
  });

  it('shows strangers aggregates only: no public page, statistic or metric reaches a result or its text', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 2; i++) {
      const response = await post(new Uint8Array(png), 'image/png');
      expect(response.status).toBe(200);
      tokens.push(((await response.json()) as OcrBody).token);
    }
    const statsResponse = await fetch(`${t.url}/api/v1/stats`);
    const stats = (await statsResponse.json()) as Record<string, unknown>;
    expect(Object.keys(stats).sort()).toEqual(['latency', 'perDay', 'total']);
    expect(stats.total).toBeGreaterThanOrEqual(2);
    const publicBodies: Record<string, string> = { '/api/v1/stats': JSON.stringify(stats) };
    for (const page of ['/', '/dashboard', '/static/dashboard.js', '/static/app.js', '/metrics', '/readyz', '/version']) {
      publicBodies[page] = await (await fetch(`${t.url}${page}`)).text();
    }
    for (const [page, body] of Object.entries(publicBodies)) {
      for (const token of tokens) expect(body, `${page} shows a result token`).not.toContain(token);
      expect(body, `${page} shows a result's text`).not.toContain('Gangway deploys containers');
    }
    expect(publicBodies['/static/dashboard.js'], 'the dashboard links results').not.toMatch(/\/r\/|token/);
    // Without OPERATOR_TOKEN the operator's list does not exist at all.
    expect((await fetch(`${t.url}/api/v1/operator/recent`)).status).toBe(404);
  });

  it('serves a result image as private to the token holder: no shared cache may keep it', async () => {
    const response = await post(new Uint8Array(png), 'image/png');
    const body = (await response.json()) as OcrBody;
    const image = await fetch(`${t.url}${body.image.url}`);
    expect(image.status).toBe(200);
    const cacheControl = (image.headers.get('cache-control') ?? '').split(',').map((d) => d.trim());
    expect(cacheControl).toContain('private');
    expect(cacheControl).not.toContain('public');
  });

  it('answers /readyz without writing to the database on every call', async () => {
    const changes = () => (t.server.database.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
    const before = changes();
    for (let i = 0; i < 20; i++) {
      const ready = await fetch(`${t.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { checks: { database: string } }).checks.database).toBe('ok');
    }
    expect(changes() - before, 'rows written by 20 readiness probes').toBeLessThanOrEqual(1);
  });
});

describe('operator endpoint (OPERATOR_TOKEN set)', () => {
  const OPERATOR_TOKEN = 'op-4f6c1d2e9b8a7f6e5d4c3b2a1f0e9d8c7b6a';
  let t: TestServer;
  const stubOcr = {
    healthy: true,
    recognize: async (): Promise<OcrJobSuccess> => ({
      id: 0,
      ok: true,
      width: 1,
      height: 1,
      lines: [{ text: 'operator only', confidence: 0.99, box: [[0, 0], [1, 0], [1, 1], [0, 1]] }],
      timings: { decodeMs: 0, detectMs: 0, recognizeMs: 0, sessionRunMs: 0 },
    }),
  };

  beforeAll(async () => {
    t = await startTestServer({ OPERATOR_TOKEN }, stubOcr);
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists the most recent results only to a request carrying the operator token', async () => {
    const png = (await renderTextImage(['op'], 'DejaVu Sans', 24)).png;
    const uploaded = await fetch(`${t.url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
    expect(uploaded.status).toBe(200);
    const { token } = (await uploaded.json()) as OcrBody;
    const recent = (authorization?: string) => fetch(`${t.url}/api/v1/operator/recent`, { headers: authorization ? { authorization } : {} });

    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${OPERATOR_TOKEN}x`, `Bearer ${OPERATOR_TOKEN.slice(0, -1)}`, `Basic ${OPERATOR_TOKEN}`]) {
      const refused = await recent(authorization);
      expect(refused.status, String(authorization)).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
      const text = await refused.text();
      expect(text).not.toContain(token);
      expect((JSON.parse(text) as ErrorBody).error.code).toBe('unauthorized');
    }
    const allowed = await recent(`Bearer ${OPERATOR_TOKEN}`);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('cache-control')).toBe('no-store');
    const body = (await allowed.json()) as { recent: { token: string; text: string }[] };
    expect(body.recent[0]).toMatchObject({ token, text: 'operator only' });
    // The public statistics stay aggregates even with an operator configured.
    expect(await (await fetch(`${t.url}/api/v1/stats`)).text()).not.toContain(token);
  });
});

describe('inference queue', () => {
  let t: TestServer;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const slowOcr = {
    healthy: true,
    recognize: async (): Promise<OcrJobSuccess> => {
      await gate;
      return { id: 0, ok: true, width: 1, height: 1, lines: [], timings: { decodeMs: 0, detectMs: 0, recognizeMs: 0, sessionRunMs: 0 } };
    },
  };

  beforeAll(async () => {
    t = await startTestServer({ OCR_WORKERS: '1', QUEUE_MAX_WAITING: '2' }, slowOcr);
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 503 with Retry-After once the queue is full, and serves the queued requests after', async () => {
    const png = (await renderTextImage(['queue'], 'DejaVu Sans', 24)).png;
    const send = () => fetch(`${t.url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
    const accepted = [send(), send(), send()];
    // One runs, two wait: wait until the queue holds them, then one more is refused.
    for (let i = 0; i < 100; i++) {
      const ready = (await (await fetch(`${t.url}/readyz`)).json()) as { queue: { running: number; waiting: number } };
      if (ready.queue.running === 1 && ready.queue.waiting === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const refused = await send();
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as ErrorBody).error.code).toBe('queue_full');
    release();
    const statuses = await Promise.all(accepted.map(async (response) => (await response).status));
    expect(statuses).toEqual([200, 200, 200]);
  });
});
